"""The message cost page in Chromium: its script counts as the official types, and the
figures it shows are the ones the gateway computes (``sms_text.measure``) for every kind of
text, under the page's real Content-Security-Policy, with no serious accessibility barrier."""

from __future__ import annotations

from typing import Any

import pytest

from seva import i18n
from seva.demo.seed import DEMO_PASSWORD, SeedReport
from seva.sms_text import measure
from tests.e2e.conftest import serious_barriers

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

TEXTS = [
    "Your ration card is ready. Collect it from your shop.",
    "a" * 160,
    "a" * 159 + "€",  # two septets: two parts
    "Your card’s ready at FPS 112, Shakarpur. Bring your Aadhaar and collect it this week.",
    "आपका राशन कार्ड तैयार है। कृपया अपनी उचित दर दुकान से इस महीने के अंदर ले लें। - खाद्य विभाग",
    "क" * 69 + "😀",  # an emoji is two units: two parts
    "உங்கள் ரேஷன் அட்டை தயார்\nகடையில் பெற்றுக்கொள்ளுங்கள்",
    "Line one\nline two",
]


def test_the_script_counts_what_the_gateway_counts(
    browser: Any, live: str, seeded: SeedReport
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(base_url=live)
    page = context.new_page()
    page.set_default_timeout(8000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
    page.goto("/login?next=/console/sms/cost")
    page.get_by_label("Username").fill("food.admin")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/console/sms/cost")
    expect(page.locator("#cost")).to_be_hidden()

    message = page.get_by_label(i18n.text("cost_text", "en"), exact=True)
    recipients = page.get_by_label(i18n.text("cost_recipients", "en"), exact=True)
    recipients.fill("1500")
    for text in TEXTS:
        message.fill(text)
        found = measure(text)
        expect(page.locator("#cost")).to_be_visible()
        expect(page.locator("#cost-characters")).to_have_text(str(found.characters))
        expect(page.locator("#cost-parts")).to_have_text(str(found.parts))
        expect(page.locator("#cost-total")).to_have_text(str(found.parts * 1500))
        expect(page.locator("#cost-encoding")).to_have_attribute("data-encoding", found.encoding)
        if found.outside:
            expect(page.locator("#cost-outside-chars")).to_have_text(" ".join(found.outside))
        else:
            expect(page.locator("#cost-outside")).to_be_hidden()
    # Once typing pauses, a screen reader hears the figures in one sentence.
    last = measure(TEXTS[-1])
    expect(page.locator("#cost-summary")).to_have_text(
        i18n.text(
            "cost_summary",
            "en",
            encoding="GSM-7",
            characters=last.characters,
            parts=last.parts,
            recipients=1500,
            total=last.parts * 1500,
        )
    )
    assert not serious_barriers(page)

    # Without waiting for the script, sending the form gives the same figures.
    message.fill(TEXTS[4])
    page.get_by_role("button", name=i18n.text("cost_count", "en")).click()
    expect(page.locator("#cost-parts")).to_have_text(str(measure(TEXTS[4]).parts))
    expect(page.get_by_label(i18n.text("cost_text", "en"), exact=True)).to_have_value(TEXTS[4])
    context.close()
    assert not errors, errors
