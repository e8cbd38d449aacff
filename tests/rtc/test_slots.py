"""Published hours to bookable slots: exact cases in tables, then properties over random
schedules, bookings and zones (including ones whose clocks change at 01:00, at midnight and
by half an hour)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seva.rtc.slots import Schedule, fits, free_slots, merge_free

IST = ZoneInfo("Asia/Kolkata")
LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 11, 30)
TUESDAY = MONDAY + timedelta(days=1)
WEDNESDAY = MONDAY + timedelta(days=2)


def at(day: date, hh: int, mm: int = 0, zone: ZoneInfo = IST) -> datetime:
    """A local wall-clock time as an aware UTC datetime (first occurrence)."""
    return datetime.combine(day, time(hh, mm), tzinfo=zone).astimezone(UTC)


def ist(*hhmm: tuple[int, int], day: date = MONDAY) -> list[datetime]:
    return [at(day, hh, mm) for hh, mm in hhmm]


def mornings(**fields: Any) -> Schedule:
    """Mondays 10:00-12:00 in India, half-hour slots, no notice: the schedule of most cases."""
    values: dict[str, Any] = {
        "tz": "Asia/Kolkata",
        "weekly": {0: [(time(10), time(12))]},
        "slot_minutes": 30,
        "min_notice_minutes": 0,
        "horizon_days": 7,
    }
    values.update(fields)
    return Schedule(**values)


EARLY = at(MONDAY, 8)


def test_monday_mornings_in_half_hours_are_exact_utc_instants() -> None:
    assert free_slots(mornings(), [], now=EARLY, days=1) == [
        datetime(2026, 11, 30, 4, 30, tzinfo=UTC),  # 10:00 IST is UTC+5:30
        datetime(2026, 11, 30, 5, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 30, 6, 0, tzinfo=UTC),
    ]
    assert all(s.tzinfo is UTC for s in free_slots(mornings(), [], now=EARLY))


@pytest.mark.parametrize(
    ("case", "fields", "busy", "expected"),
    [
        ("no bookings", {}, [], ist((10, 0), (10, 30), (11, 0), (11, 30))),
        (
            "a booking takes its slot",
            {},
            [(at(MONDAY, 10, 30), at(MONDAY, 11))],
            ist((10, 0), (11, 0), (11, 30)),
        ),
        (
            "a booking given in UTC is the same booking",
            {},
            [(datetime(2026, 11, 30, 5, tzinfo=UTC), datetime(2026, 11, 30, 5, 30, tzinfo=UTC))],
            ist((10, 0), (11, 0), (11, 30)),
        ),
        (
            "an unaligned booking blocks every slot it touches",
            {},
            [(at(MONDAY, 10, 20), at(MONDAY, 10, 40))],
            ist((11, 0), (11, 30)),
        ),
        (
            # Held spans: booking 10:20-11:00; slot 10:00 holds 09:50-10:30 and slot 11:00
            # holds 10:50-11:30, both overlap; 11:30 holds 11:20-12:00.
            "buffer before, both sides",
            {"buffer_before": 10},
            [(at(MONDAY, 10, 30), at(MONDAY, 11))],
            ist(
                (11, 30),
            ),
        ),
        (
            # The booking holds 10:30-11:05, so 11:00 is out although it only starts then:
            # the appointment before it still has its five minutes.
            "buffer after, both sides",
            {"buffer_after": 5},
            [(at(MONDAY, 10, 30), at(MONDAY, 11))],
            ist(
                (11, 30),
            ),
        ),
        (
            "a booking after hours still holds its buffer before",
            {"buffer_before": 10},
            [(at(MONDAY, 12), at(MONDAY, 12, 30))],
            ist((10, 0), (10, 30), (11, 0)),
        ),
        (
            "a booking ending just before a slot leaves it free",
            {},
            [(at(MONDAY, 9), at(MONDAY, 10))],
            ist((10, 0), (10, 30), (11, 0), (11, 30)),
        ),
        (
            "overlapping bookings merge",
            {},
            [(at(MONDAY, 10), at(MONDAY, 10, 45)), (at(MONDAY, 10, 15), at(MONDAY, 11, 15))],
            ist(
                (11, 30),
            ),
        ),
        ("slots fit whole inside the hours", {"slot_minutes": 45}, [], ist((10, 0), (10, 45))),
        (
            "each interval lays out its own slots",
            {"weekly": {0: [(time(10), time(11)), (time(11, 10), time(12))]}},
            [],
            ist((10, 0), (10, 30), (11, 10)),
        ),
    ],
)
def test_bookings_and_buffers(
    case: str,
    fields: dict[str, Any],
    busy: list[tuple[datetime, datetime]],
    expected: list[datetime],
) -> None:
    assert free_slots(mornings(**fields), busy, now=EARLY, days=1) == expected, case


@pytest.mark.parametrize(
    ("now", "notice", "expected"),
    [
        (at(MONDAY, 10), 0, ist((10, 0), (10, 30), (11, 0), (11, 30))),
        (at(MONDAY, 10) + timedelta(seconds=1), 0, ist((10, 30), (11, 0), (11, 30))),
        (
            at(MONDAY, 10, 15),
            60,
            ist(
                (11, 30),
            ),
        ),
        (
            at(MONDAY, 10, 30),
            60,
            ist(
                (11, 30),
            ),
        ),
        (at(MONDAY, 9), 24 * 60, []),
    ],
)
def test_minimum_notice(now: datetime, notice: int, expected: list[datetime]) -> None:
    assert free_slots(mornings(min_notice_minutes=notice), [], now=now, days=1) == expected


def test_overrides_win_over_the_week() -> None:
    schedule = mornings(
        weekly={0: [(time(10), time(12))], 1: [(time(10), time(11))]},
        overrides={
            MONDAY: [],  # a day off
            TUESDAY: [(time(15), time(16))],  # other hours
            WEDNESDAY: [(time(9), time(9, 30))],  # hours on a day the week has none
        },
    )
    assert free_slots(schedule, [], now=EARLY, days=3) == [
        at(TUESDAY, 15),
        at(TUESDAY, 15, 30),
        at(WEDNESDAY, 9),
    ]
    # The week resumes the Monday after.
    next_monday = MONDAY + timedelta(days=7)
    assert free_slots(schedule, [], now=at(next_monday, 8), days=1) == ist(
        (10, 0), (10, 30), (11, 0), (11, 30), day=next_monday
    )


def test_the_horizon_and_days_cut_off() -> None:
    next_monday = MONDAY + timedelta(days=7)
    # From 08:00, next Monday 10:00 is 7 days and 2 hours away: past a 7-day horizon.
    assert free_slots(mornings(), [], now=EARLY) == free_slots(mornings(), [], now=EARLY, days=1)
    # From 10:01 it is inside, but 10:30 is not: a slot must start by now + horizon.
    late = free_slots(mornings(), [], now=at(MONDAY, 10, 1))
    assert late[-1] == at(next_monday, 10)
    assert at(next_monday, 10, 30) not in late
    # ``days`` shortens the horizon and never lengthens it.
    assert free_slots(mornings(), [], now=EARLY, days=30) == free_slots(mornings(), [], now=EARLY)
    assert free_slots(mornings(), [], now=EARLY, days=0) == []
    with pytest.raises(ValueError, match="days"):
        free_slots(mornings(), [], now=EARLY, days=-1)


def test_london_keeps_the_wall_clock_across_the_autumn_change() -> None:
    sundays = Schedule(
        tz="Europe/London", weekly={6: [(time(9), time(10))]}, slot_minutes=60, min_notice_minutes=0
    )
    # The clocks go back at 02:00 BST on Sunday 25 October 2026: 09:00 BST, then 09:00 GMT.
    found = free_slots(sundays, [], now=datetime(2026, 10, 17, tzinfo=UTC))
    assert found == [datetime(2026, 10, 18, 8, tzinfo=UTC), datetime(2026, 10, 25, 9, tzinfo=UTC)]
    assert [s.astimezone(LONDON).time() for s in found] == [time(9), time(9)]


def test_london_keeps_the_wall_clock_across_the_spring_change() -> None:
    sundays = Schedule(
        tz="Europe/London", weekly={6: [(time(9), time(10))]}, slot_minutes=60, min_notice_minutes=0
    )
    found = free_slots(sundays, [], now=datetime(2026, 3, 21, tzinfo=UTC))
    assert found == [datetime(2026, 3, 22, 9, tzinfo=UTC), datetime(2026, 3, 29, 8, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("hours", "slot", "day", "expected"),
    [
        # Spring, 29 March 2026: 01:00 GMT jumps to 02:00 BST. 01:00-01:59 does not exist.
        ((time(0), time(3)), 30, date(2026, 3, 29), ["00:00Z", "00:30Z", "01:00Z", "01:30Z"]),
        # An end in the skipped hour is the jump: 00:30-01:00 GMT still fits…
        ((time(0), time(1, 30)), 30, date(2026, 3, 29), ["00:00Z", "00:30Z"]),
        # …but 00:45 GMT for 45 minutes would run to 02:30 BST, past the hours.
        ((time(0), time(1, 30)), 45, date(2026, 3, 29), ["00:00Z"]),
        # A start in the skipped hour: the first slot that exists is 02:00 BST.
        ((time(1, 30), time(3)), 30, date(2026, 3, 29), ["01:00Z", "01:30Z"]),
        # Autumn, 25 October 2026: 02:00 BST goes back to 01:00 GMT; 01:xx happens twice and
        # means its first run. The second 01:00-02:00 is not offered.
        (
            (time(0), time(3)),
            30,
            date(2026, 10, 25),
            ["2026-10-24T23:00Z", "2026-10-24T23:30Z", "00:00Z", "00:30Z", "02:00Z", "02:30Z"],
        ),
        ((time(0), time(3)), 60, date(2026, 10, 25), ["2026-10-24T23:00Z", "00:00Z", "02:00Z"]),
        # An ambiguous end is its first run too: slots must end by 01:30 BST (00:30 UTC)…
        (
            (time(0), time(1, 30)),
            30,
            date(2026, 10, 25),
            ["2026-10-24T23:00Z", "2026-10-24T23:30Z", "00:00Z"],
        ),
        # …or 01:45 BST: 01:30 BST would end at 01:00 GMT, an earlier wall time but 15
        # minutes after the hours ended.
        (
            (time(0), time(1, 45)),
            30,
            date(2026, 10, 25),
            ["2026-10-24T23:00Z", "2026-10-24T23:30Z", "00:00Z"],
        ),
    ],
)
def test_london_nights_when_the_clocks_change(
    hours: tuple[time, time], slot: int, day: date, expected: list[str]
) -> None:
    nights = Schedule(
        tz="Europe/London", weekly={6: [hours]}, slot_minutes=slot, min_notice_minutes=0
    )
    two_days_before = datetime.combine(day - timedelta(days=2), time(), tzinfo=UTC)
    found = free_slots(nights, [], now=two_days_before, days=7)

    def utc(text: str) -> datetime:
        full = text if "T" in text else f"{day.isoformat()}T{text}"
        return datetime.fromisoformat(full.replace("Z", "+00:00"))

    assert [s for s in found if s.astimezone(LONDON).date() == day] == [utc(t) for t in expected]


def test_the_second_run_of_a_repeated_hour_is_not_a_slot() -> None:
    nights = Schedule(
        tz="Europe/London", weekly={6: [(time(0), time(3))]}, slot_minutes=30, min_notice_minutes=0
    )
    now = datetime(2026, 10, 20, tzinfo=UTC)
    first_run = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)  # 01:00 BST
    second_run = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 01:00 GMT, the same wall time
    assert first_run.astimezone(LONDON).time() == second_run.astimezone(LONDON).time()
    assert fits(nights, [], first_run, now=now)
    assert not fits(nights, [], second_run, now=now)


def test_hours_may_run_to_midnight() -> None:
    evenings = mornings(weekly={0: [(time(23), time(0))]})
    assert free_slots(evenings, [], now=EARLY, days=1) == ist((23, 0), (23, 30))
    whole_day = mornings(weekly={0: [(time(0), time(0))]}, slot_minutes=240)
    assert len(free_slots(whole_day, [], now=at(MONDAY, 0), days=1)) == 6


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"tz": ""}, "IANA name"),
        ({"tz": "../etc/passwd"}, "unknown time zone"),
        ({"weekly": {7: [(time(9), time(10))]}}, "weekday 7 is not 0"),
        ({"weekly": {0: [(time(10), time(9))]}}, "Monday: 10:00-09:00 must end after it starts"),
        ({"weekly": {0: [(time(10), time(10))]}}, "must end after it starts"),
        ({"weekly": {0: [(time(9), time(11)), (time(10), time(12))]}}, "Monday: .*overlap"),
        ({"weekly": {0: [(time(9), time(0)), (time(23), time(23, 30))]}}, "overlap"),
        ({"weekly": {0: [(time(9),)]}}, "pairs of times"),
        ({"weekly": {0: [("09:00", "10:00")]}}, "pairs of times"),
        ({"weekly": {0: [(time(9, tzinfo=UTC), time(10, tzinfo=UTC))]}}, "local times"),
        ({"overrides": {MONDAY: [(time(12), time(11))]}}, "2026-11-30: 12:00-11:00"),
        ({"overrides": {datetime(2026, 11, 30): []}}, "keyed by a date"),
        ({"slot_minutes": 4}, "slot length must be a whole number from 5 to 240"),
        ({"slot_minutes": 241}, "slot length"),
        ({"buffer_before": -1}, "buffer before"),
        ({"buffer_after": 121}, "buffer after"),
        ({"min_notice_minutes": 10081}, "minimum notice"),
        ({"horizon_days": 0}, "booking horizon"),
        ({"horizon_days": 91}, "booking horizon"),
        ({"horizon_days": True}, "booking horizon"),
    ],
)
def test_invalid_schedules_are_refused_with_a_reason(
    fields: dict[str, object], message: str
) -> None:
    values: dict[str, object] = {"tz": "Asia/Kolkata", "weekly": {}}
    values.update(fields)
    with pytest.raises(ValueError, match=message):
        Schedule(**values)  # type: ignore[arg-type]


def test_a_schedule_does_not_change_after_it_was_checked() -> None:
    weekly = {0: [(time(10), time(12))]}
    schedule = mornings(weekly=weekly)
    weekly[0].append((time(11), time(13)))  # would overlap, had it been taken
    weekly[1] = [(time(9), time(10))]
    assert schedule.intervals_on(MONDAY) == ((time(10), time(12)),)
    assert schedule.intervals_on(TUESDAY) == ()
    with pytest.raises(TypeError):
        schedule.weekly[2] = []  # type: ignore[index]


@pytest.mark.parametrize(
    "call",
    [
        lambda: free_slots(mornings(), [], now=datetime(2026, 11, 30, 8)),
        lambda: free_slots(mornings(), [(datetime(2026, 11, 30, 10), EARLY)], now=EARLY),
        lambda: fits(mornings(), [], datetime(2026, 11, 30, 10), now=EARLY),
        lambda: fits(mornings(), [], at(MONDAY, 10), now=datetime(2026, 11, 30, 8)),
        lambda: merge_free({1: [datetime(2026, 11, 30, 10)]}),
    ],
)
def test_times_without_a_zone_are_refused(call: Any) -> None:
    with pytest.raises(ValueError, match="time zone"):
        call()


def test_a_booking_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        free_slots(mornings(), [(at(MONDAY, 11), at(MONDAY, 10))], now=EARLY)


@pytest.mark.parametrize(
    ("start", "busy", "now", "expected"),
    [
        (at(MONDAY, 10), [], EARLY, True),
        (at(MONDAY, 10).astimezone(IST), [], EARLY.astimezone(LONDON), True),
        (at(MONDAY, 10, 15), [], EARLY, False),  # off the half-hour grid
        (at(MONDAY, 10) + timedelta(seconds=1), [], EARLY, False),
        (at(MONDAY, 12), [], EARLY, False),  # would end after hours
        (at(MONDAY, 9, 30), [], EARLY, False),  # before hours
        (at(TUESDAY, 10), [], EARLY, False),  # no hours on Tuesday
        (at(MONDAY, 10), [(at(MONDAY, 10, 15), at(MONDAY, 10, 20))], EARLY, False),
        (at(MONDAY, 10), [], at(MONDAY, 10, 1), False),  # already started
        (at(MONDAY + timedelta(days=7), 10), [], EARLY, False),  # past the horizon
        (at(MONDAY + timedelta(days=7), 10), [], at(MONDAY, 10), True),
    ],
)
def test_fits(
    start: datetime, busy: list[tuple[datetime, datetime]], now: datetime, expected: bool
) -> None:
    assert fits(mornings(), busy, start, now=now) is expected
    assert (start in free_slots(mornings(), busy, now=now)) is expected


def test_a_department_list_names_who_is_free() -> None:
    a, b, c = at(MONDAY, 10), at(MONDAY, 10, 30), at(MONDAY, 11)
    assert merge_free({7: [a, b], 3: [b], 5: [c, b, b]}) == [(a, [7]), (b, [3, 5, 7]), (c, [5])]
    # The same instant in another zone is the same slot; the list speaks UTC.
    merged = merge_free({1: [b], 2: [b.astimezone(IST)]})
    assert merged == [(b, [1, 2])] and merged[0][0].tzinfo is UTC
    assert merge_free({}) == [] and merge_free({4: []}) == []


# -- properties -----------------------------------------------------------------------------

# 2026 clock changes (UTC): at 01:00 (London), at 02:00 local (New York), at midnight local
# (Santiago) and by half an hour (Lord Howe); India has none.
CHANGES = {
    "Asia/Kolkata": [datetime(2026, 11, 30, tzinfo=UTC)],
    "Europe/London": [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)],
    "America/New_York": [
        datetime(2026, 3, 8, 7, tzinfo=UTC),
        datetime(2026, 11, 1, 6, tzinfo=UTC),
    ],
    "America/Santiago": [
        datetime(2026, 4, 5, 3, tzinfo=UTC),
        datetime(2026, 9, 6, 4, tzinfo=UTC),
    ],
    "Australia/Lord_Howe": [
        datetime(2026, 4, 4, 15, tzinfo=UTC),
        datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
    ],
}
ZONES = list(CHANGES)


def clock(five_minutes: int) -> time:
    minutes = five_minutes * 5 % 1440  # 24:00 is written 00:00, the day's end
    return time(minutes // 60, minutes % 60)


# Cut points on a 5-minute grid, drawn often around 00:00-03:00, where clocks change.
cut = st.one_of(st.integers(0, 288), st.sampled_from([0, 6, 12, 18, 24, 30, 36, 276, 288]))


@st.composite
def day_hours(draw: st.DrawFn) -> list[tuple[time, time]]:
    cuts = sorted(draw(st.sets(cut, min_size=2, max_size=4)))
    return [(clock(a), clock(b)) for a, b in zip(cuts[::2], cuts[1::2], strict=False)]


@st.composite
def situations(
    draw: st.DrawFn, zones: Sequence[str] = ZONES
) -> tuple[Schedule, datetime, list[tuple[datetime, datetime]]]:
    """A schedule, a ``now`` up to two days before one of its zone's clock changes, and
    bookings around it."""
    tz = draw(st.sampled_from(zones))
    change = draw(st.sampled_from(CHANGES[tz]))
    now = change - timedelta(minutes=draw(st.integers(0, 2 * 1440)))
    schedule = Schedule(
        tz=tz,
        weekly=draw(st.dictionaries(st.integers(0, 6), day_hours(), min_size=4, max_size=7)),
        overrides=draw(
            st.dictionaries(
                st.integers(-1, 5).map(lambda d: now.date() + timedelta(days=d)),
                day_hours(),
                max_size=3,
            )
        ),
        slot_minutes=draw(st.sampled_from([5, 15, 20, 30, 45, 60, 90])),
        buffer_before=draw(st.sampled_from([0, 5, 10, 30])),
        buffer_after=draw(st.sampled_from([0, 5, 15])),
        min_notice_minutes=draw(st.sampled_from([0, 0, 30, 60, 24 * 60])),
        horizon_days=draw(st.integers(1, 4)),
    )
    busy = [
        (now + timedelta(minutes=start), now + timedelta(minutes=start + length))
        for start, length in draw(
            st.lists(st.tuples(st.integers(-120, 5 * 1440), st.integers(0, 180)), max_size=8)
        )
    ]
    return schedule, now, busy


def held(schedule: Schedule, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    return (
        start - timedelta(minutes=schedule.buffer_before),
        end + timedelta(minutes=schedule.buffer_after),
    )


@settings(max_examples=300, deadline=None)
@given(situation=situations(), probes=st.lists(st.integers(-30, 5 * 1440), max_size=12))
def test_free_slots_are_inside_hours_clear_of_bookings_and_agree_with_fits(
    situation: tuple[Schedule, datetime, list[tuple[datetime, datetime]]], probes: list[int]
) -> None:
    schedule, now, busy = situation
    zone = schedule.zone
    length = timedelta(minutes=schedule.slot_minutes)
    found = free_slots(schedule, busy, now=now)

    assert found == sorted(set(found))
    assert all(s.tzinfo is UTC for s in found)
    for start in found:
        assert now + timedelta(minutes=schedule.min_notice_minutes) <= start
        assert start <= now + timedelta(days=schedule.horizon_days)
        # Inside an interval of its local day, on that interval's grid, its first run.
        wall = start.astimezone(zone).replace(tzinfo=None)
        assert wall.replace(tzinfo=zone, fold=0).astimezone(UTC) == start
        last_second = (start + length - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None)
        inside = []
        for begin, end in schedule.intervals_on(wall.date()):
            first = datetime.combine(wall.date(), begin)
            last = datetime.combine(wall.date() + timedelta(days=end == time(0)), end)
            if first <= wall < last:
                inside.append((wall - first) % length == timedelta(0) and last_second < last)
        assert inside == [True]
        # Clear of every booking, each holding its buffers as the slot holds its own.
        mine = held(schedule, start, start + length)
        for b_start, b_end in busy:
            theirs = held(schedule, b_start, b_end)
            assert not (theirs[0] < mine[1] and mine[0] < theirs[1])
        assert fits(schedule, busy, start, now=now)

    candidates = [now + timedelta(minutes=m) for m in probes]
    candidates += [s + timedelta(minutes=d) for s in found[:3] for d in (-5, 1, 5)]
    candidates += [s + timedelta(hours=1) for s in found[-3:]]  # a repeated hour's second run
    for candidate in candidates:
        assert fits(schedule, busy, candidate, now=now) == (candidate in found)


INDIA = timezone(timedelta(hours=5, minutes=30), "IST")


@settings(max_examples=200, deadline=None)
@given(situation=situations(zones=["Asia/Kolkata"]))
def test_india_finds_every_slot_a_plain_walk_of_the_grid_finds(
    situation: tuple[Schedule, datetime, list[tuple[datetime, datetime]]],
) -> None:
    """India keeps UTC+5:30 all year, so a walk of the grid with a fixed offset and a linear
    scan of bookings, sharing no code with the module, must give the same list."""
    schedule, now, busy = situation
    length = timedelta(minutes=schedule.slot_minutes)
    earliest = now + timedelta(minutes=schedule.min_notice_minutes)
    latest = now + timedelta(days=schedule.horizon_days)
    expected = []
    day = now.astimezone(INDIA).date() - timedelta(days=1)
    while day <= latest.astimezone(INDIA).date():
        for begin, end in schedule.intervals_on(day):
            start = datetime.combine(day, begin, tzinfo=INDIA)
            stop = datetime.combine(day + timedelta(days=end == time(0)), end, tzinfo=INDIA)
            while start + length <= stop:
                mine = held(schedule, start, start + length)
                if earliest <= start <= latest and not any(
                    held(schedule, *b)[0] < mine[1] and mine[0] < held(schedule, *b)[1]
                    for b in busy
                ):
                    expected.append(start.astimezone(UTC))
                start += length
        day += timedelta(days=1)
    assert free_slots(schedule, busy, now=now) == expected


@settings(max_examples=100, deadline=None)
@given(situation=situations(), days=st.integers(0, 6))
def test_days_keep_a_prefix_of_the_horizon(
    situation: tuple[Schedule, datetime, list[tuple[datetime, datetime]]], days: int
) -> None:
    schedule, now, busy = situation
    everything = free_slots(schedule, busy, now=now)
    some = free_slots(schedule, busy, now=now, days=days)
    assert some == [s for s in everything if s <= now + timedelta(days=days)]
    assert all(fits(schedule, busy, s, now=now) for s in some)
