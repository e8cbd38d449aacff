"""What a send costs, shown before and after it: ``POST /api/v1/messages/preview`` answers what
the same body would queue and the SMS parts it would take, queuing nothing, and the send's
own answer carries the encoding, characters and parts of all its messages together."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.messaging import service as messaging
from seva.messaging.router import PREVIEW_RATE
from seva.sms_text import measure, units
from tests.api.helpers import error_of
from tests.messaging.test_api import key, listed, send

HINDI = "आपका राशन कार्ड तैयार है। कृपया अपनी उचित दर दुकान से इस महीने के अंदर ले लें। - खाद्य विभाग"
ENGLISH = "Your ration card is ready for collection."


def preview(client: TestClient, seeded: SeedReport, code: str = "FOOD", **body: Any) -> Any:
    body.setdefault("text", ENGLISH)
    return client.post("/api/v1/messages/preview", json=body, headers=key(seeded, code))


def test_a_preview_counts_the_campaign_and_queues_nothing(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    with gateway.session() as session:
        messaging.opt_out(session, "+919811000003")
    before = len(listed(client, seeded, limit=1000))
    used = client.get("/api/v1/sms/account", headers=key(seeded)).json()["sent_today"]
    numbers = ["9811000001", "9811000002", "9811000003", "9811000002", "not a number"]
    body = {"to": numbers, "text": HINDI, "kind": "bulk", "skip_invalid": True}
    response = preview(client, seeded, **body)
    assert response.status_code == 200, response.text
    found = response.json()
    assert found == {
        "recipients": 2,
        "parts": 2,
        "encoding": "ucs2",
        "characters": len(HINDI),
        "total_parts": 4,
        "outside_gsm": [],
        "sender": "SEVA",
        "template_id": None,
        "opted_out": ["+919811000003"],
        "rejected": ["not a number"],
        "duplicates": 1,
    }
    assert len(listed(client, seeded, limit=1000)) == before
    account = client.get("/api/v1/sms/account", headers=key(seeded)).json()
    assert account["sent_today"] == used  # a preview is not charged to the day's quota

    # The send itself answers with the same figures.
    sent = send(client, seeded, **body)
    assert sent.status_code == 202, sent.text
    answer = sent.json()
    assert answer["accepted"] == 2 and answer["parts"] == 2
    assert answer["encoding"] == "ucs2" and answer["characters"] == len(HINDI)
    assert answer["total_parts"] == 4


def test_a_stray_character_that_doubles_an_english_text_is_named(
    client: TestClient, seeded: SeedReport
) -> None:
    text = "Your card’s ready at FPS 112, Shakarpur. Bring your Aadhaar and collect it this week."
    curly = preview(client, seeded, to=["9811000001", "9811000002"], text=text).json()
    assert curly["encoding"] == "ucs2" and curly["outside_gsm"] == ["’"]
    assert curly["parts"] == 2 and curly["total_parts"] == 4
    plain = preview(client, seeded, to=["9811000001", "9811000002"], text=text.replace("’", "'"))
    assert plain.json()["encoding"] == "gsm7" and plain.json()["total_parts"] == 2


def test_personalised_texts_count_each_message(client: TestClient, seeded: SeedReport) -> None:
    texts = ["Dear Asha, your card is ready.", HINDI, "x" * 161]
    body = {"to": ["9811000001", "9811000002", "9811000003"], "texts": texts, "text": None}
    found = preview(client, seeded, **body).json()
    assert found["encoding"] == "ucs2"  # one of the texts needs it
    assert found["parts"] == 2 and found["characters"] == 161
    assert found["total_parts"] == 1 + 2 + 2
    sent = send(client, seeded, **body).json()
    assert sent["total_parts"] == 5 and sent["parts"] == 2


def test_a_replayed_send_answers_its_figures_again(client: TestClient, seeded: SeedReport) -> None:
    first = send(client, seeded, to=["9811000001", "9811000002"], text=HINDI, idempotency_key="k1")
    again = send(client, seeded, to=["9811000001", "9811000002"], text=HINDI, idempotency_key="k1")
    assert again.status_code == 200 and again.json()["replayed"]
    for field in ("parts", "encoding", "characters", "total_parts"):
        assert again.json()[field] == first.json()[field], field


def test_a_preview_refuses_what_the_send_would_refuse(
    client: TestClient, seeded: SeedReport
) -> None:
    headers = key(seeded)
    client.post(
        "/api/v1/dlt/headers", json={"header": "FOODCS", "category": "government"}, headers=headers
    )
    registered = client.post(
        "/api/v1/dlt/templates",
        json={
            "template_id": "1107161234567890123",
            "header": "FOODCS",
            "category": "government",
            "body": "Dear {#var#}, your ration card {#numeric#} is ready. -FOODCS",
        },
        headers=headers,
    )
    assert registered.status_code == 201, registered.text
    other = preview(client, seeded, to="9811000001", text="Dear Asha, your card is ready.")
    assert other.status_code == 422 and error_of(other)["code"] == "template_mismatch"
    matching = preview(
        client,
        seeded,
        to="9811000001",
        text="Dear Asha, your ration card 5550001111 is ready. -FOODCS",
    )
    assert matching.status_code == 200, matching.text
    assert matching.json()["sender"] == "FOODCS"
    assert matching.json()["template_id"] == "1107161234567890123"
    otp = preview(client, seeded, to=["9811000001", "9811000002", "9811000003"], kind="otp")
    assert otp.status_code == 422 and error_of(otp)["code"] == "otp_too_many_recipients"
    invalid = preview(client, seeded, to=["9811000001", "12"])
    assert invalid.status_code == 422 and error_of(invalid)["code"] == "invalid_numbers"
    stranger = client.post(
        "/api/v1/messages/preview",
        json={"to": "9811000001", "text": ENGLISH},
        headers={"Authorization": "Bearer sk_not_a_key"},
    )
    assert stranger.status_code == 401


@pytest.mark.parametrize(
    ("text", "encoding", "chars", "counted", "parts"),
    [
        ("a" * 160, "gsm7", 160, 160, 1),
        ("a" * 159 + "€", "gsm7", 160, 161, 2),  # the euro sign is two septets
        ("[" * 80, "gsm7", 80, 160, 1),
        ("क" * 70, "ucs2", 70, 70, 1),
        ("क" * 71, "ucs2", 71, 71, 2),
        ("क" * 69 + "😀", "ucs2", 70, 71, 2),  # an emoji is two UTF-16 units
        ("", "gsm7", 0, 0, 1),
    ],
)
def test_measure_counts_what_the_part_limits_count(
    text: str, encoding: str, chars: int, counted: int, parts: int
) -> None:
    found = measure(text)
    assert (found.encoding, found.characters, found.units, found.parts) == (
        encoding,
        chars,
        counted,
        parts,
    )
    assert units(text) == counted


def test_measure_names_a_few_stray_characters_but_not_a_script() -> None:
    assert measure("Don’t miss the “camp” today").outside == ("’", "“", "”")
    assert measure(HINDI).outside == ()
    assert measure("All good").outside == ()


def test_previews_are_limited_per_key_as_sends_are_by_their_quota(
    client: TestClient, seeded: SeedReport
) -> None:
    """A preview charges no quota: past ``PREVIEW_RATE`` a key is told to wait, and another
    department's key is not."""
    for _ in range(PREVIEW_RATE.limit):
        assert preview(client, seeded, to=["9811000001"]).status_code == 200
    refused = preview(client, seeded, to=["9811000001"])
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert error_of(refused)["code"] == "too_many_previews"
    assert preview(client, seeded, "TRANSPORT", to=["9811000001"]).status_code != 429
