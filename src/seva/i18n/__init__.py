"""The message catalog: every citizen-facing word of the gateway, in every language it ships.

One gettext catalog per language (``locale/<lang>/LC_MESSAGES/seva.po``), read with Babel, so
translators work in the format and tools they know (Poedit, Weblate, ``pybabel``). A message
is found by a stable key (``sms_help_head``), not by its English text: English is a catalog like
any other, a wording can change without touching code, and the same key can read differently
on an SMS and a web page. Each entry in a translation carries the English text as a comment for
the translator (``make catalog`` keeps it current and lists what is missing per language).

Texts are ``str.format`` templates: ``{code}`` in English is ``{code}`` in Hindi, and
``tests/test_catalog.py`` fails when a placeholder differs, an entry is missing in a shipped
language, or a module or template carries English of its own.

The catalogs are package data, read once per process on first use and kept (as a module is
imported once): the flow engine words its refusals through them without doing I/O per turn.

Service definitions keep their own texts (they belong to the department); this catalog is the
gateway's words around them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from seva.i18n.languages import NAMES

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "seva"
SOURCE = "en"
_FIELD = re.compile(r"(?<!\{)\{[a-z_]")


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def shipped() -> tuple[str, ...]:
    """The languages with a catalog, English first."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE, *(lang for lang in found if lang != SOURCE))


@cache
def messages(lang: str) -> Mapping[str, str]:
    """One language's translated entries (an untranslated or fuzzy entry is left out, so the
    reader falls back to English rather than to an empty string or a guess)."""
    path = po_path(lang)
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=DOMAIN)
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and message.string and not message.fuzzy
    }


def offered() -> tuple[str, ...]:
    """The shipped languages in the order every menu numbers them (the languages table's:
    English, Hindi, then the most spoken), so a language has one number on the USSD page and
    the phone menu alike."""
    found = shipped()
    return tuple(code for code in NAMES if code in found)


def _base(lang: str) -> str:
    return lang.replace("_", "-").split("-")[0].lower() if lang else SOURCE


def served(lang: str) -> str:
    """The language a reader of ``lang`` is answered in: theirs when Seva ships it (``hi-IN``
    → ``hi``), English otherwise, so one answer never mixes two languages."""
    base = _base(lang)
    return base if base in shipped() else SOURCE


def has(key: str) -> bool:
    return key in messages(SOURCE)


def variant(key: str, wording: str | None) -> str:
    """``key_<wording>`` where the catalog words the message so for that medium (a form's
    ``answer_empty_form``, an SMS's ``book_nothing_sms``), else ``key``."""
    if wording and has(f"{key}_{wording}"):
        return f"{key}_{wording}"
    return key


def text(key: str, lang: str, /, **values: object) -> str:
    """The message ``key`` in ``lang`` (English where that language lacks it), with ``values``
    filled in. An unknown key reads as itself, so a missing entry shows up on the page and in
    the catalog test rather than as an error in front of a citizen."""
    found = messages(_base(lang)).get(key) or messages(SOURCE).get(key)
    if found is None:
        return key
    if values or "{" not in found:
        return found.format(**values)
    # Placeholders left unfilled: the template itself, for a caller that fills them later.
    return found if _FIELD.search(found) else found.format()


def entry(key: str, /, **values: object) -> dict[str, str]:
    """Every shipped language's text of ``key`` (with ``values`` filled in), shaped as a
    service definition's texts are (one string per language code), for code that picks the
    language later."""
    if not has(key):
        raise KeyError(f"message {key!r} is not in the catalog")
    return {
        lang: messages(lang)[key].format(**values) if values else messages(lang)[key]
        for lang in shipped()
        if key in messages(lang)
    }
