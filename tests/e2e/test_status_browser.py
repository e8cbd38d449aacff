"""The status page in a real browser: the numbers and bars follow the event stream."""

from __future__ import annotations

from typing import Any

import pytest

from seva.demo.seed import SeedReport

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def test_numbers_and_bars_update_live(
    browser: Any,
    live: str,
    seeded: SeedReport,
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(base_url=live, viewport={"width": 360, "height": 800})
    try:
        page = context.new_page()
        page.set_default_timeout(8000)
        page.goto("/status")
        expect(page.locator("#st-live")).to_be_visible()
        expect(page.locator('[data-stat="transactions_today"]')).to_have_text("0")
        bar = page.locator('#chart-channel g[data-key="sms"] rect')
        assert float(bar.get_attribute("width") or 0) == 0

        reply = page.request.get(
            "/channels/sms/kannel", params={"from": "9811000001", "text": "RATION 1234567890"}
        )
        assert reply.text().startswith("Ration card 1234567890")

        expect(page.locator('[data-stat="transactions_today"]')).to_have_text("1")
        expect(page.locator("#st-departments")).to_contain_text("Food & Civil Supplies")
        assert float(bar.get_attribute("width") or 0) > 100
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        context.close()
