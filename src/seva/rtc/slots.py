"""Officials' published hours turned into bookable appointment slots (Cal.com's model).

An official publishes weekly working hours in their own IANA time zone, date overrides (other
hours on one date, or a day off), a slot length, buffers before and after each appointment, a
minimum notice and a booking horizon, as Cal.com's availability schedules and event types do.
Everything here is pure: the current time and the official's existing bookings are passed in,
and every instant handed back is an aware ``datetime`` in UTC.

Rules, and where they go beyond the obvious:

* Hours are wall-clock times on a local day in the schedule's zone (``zoneinfo``, i.e. the IANA
  tz database), so a 09:00 start stays 09:00 on the wall clock on both sides of a daylight-
  saving change; its UTC instant moves by the hour instead. An interval lies within one local
  day: an end of ``00:00`` means midnight at the end of that day (the only end not after its
  start); a night shift across midnight is published as two intervals, one on each day.
* Slot starts are laid out on the wall clock from each interval's start in steps of the slot
  length. A slot lasts ``slot_minutes`` of real time and must end by the interval's end.
  Where the clocks change inside an interval: a start in the skipped hour does not exist and
  is left out; an ambiguous start (the repeated hour) means its first occurrence (PEP 495
  ``fold=0``), and so does an ambiguous end; an end in the skipped hour means the moment the
  clocks jump. Only shifts around 01:00-02:00 local time ever meet these cases.
* Buffers: an appointment holds the official from ``buffer_before`` ahead of it to
  ``buffer_after`` beyond it, and a slot is free when its held span overlaps no existing
  booking's held span. ``busy`` lists bookings as booked, without buffers; both sides are
  widened here, as Cal.com widens existing bookings by their event type's buffers before
  checking a slot widened by its own. (Widening only the candidate would let a slot start the
  minute an appointment ends, ignoring that appointment's ``buffer_after``.)
* A slot must start no earlier than ``now`` plus the minimum notice and no later than ``now``
  plus the horizon (or plus ``days`` when a caller asks for fewer days).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["Schedule", "fits", "free_slots", "merge_free"]

Interval = tuple[time, time]
"""A local working interval (start, end); an end of ``00:00`` is midnight ending the day."""

_MIDNIGHT = time(0)
_DAY = timedelta(days=1)
_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """One official's published availability; refused (ValueError) when any part is invalid.

    ``weekly`` and ``overrides`` are copied on construction into read-only mappings of sorted
    tuples, so a schedule cannot change after it was checked.
    """

    tz: str
    """IANA time zone of the hours, e.g. ``Asia/Kolkata``."""
    weekly: Mapping[int, Sequence[Interval]]
    """Weekday (0 = Monday … 6 = Sunday) to its local working intervals."""
    overrides: Mapping[date, Sequence[Interval]] = field(default_factory=dict)
    """A date's own intervals, replacing its weekday's; an empty list is a day off."""
    slot_minutes: int = 15
    buffer_before: int = 0
    buffer_after: int = 0
    min_notice_minutes: int = 60
    horizon_days: int = 14

    def __post_init__(self) -> None:
        if not isinstance(self.tz, str) or not self.tz:
            raise ValueError("the time zone must be an IANA name, e.g. Asia/Kolkata")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {self.tz!r} (use an IANA name, e.g. Asia/Kolkata)"
            ) from None
        _check_range("slot length", self.slot_minutes, 5, 240, "minutes")
        _check_range("buffer before", self.buffer_before, 0, 120, "minutes")
        _check_range("buffer after", self.buffer_after, 0, 120, "minutes")
        _check_range("minimum notice", self.min_notice_minutes, 0, 10080, "minutes (7 days)")
        _check_range("booking horizon", self.horizon_days, 1, 90, "days")
        weekly: dict[int, tuple[Interval, ...]] = {}
        for day, intervals in self.weekly.items():
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise ValueError(f"weekday {day!r} is not 0 (Monday) to 6 (Sunday)")
            weekly[day] = _checked(intervals, _WEEKDAYS[day])
        overrides: dict[date, tuple[Interval, ...]] = {}
        for on, intervals in self.overrides.items():
            if isinstance(on, datetime) or not isinstance(on, date):
                raise ValueError(f"an override is keyed by a date, not {on!r}")
            overrides[on] = _checked(intervals, on.isoformat())
        object.__setattr__(self, "weekly", MappingProxyType(weekly))
        object.__setattr__(self, "overrides", MappingProxyType(overrides))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)  # ZoneInfo caches instances by key

    def intervals_on(self, day: date) -> Sequence[Interval]:
        """The local working intervals of ``day``: its override if it has one, else its
        weekday's."""
        if day in self.overrides:
            return self.overrides[day]
        return self.weekly.get(day.weekday(), ())


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _check_range(what: str, value: int, low: int, high: int, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(
            f"{what} must be a whole number from {low} to {high} {unit}, not {value!r}"
        )


def _checked(intervals: Sequence[Interval], where: str) -> tuple[Interval, ...]:
    out: list[Interval] = []
    for pair in intervals:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ValueError(f"{where}: hours are (start, end) pairs of times")
        start, end = pair
        if not isinstance(start, time) or not isinstance(end, time):
            raise ValueError(f"{where}: hours are (start, end) pairs of times")
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"{where}: hours are local times; the zone is the schedule's")
        if end != _MIDNIGHT and end <= start:
            raise ValueError(f"{where}: {start:%H:%M}-{end:%H:%M} must end after it starts")
        out.append((start, end))
    out.sort(key=lambda pair: (pair[0], _end_key(pair[1])))
    for (start, end), (later, later_end) in itertools.pairwise(out):
        if _end_key(end) > datetime.combine(date.min, later):
            raise ValueError(
                f"{where}: working hours overlap ({start:%H:%M}-{end:%H:%M} and "
                f"{later:%H:%M}-{later_end:%H:%M})"
            )
    return tuple(out)


def _end_key(end: time) -> datetime:
    """An interval end on an arbitrary day, with midnight after every other time."""
    return (
        datetime.combine(date.min + _DAY, end)
        if end == _MIDNIGHT
        else datetime.combine(date.min, end)
    )


# -- instants -------------------------------------------------------------------------------


def _utc(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime):
        raise ValueError(f"{what} must be a datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must carry a time zone (got {moment.isoformat()})")
    return moment.astimezone(UTC)


def _start_instant(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a naive local time (its first occurrence), None in the skipped hour."""
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant


def _end_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant the wall clock reaches ``wall``: its first occurrence, or for a time
    in the skipped hour, the moment the clocks jump past it."""
    exact = _start_instant(wall, zone)
    if exact is not None:
        return exact
    # In a gap, fold=0 and fold=1 give instants on either side of the jump; find the jump.
    ends = sorted(wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    low, high = int(ends[0].timestamp()), int(ends[1].timestamp())
    while low < high:  # the first whole second whose wall clock is past ``wall``
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) > wall:
            high = middle
        else:
            low = middle + 1
    return datetime.fromtimestamp(low, UTC)


def _walls(day: date, interval: Interval) -> tuple[datetime, datetime]:
    start, end = interval
    end_day = day + _DAY if end == _MIDNIGHT else day
    return datetime.combine(day, start), datetime.combine(end_day, end)


def _day_slots(schedule: Schedule, day: date) -> Iterator[datetime]:
    """Every slot start of a local day, in UTC and in order, before bookings and the window."""
    zone = schedule.zone
    step = timedelta(minutes=schedule.slot_minutes)
    for interval in schedule.intervals_on(day):
        first, last = _walls(day, interval)
        close = _end_instant(last, zone)
        wall = first
        while wall < last:
            start = _start_instant(wall, zone)
            if start is not None and start + step <= close:
                yield start
            wall += step


def _is_slot(schedule: Schedule, start: datetime) -> bool:
    """Whether ``start`` (UTC) is one of its local day's slot starts, without listing them."""
    zone = schedule.zone
    step = timedelta(minutes=schedule.slot_minutes)
    wall = start.astimezone(zone).replace(tzinfo=None)
    for interval in schedule.intervals_on(wall.date()):
        first, last = _walls(wall.date(), interval)
        if first <= wall < last:  # intervals do not overlap: this is the only candidate
            return (
                (wall - first) % step == _ZERO
                and _start_instant(wall, zone) == start  # not the repeated hour's second run
                and start + step <= _end_instant(last, zone)
            )
    return False


# -- bookings -------------------------------------------------------------------------------


class _Held:
    """The spans existing bookings hold, buffers included, merged for bisecting."""

    __slots__ = ("_after", "_before", "_ends", "_starts")

    def __init__(self, schedule: Schedule, busy: Sequence[tuple[datetime, datetime]]) -> None:
        self._before = timedelta(minutes=schedule.buffer_before)
        self._after = timedelta(minutes=schedule.buffer_after)
        spans: list[tuple[datetime, datetime]] = []
        for booked_start, booked_end in busy:
            start, end = (
                _utc(booked_start, "a booking's start"),
                _utc(booked_end, "a booking's end"),
            )
            if end < start:
                raise ValueError(f"a booking ends before it starts: {start} - {end}")
            spans.append((start - self._before, end + self._after))
        spans.sort()
        self._starts: list[datetime] = []
        self._ends: list[datetime] = []
        for start, end in spans:
            if self._ends and start <= self._ends[-1]:
                self._ends[-1] = max(self._ends[-1], end)
            else:
                self._starts.append(start)
                self._ends.append(end)

    def clear(self, start: datetime, length: timedelta) -> bool:
        """Whether an appointment at ``start`` holds a span no booking's span overlaps."""
        held_start, held_end = start - self._before, start + length + self._after
        at = bisect.bisect_right(self._ends, held_start)  # first span ending after held_start
        return at == len(self._starts) or self._starts[at] >= held_end


def _window(schedule: Schedule, now: datetime, days: int | None) -> tuple[datetime, datetime]:
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        raise ValueError(f"days must be a whole number of days, 0 or more, not {days!r}")
    horizon = schedule.horizon_days if days is None else min(days, schedule.horizon_days)
    return now + timedelta(minutes=schedule.min_notice_minutes), now + timedelta(days=horizon)


# -- public ---------------------------------------------------------------------------------


def free_slots(
    schedule: Schedule,
    busy: Sequence[tuple[datetime, datetime]],
    *,
    now: datetime,
    days: int | None = None,
) -> list[datetime]:
    """Slot starts (UTC, sorted, unique) a citizen can book with this official.

    ``busy`` holds the official's existing bookings as (start, end) aware datetimes in any
    zone; ``days`` shortens the horizon (it never lengthens it).
    """
    now = _utc(now, "now")
    earliest, latest = _window(schedule, now, days)
    held = _Held(schedule, busy)
    length = timedelta(minutes=schedule.slot_minutes)
    zone = schedule.zone
    day, last_day = earliest.astimezone(zone).date(), latest.astimezone(zone).date()
    found: list[datetime] = []
    while day <= last_day:
        found.extend(
            start
            for start in _day_slots(schedule, day)
            if earliest <= start <= latest and held.clear(start, length)
        )
        day += _DAY
    # Walking days and non-overlapping intervals in order already yields sorted, unique
    # starts; sorting a set is cheap insurance for the promise in the docstring.
    return sorted(set(found))


def fits(
    schedule: Schedule,
    busy: Sequence[tuple[datetime, datetime]],
    start: datetime,
    *,
    now: datetime,
) -> bool:
    """Whether ``start`` is one of ``free_slots(schedule, busy, now=now)``: the check made
    again inside the booking transaction. It looks at ``start``'s own local day only."""
    start = _utc(start, "start")
    now = _utc(now, "now")
    earliest, latest = _window(schedule, now, None)
    if not earliest <= start <= latest or not _is_slot(schedule, start):
        return False
    return _Held(schedule, busy).clear(start, timedelta(minutes=schedule.slot_minutes))


def merge_free(per_official: Mapping[int, Sequence[datetime]]) -> list[tuple[datetime, list[int]]]:
    """A department's one list: each start any official is free at (UTC, in order), with the
    sorted ids of the officials free then, for booking to choose from."""
    who: dict[datetime, set[int]] = {}
    for official, starts in per_official.items():
        for start in starts:
            who.setdefault(_utc(start, "a slot start"), set()).add(official)
    return [(start, sorted(who[start])) for start in sorted(who)]
