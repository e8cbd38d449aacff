"""The instant queue ("connect now"): citizens waiting for the next free official.

Queue rules: a citizen waits in their department's queue; an official on duty whose console
asks for work is offered the oldest waiting citizen; an offer not taken within
``OFFER_SECONDS`` goes back to the queue (a *missed* offer, counted); a citizen whose page
stops asking for ``ABANDON_SECONDS`` has *abandoned*. Wait estimates use the average handle
time of the department's recent calls (``rtc.waiting``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from seva.citizens.models import Citizen
from seva.rtc import waiting
from seva.rtc.models import (
    ABANDONED,
    CONNECTED,
    DONE,
    OFFERED,
    WAITING,
    Availability,
    QueueEntry,
)
from seva.rtc.rooms import CallRefused, new_room
from seva.rtc.signalling import CALL, Seat
from seva.tenancy.models import Department, Official

OFFER_SECONDS = 30
ABANDON_SECONDS = 60
DUTY_SECONDS = 60
"""An official whose console has not asked for calls this long is treated as away."""


@dataclass(frozen=True, slots=True)
class QueueView:
    entry: QueueEntry
    position: int
    """1 = next; 0 once an official has taken the call."""
    wait_seconds: float | None
    officials_on_duty: int


def _on_duty(session: Session, department_id: int, now: datetime) -> list[Availability]:
    return list(
        session.scalars(
            select(Availability).where(
                Availability.department_id == department_id,
                Availability.on_duty_since.is_not(None),
                Availability.seen_at > now - timedelta(seconds=DUTY_SECONDS),
            )
        )
    )


def join_queue(
    session: Session,
    department: Department,
    citizen: Citizen,
    *,
    now: datetime,
    channel: str = "web",
) -> QueueEntry:
    """Queue the citizen for the next free official (again returns their open turn)."""
    existing = session.scalar(
        select(QueueEntry).where(
            QueueEntry.department_id == department.id,
            QueueEntry.citizen_id == citizen.id,
            QueueEntry.status.in_((WAITING, OFFERED, CONNECTED)),
        )
    )
    if existing is not None:
        return existing
    entry = QueueEntry(
        department_id=department.id,
        citizen_id=citizen.id,
        status=WAITING,
        channel=channel,
        room=new_room("q"),
        joined_at=now,
        seen_at=now,
    )
    session.add(entry)
    session.flush()
    return entry


def tidy_queue(session: Session, department_id: int, *, now: datetime) -> None:
    """Lapsed offers back to the queue (counted as missed); silent citizens abandoned."""
    for entry in session.scalars(
        select(QueueEntry).where(
            QueueEntry.department_id == department_id,
            QueueEntry.status == OFFERED,
            QueueEntry.offered_at < now - timedelta(seconds=OFFER_SECONDS),
        )
    ):
        entry.status = WAITING
        entry.official_id = None
        entry.offered_at = None
        entry.missed_offers += 1
    for entry in session.scalars(
        select(QueueEntry).where(
            QueueEntry.department_id == department_id,
            QueueEntry.status.in_((WAITING, OFFERED)),
            QueueEntry.seen_at < now - timedelta(seconds=ABANDON_SECONDS),
        )
    ):
        entry.status = ABANDONED
        entry.ended_at = now
    session.flush()


def average_handle_time(session: Session, department_id: int) -> float:
    rows = session.execute(
        select(QueueEntry.connected_at, QueueEntry.ended_at)
        .where(
            QueueEntry.department_id == department_id,
            QueueEntry.status == DONE,
            QueueEntry.connected_at.is_not(None),
            QueueEntry.ended_at.is_not(None),
        )
        .order_by(QueueEntry.id.desc())
        .limit(50)
    )
    durations = [(end - start).total_seconds() for start, end in rows if start and end]
    return waiting.average_handle_time(list(reversed(durations)))


def queue_view(session: Session, entry: QueueEntry, *, now: datetime) -> QueueView:
    """Where the citizen stands; asking also tells the queue their page is still open."""
    if entry.status in (WAITING, OFFERED):
        entry.seen_at = now
    tidy_queue(session, entry.department_id, now=now)
    duty = _on_duty(session, entry.department_id, now)
    if entry.status not in (WAITING, OFFERED):
        return QueueView(entry, 0, 0.0 if entry.status == CONNECTED else None, len(duty))
    position = 1 + int(
        session.scalar(
            select(func.count()).where(
                QueueEntry.department_id == entry.department_id,
                QueueEntry.status.in_((WAITING, OFFERED)),
                QueueEntry.id < entry.id,
            )
        )
        or 0
    )
    busy = int(
        session.scalar(
            select(func.count()).where(
                QueueEntry.department_id == entry.department_id,
                QueueEntry.status == CONNECTED,
                QueueEntry.official_id.in_([d.official_id for d in duty]),
            )
        )
        or 0
    )
    estimate = waiting.position_wait_seconds(
        position=position,
        available_officials=max(0, len(duty) - busy),
        busy_officials=busy,
        aht_seconds=average_handle_time(session, entry.department_id),
    )
    return QueueView(entry, position, estimate, len(duty))


def leave_queue(session: Session, entry: QueueEntry, *, now: datetime) -> None:
    if entry.status in (WAITING, OFFERED):
        entry.status = ABANDONED
        entry.ended_at = now


def set_on_duty(session: Session, official: Official, on: bool, *, now: datetime) -> Availability:
    if official.department_id is None:
        raise CallRefused("no_department", "only a department's officials take calls")
    row = session.get(Availability, official.id)
    if row is None:
        row = Availability(official_id=official.id, department_id=official.department_id)
        session.add(row)
    row.on_duty_since = now if on else None
    row.seen_at = now
    session.flush()
    return row


def offer_for(session: Session, official: Official, *, now: datetime) -> QueueEntry | None:
    """The call this official is being offered (the oldest waiting one), if on duty and free.

    Taking the entry is a conditional UPDATE (waiting → offered to this official), so two
    officials asking at the same moment are never offered the same citizen.
    """
    if official.department_id is None:
        return None
    row = session.get(Availability, official.id)
    if row is None or row.on_duty_since is None:
        return None
    row.seen_at = now
    tidy_queue(session, official.department_id, now=now)
    mine = session.scalar(
        select(QueueEntry).where(
            QueueEntry.official_id == official.id, QueueEntry.status.in_((OFFERED, CONNECTED))
        )
    )
    if mine is not None:
        return mine if mine.status == OFFERED else None
    for candidate in session.scalars(
        select(QueueEntry.id)
        .where(QueueEntry.department_id == official.department_id, QueueEntry.status == WAITING)
        .order_by(QueueEntry.id)
        .limit(5)
    ):
        taken = session.execute(
            update(QueueEntry)
            .where(QueueEntry.id == candidate, QueueEntry.status == WAITING)
            .values(status=OFFERED, official_id=official.id, offered_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(taken, "rowcount", 0) == 1:
            entry = session.get(QueueEntry, candidate, populate_existing=True)
            return entry
    return None


def accept(session: Session, official: Official, entry_id: int, *, now: datetime) -> QueueEntry:
    entry = session.get(QueueEntry, entry_id)
    if entry is None or entry.department_id != official.department_id:
        raise CallRefused("not_found", "no such call in your department's queue", status=404)
    if entry.status != OFFERED or entry.official_id != official.id:
        raise CallRefused("not_offered", "this call is no longer offered to you", status=409)
    entry.status = CONNECTED
    entry.connected_at = now
    return entry


def finish(session: Session, entry: QueueEntry, *, now: datetime) -> None:
    if entry.status == CONNECTED:
        entry.status = DONE
        entry.ended_at = now


def queue_of(session: Session, department_id: int) -> list[QueueEntry]:
    return list(
        session.scalars(
            select(QueueEntry)
            .where(
                QueueEntry.department_id == department_id,
                QueueEntry.status.in_((WAITING, OFFERED, CONNECTED)),
            )
            .order_by(QueueEntry.id)
        )
    )


def queue_seat(session: Session, entry: QueueEntry) -> Seat:
    citizen = session.get(Citizen, entry.citizen_id)
    tail = citizen.phone[-4:] if citizen is not None else "?"
    return Seat(
        room=entry.room,
        identity=f"citizen:{entry.citizen_id}",
        name=f"Citizen …{tail}",
        role="citizen",
        kind=CALL,
    )
