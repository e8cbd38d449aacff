"""The API documentation in a real browser with no way out: every file it needs is Seva's own.
Swagger UI's page, with an operation open to try, is checked with axe-core too, as the other
pages are in test_accessibility_browser.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import serious_barriers

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

SMS_SEND = "Send an SMS to one number or a list of up to 100,000"


@pytest.fixture
def offline(browser: Any, live: str) -> Iterator[tuple[Any, list[str]]]:
    """A page whose requests to anywhere but the live server are refused and noted."""
    own = urlsplit(live).netloc
    elsewhere: list[str] = []

    def only_seva(route: Any) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    context = browser.new_context(base_url=live, viewport={"width": 1280, "height": 900})
    context.route("**/*", only_seva)
    page = context.new_page()
    page.set_default_timeout(8000)
    yield page, elsewhere
    context.close()


def test_swagger_ui_lists_the_operations_offline(offline: tuple[Any, list[str]]) -> None:
    from playwright.sync_api import expect

    page, elsewhere = offline
    page.goto("/docs")
    send = page.locator(".opblock-summary-description", has_text=SMS_SEND)
    expect(send).to_be_visible()
    page.locator(".opblock-summary", has=send).click()  # opens: the form to try it
    page.get_by_role("button", name="Try it out").click()
    expect(page.get_by_role("textbox", name="Request body")).to_be_visible()
    assert elsewhere == []
    assert serious_barriers(page) == []


def test_redoc_lists_the_operations_offline(offline: tuple[Any, list[str]]) -> None:
    from playwright.sync_api import expect

    page, elsewhere = offline
    page.goto("/redoc")
    expect(page.get_by_role("heading", name=SMS_SEND)).to_be_visible()
    # The search runs in the worker ReDoc starts from a blob: URL.
    page.get_by_placeholder("Search...").fill("DLT header")
    expect(page.get_by_role("menuitem", name=re.compile("Register a DLT header"))).to_be_visible()
    assert elsewhere == []
