"""USSD (Africa's Talking callback): menus, the same answers as SMS, paging, bad requests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from seva.channels.ussd import MAX_SCREEN, paginate
from seva.db.base import utcnow
from seva.demo.seed import SeedReport
from seva.gateway import Gateway


class Handset:
    """Keeps the ``*``-joined history the way an aggregator does."""

    def __init__(self, client: TestClient, session_id: str, phone: str = "+919811000101") -> None:
        self.client = client
        self.session_id = session_id
        self.phone = phone
        self.inputs: list[str] = []

    def dial(self) -> str:
        return self._post("")

    def press(self, value: str) -> str:
        self.inputs.append(value)
        return self._post("*".join(self.inputs))

    def _post(self, text: str) -> str:
        response = self.client.post(
            "/channels/ussd/africastalking",
            data={
                "sessionId": self.session_id,
                "serviceCode": "*166#",
                "phoneNumber": self.phone,
                "networkCode": "40410",
                "text": text,
            },
        )
        assert response.status_code == 200, response.text
        body = response.text
        assert body.startswith(("CON ", "END "))
        assert len(body) - 4 <= MAX_SCREEN, body
        return body


def test_menu_to_answer(client: TestClient, seeded: SeedReport) -> None:
    phone = Handset(client, "ussd-1")
    root = phone.dial()
    assert root.startswith("CON Seva *166#\n1. Transport Department\n2. Food & Civil Supplies")
    assert phone.press("2").startswith("CON Food & Civil Supplies\n1. Ration card status")
    assert phone.press("1") == "CON Enter your ration card number"
    assert phone.press("1234567890") == (
        "END Ration card 1234567890 (Sunita Devi): Active. Members: 4. Shop: FPS 112, Shakarpur."
    )


def test_invalid_menu_choice_shows_the_menu_again(client: TestClient, seeded: SeedReport) -> None:
    phone = Handset(client, "ussd-2")
    phone.dial()
    assert phone.press("7").startswith("CON Invalid choice.\n1. Transport Department")
    assert phone.press("²").startswith("CON Invalid choice.")
    assert phone.press("1").startswith("CON Transport Department")
    assert phone.press("0").startswith("CON Seva *166#")


def test_long_answers_are_paged(client: TestClient, seeded: SeedReport) -> None:
    phone = Handset(client, "ussd-3")
    phone.dial()
    phone.press("5")
    phone.press("2")
    first = phone.press("110092")
    assert first.startswith("CON Nearest to 110092:") and first.endswith("\n98. More")
    pages = [first]
    while pages[-1].startswith("CON"):
        pages.append(phone.press("98"))
    assert pages[-1].startswith("END ")
    joined = "\n".join(p[4:].removesuffix("\n98. More") for p in pages)
    assert joined.count("CSC") >= 2 and "Circle Office Shakarpur" in joined


def test_language_menu_switches_to_hindi(client: TestClient, seeded: SeedReport) -> None:
    phone = Handset(client, "ussd-4")
    phone.dial()
    phone.press("0")
    assert phone.press("2").startswith("CON सेवा *166#\n1. परिवहन विभाग")


@pytest.mark.parametrize(
    "drop", ["sessionId", "serviceCode", "phoneNumber"], ids=lambda f: f"missing-{f}"
)
def test_missing_fields_are_400_json(client: TestClient, seeded: SeedReport, drop: str) -> None:
    form = {"sessionId": "x", "serviceCode": "*166#", "phoneNumber": "+919811000101", "text": ""}
    del form[drop]
    response = client.post("/channels/ussd/africastalking", data=form)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == drop


def test_paginate_keeps_every_character_and_the_limit() -> None:
    text = "\n".join(f"{i}. " + "word " * (i % 7 + 3) for i in range(1, 40))
    pages = paginate(text)
    assert all(len(p) <= MAX_SCREEN for p in pages)
    assert all(p.endswith("\n98. More") for p in pages[:-1])
    rebuilt = " ".join(" ".join(p.removesuffix("\n98. More").split()) for p in pages)
    assert rebuilt == " ".join(text.split())


def test_inputs_dialled_with_the_code_walk_the_menu(client: TestClient, seeded: SeedReport) -> None:
    form = {"sessionId": "ussd-direct", "serviceCode": "*166*2*1#", "phoneNumber": "+919811000102"}
    first = client.post("/channels/ussd/africastalking", data=form | {"text": "2*1"})
    assert first.text == "CON Enter your ration card number"
    last = client.post("/channels/ussd/africastalking", data=form | {"text": "2*1*1234567890"})
    assert last.text.startswith("END Ration card 1234567890 (Sunita Devi)")


def test_a_hop_after_seva_expired_the_session_continues_from_the_history(
    gateway: Gateway, seeded: SeedReport
) -> None:
    """Each USSD hop carries the session's whole history (``2*1*…``), so a session Seva let
    lapse while the operator still held it is rebuilt from it: the citizen's answer lands
    where they were, not on a timeout or the first menu."""
    phone, session_id = "+919811000177", "lapsed-1"
    start = utcnow()
    with gateway.session() as session:
        for text in ("", "2", "2*1"):
            screen = gateway.ussd.handle(
                session, session_id=session_id, phone=phone, text=text, now=start
            )
        assert "card number" in screen.text.lower()
    later = start + timedelta(seconds=gateway.settings.session_ttl_seconds + 1)
    with gateway.session() as session:
        screen = gateway.ussd.handle(
            session, session_id=session_id, phone=phone, text="2*1*1234567890", now=later
        )
    assert screen.end and screen.text.startswith("Ration card 1234567890 (Sunita Devi)")
