"""The web pages' view of the message catalog (``seva.i18n``): a page asks for a key in the
reader's language, and a date as that reader writes it."""

from __future__ import annotations

from datetime import date

from seva.i18n import text
from seva.i18n.dates import day_label


def ui(key: str, lang: str) -> str:
    return text(key, lang)


def date_label(day: date, lang: str, *, short: bool = False) -> str:
    return day_label(day, lang, short=short)
