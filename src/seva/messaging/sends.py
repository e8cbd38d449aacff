"""What a send is: the request a department (or Seva itself) makes, the answer when the queue
takes it, the refusal when it does not, and the limits every send is held to.

Every part of the queue (accepting, the DLT checks, the registrations that refuse a taken
header) speaks these types, so they live on their own, below all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from seva.sms_text import Encoding, measure

MAX_RECIPIENTS = 100_000
MAX_TEXT = 1600
"""Ten UCS-2 parts' worth of characters; longer texts are refused, not truncated."""
MAX_SCHEDULE_AHEAD = 366 * 86400.0
"""Seconds ahead a send may be scheduled: a year, for the yearly reminder."""
RETURN_IDS_UP_TO = 100
"""Sends this small get their message ids back; larger ones are followed by batch id."""


class SendRefused(Exception):
    """A send the queue will not take, with a code and message the API shows as they are."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    """What a department (or Seva itself) asks to send. Numbers are E.164 (``+91…``)."""

    to: Sequence[str]
    text: str
    kind: str = "transactional"
    sender: str | None = None
    """The source address asked for; None for the default (see ``authorise``). The queue
    stores the one the message really goes out from."""
    department_id: int | None = None
    department_code: str | None = None
    texts: Sequence[str] | None = None
    """Per-recipient texts (CSV with variables); ``text`` is then the first one, for display."""
    template_id: str | None = None
    due_at: float | None = None
    callback_url: str | None = None
    client_ref: str | None = None
    idempotency_key: str | None = None
    source: str = "api"


@dataclass(frozen=True, slots=True, kw_only=True)
class Cost:
    """What a send takes on the operator's bill, in the figures its sender is shown: per
    message and for every recipient together."""

    encoding: Encoding
    """``gsm7``, or ``ucs2`` when any text needs it (70 characters a part rather than 160)."""
    characters: int
    """Characters of the text (the longest, with one text per recipient)."""
    parts: int
    """The most parts one message takes."""
    total_parts: int
    """Parts of all the messages together: what the operator bills."""
    outside: tuple[str, ...] = ()
    """The few characters that make a text UCS-2 (``sms_text.Measure.outside``)."""

    @classmethod
    def of(cls, texts: Sequence[str], recipients: int = 1, *, outside: bool = False) -> Cost:
        """The cost of sending each of ``texts`` to ``recipients`` numbers (one text to many
        numbers, or one text per number with ``recipients`` 1); ``outside``: with the
        characters that make a text UCS-2, which only a preview shows."""
        measured = [measure(text, outside=outside) for text in texts] or [measure("")]
        longest = max(measured, key=lambda m: m.characters)
        billed = sum(m.parts for m in measured) * recipients if texts else 0
        return cls(
            encoding="ucs2" if any(m.encoding == "ucs2" for m in measured) else "gsm7",
            characters=longest.characters,
            parts=max(m.parts for m in measured),
            total_parts=billed,
            outside=tuple(dict.fromkeys(c for m in measured for c in m.outside)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    batch_id: int
    accepted: int
    parts: int
    cost: Cost
    """The queued messages' encoding, length and parts together (for a replay, as the
    earlier send's text reads, every recipient counted at its most parts)."""
    message_ids: list[int] = field(default_factory=list)
    opted_out: list[str] = field(default_factory=list)
    due_at: float = 0.0
    """When the batch is due (its scheduled time, or when it was accepted)."""
    replayed: bool = False
    """True when the idempotency key named an earlier request: nothing new was queued."""
    replayed_messages: list[tuple[int, str, str]] = field(default_factory=list)
    """For a replay: each message's id, number and status now."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Preview:
    """What a send would queue and cost, from the same checks as a send, nothing written."""

    recipients: int
    """Messages that would be queued (numbers that sent STOP left out of a bulk send)."""
    opted_out: list[str]
    sender: str
    template_id: str | None
    cost: Cost
