"""Officials' published hours turned into bookable appointment slots (Cal.com's model).

An official publishes weekly hours in their own IANA time zone, date overrides (other hours
on a date, or a day off), a slot length, buffers before and after each appointment, a minimum
notice and how far ahead citizens may book. Everything here is pure: the current time and the
existing bookings are passed in, and every instant handed back is in UTC.

Local days are walked in the schedule's zone, so a 09:00 start stays 09:00 on the wall clock
across a daylight-saving change; a local start that does not exist (the skipped hour) is
skipped and an ambiguous one (the repeated hour) means its first occurrence.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    tz: str
    weekly: Mapping[int, Sequence[tuple[time, time]]]
    """Weekday (0 = Monday … 6 = Sunday) to (start, end) local working intervals."""
    overrides: Mapping[date, Sequence[tuple[time, time]]] = field(default_factory=dict)
    """A date's own intervals, replacing the weekday's; an empty list is a day off."""
    slot_minutes: int = 15
    buffer_before: int = 0
    buffer_after: int = 0
    min_notice_minutes: int = 60
    horizon_days: int = 14

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {self.tz!r} (use an IANA name, e.g. Asia/Kolkata)"
            ) from None
        if not 5 <= self.slot_minutes <= 240:
            raise ValueError("slot length must be between 5 and 240 minutes")
        for name in ("buffer_before", "buffer_after"):
            if not 0 <= getattr(self, name) <= 120:
                raise ValueError(f"{name.replace('_', ' ')} must be between 0 and 120 minutes")
        if not 0 <= self.min_notice_minutes <= 10080:
            raise ValueError("minimum notice must be between 0 minutes and 7 days")
        if not 1 <= self.horizon_days <= 90:
            raise ValueError("bookings can be opened between 1 and 90 days ahead")
        for day, intervals in self.weekly.items():
            if day not in range(7):
                raise ValueError(f"weekday {day} is not 0 (Monday) to 6 (Sunday)")
            _check(intervals, f"weekday {day}")
        for on, intervals in self.overrides.items():
            _check(intervals, on.isoformat())

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def intervals_on(self, day: date) -> Sequence[tuple[time, time]]:
        if day in self.overrides:
            return self.overrides[day]
        return self.weekly.get(day.weekday(), ())


def _check(intervals: Sequence[tuple[time, time]], where: str) -> None:
    ordered = sorted(intervals)
    for start, end in ordered:
        if end <= start:
            raise ValueError(f"{where}: {start:%H:%M}-{end:%H:%M} ends before it starts")
    for (_, end), (start, _) in itertools.pairwise(ordered):
        if start < end:
            raise ValueError(f"{where}: working hours overlap")


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must carry a time zone")
    return moment.astimezone(UTC)


def _local_start(day: date, at: time, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a local wall-clock time, None when that time does not exist."""
    local = datetime.combine(day, at, tzinfo=zone).replace(fold=0)
    back = local.astimezone(UTC).astimezone(zone)
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):
        return None  # the hour the clocks skip
    return local.astimezone(UTC)


def _occupied(
    schedule: Schedule, busy: Sequence[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """Each booking with its buffers: an appointment holds the official from ``buffer_before``
    ahead of it to ``buffer_after`` beyond it, and two such spans may not overlap."""
    before = timedelta(minutes=schedule.buffer_before)
    after = timedelta(minutes=schedule.buffer_after)
    return [(_aware(s, "a booking") - before, _aware(e, "a booking") + after) for s, e in busy]


def _overlaps(start: datetime, end: datetime, busy: Sequence[tuple[datetime, datetime]]) -> bool:
    return any(b_start < end and start < b_end for b_start, b_end in busy)


def _day_slots(schedule: Schedule, day: date) -> list[datetime]:
    zone = schedule.zone
    step = timedelta(minutes=schedule.slot_minutes)
    out: list[datetime] = []
    for start_at, end_at in schedule.intervals_on(day):
        # Walk the wall clock: each slot start is a local time, converted on its own.
        cursor = datetime.combine(day, start_at)
        limit = datetime.combine(day, end_at)
        while cursor + step <= limit:
            start = _local_start(day, cursor.time(), zone)
            if start is not None:
                out.append(start)
            cursor += step
    return out


def free_slots(
    schedule: Schedule,
    busy: Sequence[tuple[datetime, datetime]],
    *,
    now: datetime,
    days: int | None = None,
) -> list[datetime]:
    """Slot starts (UTC, sorted) a citizen can book: inside hours, clear of bookings with
    their buffers, after the minimum notice and within the horizon."""
    now = _aware(now, "now")
    taken = _occupied(schedule, busy)
    horizon = min(days, schedule.horizon_days) if days is not None else schedule.horizon_days
    earliest = now + timedelta(minutes=schedule.min_notice_minutes)
    latest = now + timedelta(days=horizon)
    before = timedelta(minutes=schedule.buffer_before)
    after = timedelta(minutes=schedule.buffer_after)
    length = timedelta(minutes=schedule.slot_minutes)
    first_day = now.astimezone(schedule.zone).date()
    found: set[datetime] = set()
    for offset in range(horizon + 2):
        for start in _day_slots(schedule, first_day + timedelta(days=offset)):
            if start < earliest or start > latest:
                continue
            if _overlaps(start - before, start + length + after, taken):
                continue
            found.add(start)
    return sorted(found)


def fits(
    schedule: Schedule,
    busy: Sequence[tuple[datetime, datetime]],
    start: datetime,
    *,
    now: datetime,
) -> bool:
    """Whether ``start`` is one of ``free_slots`` (checked again just before booking)."""
    start = _aware(start, "start")
    now = _aware(now, "now")
    if start < now + timedelta(minutes=schedule.min_notice_minutes):
        return False
    if start > now + timedelta(days=schedule.horizon_days):
        return False
    day = start.astimezone(schedule.zone).date()
    candidates = {s for d in (day - timedelta(days=1), day) for s in _day_slots(schedule, d)}
    if start not in candidates:
        return False
    taken = _occupied(schedule, busy)
    length = timedelta(minutes=schedule.slot_minutes)
    return not _overlaps(
        start - timedelta(minutes=schedule.buffer_before),
        start + length + timedelta(minutes=schedule.buffer_after),
        taken,
    )


def merge_free(per_official: Mapping[int, list[datetime]]) -> list[tuple[datetime, list[int]]]:
    """One list for a department: each free start with the officials free then."""
    who: dict[datetime, list[int]] = {}
    for official, starts in per_official.items():
        for start in starts:
            who.setdefault(start, []).append(official)
    return [(start, sorted(who[start])) for start in sorted(who)]
