"""The console's message cost page: before a department sends, what a message takes in SMS
parts, per message and for all its recipients (without the page's script: counted when the
form is sent; tests/e2e/test_sms_cost_browser.py counts as the official types)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from seva import i18n
from seva.demo.seed import SeedReport
from tests.console.pages import login

COST = "/console/sms/cost"
HINDI = "आपका राशन कार्ड तैयार है। कृपया अपनी उचित दर दुकान से इस महीने के अंदर ले लें। - खाद्य विभाग"


def figure(page: str, name: str) -> str:
    found = re.search(rf'id="{name}"[^>]*>([^<]*)<', page)
    assert found, name
    return found.group(1)


def count(client: TestClient, text: str, recipients: str = "1", lang: str = "en") -> str:
    response = client.post(f"{COST}?lang={lang}", data={"text": text, "recipients": recipients})
    assert response.status_code == 200, response.text
    return response.text


def test_the_page_counts_parts_per_message_and_for_every_recipient(
    client: TestClient, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    empty = client.get(COST)
    assert empty.status_code == 200
    assert 'id="cost" hidden' in empty.text  # nothing counted yet
    assert 'src="/static/sms_cost.js"' in empty.text

    english = count(client, "Your ration card is ready. Collect it from your shop.", "2500")
    assert figure(english, "cost-encoding").startswith("GSM-7: 160 characters in one part")
    assert figure(english, "cost-characters") == "53"
    assert figure(english, "cost-parts") == "1"
    assert figure(english, "cost-recipients-count") == "2500"
    assert figure(english, "cost-total") == "2500"
    assert 'id="cost-outside" class="notice" hidden' in english

    hindi = count(client, HINDI, "1000")
    assert 70 < len(HINDI) <= 2 * 67
    assert figure(hindi, "cost-encoding").startswith("UCS-2: 70 characters in one part, 67")
    assert figure(hindi, "cost-characters") == str(len(HINDI))
    assert figure(hindi, "cost-parts") == "2"
    assert figure(hindi, "cost-total") == "2000"
    summary = figure(hindi, "cost-summary")
    assert summary == (
        f"UCS-2. Characters: {len(HINDI)}. Parts per message: 2. Recipients: 1000. "
        "Parts in all: 2000."
    )


def test_a_stray_character_that_makes_english_ucs2_is_named(
    client: TestClient, seeded: SeedReport
) -> None:
    """A curly apostrophe pasted from a word processor turns a one-part English message
    into a two-part UCS-2 one; the page names it so it can be replaced."""
    login(client, "food.admin")
    text = "Your card’s ready at FPS 112, Shakarpur. Bring your Aadhaar and collect it this week."
    curly = count(client, text, "10")
    assert figure(curly, "cost-parts") == "2" and figure(curly, "cost-total") == "20"
    assert figure(curly, "cost-outside-chars") == "’"
    assert 'id="cost-outside" class="notice">' in curly
    plain = count(client, text.replace("’", "'"), "10")
    assert figure(plain, "cost-parts") == "1" and figure(plain, "cost-total") == "10"


def test_line_breaks_count_as_one_character_and_recipients_are_bounded(
    client: TestClient, seeded: SeedReport
) -> None:
    login(client, "mcd.officer")
    page = count(client, "Water supply\r\nresumes at 6 pm.", "many")
    assert figure(page, "cost-characters") == "29"  # the browser's CR LF is the message's LF
    assert figure(page, "cost-recipients-count") == "1"
    assert figure(count(client, "x", "9999999"), "cost-recipients-count") == "100000"


@pytest.mark.parametrize("lang", list(i18n.shipped()))
def test_the_page_speaks_the_officials_language(
    client: TestClient, seeded: SeedReport, lang: str
) -> None:
    login(client, "food.admin")
    page = count(client, HINDI, "3", lang=lang)
    assert i18n.text("cost_title", lang) in page
    assert f'<html lang="{lang}"' in page
    figures = {"encoding": "UCS-2", "characters": len(HINDI), "parts": 2, "recipients": 3}
    said = i18n.text("cost_summary", lang, total=6, **figures)
    assert figure(page, "cost-summary") == said


def test_the_sms_list_links_to_it_and_a_kiosk_operator_may_not_use_it(
    client: TestClient, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    assert f'href="{COST}"' in client.get("/console/sms").text
    client.cookies.clear()
    login(client, "csc.laxminagar")
    refused = client.post(COST, data={"text": "x"}, follow_redirects=False)
    assert refused.status_code in (303, 403, 404)
