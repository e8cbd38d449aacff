"""Reading messages back: one by id, a department's recent ones, a phone's, a batch's counts,
and the figures an operator checks after a dispatcher crashed.

A message is read joined with its batch (``MessageView``): the batch holds what all its
messages share (sender, kind, template, the text unless each has its own), so the API, the
console and the phone simulator all show the same thing for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from seva.messaging.models import SmsBatch, SmsMessage


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


VIEW_COLUMNS = (
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
"""A ``MessageView``'s columns in its order: select them, read each row with ``view_of``."""


def view_of(row: Any) -> MessageView:
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
        select(*VIEW_COLUMNS)
        .join(SmsBatch, SmsBatch.id == SmsMessage.batch_id)
        .where(SmsMessage.id == message_id)
    ).first()
    return view_of(row) if row is not None else None


def messages_of_department(
    session: Session, department_id: int, *, limit: int = 50, batch_id: int | None = None
) -> list[MessageView]:
    query = (
        select(*VIEW_COLUMNS)
        .join(SmsBatch, SmsBatch.id == SmsMessage.batch_id)
        .where(SmsBatch.department_id == department_id)
        .order_by(SmsMessage.id.desc())
        .limit(limit)
    )
    if batch_id is not None:
        query = query.where(SmsMessage.batch_id == batch_id)
    return [view_of(r) for r in session.execute(query)]


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
        view_of(r)
        for r in session.execute(
            select(*VIEW_COLUMNS)
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
        select(*VIEW_COLUMNS)
        .join(SmsBatch, SmsBatch.id == SmsMessage.batch_id)
        .where(SmsMessage.to_phone == phone)
        .order_by(SmsMessage.id.desc())
        .limit(limit)
    )
    if leave_out_kind is not None:
        query = query.where(SmsBatch.kind != leave_out_kind)
    return [view_of(r) for r in reversed(session.execute(query).all())]


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
