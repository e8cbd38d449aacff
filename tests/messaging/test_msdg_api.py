"""The MSDG-compatible endpoints, driven the way MSDG's own sample clients call them."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote_plus

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.messaging import service as messaging
from seva.tenancy.models import AuditEvent
from seva.tenancy.service import department_by_code

USERNAME = "food-msdg"
PASSWORD = "Seva2025pass"
SECURE_KEY = "8921726e-fccf-4927-bca5-b954eda66bd1"
SENDER = "FOODCS"
TEMPLATE_ID = "1107161234567890123"
HINDI = "आपका राशन कार्ड तैयार है"
SUCCESS = re.compile(r"402,MsgID = (\d+)msdgsms")


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("iso-8859-1")).hexdigest()


def sha512(text: str) -> str:
    return hashlib.sha512(text.encode("utf-8")).hexdigest()


def java_entities(text: str) -> str:
    """What the Java sample's sendUnicodeSMS posts: one &#N; per UTF-16 code unit."""
    units = text.encode("utf-16-be")
    return "".join(f"&#{int.from_bytes(units[i : i + 2], 'big')};" for i in range(0, len(units), 2))


def php_body(fields: dict[str, str]) -> bytes:
    """The PHP sample's post_to_url: key=urlencode(value)& for each field, trailing & kept."""
    return "".join(f"{k}={quote_plus(v)}&" for k, v in fields.items()).encode("ascii")


def request_fields(
    content: str = "Your ration card is ready.",
    *,
    service_type: str = "singlemsg",
    numbers: str = "9811000001",
    sender: str = SENDER,
    password: str = PASSWORD,
    secure_key: str = SECURE_KEY,
    templateid: str | None = TEMPLATE_ID,
) -> dict[str, str]:
    """A request as the sample clients build it: hashes over the trimmed fields."""
    number_field = "bulkmobno" if service_type in ("bulkmsg", "unicodemsg") else "mobileno"
    fields = {
        "username": USERNAME,
        "password": sha1(password),
        "senderid": sender,
        "content": content,
        "smsservicetype": service_type,
        number_field: numbers,
        "key": sha512(USERNAME + sender + content.strip() + secure_key),
    }
    if templateid is not None:
        fields["templateid"] = templateid
    return fields


def post(client: TestClient, fields: dict[str, str], *, dlt: bool = True) -> str:
    path = "/esms/sendsmsrequestDLT" if dlt else "/esms/sendsmsrequest"
    response = client.post(
        path,
        content=php_body(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text  # MSDG answers every reply with 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


@pytest.fixture
def msdg_client(client: TestClient, seeded: SeedReport) -> TestClient:
    """FOOD with MSDG credentials set through its own API, and its header registered: MSDG
    sends only from a department's own DLT header. The template is one variable, so any
    short text matches: these tests are about MSDG's fields, not DLT content."""
    headers = {"X-API-Key": seeded.api_keys["FOOD"]}
    response = client.put(
        "/api/v1/sms/msdg-credentials",
        json={"username": USERNAME, "password": PASSWORD, "secure_key": SECURE_KEY},
        headers=headers,
    )
    assert response.status_code == 204, response.text
    registered = client.post(
        "/api/v1/dlt/headers", json={"header": SENDER, "category": "government"}, headers=headers
    )
    assert registered.status_code == 201, registered.text
    template = {"template_id": TEMPLATE_ID, "header": SENDER, "category": "government"}
    registered = client.post(
        "/api/v1/dlt/templates", json=template | {"body": "{#var#}"}, headers=headers
    )
    assert registered.status_code == 201, registered.text
    return client


def batch_texts(client: TestClient, seeded: SeedReport, reply: str) -> dict[str, str]:
    found = SUCCESS.fullmatch(reply)
    assert found, reply
    messages = client.get(
        "/api/v1/messages",
        params={"batch_id": found.group(1)},
        headers={"X-API-Key": seeded.api_keys["FOOD"]},
    ).json()
    return {m["to"]: m["text"] for m in messages}


def test_a_java_unicode_request_queues_the_hindi_text(
    msdg_client: TestClient, seeded: SeedReport
) -> None:
    reply = post(
        msdg_client,
        request_fields(
            java_entities(HINDI), service_type="unicodemsg", numbers="9811000001,919811000002"
        ),
    )
    assert batch_texts(msdg_client, seeded, reply) == {
        "+919811000001": HINDI,
        "+919811000002": HINDI,
    }


def test_a_php_single_message_and_the_legacy_endpoint_are_accepted(
    msdg_client: TestClient, seeded: SeedReport
) -> None:
    reply = post(msdg_client, request_fields())
    assert batch_texts(msdg_client, seeded, reply) == {
        "+919811000001": "Your ration card is ready."
    }
    legacy = post(msdg_client, request_fields(templateid=None), dlt=False)
    assert SUCCESS.fullmatch(legacy), legacy


def test_fields_in_the_query_string_work_as_some_clients_send_them(
    msdg_client: TestClient, seeded: SeedReport
) -> None:
    response = msdg_client.get("/esms/sendsmsrequestDLT", params=request_fields())
    assert response.status_code == 200
    assert SUCCESS.fullmatch(response.text), response.text


def test_service_types_choose_the_queue_kind(
    msdg_client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    kinds = {}
    for service_type in ("singlemsg", "bulkmsg", "otpmsg"):
        reply = post(msdg_client, request_fields(f"Code {service_type}", service_type=service_type))
        found = SUCCESS.fullmatch(reply)
        assert found, reply
        with gateway.session() as session:
            batch = messaging.batch(session, int(found.group(1)))
            assert batch is not None and batch.source == "msdg"
            kinds[service_type] = batch.kind
    assert kinds == {"singlemsg": "transactional", "bulkmsg": "bulk", "otpmsg": "otp"}


@pytest.mark.parametrize(
    ("changes", "reply"),
    [
        ({"password": sha1("wrong")}, "401,"),
        ({"username": "nobody-msdg"}, "401,"),
        ({"mobileno": "9811000001,12345"}, "406,"),
        ({"key": sha512("tampered")}, "416,"),
        ({"smsservicetype": "otpmsg", "mobileno": "9811000001,9811000002,9811000003"}, "417,"),
        ({"templateid": None}, "423,"),
    ],
)
def test_each_refusal_has_its_msdg_code(
    msdg_client: TestClient, changes: dict[str, str | None], reply: str
) -> None:
    fields: dict[str, Any] = request_fields() | changes
    answer = post(msdg_client, {k: v for k, v in fields.items() if v is not None})
    assert answer.startswith(reply), answer


def test_an_unregistered_sender_and_a_text_off_template_are_refused(
    msdg_client: TestClient, seeded: SeedReport
) -> None:
    headers = {"X-API-Key": seeded.api_keys["FOOD"]}
    assert (
        msdg_client.post(
            "/api/v1/dlt/templates",
            json={
                "template_id": TEMPLATE_ID,
                "header": SENDER,
                "category": "government",
                "body": "Dear {#var#}, your ration card is ready. -FOODCS",
            },
            headers=headers,
        ).status_code
        == 200  # the fixture's template, now with fixed text
    )
    assert post(msdg_client, request_fields(sender="OTHERS")).startswith("412,")
    assert post(msdg_client, request_fields("Your card is ready.")).startswith("423,")
    matching = post(msdg_client, request_fields("Dear Asha, your ration card is ready. -FOODCS"))
    assert SUCCESS.fullmatch(matching), matching


def test_the_daily_limit_is_418_and_costs_nothing(
    msdg_client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    used = msdg_client.get(
        "/api/v1/sms/account", headers={"X-API-Key": seeded.api_keys["FOOD"]}
    ).json()["sent_today"]
    with gateway.session() as session:
        food = department_by_code(session, "FOOD")
        assert food is not None
        messaging.ensure_account(session, food.id).daily_quota = used + 1
    assert post(
        msdg_client, request_fields(service_type="bulkmsg", numbers="9811000001,9811000002")
    ).startswith("418,")
    assert SUCCESS.fullmatch(post(msdg_client, request_fields()))


def test_wrong_passwords_pause_the_account_with_421(
    msdg_client: TestClient, gateway: Gateway
) -> None:
    """Five wrong passwords (SEVA_LOGIN_ACCOUNT_FAILURES) pause the account for every
    client, right password or not, and each failure is audited."""
    for _ in range(5):
        assert post(msdg_client, request_fields(password="guess")).startswith("401,")
    paused = post(msdg_client, request_fields())
    assert paused == "421,Too many failed logins, try again later"
    elsewhere = TestClient(msdg_client.app, client=("127.0.0.7", 40000))
    assert post(elsewhere, request_fields()).startswith("421,")
    with gateway.session() as session:
        food = department_by_code(session, "FOOD")
        assert food is not None
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action.startswith("msdg_login"))
        ).all()
        assert [row.action for row in rows] == ["msdg_login_failed"] * 5 + ["msdg_login_locked"]
        assert {(row.department_id, row.detail["username"]) for row in rows} == {
            (food.id, USERNAME)
        }


def test_a_nul_character_is_refused_even_with_a_valid_key(msdg_client: TestClient) -> None:
    # The key is computed over the NUL too, so only the gateway's own check can stop it.
    assert post(msdg_client, request_fields("Ready\x00now")).startswith("420,")
    fields = request_fields() | {"username": "food\x00msdg"}
    assert post(msdg_client, fields).startswith("420,")


def test_an_oversized_body_is_refused_in_msdg_form(msdg_client: TestClient) -> None:
    response = msdg_client.post(
        "/esms/sendsmsrequestDLT",
        content=b"content=" + b"x" * (4 * 1024 * 1024 + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and response.text.startswith("410,")


_NAMES = [
    "username",
    "password",
    "senderid",
    "content",
    "smsservicetype",
    "mobileno",
    "bulkmobno",
    "key",
    "templateid",
    "entityid",
]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    changes=st.dictionaries(
        st.one_of(st.sampled_from(_NAMES), st.text(max_size=10)),
        st.one_of(st.text(max_size=30), st.sampled_from(["otpmsg", "bulkmsg", "9811000001"])),
        max_size=6,
    ),
    drop=st.lists(st.sampled_from(_NAMES), max_size=3),
)
def test_no_form_gets_anything_but_an_msdg_reply(
    msdg_client: TestClient, changes: dict[str, str], drop: list[str]
) -> None:
    fields = request_fields() | changes
    for name in drop:
        fields.pop(name, None)
    response = msdg_client.post("/esms/sendsmsrequestDLT", data=fields)
    assert response.status_code == 200
    assert re.fullmatch(r"4\d\d,.+", response.text), response.text
