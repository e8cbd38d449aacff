"""The conversation rules (``seva.flows.conversation``) in the form each keypad and app
channel gives them: what is open belongs to one conversation, an offer of times owns its next
answer, and what another conversation does leaves it alone. SMS, where one phone number has
one conversation and keywords collide, is tested cell by cell in
``tests/flows/test_conversation.py``.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from seva.citizens import service as citizens
from seva.db.base import utcnow
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.rtc import service as rtc
from tests.api.helpers import answer, bearer, login, start
from tests.channels.test_ussd import Handset


def _booked(gateway: Gateway, phone: str) -> list[str]:
    with gateway.session() as session:
        person = citizens.find(session, phone)
        found = rtc.upcoming(session, person, now=utcnow()) if person else []
        return [a.channel for a in found]


def test_app_two_conversations_of_one_citizen_do_not_collide(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    """The app's version of COMPLAINT, CALL FOOD, 1: each conversation has its own id, so the
    1 books the call and the complaint still waits for its PIN code."""
    phone = "+919811000731"
    token = login(client, gateway, phone)
    complaint = start(client, "MCD", "civic-complaint", token=token)
    assert answer(client, complaint["id"], "1", token=token)["question"]["text"] == (
        "PIN code of the place"
    )
    booking = start(client, "FOOD", "call", token=token)
    assert answer(client, booking["id"], "1", token=token)["finished"] is True
    assert _booked(gateway, phone) == ["app"]
    still = client.get(f"/api/v1/sessions/{complaint['id']}", headers=bearer(token))
    assert still.status_code == 200 and still.json()["question"]["text"] == "PIN code of the place"
    assert answer(client, complaint["id"], "110092", token=token)["question"] is not None


def test_app_an_offer_of_times_refuses_what_is_not_one_of_them(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    phone = "+919811000732"
    token = login(client, gateway, phone)
    booking = start(client, "FOOD", "call", token=token)
    count = len(booking["question"]["options"])
    refused = answer(client, booking["id"], str(count + 1), token=token)
    assert refused["finished"] is False
    assert refused["question"]["error"] == "Please choose one of the options."  # form wording
    assert _booked(gateway, phone) == []
    assert answer(client, booking["id"], "1", token=token)["finished"] is True


def _key(screen: str, wording: str) -> str:
    found = re.search(rf"(\d+)\. {re.escape(wording)}", screen)
    assert found is not None, screen
    return found.group(1)


def test_ussd_two_sessions_of_one_phone_each_keep_their_own_place(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    """A phone may hold two USSD sessions (one dropped by the network, one dialled again):
    each session's answer lands in its own conversation."""
    phone = "+919811000733"
    first, second = Handset(client, "two-a", phone), Handset(client, "two-b", phone)
    root = first.dial()
    food = first.press(_key(root, "Food & Civil Supplies"))
    assert "card number" in first.press(_key(food, "Ration card status")).lower()
    other = second.dial()
    agriculture = second.press(_key(other, "Agriculture"))
    crops = second.press(_key(agriculture, "Today's mandi price"))
    assert crops.startswith("CON Choose the crop"), crops
    assert first.press("1234567890").startswith("END Ration card 1234567890 (Sunita Devi)")


def test_ussd_an_offer_of_times_owns_its_next_key(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    phone = "+919811000734"
    handset = Handset(client, "offer-1", phone)
    root = handset.dial()
    food = handset.press(_key(root, "Food & Civil Supplies"))
    times = handset.press(_key(food, "Book a call with an official"))
    assert times.startswith("CON Call with FOOD (IST):")
    again = handset.press("9")
    assert again.startswith("CON Please choose a number from 1 to")
    assert _booked(gateway, phone) == []
    booked = handset.press("1")
    assert booked.startswith("END ") and _booked(gateway, phone) == ["ussd"]
