"""Phone numbers as operators, aggregators and department lists write them, as E.164."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType

# Indian mobile numbers as departments' lists hold them: +91XXXXXXXXXX, 91XXXXXXXXXX,
# 0XXXXXXXXXX or XXXXXXXXXX, where XXXXXXXXXX is a 10-digit mobile number starting 6-9
# (the National Numbering Plan 2003 gives mobiles the 6-9 leading digits). ASCII digits only:
# anything else (Indic digits, spaces in odd places, foreign numbers) takes the slow path.
_INDIAN_MOBILE = re.compile(r"(?:\+?91|0)?([6-9][0-9]{9})")


def normalise_phone(text: str, region: str = "IN") -> str | None:
    """E.164 for a valid number, else None (phonenumbers; national numbers in ``region``).

    As a person may type it: control characters are dropped and digits of any script (Hindi's
    ०-९ among them) read as ASCII ones.
    """
    try:
        number = phonenumbers.parse(_plain_digits(text), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _plain_digits(text: str) -> str:
    out: list[str] = []
    for ch in text[:64]:
        category = unicodedata.category(ch)
        if category == "Nd":
            out.append(str(unicodedata.decimal(ch)))
        elif not category.startswith("C"):
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=65536)
def msisdn(raw: str, region: str = "IN") -> str | None:
    """``+919900000001``, ``919900000001``, ``09900000001`` or ``9900000001`` → E.164.

    Remembered for the last 65,536 numbers: every hop of a USSD session and every SMS names
    its sender, and parsing one with phonenumbers costs more than the rest of the hop's
    input checks together. An Indian mobile number written in one of those four ways is
    read by ``_INDIAN_MOBILE`` without phonenumbers (whose metadata holds every such number
    valid), so a first message from a new number does not pay for the parse either."""
    text = raw.strip().replace(" ", "").replace("-", "")
    if not text or len(text) > 20:
        return None
    if region == "IN":
        mobile = _INDIAN_MOBILE.fullmatch(text)
        if mobile is not None:
            return "+91" + mobile.group(1)
    number = normalise_phone(text, region)
    if number is None and text.isascii() and text.isdigit():
        number = normalise_phone("+" + text, region)
    return number


_NOT_FOR_SMS = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.PREMIUM_RATE,
        PhoneNumberType.SHARED_COST,
        PhoneNumberType.UAN,
        PhoneNumberType.VOICEMAIL,
    }
)


def mobile_msisdns(raws: Iterable[str], region: str = "IN") -> list[str | None]:
    """E.164 for each entry of a recipient list, None where it cannot receive an SMS.

    Built for campaign lists of 100,000 numbers: nearly all are Indian mobiles, which one
    precompiled regular expression recognises in well under a microsecond each, while
    ``phonenumbers`` costs tens of microseconds per number. Only entries the expression does
    not recognise are parsed by ``phonenumbers``; those are refused when the number is
    valid but cannot take an SMS (a landline, a toll-free or premium-rate number).
    """
    fast = _INDIAN_MOBILE.fullmatch if region == "IN" else None
    out: list[str | None] = []
    append = out.append
    for raw in raws:
        found = fast(raw) if fast is not None else None
        if found is None and fast is not None:
            found = fast(raw.strip().replace(" ", "").replace("-", ""))
        if found is not None:
            append("+91" + found.group(1))
        else:
            append(_slow_mobile(raw, region))
    return out


def _slow_mobile(raw: str, region: str) -> str | None:
    number = msisdn(raw, region)
    if number is None:
        return None
    if phonenumbers.number_type(phonenumbers.parse(number)) in _NOT_FOR_SMS:
        return None
    return number
