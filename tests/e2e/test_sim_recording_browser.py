"""A phone call on the simulator whose complaint is described in the caller's own voice, the
browser's microphone recording it (Debian Chromium's fake microphone plays a tone)."""

from __future__ import annotations

import io
import re
import wave
from array import array
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from seva.applications import service as applications
from seva.channels.voice.ivr import encode_keypad
from seva.citizens import service as citizens
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.voice.models import VoiceRecording
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.demo_routes,
    # One database is enough to show the page records; the TestClient tests cover PostgreSQL.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

CALLER = "+919811500006"
REFUSING_CALLER = "+919811500007"
SPOKEN_FOR_MS = 2000
# English, MCD, civic complaint, garbage, the PIN code, the name in keypad letters.
TO_THE_DESCRIPTION = (
    ("1", "Welcome to Seva."),
    ("3", "For Register a civic complaint, press 2."),
    ("2", "What is the problem"),
    ("1", "PIN code of the place"),
    ("110092#", "Your full name"),
    (encode_keypad("RAVI") + "#", "Describe the place"),
)
QUESTION_HEARD_MS = 30_000
"""The spoken question (a few seconds of espeak-ng, or as much silence) and the beep."""


def open_page(browser: Any, live: str, permissions: list[str]) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live, viewport={"width": 1280, "height": 860}, permissions=permissions
    )
    page = context.new_page()
    page.set_default_timeout(8000)
    yield page
    context.close()


@pytest.fixture
def handset(browser: Any, live: str, seeded: SeedReport) -> Iterator[Any]:
    yield from open_page(browser, live, ["microphone"])


@pytest.fixture
def refusing_handset(browser: Any, live: str, seeded: SeedReport) -> Iterator[Any]:
    """A browser whose user says no to the microphone (every permission prompt is denied)."""
    args = [a for a in CHROMIUM_ARGS if a != "--use-fake-ui-for-media-stream"]
    refusing = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*args, "--deny-permission-prompts"]
    )
    yield from open_page(refusing, live, [])
    refusing.close()


def key_to_the_description(page: Any, caller: str) -> None:
    from playwright.sync_api import expect

    page.goto("/sim")
    page.get_by_label("This phone's number").fill(caller.removeprefix("+91"))
    page.get_by_role("button", name="Use number").click()
    screen = page.locator("#call-screen")
    page.locator("#call-button").click()
    expect(screen).to_contain_text("For English, press 1.")
    keypad = page.locator("#call-keypad")
    for keys, heard in TO_THE_DESCRIPTION:
        for key in keys:
            keypad.locator(f"button[data-key='{key}']").click()
        expect(screen).to_contain_text(heard)


def test_a_complaint_described_into_the_microphone(handset: Any, gateway: Gateway) -> None:
    from playwright.sync_api import expect

    page = handset
    key_to_the_description(page, CALLER)
    screen = page.locator("#call-screen")
    keypad = page.locator("#call-keypad")
    status = page.locator("#call-record-status")

    # The question is heard, then the beep, then the microphone records.
    expect(status).to_contain_text("speak after the beep")
    expect(status).to_have_text("Recording… press # or Stop to finish.", timeout=QUESTION_HEARD_MS)
    stop = page.get_by_role("button", name="Stop recording")
    expect(stop).to_be_visible()
    expect(page.locator("#call-record-time")).to_contain_text(re.compile(r"\d\.\d s of 60 s"))
    page.wait_for_timeout(SPOKEN_FOR_MS)
    stop.click()
    expect(screen).to_contain_text("Register complaint 'Garbage not collected' at 110092?")
    expect(stop).to_be_hidden()
    expect(status).to_have_text("")
    keypad.locator("button[data-key='1']").click()
    expect(screen).to_contain_text(re.compile(r"Complaint MCD-[0-9A-HJKMNP-TV-Z]{8} registered"))
    expect(keypad).to_be_hidden()

    with gateway.session() as session:
        citizen = citizens.find(session, CALLER)
        assert citizen is not None
        [complaint] = applications.of_citizen(session, citizen)
        details = str(complaint.data["details"])
        [kept] = session.scalars(select(VoiceRecording))
    assert details == f"voice:{kept.token}" and kept.channel == "sim"
    # About as long as it was left to record (the Stop click and a block of audio either side).
    assert 1.5 <= kept.seconds <= 4.0, kept.seconds
    assert kept.storage_key is not None
    with wave.open(io.BytesIO(gateway.locker.storage.get(kept.storage_key))) as file:
        assert (file.getframerate(), file.getnchannels(), file.getsampwidth()) == (8000, 1, 2)
        assert file.getnframes() / 8000 == pytest.approx(kept.seconds, abs=0.01)
        samples = array("h", file.readframes(file.getnframes()))
    assert max(samples) > 4000  # the fake microphone's tone, not silence


def test_without_the_microphone_the_message_is_keyed_as_letters(
    refusing_handset: Any, gateway: Gateway
) -> None:
    from playwright.sync_api import expect

    page = refusing_handset
    key_to_the_description(page, REFUSING_CALLER)
    status = page.locator("#call-record-status")
    expect(status).to_contain_text("The microphone is not available (permission was refused).")
    expect(status).to_contain_text("Key your message on the keypad instead")
    expect(page.get_by_role("button", name="Stop recording")).to_be_hidden()
    keypad = page.locator("#call-keypad")
    for key in encode_keypad("NEAR PARK") + "#":
        keypad.locator(f"button[data-key='{key}']").click()
    screen = page.locator("#call-screen")
    expect(screen).to_contain_text("Register complaint 'Garbage not collected' at 110092?")
    keypad.locator("button[data-key='1']").click()
    expect(screen).to_contain_text(re.compile(r"Complaint MCD-[0-9A-HJKMNP-TV-Z]{8} registered"))
    with gateway.session() as session:
        citizen = citizens.find(session, REFUSING_CALLER)
        assert citizen is not None
        [complaint] = applications.of_citizen(session, citizen)
        assert complaint.data["details"] == "Near Park"
        assert list(session.scalars(select(VoiceRecording))) == []
