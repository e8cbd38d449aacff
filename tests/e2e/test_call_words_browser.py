"""The call room in the reader's language, in real browsers: a host who reads Hindi sees the
statuses, the lobby's admit button and the per-person buttons the page's script writes in
Hindi, while the official they let in, who reads English, sees the same moments in English."""

from __future__ import annotations

from typing import Any

import pytest

from seva.demo.seed import DEMO_PASSWORD, SeedReport
from seva.gateway import Gateway
from seva.i18n import text
from seva.tenancy import service as tenancy

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def logged_in(browser: Any, live: str, username: str, lang: str) -> tuple[Any, Any]:
    """An official's browser of its own, reading ``lang`` (chosen once with ?lang=, as the
    page's language switch does), on the meetings page."""
    context = browser.new_context(base_url=live, permissions=["camera", "microphone"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"/login?lang={lang}&next=/console/meetings")
    page.locator("#username").fill(username)
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url("**/console/meetings")
    return context, page


def name_of(gateway: Gateway, username: str) -> str:
    with gateway.session() as session:
        found = tenancy.official_by_username(session, username)
        assert found is not None
        return found.name


def test_the_call_room_speaks_hindi_to_a_hindi_reader_and_english_to_an_english_one(
    browser: Any, live: str, gateway: Gateway, seeded: SeedReport
) -> None:
    from playwright.sync_api import expect

    def hi(key: str, **values: object) -> str:
        return text(key, "hi", **values)

    host_name = name_of(gateway, "food.admin")
    guest_name = name_of(gateway, "transport.officer")
    people = [
        logged_in(browser, live, "food.admin", "hi"),
        logged_in(browser, live, "transport.officer", "en"),
    ]
    try:
        (_, host), (_, guest) = people
        host.locator("#title").fill("राशन वितरण समीक्षा")
        host.locator("#invitees").fill("transport.officer")
        host.locator("#create-meeting").click()
        host.wait_for_url("**/meet/m**")
        assert host.evaluate("document.documentElement.lang") == "hi"
        expect(host.locator("#call-status")).to_have_text(hi("room_waiting_other"))
        expect(host.locator("#mute")).to_have_text(hi("room_mute"))
        expect(host.locator("#screen")).to_have_text(hi("room_share_screen"))

        guest.goto(host.locator("#invite").inner_text())
        expect(guest.locator("#call-status")).to_have_text("Waiting for the host to let you in…")
        expect(guest.locator("#mute")).to_have_text("Mute")

        # The lobby's button, made by the script, names the guest in a Hindi sentence.
        admit = host.locator("#lobby-list button")
        expect(admit).to_have_text(hi("room_admit", name=guest_name))
        admit.click()
        tile = host.locator("figure.tile", has_text=guest_name)
        expect(tile.locator("button[data-action=mute]")).to_have_text(hi("room_mute"))
        expect(tile.locator("button[data-action=remove]")).to_have_text(hi("room_remove"))
        expect(host.locator("#call-status")).to_have_text(
            hi("room_connected_with", name=guest_name)
        )
        expect(guest.locator("#call-status")).to_have_text(f"Connected with {host_name}")

        # The host removes the guest: each reads what happened in their own language.
        tile.locator("button[data-action=remove]").click()
        expect(guest.locator("#call-status")).to_have_text("You were removed from the call.")
        expect(host.locator("#call-status")).to_have_text(hi("room_left", name=guest_name))
    finally:
        for context, _ in people:
            context.close()
