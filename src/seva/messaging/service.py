"""The outbound SMS queue: accept (durably), claim, record outcomes, apply delivery receipts.

Every function works in the caller's transaction, so a message is committed together with the
change that caused it (an OTP with its code, a status SMS with the new status) and the API
acknowledges only after the commit. Dispatchers (``messaging.dispatcher``) call ``claim`` and
the ``record_*`` functions in their own short transactions.

Statements on ``sms_messages`` are Core statements run with executemany: a bulk send inserts
100,000 rows in one request and the dispatcher updates tens of thousands per second, where
ORM unit-of-work bookkeeping would cost more than the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from seva.messaging.accept import queue_sms, send, send_many, sent_today
from seva.messaging.authorise import GATEWAY_SENDER, sender_of
from seva.messaging.callbacks import (
    CALLBACK_ATTEMPTS,
    CALLBACK_LEASE,
    CallbackDue,
    callback_result,
    callbacks_deferred,
    callbacks_due,
)
from seva.messaging.models import (
    SmsBatch,
    SmsMessage,
    SmsPart,
)
from seva.messaging.optouts import ALL_DEPARTMENTS, opt_in, opt_out, opted_out
from seva.messaging.queue import (
    MAX_ATTEMPTS,
    BatchInfo,
    Claimed,
    Failure,
    Submitted,
    batches,
    claim,
    dispatch_rates,
    record_failures,
    record_submitted,
    recover_leases,
    renew_leases,
    requeue,
    retry_delay,
)
from seva.messaging.receipts import Receipt, apply_receipts, expire_receipts
from seva.messaging.registrations import (
    account,
    department_headers,
    department_templates,
    ensure_account,
    register_header,
    register_template,
    stored_password_hash,
)
from seva.messaging.sends import (
    MAX_RECIPIENTS,
    MAX_SCHEDULE_AHEAD,
    MAX_TEXT,
    RETURN_IDS_UP_TO,
    Accepted,
    Send,
    SendRefused,
)

# -- reading ------------------------------------------------------------------------------------


__all__ = [
    "ALL_DEPARTMENTS",
    "CALLBACK_ATTEMPTS",
    "CALLBACK_LEASE",
    "GATEWAY_SENDER",
    "MAX_ATTEMPTS",
    "MAX_RECIPIENTS",
    "MAX_SCHEDULE_AHEAD",
    "MAX_TEXT",
    "RETURN_IDS_UP_TO",
    "Accepted",
    "BatchInfo",
    "CallbackDue",
    "Claimed",
    "Failure",
    "MessageFilter",
    "MessageView",
    "PartView",
    "Receipt",
    "Resent",
    "Send",
    "SendRefused",
    "StatusCounts",
    "Submitted",
    "account",
    "apply_receipts",
    "batch",
    "batch_counts",
    "batches",
    "callback_result",
    "callbacks_deferred",
    "callbacks_due",
    "claim",
    "console_count",
    "console_messages",
    "console_status_counts",
    "department_headers",
    "department_templates",
    "dispatch_rates",
    "ensure_account",
    "expire_receipts",
    "inbox",
    "latest_to",
    "message",
    "message_parts",
    "messages_of_department",
    "opt_in",
    "opt_out",
    "opted_out",
    "queue_sms",
    "record_failures",
    "record_submitted",
    "recover_leases",
    "register_header",
    "register_template",
    "renew_leases",
    "requeue",
    "resent_after_lease",
    "retry_delay",
    "send",
    "send_many",
    "sender_of",
    "sent_today",
    "status_counts",
    "stored_password_hash",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageView:
    """A message as its sender and the citizen's handset see it."""

    id: int
    batch_id: int
    department_id: int | None
    to_phone: str
    sender: str
    text: str
    kind: str
    status: str
    parts: int
    attempts: int
    error: str | None
    created_at: datetime
    submitted_at: datetime | None
    done_at: datetime | None
    client_ref: str | None
    template_id: str | None
    resent_after_lease: int


def _ts(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


_VIEW_COLUMNS = (
    SmsMessage.id,
    SmsMessage.batch_id,
    SmsBatch.department_id,
    SmsMessage.to_phone,
    SmsBatch.sender,
    func.coalesce(SmsMessage.text, SmsBatch.text),
    SmsBatch.kind,
    SmsMessage.status,
    SmsBatch.parts,
    SmsMessage.attempts,
    SmsMessage.error,
    SmsBatch.created_at,
    SmsMessage.submitted_at,
    SmsMessage.done_at,
    SmsBatch.client_ref,
    SmsBatch.template_id,
    SmsMessage.resent_after_lease,
)


def _view(row: Any) -> MessageView:
    return MessageView(
        id=int(row[0]),
        batch_id=int(row[1]),
        department_id=row[2],
        to_phone=row[3],
        sender=row[4],
        text=row[5],
        kind=row[6],
        status=row[7],
        parts=int(row[8]),
        attempts=int(row[9]),
        error=row[10],
        created_at=row[11],
        submitted_at=_ts(row[12]),
        done_at=_ts(row[13]),
        client_ref=row[14],
        template_id=row[15],
        resent_after_lease=int(row[16]),
    )


def message(session: Session, message_id: int) -> MessageView | None:
    row = session.execute(
        select(*_VIEW_COLUMNS)
        .join(SmsBatch, SmsBatch.id == SmsMessage.batch_id)
        .where(SmsMessage.id == message_id)
    ).first()
    return _view(row) if row is not None else None


def messages_of_department(
    session: Session, department_id: int, *, limit: int = 50, batch_id: int | None = None
) -> list[MessageView]:
    query = (
        select(*_VIEW_COLUMNS)
        .join(SmsBatch, SmsBatch.id == SmsMessage.batch_id)
        .where(SmsBatch.department_id == department_id)
        .order_by(SmsMessage.id.desc())
        .limit(limit)
    )
    if batch_id is not None:
        query = query.where(SmsMessage.batch_id == batch_id)
    return [_view(r) for r in session.execute(query)]


def batch_counts(session: Session, batch_id: int) -> dict[str, int]:
    rows = session.execute(
        select(SmsMessage.status, func.count())
        .where(SmsMessage.batch_id == batch_id)
        .group_by(SmsMessage.status)
    )
    return {str(status): int(n) for status, n in rows}


def batch(session: Session, batch_id: int) -> SmsBatch | None:
    return session.get(SmsBatch, batch_id)


def inbox(session: Session, phone: str, *, after_id: int = 0, limit: int = 50) -> list[MessageView]:
    """Messages to ``phone`` (what the phone simulator shows as received SMS), oldest first."""
    return [
        _view(r)
        for r in session.execute(
            select(*_VIEW_COLUMNS)
            .join(SmsBatch, SmsBatch.id == SmsMessage.batch_id)
            .where(SmsMessage.to_phone == phone, SmsMessage.id > after_id)
            .order_by(SmsMessage.id)
            .limit(limit)
        )
    ]


def latest_to(
    session: Session, phone: str, *, limit: int, leave_out_kind: str | None = None
) -> list[MessageView]:
    """The newest ``limit`` messages to ``phone`` (but those of ``leave_out_kind``), oldest
    first, each with its status now: the phone simulator lists these and shows each one's
    delivery status change as receipts arrive, so it reads them afresh every time."""
    query = (
        select(*_VIEW_COLUMNS)
        .join(SmsBatch, SmsBatch.id == SmsMessage.batch_id)
        .where(SmsMessage.to_phone == phone)
        .order_by(SmsMessage.id.desc())
        .limit(limit)
    )
    if leave_out_kind is not None:
        query = query.where(SmsBatch.kind != leave_out_kind)
    return [_view(r) for r in reversed(session.execute(query).all())]


def status_counts(session: Session, department_id: int | None = None) -> dict[str, int]:
    query = select(SmsMessage.status, func.count()).group_by(SmsMessage.status)
    if department_id is not None:
        query = query.join(SmsBatch, SmsBatch.id == SmsMessage.batch_id).where(
            SmsBatch.department_id == department_id
        )
    return {str(s): int(n) for s, n in session.execute(query)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Resent:
    """Messages possibly sent twice: what an operator checks after a dispatcher crashed."""

    messages: int
    """Messages sent again after the dispatcher holding them stopped."""
    times: int
    """How many times in all (a message can be caught by more than one crash)."""


def resent_after_lease(session: Session) -> Resent:
    messages, times = session.execute(
        select(func.count(), func.coalesce(func.sum(SmsMessage.resent_after_lease), 0)).where(
            SmsMessage.resent_after_lease > 0
        )
    ).one()
    return Resent(messages=int(messages), times=int(times))


# -- console queries ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageFilter:
    """Which messages an officials' console page lists.

    ``department_id`` None with ``every_department`` False matches nothing, so a scope built
    for an official who lost their department never widens to Seva's own messages.
    """

    department_id: int | None = None
    every_department: bool = False
    status: str = ""
    phone: str = ""
    """E.164, already normalised by the caller; matched exactly (the index is on it)."""
    batch_id: int | None = None


def _console_scope(query: Any, which: MessageFilter) -> Any:
    from sqlalchemy import false

    query = query.join(SmsBatch, SmsBatch.id == SmsMessage.batch_id)
    if not which.every_department:
        if which.department_id is None:
            return query.where(false())
        query = query.where(SmsBatch.department_id == which.department_id)
    if which.status:
        query = query.where(SmsMessage.status == which.status)
    if which.phone:
        query = query.where(SmsMessage.to_phone == which.phone)
    if which.batch_id is not None:
        query = query.where(SmsMessage.batch_id == which.batch_id)
    return query


def console_messages(
    session: Session, which: MessageFilter, *, limit: int, offset: int = 0
) -> list[MessageView]:
    """One page of messages, newest first."""
    query = _console_scope(select(*_VIEW_COLUMNS), which)
    query = query.order_by(SmsMessage.id.desc()).limit(limit).offset(offset)
    return [_view(r) for r in session.execute(query)]


def console_count(session: Session, which: MessageFilter) -> int:
    query = _console_scope(select(func.count()).select_from(SmsMessage), which)
    return int(session.scalar(query) or 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusCounts:
    today: dict[str, int]
    """Messages accepted since the start of the day the caller passed."""
    overall: dict[str, int]


def console_status_counts(
    session: Session, which: MessageFilter, *, since: datetime
) -> StatusCounts:
    """Messages per status, all time and accepted at or after ``since``, in one scan."""
    from sqlalchemy import case

    recent = func.sum(case((SmsBatch.created_at >= since, 1), else_=0))
    query = _console_scope(
        select(SmsMessage.status, func.count(), recent).select_from(SmsMessage), which
    ).group_by(SmsMessage.status)
    today: dict[str, int] = {}
    overall: dict[str, int] = {}
    for status, total, fresh in session.execute(query):
        overall[str(status)] = int(total)
        if fresh:
            today[str(status)] = int(fresh)
    return StatusCounts(today=today, overall=overall)


@dataclass(frozen=True, slots=True, kw_only=True)
class PartView:
    """One submitted part of a message and the last delivery receipt state it got."""

    seq: int
    route: str
    smsc_id: str
    state: str | None


def message_parts(session: Session, message_id: int) -> list[PartView]:
    rows = session.execute(
        select(SmsPart.seq, SmsPart.route, SmsPart.smsc_id, SmsPart.state)
        .where(SmsPart.message_id == message_id)
        .order_by(SmsPart.seq, SmsPart.route)
    )
    return [
        PartView(seq=int(seq), route=route, smsc_id=smsc_id, state=state)
        for seq, route, smsc_id, state in rows
    ]
