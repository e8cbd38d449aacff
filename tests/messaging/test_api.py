"""The department SMS API: sends, campaigns, idempotency, DLT, opt-outs, quotas, schedules."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.messaging import service as messaging
from seva.tenancy.service import department_by_code
from tests.api.helpers import error_of

FOOD_TEMPLATE = "1107161234567890123"


def key(seeded: SeedReport, code: str = "FOOD") -> dict[str, str]:
    return {"Authorization": f"Bearer {seeded.api_keys[code]}"}


def send(client: TestClient, seeded: SeedReport, code: str = "FOOD", **body: Any) -> Any:
    body.setdefault("text", "Your ration card is ready for collection.")
    headers = key(seeded, code)
    if "idempotency_key" in body:
        headers["Idempotency-Key"] = body.pop("idempotency_key")
    return client.post("/api/v1/messages", json=body, headers=headers)


def listed(client: TestClient, seeded: SeedReport, code: str = "FOOD", **params: Any) -> list[Any]:
    response = client.get("/api/v1/messages", params=params, headers=key(seeded, code))
    assert response.status_code == 200, response.text
    messages: list[Any] = response.json()
    return messages


def phones(count: int, start: int = 0) -> list[str]:
    return [f"+9198{n:08d}" for n in range(start, start + count)]


def test_a_single_send_is_queued_and_can_be_followed(
    client: TestClient, seeded: SeedReport
) -> None:
    response = send(client, seeded, to="9811000001", client_ref="card-17")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 1 and body["parts"] == 1 and not body["replayed"]
    [ref] = body["messages"]
    assert ref["to"] == "+919811000001" and ref["status"] == "queued"

    message = client.get(f"/api/v1/messages/{ref['id']}", headers=key(seeded)).json()
    assert message["status"] == "queued"
    assert message["to"] == "+919811000001"
    assert message["sender"] == "SEVA"  # no DLT header registered yet: the gateway's sender
    assert message["kind"] == "transactional"
    assert message["text"] == "Your ration card is ready for collection."
    assert message["client_ref"] == "card-17"
    assert message["batch_id"] == body["batch_id"]

    assert listed(client, seeded)[0]["id"] == ref["id"]  # newest first
    batch = client.get(f"/api/v1/batches/{body['batch_id']}", headers=key(seeded)).json()
    assert batch["total"] == 1 and batch["counts"] == {"queued": 1}
    assert batch["source"] == "api"


def test_a_send_wakes_the_dispatcher_once_its_messages_are_committed(
    client: TestClient, gateway: Gateway, seeded: SeedReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[int]] = []

    def notify_sms() -> None:
        # What a dispatcher woken now finds, through its own connection.
        with gateway.session() as session:
            seen.append([m.id for m in messaging.inbox(session, "+919811000001")])

    monkeypatch.setattr(gateway, "notify_sms", notify_sms, raising=False)
    response = send(client, seeded, to="9811000001", idempotency_key="wake-1")
    assert seen == [[response.json()["messages"][0]["id"]]]
    send(client, seeded, to="9811000001", idempotency_key="wake-1")  # a replay queues nothing
    assert len(seen) == 1


def test_every_common_way_of_writing_a_number_reaches_the_same_phone(
    client: TestClient, seeded: SeedReport
) -> None:
    written = ["+919811000002", "919811000003", "09811000004", "9811000005", " 98110-00006 "]
    response = send(client, seeded, to=written)
    assert response.status_code == 202, response.text
    assert [m["to"] for m in response.json()["messages"]] == [
        "+919811000002",
        "+919811000003",
        "+919811000004",
        "+919811000005",
        "+919811000006",
    ]


def test_a_campaign_of_20000_numbers_is_accepted_in_one_request(
    client: TestClient, seeded: SeedReport
) -> None:
    numbers = phones(20_000)
    # Written the way spreadsheets export them: without the country code.
    response = send(client, seeded, to=[n.removeprefix("+91") for n in numbers], kind="bulk")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 20_000
    assert body["messages"] is None  # ids only for small sends; follow the batch instead
    batch = client.get(f"/api/v1/batches/{body['batch_id']}", headers=key(seeded)).json()
    assert batch["counts"] == {"queued": 20_000} and batch["kind"] == "bulk"
    newest = listed(client, seeded, batch_id=body["batch_id"], limit=3)
    assert [m["to"] for m in newest] == numbers[-1:-4:-1]


def test_invalid_numbers_refuse_the_send_and_are_listed(
    client: TestClient, seeded: SeedReport
) -> None:
    before = listed(client, seeded)
    response = send(client, seeded, to=["9811000001", "12345", "01123456789", "not a phone"])
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_numbers" and error["field"] == "to"
    # A landline is a valid number but cannot receive an SMS.
    assert error["invalid"] == ["12345", "01123456789", "not a phone"]
    assert error["invalid_count"] == 3
    assert "'12345'" in error["message"] and "skip_invalid" in error["message"]
    assert listed(client, seeded) == before


def test_the_refusal_lists_at_most_20_invalid_numbers(
    client: TestClient, seeded: SeedReport
) -> None:
    response = send(client, seeded, to=[f"bad-{n}" for n in range(50)], kind="bulk")
    error = error_of(response)
    assert len(error["invalid"]) == 20 and error["invalid_count"] == 50
    assert "and 30 more" in error["message"]


def test_skip_invalid_sends_to_the_rest_and_returns_the_rejected(
    client: TestClient, seeded: SeedReport
) -> None:
    response = send(
        client, seeded, to=["9811000001", "12345", "9811000002"], skip_invalid=True, kind="bulk"
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 2 and body["rejected"] == ["12345"]
    assert [m["to"] for m in body["messages"]] == ["+919811000001", "+919811000002"]
    nothing_valid = send(client, seeded, to=["12345"], skip_invalid=True)
    assert nothing_valid.status_code == 422
    assert error_of(nothing_valid)["code"] == "invalid_numbers"


def test_a_number_listed_twice_gets_the_message_once(
    client: TestClient, seeded: SeedReport
) -> None:
    response = send(client, seeded, to=["9811000001", "+919811000001", "9811000002"])
    body = response.json()
    assert body["accepted"] == 2 and body["duplicates"] == 1


def test_an_idempotency_key_replay_returns_the_same_batch_and_queues_nothing(
    client: TestClient, seeded: SeedReport
) -> None:
    before = len(listed(client, seeded))
    first = send(client, seeded, to=["9811000001", "9811000002"], idempotency_key="order-77")
    assert first.status_code == 202, first.text
    again = send(client, seeded, to=["9811000001", "9811000002"], idempotency_key="order-77")
    assert again.status_code == 200, again.text
    assert again.json()["replayed"] is True
    assert again.json()["batch_id"] == first.json()["batch_id"]
    assert again.json()["messages"] == first.json()["messages"]
    assert len(listed(client, seeded)) == before + 2

    other_text = send(client, seeded, to="9811000001", text="Other", idempotency_key="order-77")
    assert other_text.status_code == 422
    assert error_of(other_text)["code"] == "idempotency_key_reused"
    # Keys are per department: another department's same key is a new send.
    mcd = send(client, seeded, "MCD", to="9811000001", idempotency_key="order-77")
    assert mcd.status_code == 202 and not mcd.json()["replayed"]


def test_another_departments_message_and_batch_are_not_found(
    client: TestClient, seeded: SeedReport
) -> None:
    body = send(client, seeded, to="9811000001").json()
    message_id, batch_id = body["messages"][0]["id"], body["batch_id"]
    for url in (f"/api/v1/messages/{message_id}", f"/api/v1/batches/{batch_id}"):
        response = client.get(url, headers=key(seeded, "MCD"))
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
        assert "ration" not in response.text
    assert message_id not in {m["id"] for m in listed(client, seeded, "MCD")}
    assert listed(client, seeded, "MCD", batch_id=batch_id) == []
    assert client.get(f"/api/v1/messages/{message_id}").status_code == 401


def test_an_otp_goes_to_at_most_two_numbers(client: TestClient, seeded: SeedReport) -> None:
    response = send(
        client, seeded, to=["9811000001", "9811000002", "9811000003"], kind="otp", text="OTP 1234"
    )
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "otp_too_many_recipients" and error["field"] == "to"
    assert "at most 2" in error["message"]
    two = send(client, seeded, to=["9811000001", "9811000002"], kind="otp", text="OTP 1234")
    assert two.status_code == 202 and two.json()["accepted"] == 2


def test_bulk_skips_opted_out_numbers_but_an_otp_still_reaches_them(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    with gateway.session() as session:
        messaging.opt_out(session, "+919811000001")
    bulk = send(client, seeded, to=["9811000001", "9811000002"], kind="bulk")
    assert bulk.status_code == 202, bulk.text
    assert bulk.json()["opted_out"] == ["+919811000001"]
    assert bulk.json()["accepted"] == 1
    assert [m["to"] for m in bulk.json()["messages"]] == ["+919811000002"]
    otp = send(client, seeded, to="9811000001", kind="otp", text="Your OTP is 482913")
    assert otp.json()["accepted"] == 1 and otp.json()["opted_out"] == []


def test_the_daily_quota_answers_429_and_charges_nothing_for_a_refused_send(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    used = client.get("/api/v1/sms/account", headers=key(seeded)).json()["sent_today"]
    with gateway.session() as session:
        food = department_by_code(session, "FOOD")
        assert food is not None
        messaging.ensure_account(session, food.id).daily_quota = used + 3
    assert send(client, seeded, to=["9811000001", "9811000002"]).status_code == 202
    over = send(client, seeded, to=["9811000003", "9811000004"])
    assert over.status_code == 429
    assert error_of(over)["code"] == "daily_limit"
    assert 0 < int(over.headers["Retry-After"]) <= 86_400
    assert send(client, seeded, to="9811000003").status_code == 202
    account = client.get("/api/v1/sms/account", headers=key(seeded)).json()
    assert account["sent_today"] == used + 3 and account["daily_quota"] == used + 3


def test_a_scheduled_send_waits_until_its_time(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    response = send(client, seeded, to="9811000001", scheduled_at=at.isoformat())
    assert response.status_code == 202, response.text
    body = response.json()
    assert datetime.fromisoformat(body["scheduled_at"]) == at
    batch = client.get(f"/api/v1/batches/{body['batch_id']}", headers=key(seeded)).json()
    assert datetime.fromisoformat(batch["scheduled_at"]) == at
    assert batch["counts"] == {"queued": 1}
    with gateway.session() as session:
        # A dispatcher claiming now does not take it; one claiming after its time does.
        now = messaging.claim(session, limit=1000, now=time.time())
        assert body["batch_id"] not in {c.batch_id for c in now}
        later = messaging.claim(session, limit=1000, now=at.timestamp() + 1)
        assert [c.to_phone for c in later if c.batch_id == body["batch_id"]] == ["+919811000001"]
        session.rollback()

    naive = send(client, seeded, to="9811000001", scheduled_at="2030-01-26T09:00:00")
    assert naive.status_code == 400
    assert error_of(naive)["field"] == "scheduled_at"


def test_personalised_texts_go_one_per_number(client: TestClient, seeded: SeedReport) -> None:
    response = send(
        client,
        seeded,
        to=["9811000001", "9811000002"],
        text=None,
        texts=["Dear Asha, your card is ready.", "Dear Ravi, your card is ready."],
        kind="bulk",
    )
    assert response.status_code == 202, response.text
    batch_id = response.json()["batch_id"]
    texts = {m["to"]: m["text"] for m in listed(client, seeded, batch_id=batch_id)}
    assert texts == {
        "+919811000001": "Dear Asha, your card is ready.",
        "+919811000002": "Dear Ravi, your card is ready.",
    }
    mismatch = send(client, seeded, to=["9811000001", "9811000002"], texts=["Only one"])
    assert mismatch.status_code == 422 and error_of(mismatch)["field"] == "texts"


def test_dlt_header_and_template_decide_what_may_be_sent(
    client: TestClient, seeded: SeedReport
) -> None:
    headers = key(seeded)
    added = client.post(
        "/api/v1/dlt/headers", json={"header": "foodcs", "category": "government"}, headers=headers
    )
    assert added.status_code == 201, added.text
    assert added.json()["header"] == "FOODCS" and added.json()["display"] == "FOODCS-G"
    template = client.post(
        "/api/v1/dlt/templates",
        json={
            "template_id": FOOD_TEMPLATE,
            "header": "FOODCS",
            "category": "government",
            "body": "Dear {#var#}, your ration card {#numeric#} is ready. -FOODCS",
            "name": "card ready",
        },
        headers=headers,
    )
    assert template.status_code == 201, template.text
    listed = client.get("/api/v1/dlt/templates", headers=headers).json()
    assert [t["template_id"] for t in listed] == [FOOD_TEMPLATE]

    matching = send(client, seeded, to="9811000001", text=FILLED)
    assert matching.status_code == 202, matching.text
    message_id = matching.json()["messages"][0]["id"]
    stored = client.get(f"/api/v1/messages/{message_id}", headers=headers).json()
    assert stored["template_id"] == FOOD_TEMPLATE

    other = send(client, seeded, to="9811000001", text="Dear Asha, your card is ready.")
    assert other.status_code == 422
    error = error_of(other)
    assert error["code"] == "template_mismatch" and error["field"] == "text"
    assert FOOD_TEMPLATE in error["message"]  # says which template and where it departs

    unregistered = send(client, seeded, to="9811000001", text=FILLED, sender="OTHERS")
    assert unregistered.status_code == 422
    assert error_of(unregistered)["code"] == "sender_not_registered"
    assert "FOODCS" in error_of(unregistered)["message"]


FILLED = "Dear Asha, your ration card 5550001111 is ready. -FOODCS"


def test_dlt_registration_refuses_what_operators_would_reject(
    client: TestClient, seeded: SeedReport
) -> None:
    headers = key(seeded)
    promotional = client.post(
        "/api/v1/dlt/headers", json={"header": "FOODCS", "category": "promotional"}, headers=headers
    )
    assert promotional.status_code == 422
    assert "numeric" in error_of(promotional)["message"]
    no_header = client.post(
        "/api/v1/dlt/templates",
        json={
            "template_id": FOOD_TEMPLATE,
            "header": "FOODCS",
            "category": "government",
            "body": "Dear {#var#}",
        },
        headers=headers,
    )
    assert no_header.status_code == 422
    assert error_of(no_header)["code"] == "header_unknown"
    client.post(
        "/api/v1/dlt/headers", json={"header": "FOODCS", "category": "government"}, headers=headers
    )
    bad_tag = client.post(
        "/api/v1/dlt/templates",
        json={
            "template_id": FOOD_TEMPLATE,
            "header": "FOODCS",
            "category": "government",
            "body": "Dear {#Name#}",
        },
        headers=headers,
    )
    assert bad_tag.status_code == 422 and error_of(bad_tag)["field"] == "body"
    taken = client.post(
        "/api/v1/dlt/headers",
        json={"header": "FOODCS", "category": "government"},
        headers=key(seeded, "MCD"),
    )
    assert taken.status_code == 422 and error_of(taken)["code"] == "header_taken"


def test_the_account_sets_entity_and_callback_but_not_quota(
    client: TestClient, seeded: SeedReport
) -> None:
    headers = key(seeded)
    fresh = client.get("/api/v1/sms/account", headers=headers).json()
    assert fresh["entity_id"] is None and not fresh["msdg_configured"]
    bad = client.put("/api/v1/sms/account", json={"entity_id": "12345"}, headers=headers)
    assert bad.status_code == 422 and error_of(bad)["field"] == "entity_id"
    put = client.put(
        "/api/v1/sms/account",
        json={"entity_id": "1201159100000012345", "callback_url": "https://food.example/sms"},
        headers=headers,
    )
    assert put.status_code == 200, put.text
    assert put.json()["entity_id"] == "1201159100000012345"
    # Leaving a field out keeps it.
    kept = client.put("/api/v1/sms/account", json={"callback_url": None}, headers=headers).json()
    assert kept["entity_id"] == "1201159100000012345" and kept["callback_url"] is None
    quota = client.put("/api/v1/sms/account", json={"daily_quota": 10**9}, headers=headers)
    assert quota.status_code == 400


def test_msdg_credentials_are_set_once_per_username(client: TestClient, seeded: SeedReport) -> None:
    credentials = {"username": "food-msdg", "password": "Seva2025pass", "secure_key": "k" * 36}
    response = client.put("/api/v1/sms/msdg-credentials", json=credentials, headers=key(seeded))
    assert response.status_code == 204, response.text
    account = client.get("/api/v1/sms/account", headers=key(seeded)).json()
    assert account["msdg_configured"] and account["msdg_username"] == "food-msdg"
    assert "Seva2025pass" not in str(account)
    clash = client.put("/api/v1/sms/msdg-credentials", json=credentials, headers=key(seeded, "MCD"))
    assert clash.status_code == 409 and error_of(clash)["code"] == "username_taken"


def test_text_the_database_cannot_store_is_a_clear_error(
    client: TestClient, seeded: SeedReport
) -> None:
    for text in ("null\x00byte", "lone \ud800 surrogate"):
        # json.dumps writes the surrogate as the escape \ud800, as a JSON client may.
        response = client.post(
            "/api/v1/messages",
            content=json.dumps({"to": "9811000001", "text": text}),
            headers=key(seeded) | {"Content-Type": "application/json"},
        )
        assert response.status_code == 400, response.text
        assert error_of(response)["field"] == "text"
    too_long = send(client, seeded, to="9811000001", text="x" * 1601)
    assert too_long.status_code == 422 and error_of(too_long)["code"] == "text_too_long"


def test_bodies_that_are_not_a_send_get_json_errors(client: TestClient, seeded: SeedReport) -> None:
    headers = key(seeded) | {"Content-Type": "application/json"}
    for raw in (b"{", b"[]", b"null", b'{"to": "9811000001"}', b"\xff\xfe"):
        response = client.post("/api/v1/messages", content=raw, headers=headers)
        assert response.status_code in (400, 422), (raw, response.text)
        error_of(response)
    huge = client.post("/api/v1/messages", content=b" " * (8 * 1024 * 1024 + 1), headers=headers)
    assert huge.status_code == 413 and error_of(huge)["code"] == "too_large"
    nul = client.get("/api/v1/dlt/templates", params={"header": "FOOD\x00"}, headers=headers)
    assert nul.status_code == 400
    # Numbers written as JSON numbers are read as their digits.
    as_number = send(client, seeded, to=[9811000001])
    assert as_number.status_code == 202, as_number.text
    assert as_number.json()["messages"][0]["to"] == "+919811000001"


_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "to": st.one_of(
            st.text(max_size=40), st.lists(st.text(max_size=40), max_size=4), _ANY_JSON
        ),
        "text": st.one_of(st.text(max_size=40), _ANY_JSON),
        "texts": st.one_of(st.lists(st.text(max_size=10), max_size=4), _ANY_JSON),
        "kind": st.sampled_from(["otp", "bulk", "transactional", "reply", ""]),
        "sender": st.text(max_size=14),
        "template_id": st.text(max_size=32),
        "scheduled_at": st.one_of(st.text(max_size=30), st.integers()),
        "callback_url": st.text(max_size=30),
        "client_ref": st.text(max_size=70),
        "skip_invalid": _ANY_JSON,
    },
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=_FIELDS, idempotency=st.one_of(st.none(), st.text(max_size=140)))
def test_no_send_body_gets_a_500(
    client: TestClient, seeded: SeedReport, body: dict[str, Any], idempotency: str | None
) -> None:
    headers = key(seeded)
    if idempotency is not None and idempotency.isascii() and idempotency.isprintable():
        headers["Idempotency-Key"] = idempotency
    response = client.post("/api/v1/messages", json=body, headers=headers)
    assert response.status_code in (200, 202, 400, 409, 422, 429), response.text
    if response.status_code >= 400:
        error_of(response)
