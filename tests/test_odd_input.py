"""Strings that once reached a 500: a form token with non-ASCII characters, a call or send time at
the edge of the calendar, digits ``int`` refuses though ``str.isdigit`` takes them. Each is
refused the way the page, API or SMS refuses any bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from seva.bodies import BodyTooLarge, read_capped
from seva.channels.smpp.receipts import id_candidates
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.messaging import service as queue
from tests.api.helpers import bearer, login
from tests.web.pages import alert
from tests.web.test_citizen import log_in

ODD_TOKENS = ("१२३४", "🙂", "é" * 32)
EDGE_TIMES = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31T23:30:00Z")


@pytest.mark.parametrize("token", ODD_TOKENS)
def test_a_form_token_with_non_ascii_characters_is_a_stale_form(
    client: TestClient, seeded: SeedReport, token: str
) -> None:
    """The token check compared str with ``compare_digest``, which raises on non-ASCII."""
    client.get("/citizen/login")  # the session gets its own token
    response = client.post(
        "/citizen/login", data={"csrf": token, "phone": "9811000951"}, follow_redirects=True
    )
    assert response.status_code == 400, response.text
    assert "form" in (alert(response.text) or "").lower()
    console = client.post("/logout", data={"csrf": token}, follow_redirects=False)
    assert 300 <= console.status_code < 500


@pytest.mark.parametrize("when", EDGE_TIMES)
def test_a_call_time_at_the_edge_of_the_calendar_is_refused(
    client: TestClient, gateway: Gateway, seeded: SeedReport, when: str
) -> None:
    log_in(client, gateway, "+919811000952")
    page = client.get("/call/FOOD").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    booked = client.post("/call/FOOD/book", data={"csrf": csrf, "starts_at": when})
    assert booked.status_code == 422
    assert "choose one of the offered times" in booked.text

    token = login(client, gateway, "+919811000953")
    api = client.post(
        "/api/v1/calls/FOOD/appointments", json={"starts_at": when}, headers=bearer(token)
    )
    assert api.status_code == 422, api.text
    assert api.json()["error"]["code"] == "invalid_time"


@pytest.mark.parametrize("when", EDGE_TIMES[1:])
def test_a_send_scheduled_at_the_end_of_the_calendar_is_refused_and_not_queued(
    client: TestClient, gateway: Gateway, seeded: SeedReport, when: str
) -> None:
    """It was queued, and then the answer (its time as a date) failed with a 500."""
    key = {"X-API-Key": seeded.api_keys["FOOD"]}
    with gateway.session() as session:
        before = queue.status_counts(session)
    response = client.post(
        "/api/v1/messages",
        json={"to": "9811000955", "text": "Camp", "scheduled_at": when},
        headers=key,
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == {
        "code": "schedule_too_far",
        "message": "schedule at most 366 days ahead",
        "field": "scheduled_at",
    }
    with gateway.session() as session:
        assert queue.status_counts(session) == before


MONDAY_9 = datetime(2026, 11, 30, 3, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["²", "9" * 5000])
def test_an_odd_number_answering_a_call_offer_by_sms_is_not_a_choice(
    gateway: Gateway, seeded: SeedReport, text: str
) -> None:
    """``"²".isdigit()`` is true and ``int("²")`` raises; so does ``int`` of 5,000 digits."""
    phone = "+919811000954"
    with gateway.session() as session:
        offer = gateway.sms.handle(session, phone=phone, text="CALL FOOD", now=MONDAY_9)
        assert offer.text.startswith("Call with FOOD (IST), reply 1-5: 1) 30-11 10:00")
        reply = gateway.sms.handle(session, phone=phone, text=text, now=MONDAY_9)
    assert "booked" not in reply.text


@pytest.mark.asyncio
@pytest.mark.parametrize("declared", [b"\xb2", b"9" * 5000])
async def test_an_odd_content_length_is_not_a_size(declared: bytes) -> None:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    scope = {"type": "http", "method": "POST", "headers": [(b"content-length", declared)]}
    request = Request(scope, receive)
    if declared.isdigit():
        with pytest.raises(BodyTooLarge):
            await read_capped(request, 1024)
    else:
        assert await read_capped(request, 1024) == b"{}"


def test_an_smsc_message_id_with_a_superscript_digit_is_kept_as_given() -> None:
    assert id_candidates("²") == ("²",)
