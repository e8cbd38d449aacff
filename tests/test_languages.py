"""Choosing a language: every shipped language can be chosen on SMS, USSD and the web, by its
code, its own name or its English name, and the gateway then answers in it everywhere."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from seva import i18n
from seva.demo.seed import SeedReport
from seva.i18n import languages
from seva.i18n.languages import BY_CODE, LANGUAGES, NAMES
from seva.settings import Settings
from tests.channels.test_sms import sms

SHIPPED = list(i18n.shipped())
OFFERED = [code for code in NAMES if code in SHIPPED]


def test_every_language_of_the_table_is_named_and_speakable() -> None:
    assert len(LANGUAGES) == 13 and len(BY_CODE) == 13
    for language in LANGUAGES:
        assert languages.named(language.code.upper()) == language.code
        assert languages.named(language.name) == language.code
        assert languages.by_word(language.english.upper()) == language.code
        assert language.speech == f"{language.code}-IN"
    assert [code for code in NAMES if BY_CODE[code].rtl] == ["ur"]


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("TAMIL", "ta"),
        ("tamil", "ta"),
        ("தமிழ்", "ta"),
        ("हिंदी", "hi"),
        ("हिन्दी", "hi"),
        ("ORIYA", "or"),
        ("ଓଡ଼ିଆ", "or"),  # the nukta typed as its own code point
        ("ଓଡ଼ିଆ", "or"),
        ("BANGLA", "bn"),
        ("اردو", "ur"),
    ],
)
def test_a_language_answers_to_its_names(typed: str, code: str) -> None:
    assert languages.by_word(typed) == code


def test_a_word_is_read_in_the_language_of_its_script() -> None:
    assert languages.written_in("राशन") == "hi"
    assert languages.written_in("ரேஷன்") == "ta"
    assert languages.written_in("ರೇಷನ್") == "kn"
    assert languages.written_in("راشن") == "ur"
    assert languages.written_in("RATION") is None


def test_no_service_may_take_a_language_name_as_its_keyword() -> None:
    from seva.flows.service import RESERVED_KEYWORDS

    assert {"TAMIL", "HINDI", "ENGLISH", "URDU", "ORIYA"} <= RESERVED_KEYWORDS


@pytest.mark.parametrize("code", SHIPPED)
def test_lang_by_sms_confirms_in_that_language_and_sticks(
    client: TestClient, seeded: SeedReport, code: str
) -> None:
    phone = "9811000071"
    assert sms(client, f"LANG {code.upper()}", sender=phone) == i18n.text("sms_lang_set", code)
    assert i18n.text("sms_help_head", code, code="166") in sms(client, "HELP", sender=phone)
    # The own name and the English name choose it too.
    sms(client, "LANG EN", sender=phone)
    assert sms(client, f"LANG {NAMES[code]}", sender=phone) == i18n.text("sms_lang_set", code)
    sms(client, "LANG EN", sender=phone)
    assert sms(client, BY_CODE[code].english.upper(), sender=phone) == i18n.text(
        "sms_lang_set", code
    )


def ussd(client: TestClient, session: str, text: str, phone: str = "+919811000072") -> str:
    response = client.post(
        "/channels/ussd/africastalking",
        data={"sessionId": session, "serviceCode": "*166#", "phoneNumber": phone, "text": text},
    )
    assert response.status_code == 200, response.text
    return response.text


def test_the_ussd_language_page_numbers_every_language_in_its_own_script(
    client: TestClient, seeded: SeedReport
) -> None:
    ussd(client, "lang-page", "")
    shown = ussd(client, "lang-page", "0")
    pages = [shown]
    for hop in range(1, 6):  # bounded: 13 names fit in a few pages
        if "\n98. " not in pages[-1]:
            break
        pages.append(ussd(client, "lang-page", "0" + "*98" * hop))
    listed = "\n".join(pages)
    for number, code in enumerate(OFFERED, start=1):
        assert f"{number}. {NAMES[code]}" in listed


@pytest.mark.parametrize("code", SHIPPED)
def test_choosing_on_ussd_shows_the_menu_in_that_language(
    client: TestClient, seeded: SeedReport, code: str
) -> None:
    number = OFFERED.index(code) + 1
    menu = ussd(client, f"choose-{code}", f"0*{number}", phone=f"+9198110001{number:02d}")
    assert menu.startswith("CON ")
    assert i18n.text("ussd_language", code) in menu or "\n98. " in menu
    # The choice is the citizen's: SMS answers in it too.
    assert sms(client, "HELP", sender=f"98110001{number:02d}").startswith(
        i18n.text("sms_help_head", code, code="166")
    )


def test_the_web_language_page_lists_every_language_and_leads_back(
    client: TestClient, settings: Settings
) -> None:
    page = client.get("/language", headers={"referer": f"{settings.base_url}/status"})
    assert page.status_code == 200
    for code in OFFERED:
        language = BY_CODE[code]
        assert f'href="/status?lang={code}" lang="{code}" dir="{language.direction}"' in page.text
        assert f">{language.name}</a>" in page.text
    # A referrer on another site is not followed back.
    away = client.get("/language", headers={"referer": "https://elsewhere.example/x"})
    assert 'href="/?lang=en"' in away.text


@pytest.mark.parametrize("code", SHIPPED)
def test_a_page_in_each_language_says_so(client: TestClient, code: str) -> None:
    page = client.get("/", params={"lang": code})
    direction = BY_CODE[code].direction
    assert f'<html lang="{code}" dir="{direction}">' in page.text
    assert client.cookies.get("seva_lang") == code


def test_lang_alone_lists_every_language_by_code_and_own_name(
    client: TestClient, seeded: SeedReport
) -> None:
    listing = sms(client, "LANG", sender="9811000073")
    for code in OFFERED:
        assert f"{code.upper()} {NAMES[code]}" in listing
    # Help points there, and a word that names no language gets the list too.
    assert "LANG" in sms(client, "HELP", sender="9811000073").splitlines()[-1]
    assert sms(client, "LANG KLINGON", sender="9811000073") == listing


def test_the_app_api_lists_the_languages_for_its_chooser(client: TestClient) -> None:
    listed = client.get("/api/v1/languages").json()
    assert [row["code"] for row in listed] == OFFERED
    by_code = {row["code"]: row for row in listed}
    assert by_code["en"] == {
        "code": "en",
        "name": "English",
        "english": "English",
        "direction": "ltr",
    }
    if "ur" in by_code:
        assert by_code["ur"]["direction"] == "rtl" and by_code["ur"]["name"] == "اردو"


def test_the_language_page_never_leads_to_another_host(client: TestClient) -> None:
    # A browser drops the tab and reads "//evil.example": another host.
    for sneaky in ("/\t/evil.example", "/\n/evil.example", "//evil.example", "https://x.example"):
        page = client.get("/language", params={"next": sneaky})
        assert "evil.example" not in page.text and "x.example" not in page.text
        assert 'href="/me?lang=en"' in page.text
