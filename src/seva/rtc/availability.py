"""Officials' call hours: when each one takes calls, and the free times a citizen may book.

Hours are a weekly pattern with dated exceptions, in the official's time zone; the slots
themselves are computed by ``rtc.slots`` from these hours and the calls already booked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from seva.db import catalog
from seva.rtc import slots
from seva.rtc.models import BOOKED, Appointment, Availability
from seva.tenancy.models import Department, Official


def _times(pairs: Any) -> list[tuple[time, time]]:
    if not isinstance(pairs, list):
        raise ValueError("hours are a list of [start, end] pairs")
    out: list[tuple[time, time]] = []
    for pair in pairs:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError("hours are a list of [start, end] pairs")
        out.append((time.fromisoformat(str(pair[0])), time.fromisoformat(str(pair[1]))))
    return out


def schedule_of(row: Availability) -> slots.Schedule:
    return slots.Schedule(
        tz=row.tz,
        weekly={int(day): _times(hours) for day, hours in (row.weekly or {}).items()},
        overrides={
            date.fromisoformat(day): _times(hours) for day, hours in (row.overrides or {}).items()
        },
        slot_minutes=row.slot_minutes,
        buffer_before=row.buffer_before,
        buffer_after=row.buffer_after,
        min_notice_minutes=row.min_notice_minutes,
        horizon_days=row.horizon_days,
    )


def set_availability(
    session: Session,
    official: Official,
    *,
    tz: str,
    weekly: dict[str, Any],
    overrides: dict[str, Any] | None = None,
    slot_minutes: int = 15,
    buffer_before: int = 0,
    buffer_after: int = 5,
    min_notice_minutes: int = 60,
    horizon_days: int = 14,
) -> Availability:
    """Publish an official's hours; refused whole (ValueError) when anything is invalid."""
    if official.department_id is None:
        raise ValueError("only a department's officials take calls")
    row = session.get(Availability, official.id) or Availability(
        official_id=official.id, department_id=official.department_id
    )
    row.department_id = official.department_id
    row.tz = tz
    row.weekly = weekly
    row.overrides = overrides or {}
    row.slot_minutes = slot_minutes
    row.buffer_before = buffer_before
    row.buffer_after = buffer_after
    row.min_notice_minutes = min_notice_minutes
    row.horizon_days = horizon_days
    schedule_of(row)  # validates
    session.add(row)
    session.flush()
    return row


def busy_times(
    session: Session, official_id: int, since: datetime, *, moving: int | None = None
) -> list[tuple[datetime, datetime]]:
    """The official's booked calls (but ``moving``): the times a new booking must avoid."""
    rows = session.execute(
        select(Appointment.starts_at, Appointment.ends_at).where(
            Appointment.official_id == official_id,
            Appointment.status == BOOKED,
            Appointment.ends_at > since - timedelta(days=1),
            Appointment.id != (moving or 0),
        )
    )
    return [(start, end) for start, end in rows]


def free_slots(
    session: Session,
    department_id: int,
    *,
    now: datetime,
    days: int | None = None,
    moving: Appointment | None = None,
) -> list[tuple[datetime, list[int]]]:
    """Bookable starts across the department's officials, each with who is free then.

    ``moving``: times for that call to move to, so the time it holds counts as free, except
    its own start (moving to where it is already is no move)."""
    per_official: dict[int, list[datetime]] = {}
    for row in session.scalars(
        select(Availability).where(Availability.department_id == department_id)
    ):
        schedule = schedule_of(row)
        busy = busy_times(session, row.official_id, now, moving=moving.id if moving else None)
        per_official[row.official_id] = slots.free_slots(schedule, busy, now=now, days=days)
    free = slots.merge_free(per_official)
    if moving is not None:
        held = moving.starts_at.astimezone(UTC)
        free = [(start, who) for start, who in free if start.astimezone(UTC) != held]
    return free


def takes_calls(session: Session, department_id: int) -> bool:
    """Some official of the department publishes call hours (every department menu asks, so
    the answer comes from the catalog memo, ``seva.db.catalog``)."""
    return department_id in catalog.remember(session, "taking_calls", _taking_calls)


def _taking_calls(session: Session) -> frozenset[int]:
    return frozenset(session.scalars(select(Availability.department_id).distinct()))


def departments_taking_calls(session: Session) -> list[Department]:
    return list(
        session.scalars(
            select(Department)
            .where(Department.id.in_(select(Availability.department_id)), Department.active)
            .order_by(Department.code)
        )
    )
