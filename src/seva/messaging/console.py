"""What the officials' console pages read: messages filtered by department, status, number or
batch, a page at a time, with counts per status, and one message's parts.

Every query goes through one scope (``MessageFilter``), so a filter an official cannot widen
(their department) and the ones they choose (status, number, batch) are applied the same way
to the list, its total and its counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from seva.messaging.models import SmsBatch, SmsMessage, SmsPart
from seva.messaging.reading import VIEW_COLUMNS, MessageView, view_of


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
    query = _console_scope(select(*VIEW_COLUMNS), which)
    query = query.order_by(SmsMessage.id.desc()).limit(limit).offset(offset)
    return [view_of(r) for r in session.execute(query)]


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
