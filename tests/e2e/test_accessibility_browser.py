"""The main pages under axe-core, the accessibility engine, in Chromium: a serious or critical
violation on any of them fails the test, listed with the elements it was found on
(``conftest.serious_barriers``; /docs is checked in test_api_docs_browser.py, where it is
loaded anyway).

One browser context walks the pages, with content that shows what a page can hold: an issued
certificate in the citizen's locker, a refused answer on a form, a simulator whose message
lists overflow and scroll."""

from __future__ import annotations

from typing import Any

import pytest

from seva import i18n
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.web.sim import DEFAULT_PHONE
from tests.e2e.conftest import serious_barriers
from tests.web.pages import last_code

pytestmark = [
    pytest.mark.browser,
    pytest.mark.demo_routes,  # /sim
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

CITIZEN = "+919811000401"
NOTICE = "Your driving licence DL0420190012345 is ready for dispatch. -Transport Dept"


def test_main_pages_have_no_serious_barrier(
    browser: Any, live: str, seeded: SeedReport, gateway: Gateway
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(base_url=live, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(8000)
    found: list[str] = []

    def check(path: str, lang: str = "en", ready: str = "main") -> None:
        page.goto(f"{path}{'&' if '?' in path else '?'}lang={lang}")
        page.locator(ready).first.wait_for()
        found.extend(serious_barriers(page))

    # Something in the locker and on the verification page.
    issued = page.request.post(
        "/api/v1/documents",
        headers={"Authorization": f"Bearer {seeded.api_keys['FOOD']}"},
        data={"to": CITIZEN, "doctype": "RATCR", "title": "Ration card",
              "fields": {"Card number": "1234567890", "Members": "4"}},
    )  # fmt: skip
    assert issued.ok, issued.text()
    # More messages than the simulator's lists show at once: both scroll.
    for _ in range(6):
        sent = page.request.post(
            "/api/v1/messages",
            headers={"Authorization": f"Bearer {seeded.api_keys['TRANSPORT']}"},
            data={"to": DEFAULT_PHONE, "sender": "TRNSPT", "text": NOTICE},
        )
        assert sent.ok, sent.text()
    page.goto("/sim")
    csrf = page.locator(".sim").get_attribute("data-csrf")
    for _ in range(4):
        page.request.post("/sim/sms", form={"csrf": csrf or "", "text": "RATION 1234567890"})

    for lang in ("en", "hi", "ta", "ur"):  # Urdu: right to left
        if lang in i18n.shipped():
            check("/", lang)
            check("/services/FOOD/ration-card-status", lang)
            check("/language", lang)
            check("/status", lang)
    check("/services/AGRI/mandi-price")  # a choice, then refused for want of one
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_be_visible()
    found.extend(serious_barriers(page))
    check("/sim")
    for scrolling in ("thread", "inbox-list"):
        overflow = f"(e => e.scrollHeight > e.clientHeight)(document.getElementById('{scrolling}'))"
        assert page.evaluate(overflow), scrolling
    for path in ("/status", f"/verify/{issued.json()['uri']}", "/console", "/kiosk"):
        check(path)  # the last two: their login page

    page.goto("/citizen/login")
    page.get_by_label("Mobile number").fill(CITIZEN.removeprefix("+91"))
    page.get_by_role("button", name="Send code").click()
    page.get_by_label("6-digit code").fill(last_code(gateway, CITIZEN))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text(f"Logged in as {CITIZEN}")).to_be_visible()
    check("/me/locker", ready="[data-document]")  # the certificate issued above
    check("/call/FOOD", ready="#connect-now")  # a video call: now, or booked for later
    page.locator("[data-slot]").first.click()
    expect(page.locator("[data-appointment]")).to_be_visible()
    found.extend(serious_barriers(page))
    context.close()
    assert not found, "\n".join(found)
