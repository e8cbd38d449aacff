"""The portal, the phone simulator and the kiosk in a real browser (Debian Chromium)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seva.demo.seed import DEMO_CITIZEN, DEMO_PASSWORD, SeedReport
from seva.gateway import Gateway
from seva.messaging import service as messaging
from seva.messaging.service import Receipt, Submitted
from tests.e2e.conftest import screenshots_wanted

pytestmark = [
    pytest.mark.browser,
    # One database is enough to show the pages work; the TestClient tests cover PostgreSQL.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

RATION_ANSWER = (
    "Ration card 1234567890 (Sunita Devi): Active. Members: 4. Shop: FPS 112, Shakarpur."
)
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot-sim.png"


def open_page(browser: Any, live: str, *, width: int) -> Iterator[Any]:
    context = browser.new_context(base_url=live, viewport={"width": width, "height": 860})
    page = context.new_page()
    page.set_default_timeout(8000)
    yield page
    context.close()


@pytest.fixture
def phone(browser: Any, live: str, seeded: SeedReport) -> Iterator[Any]:
    """A page the size of a small phone screen."""
    yield from open_page(browser, live, width=360)


@pytest.fixture
def desk(browser: Any, live: str, seeded: SeedReport) -> Iterator[Any]:
    """A page the size of a kiosk or laptop screen."""
    yield from open_page(browser, live, width=1280)


def test_portal_service_by_clicking(phone: Any) -> None:
    from playwright.sync_api import expect

    phone.goto("/")
    phone.get_by_role("link", name="Today's mandi price").click()
    expect(phone.get_by_role("group", name="Choose the crop")).to_be_visible()
    phone.get_by_role("button", name="Continue").click()  # nothing chosen: refused
    expect(phone.get_by_role("alert")).to_have_text("Please enter an answer.")
    phone.get_by_label("Mustard").check()
    phone.get_by_role("button", name="Continue").click()
    expect(phone.locator("#final-answer")).to_contain_text("Mustard at")
    # Nothing overflows the 360 px screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360

    phone.get_by_role("link", name="Language").click()  # the globe: every language by its name
    phone.get_by_role("link", name="हिन्दी").click()
    expect(phone.locator("html")).to_have_attribute("lang", "hi")
    phone.goto("/services/FOOD/ration-card-status")
    phone.get_by_label("अपना राशन कार्ड नंबर दर्ज करें").fill("1234567890")
    phone.get_by_role("button", name="आगे बढ़ें").click()
    expect(phone.locator("#final-answer")).to_have_text(
        "राशन कार्ड 1234567890 (Sunita Devi): सक्रिय। सदस्य: 4। दुकान: FPS 112, Shakarpur।"
    )


@pytest.mark.demo_routes
def test_phone_simulator_sms_and_ussd(desk: Any) -> None:
    from playwright.sync_api import expect

    desk.goto("/sim")
    desk.get_by_label("Text message").fill("RATION 1234567890")
    desk.get_by_role("button", name="Send").click()
    thread = desk.locator("#thread")
    expect(thread.locator(".bubble.in .text").last).to_have_text(RATION_ANSWER)
    expect(thread.locator(".bubble.out .text").last).to_have_text("RATION 1234567890")

    screen = desk.locator("#ussd-screen")
    desk.get_by_role("button", name="Dial").click()
    expect(screen).to_contain_text("2. Food & Civil Supplies")
    for key, shown in (("2", "1. Ration card status"), ("1", "Enter your ration card number")):
        desk.get_by_label("Your input").fill(key)
        desk.get_by_role("button", name="Reply").click()
        expect(screen).to_contain_text(shown)
    desk.get_by_label("Your input").fill("1234567890")
    desk.get_by_role("button", name="Reply").click()
    expect(screen).to_have_text(RATION_ANSWER)
    expect(desk.locator("#ussd-form")).to_be_hidden()

    # Without a reload the page kept the same state the server holds.
    desk.reload()
    expect(desk.locator("#thread .bubble.in .text").last).to_have_text(RATION_ANSWER)
    if screenshots_wanted():
        SCREENSHOT.parent.mkdir(exist_ok=True)
        desk.screenshot(path=str(SCREENSHOT), full_page=True)


@pytest.mark.demo_routes
def test_phone_simulator_inbox_follows_delivery_receipts(desk: Any, gateway: Gateway) -> None:
    """An SMS Seva sends to the phone shows up by itself with its time in IST and its
    delivery status, and the status changes on the page when the operator's receipt comes."""
    from playwright.sync_api import expect

    desk.goto("/sim")
    with gateway.session() as session:
        message_id = messaging.queue_sms(
            session,
            to_phone=DEMO_CITIZEN,
            text="Application TEST-0001: Approved.",
            kind="transactional",
        )
    item = desk.locator(f'#inbox-list li[data-id="{message_id}"]')
    expect(item.locator(".delivery")).to_have_text("Waiting to be sent")
    expect(item.locator(".who")).to_have_text(re.compile(r" · \d\d:\d\d IST · update$"))
    now = time.time()
    with gateway.session() as session:
        messaging.claim(session, limit=100, now=now)
        messaging.record_submitted(session, [Submitted(message_id, "sim", ["e2e-1"])], now=now)
        messaging.apply_receipts(session, [Receipt("sim", "e2e-1", "DELIVRD")], now=now)
    expect(item.locator(".delivery")).to_have_text("Delivered")
    expect(item.locator(".delivery")).to_have_class(re.compile(r"\bsms-delivered\b"))


@pytest.mark.demo_routes
def test_phone_simulator_call_on_the_keypad(desk: Any) -> None:
    from playwright.sync_api import expect

    desk.goto("/sim")
    desk.get_by_label("This phone's number").fill("9811500002")
    desk.get_by_role("button", name="Use number").click()
    screen = desk.locator("#call-screen")
    desk.locator("#call-button").click()
    expect(screen).to_contain_text("For English, press 1.")
    keypad = desk.locator("#call-keypad")
    for key, heard in (("1", "Welcome to Seva."), ("2", "For Ration card status, press 1."),
                       ("1", "Enter your ration card number.")):  # fmt: skip
        keypad.locator(f"button[data-key='{key}']").click()
        expect(screen).to_contain_text(heard)
    for key in "1234567890#":
        keypad.locator(f"button[data-key='{key}']").click()
    expect(screen).to_have_text(RATION_ANSWER)
    expect(keypad).to_be_hidden()
    # The prompt's audio is the gateway's own, loaded by the page.
    source = desk.evaluate("document.getElementById('call-audio').src")
    assert "/sim/call/audio/" in source


@pytest.mark.demo_routes
def test_kiosk_files_a_complaint_with_the_citizens_code(desk: Any) -> None:
    from playwright.sync_api import expect

    desk.goto("/kiosk")
    expect(desk).to_have_url(re.compile(r"/login\?next=/kiosk$"))
    desk.get_by_label("Username").fill("csc.laxminagar")
    desk.get_by_label("Password").fill(DEMO_PASSWORD)
    desk.get_by_role("button", name="Log in").click()
    desk.get_by_label("Citizen's mobile number").fill(DEMO_CITIZEN.removeprefix("+91"))
    desk.get_by_role("button", name="Send code").click()
    expect(desk.get_by_role("status")).to_contain_text(f"A code was sent to {DEMO_CITIZEN}")

    # The citizen's phone: the simulator's inbox shows the code the kiosk sent.
    handset = desk.context.new_page()
    handset.goto("/sim")
    code_sms = handset.locator("#inbox-list .text", has_text="Seva OTP").first
    expect(code_sms).to_be_visible()
    code = re.search(r"\b(\d{6})\b", code_sms.inner_text())
    assert code is not None
    handset.close()

    desk.get_by_label("Code the citizen reads out").fill(code.group(1))
    desk.get_by_role("button", name="Verify").click()
    expect(desk.get_by_role("heading", name=f"Serving {DEMO_CITIZEN}")).to_be_visible()
    desk.get_by_role("link", name="Register a civic complaint").click()
    desk.get_by_label("Garbage not collected").check()
    desk.get_by_role("button", name="Continue").click()
    desk.get_by_label("PIN code of the place").fill("110092")
    desk.get_by_role("button", name="Continue").click()
    desk.get_by_label("Your full name").fill("Sunita Devi")
    desk.get_by_role("button", name="Continue").click()
    desk.get_by_label("Describe the place").fill("Opposite gurudwara, Shakarpur")
    desk.get_by_role("button", name="Continue").click()
    desk.get_by_label("Yes").check()
    desk.get_by_role("button", name="Continue").click()
    expect(desk.locator("#application-ref")).to_have_text(
        re.compile(r"^MCD-[0-9A-HJKMNP-TV-Z]{8}$")
    )
    ref = desk.locator("#application-ref").inner_text()
    expect(desk.locator("#final-answer")).to_contain_text(f"Complaint {ref} registered")

    desk.get_by_role("link", name="CSC kiosk").first.click()
    desk.get_by_role("button", name="Next citizen").click()
    expect(desk.get_by_text("The counter is free for the next citizen.")).to_be_visible()
