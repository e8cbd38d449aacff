"""What the flow engine says to a channel, and what it asks the runtime to do.

*Messages* (``Say``, ``Ask``, ``End``) are rendered by channels. *Effects* (``CallWebhook``,
``LookupRow`` …) are work the sans-IO engine cannot do itself; the runtime performs one and hands
back an ``EffectResult``. ``RememberField`` needs no answer. All are frozen, slotted,
keyword-only dataclasses, the way h11 shapes its events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["completed", "failed", "timeout", "cancelled"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    key: str
    """What the citizen presses or types: ``1`` … ``9``."""
    value: str
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Say:
    text: str
    personal: bool = False
    """Filled in from the conversation's answers or data: not to be kept in shared caches."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ask:
    var: str
    text: str
    kind: str
    options: tuple[Choice, ...] = ()
    error: str | None = None
    """Why the previous answer was refused; channels show it before the question."""
    attempt: int = 1
    seconds: int | None = None
    """A ``message`` question: the longest recording a voice channel may take."""
    personal: bool = False
    """The question is filled in from the conversation's answers or data (``Say.personal``)."""
    max_length: int | None = None
    """The most characters the answer may have (``answers.longest``), for a form to enforce
    and show as the citizen types; None where the answer's form is checked instead."""
    inline: bool = False
    """A choice whose options are short (times, dates): where each message is paid for (SMS)
    they follow the question on one line instead of one a line."""


@dataclass(frozen=True, slots=True, kw_only=True)
class End:
    text: str
    outcome: Outcome = "completed"


Message = Say | Ask | End


@dataclass(frozen=True, slots=True, kw_only=True)
class CallWebhook:
    url: str
    method: str
    body: dict[str, str]
    timeout: float | None = None
    retries: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LookupRow:
    dataset: str
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateApplication:
    kind: str
    status: str
    data: dict[str, str] = field(default_factory=dict)
    contact: str | None = None
    """The mobile number (E.164) a conversation without a phone gave for the application's
    updates; None when the channel knows the citizen's phone."""
    status_texts: dict[str, str] = field(default_factory=dict)
    """The status in the service's other languages, when the service gives it as a text."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FindApplication:
    ref: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FindNearby:
    pincode: str
    kind: str
    limit: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FindCallTimes:
    """The service's department's next free times to talk to an official, as options
    (``{value: ISO start, label: IST time}``); ``moving``: for the citizen's booked call
    ``call`` (its reference; empty: their next call with the department) to move to."""

    limit: int
    days: int
    moving: bool = False
    call: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BookCall:
    """Book the call starting at ``starts`` (an ISO time offered by ``FindCallTimes``)."""

    starts: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MoveCall:
    """Move the citizen's booked call ``call`` (empty: their next one) to ``starts``."""

    starts: str
    call: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelCall:
    """Cancel the citizen's booked call ``call`` (empty: their next one)."""

    call: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ListCalls:
    """The citizen's booked calls with the department, soonest first, as options."""

    limit: int


CallEffect = FindCallTimes | BookCall | MoveCall | CancelCall | ListCalls


@dataclass(frozen=True, slots=True, kw_only=True)
class RememberField:
    """The citizen answered a profile question: store it and record the consent."""

    field: str
    value: str


Effect = CallWebhook | LookupRow | CreateApplication | FindApplication | FindNearby | CallEffect
Event = Say | Ask | End | Effect | RememberField


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectResult:
    """``ok`` with ``data`` (a mapping, or None for "not found"), or a failure ``reason``.

    ``refusal``: why the gateway could not do it, worded for the citizen in their language
    ("That time was just taken."); the engine says it in place of its generic "not found" or
    "service error" (a step's own ``missing`` text still comes first)."""

    ok: bool
    data: Any = None
    reason: str = ""
    refusal: str = ""
