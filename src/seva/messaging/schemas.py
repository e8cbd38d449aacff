"""Request and response bodies of the department SMS API (``/api/v1/messages`` and friends).

Field limits follow the queue's columns (``messaging.models``) so that nothing a client sends
can fail at the database instead of here: a too-long reference or key is a 400 naming the
field, not a 500 from PostgreSQL. Strings that PostgreSQL cannot store (a NUL character, a
lone UTF-16 surrogate that JSON's ``\\uD800`` escapes can produce) are refused the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from seva.messaging.service import MAX_RECIPIENTS
from seva.sms_text import Encoding

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(value: str) -> str:
    if _UNSTORABLE.search(value):
        raise ValueError("contains a NUL character or a lone surrogate, which cannot be stored")
    return value


Storable = Annotated[str, AfterValidator(_storable)]
Number = Annotated[str, StringConstraints(max_length=32), AfterValidator(_storable)]
"""One recipient as the client wrote it; normalised (and refused if invalid) by the API."""
SenderId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9]{1,11}$")]
TemplateId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,30}$")]
CallbackUrl = Annotated[AnyHttpUrl, Field(max_length=500)]
Kind = Literal["otp", "transactional", "bulk"]
MAX_OTP_RECIPIENTS = 2


@dataclass(frozen=True, slots=True)
class SendProblem:
    """A send the API refuses (422) before it reaches the queue, in the API's error shape."""

    code: str
    message: str
    field: str
    extra: dict[str, Any] | None = None
    """More fields for the error object (the invalid numbers, when those are the reason)."""


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SendIn(_In):
    """One send: a single number or a list (a campaign), one text or one text per number."""

    # Numbers sent as JSON numbers (9876543210) are read as their digits.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    to: Number | Annotated[list[Number], Field(min_length=1, max_length=MAX_RECIPIENTS)] = Field(
        description=(
            "One number or a list of 1 to 100,000: +91XXXXXXXXXX, 91XXXXXXXXXX, 0XXXXXXXXXX "
            "or XXXXXXXXXX. An OTP (`kind: otp`) goes to at most 2 numbers."
        )
    )
    text: Storable | None = Field(
        default=None, description="The message (at most 1,600 characters). Optional with texts."
    )
    texts: Annotated[list[Storable], Field(min_length=1, max_length=MAX_RECIPIENTS)] | None = Field(
        default=None,
        description="One text per number in `to`, in the same order (personalised sends).",
    )
    kind: Kind = Field(
        default="transactional",
        description=(
            "`otp` goes first and to at most 2 numbers (an OTP is for one person); "
            "`transactional` next; `bulk` skips numbers that sent STOP."
        ),
    )
    sender: SenderId | None = Field(
        default=None,
        description=(
            "One of your DLT headers. Default: your sender ID once it is registered as your "
            "header, else your only header; before you register any, the gateway's sender "
            "SEVA, the only one you may use then."
        ),
    )
    template_id: TemplateId | None = Field(
        default=None, description="The DLT template the text follows (found by matching if absent)."
    )
    scheduled_at: AwareDatetime | None = Field(
        default=None,
        description="Send at this time (with its UTC offset, e.g. 2026-01-26T09:00:00+05:30).",
    )
    callback_url: CallbackUrl | None = Field(
        default=None, description="Each message's final status is POSTed here as JSON."
    )
    client_ref: Annotated[Storable, StringConstraints(max_length=64)] | None = Field(
        default=None, description="Your reference, returned with the messages and callbacks."
    )
    skip_invalid: bool = Field(
        default=False,
        description="Send to the valid numbers and list the rest as `rejected`, "
        "instead of refusing the whole request.",
    )

    @property
    def numbers(self) -> list[str]:
        """``to`` as a list, as sent."""
        return [self.to] if isinstance(self.to, str) else self.to

    def problem(self) -> SendProblem | None:
        """What makes a body the schema accepts a send the API refuses: texts that are not one
        per number, no text at all, an OTP to more than one person.

        Not validators: these answer 422 with their own codes, where a validator's refusal is
        the 400 ``invalid_request`` every malformed body gets.
        """
        count = len(self.numbers)
        if self.texts is not None and len(self.texts) != count:
            return SendProblem(
                "texts_mismatch",
                f"texts has {len(self.texts)} entries but to has {count}: give one text per number",
                "texts",
            )
        if self.text is None and self.texts is None:
            return SendProblem("no_text", "give text (or texts, one per number)", "text")
        if self.kind == "otp" and count > MAX_OTP_RECIPIENTS:
            return SendProblem(
                "otp_too_many_recipients",
                f"an OTP goes to one person: at most {MAX_OTP_RECIPIENTS} numbers per request "
                f"(got {count}); send lists as transactional or bulk",
                "to",
            )
        return None


class MessageRef(BaseModel):
    id: int
    to: str
    status: str


class SendOut(BaseModel):
    batch_id: int
    accepted: int
    """Messages queued (one per recipient; each may take several SMS parts)."""
    parts: int
    """SMS parts each message takes (the most, with one text per number)."""
    encoding: Encoding
    """``gsm7`` (160 characters in one part, 153 a part when longer) or ``ucs2``, which any
    character outside the GSM alphabet forces: any Indian script, and also a curly quote or
    an emoji in English (70 characters in one part, 67 a part)."""
    characters: int
    """Characters of the text (the longest, with one text per number)."""
    total_parts: int
    """Parts of all the queued messages together: what the operator bills. For a replay,
    each message counted at ``parts``."""
    messages: list[MessageRef] | None
    """Each queued message, for sends of at most 100 recipients (null for larger ones)."""
    opted_out: list[str]
    """Numbers skipped because they sent STOP (bulk only)."""
    rejected: list[str]
    """Entries of ``to`` that are not mobile numbers (with ``skip_invalid``)."""
    duplicates: int
    """Entries of ``to`` left out because the same number already had the same text."""
    scheduled_at: datetime
    """When the messages become due."""
    replayed: bool
    """True when the Idempotency-Key named an earlier send: nothing new was queued."""


class PreviewOut(BaseModel):
    """What ``POST /api/v1/messages`` would queue for the same body, and what it would cost.
    Nothing is queued or charged to the daily quota."""

    recipients: int
    """Messages that would be queued: valid numbers, without repeats or numbers that sent
    STOP (bulk)."""
    parts: int
    """SMS parts each message takes (the most, with one text per number)."""
    encoding: Encoding
    """``gsm7`` or ``ucs2`` (see the send's answer)."""
    characters: int
    """Characters of the text (the longest, with one text per number)."""
    total_parts: int
    """Parts of all the messages together: what the operator would bill."""
    outside_gsm: list[str]
    """The characters that make the text UCS-2 when there are only a few (a curly quote, a
    dash): replacing them halves the cost of an English text. Empty otherwise."""
    sender: str
    """The DLT header the messages would go out from."""
    template_id: str | None
    """The DLT template the text matched."""
    opted_out: list[str]
    rejected: list[str]
    duplicates: int


class MessageOut(BaseModel):
    id: int
    batch_id: int
    to: str
    sender: str
    text: str
    kind: str
    status: str
    """queued, sending, submitted, delivered, failed, or unknown: submitted, but no delivery
    receipt came within the receipt timeout (a receipt that still comes settles it)."""
    parts: int
    attempts: int
    error: str | None
    created_at: datetime
    submitted_at: datetime | None
    done_at: datetime | None
    client_ref: str | None
    template_id: str | None
    resent_after_lease: int
    """Times it was sent again because the dispatcher sending it stopped before recording the
    outcome: more than 0 means the citizen may have received it twice."""


class BatchOut(BaseModel):
    id: int
    sender: str
    text: str
    kind: str
    template_id: str | None
    source: str
    """api, msdg, csv, system or reply."""
    total: int
    parts: int
    scheduled_at: datetime
    created_at: datetime
    client_ref: str | None
    callback_url: str | None
    counts: dict[str, int]
    """Messages of the batch by status."""


class HeaderIn(_In):
    header: Annotated[str, StringConstraints(max_length=16)]
    category: Annotated[str, StringConstraints(max_length=32)] = Field(
        description="promotional, transactional, service_implicit, service_explicit or government"
    )


class HeaderOut(BaseModel):
    header: str
    category: str
    display: str
    """What a citizen's phone shows as the sender, e.g. SEVAGV-G."""
    created_at: datetime


class TemplateIn(_In):
    template_id: Annotated[str, StringConstraints(max_length=40)]
    header: Annotated[str, StringConstraints(max_length=16)]
    category: Annotated[str, StringConstraints(max_length=32)]
    body: Annotated[Storable, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="The registered text with {#var#} placeholders, exactly as on DLT."
    )
    name: Annotated[Storable, StringConstraints(max_length=200)] = ""


class TemplateOut(BaseModel):
    template_id: str
    header: str
    category: str
    name: str
    body: str
    active: bool
    created_at: datetime


class AccountIn(_In):
    """Fields left out stay as they are; null clears one."""

    entity_id: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        default=None, description="Your DLT principal entity ID (19 digits)."
    )
    callback_url: CallbackUrl | None = Field(
        default=None, description="Default status callback for sends that name none."
    )


class AccountOut(BaseModel):
    entity_id: str | None
    callback_url: str | None
    daily_quota: int | None
    """Messages accepted per day (UTC); set by the gateway's administrators. Null: no limit."""
    rate_per_second: int | None
    """Dispatch rate cap; set by the gateway's administrators."""
    sent_today: int
    msdg_username: str | None
    msdg_configured: bool
    """True once MSDG credentials are set (MSDG-compatible endpoints accept this department)."""


class MsdgCredentialsIn(_In):
    username: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9._@-]{1,64}$")
    ]
    password: Annotated[Storable, StringConstraints(min_length=1, max_length=128)]
    secure_key: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[\x21-\x7e]{8,128}$")
    ] = Field(description="The secret MSDG clients hash into each request's key (8-128 chars).")


class InvalidNumbersDetail(BaseModel):
    """A refused send: the one error shape, with the numbers that were not valid when that was
    the reason (``code`` ``invalid_numbers``)."""

    code: str
    message: str
    field: str | None
    invalid: list[str] | None = None
    """Up to 20 of the entries that are not mobile numbers, as sent."""
    invalid_count: int | None = None


class InvalidNumbersBody(BaseModel):
    error: InvalidNumbersDetail
