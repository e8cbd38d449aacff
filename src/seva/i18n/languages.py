"""The languages Seva speaks, and what each channel needs to know to speak it.

One table, so that a language is added in one place: its own name (shown to everyone, in its
own script, in every language switcher), its script and writing direction (``dir="rtl"`` for
Urdu), the espeak-ng voice that speaks it on the SIP endpoint, the BCP 47 code a voice
provider's ``<Say language=…>`` takes, and the words a citizen may type to choose it
(``LANG TA``, ``LANG தமிழ்``, ``TAMIL``).

The order is the order every menu offers them in, so a language has the same number on the
USSD page, the phone menu and the web: English and Hindi (the Union's languages) first, then
the most spoken, so a phone menu's first keys reach the most callers.

Whether a language is *served* (every word of the gateway translated) is the catalog's
business (``seva.i18n.shipped``); this table describes languages, it does not ship them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    """ISO 639-1, as catalogs, service definitions and citizens' records store it."""
    name: str
    """The language's own name in its own script (an endonym reads the same to everyone)."""
    english: str
    script: str
    """ISO 15924: which font covers it, and which languages share a keyboard."""
    voice: str
    """espeak-ng's voice."""
    speech: str
    """The BCP 47 tag voice providers (TwiML, Exotel) take for Indian speech in it."""
    words: tuple[str, ...] = ()
    """Other names a citizen may type for it, beside its code, English name and own name."""
    rtl: bool = False

    @property
    def direction(self) -> str:
        return "rtl" if self.rtl else "ltr"


LANGUAGES: tuple[Language, ...] = (
    Language("en", "English", "English", "Latn", "en-gb", "en-IN", ("ANGREZI", "अंग्रेज़ी")),
    Language("hi", "हिन्दी", "Hindi", "Deva", "hi", "hi-IN", ("हिंदी",)),
    Language("bn", "বাংলা", "Bengali", "Beng", "bn", "bn-IN", ("BANGLA",)),
    Language("mr", "मराठी", "Marathi", "Deva", "mr", "mr-IN"),
    Language("te", "తెలుగు", "Telugu", "Telu", "te", "te-IN"),
    Language("ta", "தமிழ்", "Tamil", "Taml", "ta", "ta-IN"),
    Language("gu", "ગુજરાતી", "Gujarati", "Gujr", "gu", "gu-IN"),
    Language("ur", "اردو", "Urdu", "Arab", "ur", "ur-IN", rtl=True),
    Language("kn", "ಕನ್ನಡ", "Kannada", "Knda", "kn", "kn-IN"),
    Language("or", "ଓଡ଼ିଆ", "Odia", "Orya", "or", "or-IN", ("ORIYA",)),
    Language("ml", "മലയാളം", "Malayalam", "Mlym", "ml", "ml-IN"),
    Language("pa", "ਪੰਜਾਬੀ", "Punjabi", "Guru", "pa", "pa-IN", ("PANJABI",)),
    Language("as", "অসমীয়া", "Assamese", "Beng", "as", "as-IN", ("ASOMIYA", "AXOMIYA")),
)
BY_CODE: dict[str, Language] = {language.code: language for language in LANGUAGES}
NAMES: dict[str, str] = {language.code: language.name for language in LANGUAGES}
"""Each language's own name by code: what a switcher lists and service definitions accept."""


def fold(text: str) -> str:
    """A typed word compared as its letters: NFC (``ଡ଼`` typed as two code points or one),
    no case, no zero-width joiners a keyboard may add."""
    folded = unicodedata.normalize("NFC", text).casefold()
    return "".join(ch for ch in folded if ch not in "\u200c\u200d")


_BY_WORD: dict[str, str] = {
    fold(word): language.code
    for language in LANGUAGES
    for word in (language.english, language.name, *language.words)
}


NAME_KEYWORDS = frozenset(
    word.upper()
    for language in LANGUAGES
    for word in (language.english, *language.words)
    if word.isascii()
)
"""The Latin names that choose a language when sent alone (``TAMIL``): no service may take one
as its keyword."""


def by_word(word: str) -> str | None:
    """The language a citizen named (``TAMIL``, ``தமிழ்``, ``Oriya``), if it is one; a bare
    code (``ta``) is not a name here, since two letters are too easily a word of their own."""
    return _BY_WORD.get(fold(word))


def named(word: str) -> str | None:
    """The language ``LANG <word>`` asks for: a code (``TA``) or any of its names."""
    code = word.strip().lower()
    return code if code in BY_CODE else by_word(word)


_SCRIPT_BLOCKS = (
    ("\u0900", "\u097f", "Deva"),
    ("\u0980", "\u09ff", "Beng"),
    ("\u0a00", "\u0a7f", "Guru"),
    ("\u0a80", "\u0aff", "Gujr"),
    ("\u0b00", "\u0b7f", "Orya"),
    ("\u0b80", "\u0bff", "Taml"),
    ("\u0c00", "\u0c7f", "Telu"),
    ("\u0c80", "\u0cff", "Knda"),
    ("\u0d00", "\u0d7f", "Mlym"),
    ("\u0600", "\u06ff", "Arab"),
)
_FIRST_OF_SCRIPT: dict[str, str] = {}
for _language in LANGUAGES:
    _FIRST_OF_SCRIPT.setdefault(_language.script, _language.code)


def script_of(ch: str) -> str | None:
    """The ISO 15924 script of one character: one of the Indian scripts of the table, ``Latn``
    for a Latin letter, None for anything else (a digit, a sign, another script)."""
    if ch.isascii():
        return "Latn" if ch.isalpha() else None
    for low, high, script in _SCRIPT_BLOCKS:
        if low <= ch <= high:
            return script
    return None


def written_in(text: str) -> str | None:
    """The language a word written in an Indian script most likely is, by its script (the
    first letter outside ASCII decides): Devanagari reads as Hindi, Bengali script as Bengali,
    Arabic script as Urdu. None for Latin letters and anything else."""
    for ch in text:
        if ch < "\u0600":
            continue
        for low, high, script in _SCRIPT_BLOCKS:
            if low <= ch <= high:
                return _FIRST_OF_SCRIPT.get(script)
    return None


def speech_code(code: str) -> str:
    """The BCP 47 tag a voice provider speaks ``code`` with (``ur`` → ``ur-IN``); Indian
    English for a code the table does not know."""
    language = BY_CODE.get(code)
    return language.speech if language else BY_CODE["en"].speech


def direction(code: str) -> str:
    language = BY_CODE.get(code)
    return language.direction if language else "ltr"
