"""What the officials' console pages read: messages filtered by department, status, number or
batch, a page at a time, with counts per status, and one message's parts; and the SMS list
page put together from them (``sms_listing``).

Every query goes through one scope (``MessageFilter``), so a filter an official cannot widen
(their department) and the ones they choose (status, number, batch) are applied the same way
to the list, its total and its counts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from seva.messaging.forms import SmsListQuery
from seva.messaging.models import SmsBatch, SmsMessage, SmsPart
from seva.messaging.reading import VIEW_COLUMNS, MessageView, view_of
from seva.numbers import msisdn
from seva.tenancy import service as tenancy
from seva.tenancy.models import Department, Official, Role


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


# -- the SMS list page ------------------------------------------------------------------------


def scope_of(official: Official) -> MessageFilter:
    """What an official may list: a gateway admin every department (Seva's own messages
    too), anyone else their own department only."""
    if official.role is Role.GATEWAY_ADMIN:
        return MessageFilter(every_department=True)
    return MessageFilter(department_id=official.department_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class SmsListing:
    """One page of the console's SMS list, with the counts and choices drawn around it."""

    rows: list[MessageView]
    today: dict[str, int]
    overall: dict[str, int]
    departments: list[Department]
    chosen: Department | None
    """The department a gateway admin narrowed the list to."""
    filters: dict[str, str]
    """The filters as the page shows them back, and as its page links carry them."""
    problems: list[str]
    """Catalog keys of the filters that did not parse; nothing is listed then."""
    total: int
    page: int
    pages: int


def sms_listing(
    session: Session,
    official: Official,
    query: SmsListQuery,
    *,
    region: str,
    since: datetime,
    page_size: int,
) -> SmsListing:
    """The page of messages ``query`` asks for, within what ``official`` may see, with the
    counts per status all time and since ``since`` (the start of the day, for "today")."""
    departments = tenancy.all_departments(session)
    scope = scope_of(official)
    chosen: Department | None = None
    if official.role is Role.GATEWAY_ADMIN and query.dept:
        chosen = next((d for d in departments if d.code == query.dept), None)
        if chosen is not None:
            scope = MessageFilter(department_id=chosen.id)

    problems: list[str] = []
    number = ""
    if query.phone:
        number = msisdn(query.phone, region) or ""
        if not number:
            problems.append("sms_bad_phone")
    batch_id = query.batch_id
    if query.batch and batch_id is None:
        problems.append("sms_bad_batch")

    counted = console_status_counts(session, scope, since=since)
    today, overall = counted.today, counted.overall
    which = replace(scope, status=query.status, phone=number, batch_id=batch_id)
    if problems:
        total = 0
    elif not number and batch_id is None:
        # The counts just read already hold this total: no second scan of a large department.
        total = overall.get(query.status, 0) if query.status else sum(overall.values())
    else:
        total = console_count(session, which)
    pages = max(1, -(-total // page_size))
    current = min(query.page_number, pages)
    rows = (
        []
        if problems or not total
        else console_messages(session, which, limit=page_size, offset=(current - 1) * page_size)
    )
    return SmsListing(
        rows=rows,
        today=today,
        overall=overall,
        departments=departments,
        chosen=chosen,
        filters={
            "status": query.status,
            "phone": number or query.phone,
            "batch": query.batch,
            "dept": chosen.code if chosen else "",
        },
        problems=problems,
        total=total,
        page=current,
        pages=pages,
    )
