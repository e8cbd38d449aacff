"""Parsing a citizen's answer to a question, the same way on every channel.

Answers arrive from a keypad (USSD, IVR), a phone's SMS app or a web form, in Latin or Indic
digits and words. Each question type accepts every form a citizen is likely to send and returns
a normalised value (ISO dates, E.164 numbers, option values), or a reason the answer was refused
that the engine puts in front of the question again: a catalog key, which the engine words for
the channel (a reply to an SMS, or a form error on a page).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from seva import i18n
from seva.flows.messages import pick
from seva.flows.schema import AskStep, Option, Text
from seva.numbers import normalise_phone

MAX_ANSWER = 500
MAX_TEXT = 160
"""A ``text`` answer's length when its question sets none: a name, an address line — what
one SMS carries."""

YES = {"1", "y", "yes", "ha", "haan", "han", "haa", "हाँ", "हां", "हा", "ok", "true"}
NO = {"2", "n", "no", "nahi", "nahin", "na", "नहीं", "नही", "ना", "false"}


FORM_WORDING = "form"
"""How a typed form words a refusal (``answer_empty`` → ``answer_empty_form``, ``i18n.variant``):
on a web page or in an app the same refusal reads as a form error ("Please enter an answer.")
rather than as a reply to a message ("Please send an answer.")."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an answer was not accepted: a catalog entry (``key``, filled in with ``values``), or
    the service's own words (``own``, a question's ``error``), which read the same on every
    channel. The key rather than its text, so the engine can choose the wording the channel
    reads it in (``wording``)."""

    key: str = "answer_form"
    values: tuple[tuple[str, str], ...] = ()
    own: Text | None = None

    def wording(self, lang: str, *, form: bool = False) -> str:
        """The reason in ``lang``; ``form``: as a form error, where the catalog words it so."""
        if self.own is not None:
            return pick(self.own, lang)
        key = i18n.variant(self.key, FORM_WORDING if form else None)
        return i18n.text(key, lang, **dict(self.values))


def refused(key: str, /, **values: object) -> Refusal:
    """A refusal by the catalog entry ``key``; an unknown key fails here, in tests, rather than
    reading as itself in front of a citizen."""
    if not i18n.has(key):
        raise KeyError(f"message {key!r} is not in the catalog")
    return Refusal(key=key, values=tuple((name, str(value)) for name, value in values.items()))


@dataclass(frozen=True, slots=True)
class Accepted:
    value: str
    label: str | None = None
    goto: str | None = None


_ASCII_CONTROLS: Final = {i: None for i in (*range(0x20), 0x7F) if chr(i) not in "\t\n\r"}


def clean(text: str) -> str:
    """Strip control characters and collapse whitespace; Indic digits become ASCII.

    ASCII text, what nearly every SMS and USSD answer is, takes one ``translate`` instead of
    a look at each character's Unicode category: the same result, and this runs on every
    inbound message."""
    if text.isascii():
        return " ".join(text[:MAX_ANSWER].translate(_ASCII_CONTROLS).split())
    out: list[str] = []
    for ch in text[:MAX_ANSWER]:
        category = unicodedata.category(ch)
        if category.startswith("C") and ch not in "\t\n\r\u200c\u200d":
            continue
        if category == "Nd":
            out.append(str(unicodedata.decimal(ch)))
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def parse(step: AskStep, raw: str, *, region: str, today: date) -> Accepted | Refusal:
    text = clean(raw)
    if not text:
        return refused("answer_empty")
    parser = _PARSERS[step.type]
    result = parser(step, text, region, today)
    if isinstance(result, Refusal):
        return result
    if step.pattern and not re.fullmatch(step.pattern, result.value):
        return step_error(step) or refused("answer_form")
    return result


def step_error(step: AskStep) -> Refusal | None:
    return Refusal(own=step.error) if step.error else None


def _length_ok(step: AskStep, text: str) -> Refusal | None:
    bounds = step.length_range
    if bounds is None:
        return None
    low, high = bounds
    if low <= len(text) <= high:
        return None
    if low == high:
        return step_error(step) or refused("answer_exact_chars", count=low)
    return step_error(step) or refused("answer_chars_range", low=low, high=high)


def longest(step: AskStep) -> int | None:
    """The most characters an answer to ``step`` may have, where a form can hold the citizen
    to it as they type: the web form's ``maxlength``, the hint beside it and the check here
    all come from this one figure. None for the other types, whose answers are checked by
    form (a 10-digit number may be typed with spaces)."""
    bounds = step.length_range
    if step.type == "text":
        return bounds[1] if bounds else MAX_TEXT
    if step.type == "message":
        return bounds[1] if bounds else MAX_ANSWER
    return None


def _text(step: AskStep, text: str, _region: str, _today: date) -> Accepted | Refusal:
    if step.length is None and len(text) > MAX_TEXT:
        return refused("answer_too_long", limit=MAX_TEXT)
    return _length_ok(step, text) or Accepted(text)


def _digits(step: AskStep, text: str, _region: str, _today: date) -> Accepted | Refusal:
    compact = text.replace(" ", "").replace("-", "")
    if not compact.isdigit() or not compact.isascii():
        return step_error(step) or refused("answer_digits_only")
    bounds = step.length_range
    if bounds is not None and not bounds[0] <= len(compact) <= bounds[1]:
        low, high = bounds
        return step_error(step) or (
            refused("answer_exact_digits", count=low)
            if low == high
            else refused("answer_digits_range", low=low, high=high)
        )
    return Accepted(compact)


def _number(step: AskStep, text: str, _region: str, _today: date) -> Accepted | Refusal:
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        return step_error(step) or refused("answer_number")
    if number != number or number in (float("inf"), float("-inf")):
        return refused("answer_number")
    if step.min is not None and number < step.min:
        return step_error(step) or refused("answer_at_least", value=f"{step.min:g}")
    if step.max is not None and number > step.max:
        return step_error(step) or refused("answer_at_most", value=f"{step.max:g}")
    return Accepted(f"{number:g}")


def match_option(options: list[Option], text: str) -> Option | None:
    """An option by its number (1-based) or, case-insensitively, its value or any label."""
    folded = text.casefold()
    if text.isascii() and text.isdigit() and 1 <= int(text) <= len(options):
        return options[int(text) - 1]
    for option in options:
        if folded == option.value.casefold():
            return option
        if any(folded == label.casefold() for label in option.label.values()):
            return option
    return None


def _choice(step: AskStep, text: str, _region: str, _today: date) -> Accepted | Refusal:
    option = match_option(step.options, text)
    if option is None:
        count = len(step.options)
        return step_error(step) or refused("answer_choose", count=count)
    return Accepted(option.value, label=option.label.get("en"), goto=option.goto)


def _yes_no(step: AskStep, text: str, _region: str, _today: date) -> Accepted | Refusal:
    folded = text.casefold().rstrip(".!")
    if folded in YES:
        return Accepted("yes")
    if folded in NO:
        return Accepted("no")
    return step_error(step) or refused("answer_yes_no")


_DATE_FORMATS = ("%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%d%m%Y", "%Y-%m-%d", "%d %m %Y")


def _date(step: AskStep, text: str, _region: str, today: date) -> Accepted | Refusal:
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if not 1900 <= parsed.year <= today.year + 100:
            break
        return Accepted(parsed.isoformat())
    return step_error(step) or refused("answer_date")


def _phone(step: AskStep, text: str, region: str, _today: date) -> Accepted | Refusal:
    number = normalise_phone(text, region)
    if number is None:
        return step_error(step) or refused("answer_mobile")
    return Accepted(number)


def _pincode(step: AskStep, text: str, _region: str, _today: date) -> Accepted | Refusal:
    compact = text.replace(" ", "")
    if re.fullmatch(r"[1-9][0-9]{5}", compact):
        return Accepted(compact)
    return step_error(step) or refused("answer_pin")


def _message(step: AskStep, text: str, _region: str, _today: date) -> Accepted | Refusal:
    # Typed in place of a recording: as long as a citizen cares to write (``clean`` keeps
    # MAX_ANSWER characters), within the step's length when it has one.
    return _length_ok(step, text) or Accepted(text)


_PARSERS = {
    "text": _text,
    "message": _message,
    "digits": _digits,
    "number": _number,
    "choice": _choice,
    "yes_no": _yes_no,
    "date": _date,
    "phone": _phone,
    "pincode": _pincode,
}
