"""Days and moments as a reader of each language writes them, from CLDR data through Babel.

Every time a person reads is India Standard Time (``seva.clock``); the names of weekdays and
months, their order and punctuation come from the Unicode CLDR for the language (``en_IN``:
"Monday, 30 November"; ``hi_IN``: "सोमवार, 30 नवंबर"), not from the server's locale, so a page
reads the same on every machine.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache

from babel import Locale
from babel.dates import format_date, format_datetime, match_skeleton

from seva.clock import IST, ZONE
from seva.i18n import served


@cache
def locale_of(lang: str) -> Locale:
    """The language as spoken in India (``hi`` → ``hi_IN``), or the language alone where CLDR
    has no Indian variant; a language without a catalog is written as English, so a date never
    reads in a language the sentence around it is not in."""
    base = served(lang)
    for name in (f"{base}_IN", base, "en_IN"):
        try:
            return Locale.parse(name)
        except (ValueError, LookupError):
            continue
    return Locale.parse("en_IN")


@cache
def _pattern(lang: str, skeleton: str, weekday: str) -> str:
    """The locale's pattern for ``skeleton``, with the weekday at the width asked for (CLDR
    often has only the abbreviated form for a skeleton; Babel does not widen it)."""
    locale = locale_of(lang)
    found = match_skeleton(skeleton, locale.datetime_skeletons) or skeleton
    pattern = (
        str(locale.datetime_skeletons[found].pattern)
        if found in (locale.datetime_skeletons)
        else found
    )
    return re.sub(r"E+", weekday, pattern)


def day_label(day: date, lang: str, *, short: bool = False) -> str:
    """``Monday, 30 November`` / ``सोमवार, 30 नवंबर``; short: ``Mon 30`` / ``सोम 30``."""
    skeleton, weekday = ("Ed", "E") if short else ("MMMMEEEEd", "EEEE")
    moment = datetime(day.year, day.month, day.day, 12, tzinfo=IST)
    return format_datetime(moment, _pattern(lang, skeleton, weekday), locale=locale_of(lang))


def date_label(day: date, lang: str) -> str:
    """A date as a document prints it, with its year: ``25 November 2026`` /
    ``25 नवंबर 2026``."""
    return format_date(day, "long", locale=locale_of(lang))


def moment_label(moment: datetime, lang: str) -> str:
    """A moment with its day and IST hour, e.g. ``Mon, 30 Nov, 14:05 IST``."""
    pattern = _pattern(lang, "MMMEd", "E")
    ist = moment.astimezone(IST)
    return f"{format_datetime(ist, pattern, locale=locale_of(lang))}, {ist:%H:%M} {ZONE}"
