"""Interface strings of the web pages, in every language the gateway ships.

Service prompts come from service definitions; these are the page chrome around them.
"""

from __future__ import annotations

from datetime import date

UI: dict[str, dict[str, str]] = {
    "site_name": {"en": "Seva", "hi": "सेवा"},
    "tagline": {
        "en": "Government services on every phone",
        "hi": "हर फ़ोन पर सरकारी सेवाएँ",
    },
    "home": {"en": "Services", "hi": "सेवाएँ"},
    "api_docs": {"en": "API reference", "hi": "API संदर्भ"},
    "sim": {"en": "Phone simulator", "hi": "फ़ोन सिम्युलेटर"},
    "status": {"en": "Live status", "hi": "लाइव स्थिति"},
    "kiosk": {"en": "CSC kiosk", "hi": "CSC कियोस्क"},
    "console": {"en": "Officials", "hi": "अधिकारी"},
    "language": {"en": "हिन्दी", "hi": "English"},
    "menu": {"en": "Menu", "hi": "मेन्यू"},
    "menu_citizens": {"en": "For citizens", "hi": "नागरिकों के लिए"},
    "menu_staff": {
        "en": "For officials and CSC operators",
        "hi": "अधिकारियों और CSC संचालकों के लिए",
    },
    "menu_console": {"en": "Officials' console", "hi": "अधिकारी कंसोल"},
    "menu_admin": {"en": "Administration", "hi": "प्रशासन"},
    "skip": {"en": "Skip to content", "hi": "सामग्री पर जाएँ"},
    "login": {"en": "Log in", "hi": "लॉग इन"},
    "logout": {"en": "Log out", "hi": "लॉग आउट"},
    "username": {"en": "Username", "hi": "उपयोगकर्ता नाम"},
    "password": {"en": "Password", "hi": "पासवर्ड"},
    "bad_login": {"en": "Wrong username or password.", "hi": "गलत उपयोगकर्ता नाम या पासवर्ड।"},
    "not_allowed": {
        "en": "Your role may not open this page.",
        "hi": "आपकी भूमिका यह पृष्ठ नहीं खोल सकती।",
    },
    "continue": {"en": "Continue", "hi": "आगे बढ़ें"},
    "submit": {"en": "Submit", "hi": "जमा करें"},
    "cancel": {"en": "Cancel", "hi": "रद्द करें"},
    "start_again": {"en": "Start again", "hi": "फिर से शुरू करें"},
    "invalid_address": {
        "en": "This address is not valid. Check the link you followed.",
        "hi": "यह पता सही नहीं है। जिस लिंक से आए, उसे जाँचें।",
    },
    "no_such_page": {
        "en": "There is no page at this address. Check the link you followed.",
        "hi": "इस पते पर कोई पृष्ठ नहीं है। जिस लिंक से आए, उसे जाँचें।",
    },
    "invalid_request": {
        "en": "Something in what was sent is not valid. Go back and try again.",
        "hi": "भेजी गई जानकारी में कुछ सही नहीं है। वापस जाकर फिर से कोशिश करें।",
    },
}


_WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "hi": ("सोमवार", "मंगलवार", "बुधवार", "गुरुवार", "शुक्रवार", "शनिवार", "रविवार"),
}
_WEEKDAYS_SHORT = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "hi": ("सोम", "मंगल", "बुध", "गुरु", "शुक्र", "शनि", "रवि"),
}
_MONTHS = {
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    "hi": (
        "जनवरी", "फ़रवरी", "मार्च", "अप्रैल", "मई", "जून",
        "जुलाई", "अगस्त", "सितंबर", "अक्टूबर", "नवंबर", "दिसंबर",
    ),
}  # fmt: skip


def _calendar_names() -> dict[str, dict[str, str]]:
    """Weekday and month names as catalog entries (``weekday_0`` is Monday, ``month_1`` is
    January), so dates read in the page's language without a locale installed."""
    names: dict[str, dict[str, str]] = {}
    for prefix, table, first in (
        ("weekday_", _WEEKDAYS, 0),
        ("weekday_short_", _WEEKDAYS_SHORT, 0),
        ("month_", _MONTHS, 1),
    ):
        for number, words in enumerate(zip(*table.values(), strict=True), start=first):
            names[f"{prefix}{number}"] = dict(zip(table, words, strict=True))
    return names


UI.update(_calendar_names())
UI["date_long"] = {"en": "{weekday} {day} {month}", "hi": "{weekday}, {day} {month}"}
UI["date_short"] = {"en": "{weekday} {day}", "hi": "{weekday} {day}"}


def register(strings: dict[str, dict[str, str]]) -> None:
    """Add a domain's page strings (each with at least ``en`` and ``hi``); a key another
    domain registered first keeps its text, so shared words read the same everywhere."""
    for key, entry in strings.items():
        if not entry.get("en") or not entry.get("hi"):
            raise ValueError(f"UI string {key!r} needs English and Hindi")
        UI.setdefault(key, entry)


def ui(key: str, lang: str) -> str:
    entry = UI.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["en"]


def date_label(day: date, lang: str, *, short: bool = False) -> str:
    """A calendar day as a reader of ``lang`` writes it (``Monday 30 November``, ``सोमवार,
    30 नवंबर``; short: ``Mon 30``): names from this catalog, not the server's locale, so a
    page reads the same on every machine."""
    if short:
        return ui("date_short", lang).format(
            weekday=ui(f"weekday_short_{day.weekday()}", lang), day=day.day
        )
    return ui("date_long", lang).format(
        weekday=ui(f"weekday_{day.weekday()}", lang),
        day=day.day,
        month=ui(f"month_{day.month}", lang),
    )
