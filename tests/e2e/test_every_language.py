"""One service, end to end, in every language Seva ships, on SMS, USSD, the phone and the web.

A citizen chooses their language the way each channel offers it (``LANG xx`` by SMS, the USSD
language page, the phone's language menu, ``?lang=`` / the language page on the web), then
asks for their ration card status. Every screen and the answer must be in that language:
written in its script, with no letters of another Indian script (the card holder's name and
shop come from the department's data in English, so Latin letters are allowed beside them).
"""

from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from seva import i18n
from seva.channels.voice.ivr import MORE_LANGUAGES_KEY, language_pages
from seva.demo.seed import SeedReport
from seva.i18n.languages import BY_CODE, NAMES
from tests.channels.test_sms import sms
from tests.web.pages import answer, final_answer

SHIPPED = list(i18n.shipped())
OFFERED = [code for code in NAMES if code in SHIPPED]
CARD = "1234567890"
RATION = "/services/FOOD/ration-card-status"

_SCRIPT_NAMES = {
    "Deva": "DEVANAGARI",
    "Beng": "BENGALI",
    "Guru": "GURMUKHI",
    "Gujr": "GUJARATI",
    "Orya": "ORIYA",
    "Taml": "TAMIL",
    "Telu": "TELUGU",
    "Knda": "KANNADA",
    "Mlym": "MALAYALAM",
    "Arab": "ARABIC",
}


def scripts_of(text: str) -> set[str]:
    """The non-Latin scripts whose letters ``text`` uses (by Unicode character names)."""
    found: set[str] = set()
    for ch in text:
        if ch.isascii() or not unicodedata.category(ch).startswith(("L", "M")):
            continue
        name = unicodedata.name(ch, "")
        found |= {code for code, prefix in _SCRIPT_NAMES.items() if name.startswith(prefix)}
    return found


def assert_in(lang: str, text: str) -> None:
    script = BY_CODE[lang].script
    if script == "Latn":
        assert not scripts_of(text), text
    else:
        assert scripts_of(text) == {script}, (lang, text)


@pytest.mark.parametrize("lang", SHIPPED)
def test_sms(client: TestClient, seeded: SeedReport, lang: str) -> None:
    phone = f"98110020{OFFERED.index(lang):02d}"
    assert_in(lang, sms(client, f"LANG {lang.upper()}", sender=phone))
    reply = sms(client, f"RATION {CARD}", sender=phone)
    assert CARD in reply and "Sunita Devi" in reply
    assert_in(lang, reply)
    # A conversation: the question, then the answer, both in the language.
    question = sms(client, "RATION", sender=phone)
    assert_in(lang, question)
    assert_in(lang, sms(client, CARD, sender=phone))


def ussd(client: TestClient, session: str, phone: str, text: str) -> str:
    response = client.post(
        "/channels/ussd/africastalking",
        data={"sessionId": session, "serviceCode": "*166#", "phoneNumber": phone, "text": text},
    )
    assert response.status_code == 200, response.text
    return response.text


@pytest.mark.parametrize("lang", SHIPPED)
def test_ussd(client: TestClient, seeded: SeedReport, lang: str) -> None:
    phone = f"+919811003{OFFERED.index(lang):03d}"
    key = str(OFFERED.index(lang) + 1)
    session = f"walk-{lang}"
    history = ["0", key]
    root = ussd(client, session, phone, "*".join(history))
    assert root.startswith("CON ")
    assert_in(lang, root)
    for step in ("2", "1"):  # Food & Civil Supplies, then Ration card status
        history.append(step)
        screen = ussd(client, session, phone, "*".join(history))
        assert screen.startswith("CON "), screen
        assert_in(lang, screen)
    history.append(CARD)
    end = ussd(client, session, phone, "*".join(history))
    assert end.startswith(("END ", "CON ")) and CARD in end
    assert_in(lang, end)


@pytest.mark.parametrize("lang", SHIPPED)
def test_web(client: TestClient, seeded: SeedReport, lang: str) -> None:
    page = client.get(RATION, params={"lang": lang})
    assert page.status_code == 200
    assert f'<html lang="{lang}" dir="{BY_CODE[lang].direction}">' in page.text
    done = final_answer(answer(client, RATION, CARD))
    assert CARD in done
    assert_in(lang, done)


def twiml(client: TestClient, sid: str, phone: str, digits: str | None = None) -> ET.Element:
    form = {"CallSid": sid, "From": phone}
    if digits is not None:
        form["Digits"] = digits
    response = client.post("/channels/voice/twiml", data=form)
    assert response.status_code == 200, response.text
    return ET.fromstring(response.text)


def spoken(document: ET.Element) -> list[tuple[str, str]]:
    """Every ``<Say>`` of a TwiML answer as (provider language, words)."""
    return [(say.get("language", ""), say.text or "") for say in document.iter("Say")]


@pytest.mark.parametrize("lang", SHIPPED)
def test_phone_menu(client: TestClient, seeded: SeedReport, lang: str) -> None:
    """A cloud-telephony call (TwiML): the language menu, then every prompt and the answer
    spoken in the language, each ``<Say>`` carrying the language's provider code."""
    phone = f"+919811004{OFFERED.index(lang):03d}"
    sid = f"CA-{lang}"
    twiml(client, sid, phone)
    first_page = language_pages(tuple(OFFERED))[0]
    if lang in first_page:
        keys = [str(first_page.index(lang) + 1)]
    else:
        later = [code for code in OFFERED if code not in first_page]
        keys = [MORE_LANGUAGES_KEY, str(later.index(lang) + 1)]
    for key in keys:
        answer = twiml(client, sid, phone, key)
    code = BY_CODE[lang].speech
    for key in ("2", "1", CARD):  # Food & Civil Supplies, ration card status, the number
        said = spoken(answer)
        assert said and {language for language, _ in said} == {code}, said
        assert_in(lang, " ".join(words for _, words in said))
        answer = twiml(client, sid, phone, key)
    said = spoken(answer)
    assert {language for language, _ in said} == {code}
    words = " ".join(words for _, words in said)
    assert CARD in words and "Sunita Devi" in words
    assert_in(lang, words)
    assert answer.find("Hangup") is not None
