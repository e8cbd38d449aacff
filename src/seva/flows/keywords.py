"""A service's keyword in every Indian script, and how a typed word finds its service.

A service is found by its keywords (``keywords: [RATION]``, Latin capitals), but a citizen who
types in their own script sends ``राशन`` or ``ரேஷன்``. So a definition may also give its
keyword per language, in that language's script::

    keywords: [RATION]
    local_keywords:          # language code (seva.i18n.languages) -> its words
      hi: [राशन]
      ta: [ரேஷன்]
      ur: [راشن]
    transliterate: true      # the default: carry them into the Indian scripts not given

**What a department may give.** Each word is one word of at most 20 letters of its language's
script (Devanagari for ``hi`` and ``mr``, Bengali script for ``bn`` and ``as``, Arabic for
``ur``…; English keywords stay in ``keywords``). A word may be neither a language's name
(``हिंदी`` switches language on SMS) nor one of the gateway's own commands (``मदद``, help).
Words are unique across the gateway, like keywords: loading a service that gives a word
another service gives is refused, naming that service.

**Transliteration.** For each Brahmic script that no given language is written in, the given
words of one Brahmic script (Devanagari first) are carried into it letter for letter with
``indic_transliteration``: ``राशन`` becomes ``রাশন`` (Bengali, Assamese), ``ਰਾਸ਼ਨ``, ``ରାଶନ``,
``ராஶந``… Letter for letter is not always how a writer of that language spells the word
(a Tamil writer sends ``ரேஷன்``), so a department that knows the word gives it; the derived
ones only add exact matches. A derived word another service already holds stays with that
service, and a word a department gives takes over one merely derived for another. Urdu is not
written in a Brahmic script and gets only the words given. ``transliterate: false`` derives
nothing.

**Matching.** A typed word is folded (NFC, no zero-width joiners, no case; in Arabic script no
short-vowel marks, and the Arabic keyboard's ``ي ك ه`` read as Urdu writes them, ``ی ک ہ``) and
looked up exactly among every service's words. Failing that, a word in a Brahmic script is
matched leniently by its consonant skeleton (``skeleton``): both words are carried into
Devanagari and reduced to the classes of their consonants, so spellings that differ in vowels,
in the sibilant or in how a script writes a sound still meet: the Tamil ``ரேஷன்`` and ``ரேசன்``
and the Bengali ``রেশন`` all find ``राशन``. A lenient match counts only when it finds exactly
one live service (two services with one skeleton, in one department or two, are found by
neither, only exactly), and only for a skeleton of two classes or more.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from seva.i18n import languages
from seva.i18n.languages import BY_CODE, LANGUAGES

MAX_LETTERS = 20
MAX_WORDS = 10
"""Words per language, as ``keywords`` allows per service."""
MAX_STORED = 64
"""The longest folded word kept (a derived word may be longer than the one it came from)."""
MIN_SKELETON = 2
"""A skeleton of one class (``पापा``: the labials, once) would find far too many words."""

BRAHMIC: dict[str, str] = {
    "Deva": "devanagari",
    "Beng": "bengali",
    "Guru": "gurmukhi",
    "Gujr": "gujarati",
    "Orya": "oriya",
    "Taml": "tamil",
    "Telu": "telugu",
    "Knda": "kannada",
    "Mlym": "malayalam",
}
"""The Brahmic scripts of the languages table, by ISO 15924 code, with the name of the scheme
``indic_transliteration.sanscript`` knows each by (its ``DEVANAGARI``…). Arabic (Urdu) is not
one of them."""

SCRIPT_NAMES = {
    "Deva": "Devanagari",
    "Beng": "the Bengali script",
    "Guru": "Gurmukhi",
    "Gujr": "the Gujarati script",
    "Orya": "the Odia script",
    "Taml": "the Tamil script",
    "Telu": "the Telugu script",
    "Knda": "the Kannada script",
    "Mlym": "the Malayalam script",
    "Arab": "the Urdu (Arabic) script",
}
"""How a message to a department developer names a script."""

HELP_WORDS = frozenset({"मदद", "सहायता"})
CANCEL_WORDS = frozenset({"रद्द"})
COMMAND_WORDS = HELP_WORDS | CANCEL_WORDS
"""The gateway's commands in Indian scripts (``HELP``, ``CANCEL``): no service may take one."""

_FIRST_OF_SCRIPT: dict[str, str] = {}
for _language in LANGUAGES:
    _FIRST_OF_SCRIPT.setdefault(_language.script, _language.code)

_ARABIC = {"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9", "\u0647": "\u06c1"}
"""Arabic yeh, alef maksura, kaf and heh as Urdu writes them (an Arabic keyboard's letters)."""
_ARABIC_MARKS = frozenset(chr(c) for c in (*range(0x064B, 0x0653), 0x0670, 0x0640))
"""Short-vowel marks, the superscript alef and the tatweel: rarely typed, never needed."""

_BEFORE = str.maketrans(
    {
        "\u0d7a": "\u0d23\u0d4d",
        "\u0d7b": "\u0d28\u0d4d",
        "\u0d7c": "\u0d30\u0d4d",
        "\u0d7d": "\u0d32\u0d4d",
        "\u0d7e": "\u0d33\u0d4d",
        "\u0d7f": "\u0d15\u0d4d",
        "\u09f1": "\u09ac",
    }
)
"""Letters the transliteration does not know, as the ones it does: Malayalam's chillu letters
(``ൻ``, a consonant without its vowel) as consonant and virama, Assamese ``ৱ`` as ``ব``."""

_CLASSES = {
    "K": "कखगघ",
    "S": "चछजझशषस",
    "X": "टठडढ",
    "T": "तथदध",
    "P": "पफबभ",
    "N": "ङञणनमं",
    "Y": "य",
    "R": "र",
    "L": "लळ",
    "V": "व",
    "H": "ह",
}
"""Devanagari consonants by class, in the letters of the skeleton. A series of stops is one
class (Tamil writes ``க`` for क ख ग घ), the palatals and the sibilants one (Tamil ``ச`` is
both ``च`` and ``स``), every nasal and the anusvara one (``मंडी``, ``மண்டி``). Nukta forms
(``ज़``, ``ऩ``) count as their base letter; vowels, vowel signs and virama are left out."""
_CLASS_OF = {letter: cls for cls, letters in _CLASSES.items() for letter in letters}


@dataclass(frozen=True, slots=True)
class Word:
    """One word a service is found by, besides its Latin keywords."""

    text: str
    """Folded (``fold``): what a typed word is compared with."""
    lang: str
    """The language it was given in, or the first language of the script it was derived
    into (``bn`` for Bengali script)."""
    derived: bool
    skeleton: str
    """Empty where there is no lenient match (Arabic script)."""


def fold(word: str) -> str:
    """A word as it is compared: NFC, no zero-width joiners, no case (``seva.i18n.languages``),
    and in Arabic script without short-vowel marks and with Urdu's own yeh, kaf and heh."""
    folded = languages.fold(word.strip())
    if any("\u0600" <= ch <= "\u06ff" for ch in folded):
        kept = "".join(_ARABIC.get(ch, ch) for ch in folded if ch not in _ARABIC_MARKS)
        folded = unicodedata.normalize("NFC", kept)
    return folded


def script_of_word(word: str) -> str | None:
    """The script of a word's first letter that has one (ISO 15924)."""
    for ch in word:
        script = languages.script_of(ch)
        if script is not None:
            return script
    return None


def transliterated(word: str, source: str, target: str) -> str:
    """``word`` in script ``source`` carried letter for letter into script ``target`` (both
    in ``BRAHMIC``); empty when some letter has no counterpart there. A nukta (``ज़``) the
    target script cannot write is left out, as a writer of it would."""
    if source == target:
        return word
    out = _carried(word, source, target)
    if not _all_in(out, target):
        plain = "".join(ch for ch in unicodedata.normalize("NFD", word) if ch not in _NUKTAS)
        out = _carried(plain, source, target)
    if not _all_in(out, target):
        return ""
    return _tippi(out) if target == "Guru" else out


_NUKTAS = frozenset("\u093c\u09bc\u0a3c\u0abc\u0b3c\u0c3c\u0cbc")


def _carried(word: str, source: str, target: str) -> str:
    # Imported here: the library takes most of a second to import, and only a word in an
    # Indian script needs it (not every process that reads a definition).
    from indic_transliteration import sanscript

    text = sanscript.transliterate(word.translate(_BEFORE), BRAHMIC[source], BRAHMIC[target])
    return unicodedata.normalize("NFC", str(text))


def _all_in(word: str, script: str) -> bool:
    return all(languages.script_of(ch) == script for ch in word)


def _tippi(word: str) -> str:
    """Gurmukhi writes the nasal after a consonant or a short vowel as tippi (``ਮੰਡੀ``), after
    a long one as bindi; the transliteration writes bindi throughout."""
    out: list[str] = []
    for ch in word:
        before = out[-1] if out else ""
        short = "\u0a15" <= before <= "\u0a39" or before in "\u0a3f\u0a41"
        out.append("\u0a70" if ch == "\u0a02" and short else ch)
    return "".join(out)


def skeleton(word: str) -> str:
    """The word's consonants by class (``_CLASSES``), each run of one class once: ``राशन``,
    ``ரேஷன்`` and ``রেশন`` are all ``RSN``. Empty for a word not in a Brahmic script."""
    folded = fold(word)
    script = script_of_word(folded)
    if script not in BRAHMIC:
        return ""
    text = transliterated(folded, script, "Deva")
    classes: list[str] = []
    for ch in unicodedata.normalize("NFD", text):
        cls = _CLASS_OF.get(ch)
        if cls is not None and (not classes or classes[-1] != cls):
            classes.append(cls)
    return "".join(classes)


def lenient(word: str) -> str | None:
    """The skeleton a typed word is matched leniently by, if it has one long enough."""
    found = skeleton(word)
    return found if len(found) >= MIN_SKELETON else None


def problem(word: str, lang: str) -> str | None:
    """What is wrong with ``word`` as a keyword in language ``lang``, if anything."""
    language = BY_CODE.get(lang)
    if language is None:
        return f"unknown language {lang!r}; known: {', '.join(BY_CODE)}"
    if language.script == "Latn":
        return "English keywords are written in keywords"
    text = languages.fold(word.strip())
    if not text:
        return "a word cannot be empty"
    if any(ch.isspace() for ch in text):
        return f"{word!r} is more than one word"
    if len(text) > MAX_LETTERS:
        return f"{word!r} is longer than {MAX_LETTERS} letters"
    for ch in text:
        if languages.script_of(ch) != language.script or unicodedata.category(ch)[0] not in "LM":
            script = SCRIPT_NAMES.get(language.script, language.script)
            return f"{word!r} has {ch!r}: {language.english} keywords are letters of {script}"
    if languages.by_word(text) is not None:
        return f"{word!r} is the name of a language: it chooses that language"
    if fold(text) in COMMAND_WORDS:
        return f"{word!r} is one of the gateway's commands"
    return None


def words_of(local: Mapping[str, Sequence[str]], transliterate: bool = True) -> tuple[Word, ...]:
    """Every word a service is found by beside its keywords: the words given per language
    (``local_keywords``), then, with ``transliterate``, those derived into each Brahmic
    script no given language is written in. Each folded word once; given words first."""
    key = tuple((lang, tuple(words)) for lang, words in local.items())
    return _words(key, transliterate)


@lru_cache(maxsize=1024)
def _words(local: tuple[tuple[str, tuple[str, ...]], ...], transliterate: bool) -> tuple[Word, ...]:
    found: dict[str, Word] = {}
    for lang, words in local:
        for word in words:
            text = fold(word)
            found.setdefault(text, Word(text, lang, derived=False, skeleton=skeleton(text)))
    if not transliterate:
        return tuple(found.values())
    given = {lang: words for lang, words in local if BY_CODE[lang].script in BRAHMIC}
    source = next((lang for lang in given if BY_CODE[lang].script == "Deva"), None)
    source = source or next(iter(given), None)
    if source is None:
        return tuple(found.values())
    source_script = BY_CODE[source].script
    covered = {BY_CODE[lang].script for lang in given}
    for script in BRAHMIC:
        if script in covered:
            continue
        for word in given[source]:
            text = fold(transliterated(fold(word), source_script, script))
            if text and len(text) <= MAX_STORED and text not in found:
                lang = _FIRST_OF_SCRIPT[script]
                found[text] = Word(text, lang, derived=True, skeleton=skeleton(text))
    return tuple(found.values())
