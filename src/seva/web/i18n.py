"""Interface strings of the web pages, in every language the gateway ships.

Service prompts come from service definitions; these are the page chrome around them.
"""

from __future__ import annotations

UI: dict[str, dict[str, str]] = {
    "site_name": {"en": "Seva", "hi": "सेवा"},
    "tagline": {
        "en": "Government services on every phone",
        "hi": "हर फ़ोन पर सरकारी सेवाएँ",
    },
    "home": {"en": "Services", "hi": "सेवाएँ"},
    "sim": {"en": "Phone simulator", "hi": "फ़ोन सिम्युलेटर"},
    "status": {"en": "Live status", "hi": "लाइव स्थिति"},
    "kiosk": {"en": "CSC kiosk", "hi": "CSC कियोस्क"},
    "console": {"en": "Officials", "hi": "अधिकारी"},
    "language": {"en": "हिन्दी", "hi": "English"},
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
