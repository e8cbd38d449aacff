"""What a first visitor's phone shows (Debian Chromium at 360 x 740): a one-row header whose
menu opens on a tap, and a booking page that lists one day's times, not a week's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from seva.demo.seed import DEMO_PASSWORD, SeedReport
from seva.gateway import Gateway
from seva.rtc.models import Appointment
from tests.e2e.conftest import log_in_citizen

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

PHONE_SCREEN = {"width": 360, "height": 740}
HEADER_MAX = 80
"""px: one row (brand, language, menu button); the nine links in the open used three."""
CALL_PAGE_MAX = 2500
"""px: the whole booking page with one day of times; a week of them made it about 4,000."""


@pytest.fixture
def phone(browser: Any, live: str, seeded: SeedReport) -> Iterator[Any]:
    context = browser.new_context(base_url=live, viewport=PHONE_SCREEN)
    page = context.new_page()
    page.set_default_timeout(8000)
    yield page
    context.close()


def header_height(page: Any) -> float:
    height: float = page.evaluate("document.querySelector('header.top').offsetHeight")
    return height


def page_height(page: Any) -> int:
    height: int = page.evaluate("document.documentElement.scrollHeight")
    return height


def reachable(page: Any, link: Any) -> bool:
    """On screen and the topmost thing where a thumb would tap it."""
    box = link.bounding_box()
    if box is None or box["width"] == 0 or box["y"] + box["height"] > PHONE_SCREEN["height"]:
        return False
    hit: bool = link.evaluate(
        "e => { const r = e.getBoundingClientRect();"
        " const t = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);"
        " return t === e || e.contains(t); }"
    )
    return hit


def test_a_citizen_on_a_phone_opens_the_menu_and_books_a_call_on_another_day(
    phone: Any, gateway: Gateway
) -> None:
    from playwright.sync_api import expect

    citizen = "+919811000631"
    log_in_citizen(phone, gateway, citizen, "/call/FOOD")

    assert header_height(phone) <= HEADER_MAX
    assert page_height(phone) < CALL_PAGE_MAX
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE_SCREEN["width"]
    expect(phone.locator("#connect-now")).to_be_visible()

    menu = phone.locator("#menu")
    calls = menu.get_by_role("link", name="Talk to an official")
    expect(calls).to_be_hidden()
    menu.locator("summary").click()
    citizens = phone.get_by_role("navigation", name="For citizens")
    staff = phone.get_by_role("navigation", name="For officials and CSC operators")
    for group, names in (
        (citizens, ["Services", "Talk to an official", "Live status", "My Seva", "My documents"]),
        (staff, ["Officials' console", "CSC kiosk"]),
    ):
        for name in names:
            link = group.get_by_role("link", name=name, exact=True)
            expect(link).to_be_visible()
            assert reachable(phone, link), name
    assert citizens.get_by_role("link", name="Officials' console").count() == 0
    menu.locator("summary").click()
    expect(calls).to_be_hidden()

    # The next day's times, then one of them booked.
    first_day = phone.locator("#day-h").inner_text()
    phone.locator("#day-later").click()
    phone.wait_for_url("**/call/FOOD?day=*")
    expect(phone.locator("#day-h")).not_to_have_text(first_day)
    assert page_height(phone) < CALL_PAGE_MAX
    slot = phone.locator("[data-slot]").nth(2)
    starts_at = slot.get_attribute("data-slot")
    slot.click()
    phone.wait_for_url("**/call/FOOD?booked=*")
    expect(phone.locator("p.ok[role=status]")).to_contain_text("Booked for")
    with gateway.session() as session:
        booked = session.scalars(select(Appointment)).one()
        assert booked.starts_at.isoformat() == starts_at


def test_an_official_on_a_phone_gets_staff_links_and_no_citizen_login(phone: Any) -> None:
    from playwright.sync_api import expect

    phone.goto("/login?next=/console")
    phone.get_by_label("Username").fill("food.admin")
    phone.get_by_label("Password").fill(DEMO_PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    phone.wait_for_url("**/console")
    assert header_height(phone) <= HEADER_MAX

    phone.locator("#menu summary").click()
    staff = phone.get_by_role("navigation", name="For officials and CSC operators")
    for name in ("Officials' console", "CSC kiosk", "Calls", "SMS", "Administration"):
        assert reachable(phone, staff.get_by_role("link", name=name, exact=True)), name
    logout = staff.get_by_role("button", name="Log out (food.admin)")
    assert reachable(phone, logout)
    assert phone.get_by_role("link", name="Citizen login").count() == 0
    staff.get_by_role("link", name="Calls", exact=True).click()
    phone.wait_for_url("**/console/calls")
    expect(phone.locator("#duty-h")).to_be_visible()


def test_on_a_wide_screen_the_menu_is_a_row_of_links(
    browser: Any, live: str, seeded: SeedReport
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(base_url=live, viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto("/")
        expect(page.locator("#menu summary")).to_be_hidden()
        for name in ("Talk to an official", "Citizen login", "Officials' console", "CSC kiosk"):
            expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
        assert header_height(page) <= HEADER_MAX
    finally:
        context.close()
