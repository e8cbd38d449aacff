"""Published hours to bookable slots, and queue wait estimates: pure functions, exact cases
and properties."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seva.rtc import waiting
from seva.rtc.slots import Schedule, fits, free_slots, merge_free

IST = ZoneInfo("Asia/Kolkata")
MONDAY = date(2026, 11, 30)


def at(day: date, hh: int, mm: int = 0, zone: ZoneInfo = IST) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=zone).astimezone(UTC)


MORNINGS = Schedule(
    tz="Asia/Kolkata",
    weekly={0: [(time(10), time(12))]},
    slot_minutes=30,
    min_notice_minutes=0,
    horizon_days=7,
)


def test_monday_mornings_in_half_hours() -> None:
    now = at(MONDAY, 8)
    assert free_slots(MORNINGS, [], now=now, days=1) == [
        at(MONDAY, 10),
        at(MONDAY, 10, 30),
        at(MONDAY, 11),
        at(MONDAY, 11, 30),
    ]
    assert at(MONDAY, 10) == datetime(2026, 11, 30, 4, 30, tzinfo=UTC)  # IST is UTC+5:30


def test_bookings_with_buffers_notice_overrides_and_horizon() -> None:
    buffered = Schedule(
        tz="Asia/Kolkata",
        weekly={0: [(time(10), time(12))]},
        slot_minutes=30,
        buffer_before=10,
        buffer_after=0,
        min_notice_minutes=0,
    )
    busy = [(at(MONDAY, 10, 30), at(MONDAY, 11))]
    # 10:00 would end at 10:30 but the 10:30 booking holds 10 minutes before itself;
    # 11:00 needs its own 10 minutes before, from 10:50, inside that booking.
    assert free_slots(buffered, busy, now=at(MONDAY, 8), days=1) == [at(MONDAY, 11, 30)]

    noticed = Schedule(
        tz="Asia/Kolkata",
        weekly={0: [(time(10), time(12))]},
        slot_minutes=30,
        min_notice_minutes=60,
    )
    assert free_slots(noticed, [], now=at(MONDAY, 10, 15), days=1) == [at(MONDAY, 11, 30)]

    special = Schedule(
        tz="Asia/Kolkata",
        weekly={0: [(time(10), time(12))], 1: [(time(10), time(11))]},
        overrides={MONDAY: [], MONDAY + timedelta(days=1): [(time(15), time(16))]},
        slot_minutes=30,
        min_notice_minutes=0,
    )
    tuesday = MONDAY + timedelta(days=1)
    assert free_slots(special, [], now=at(MONDAY, 8), days=2) == [
        at(tuesday, 15),
        at(tuesday, 15, 30),
    ]

    # The horizon is 7 days from now: next Monday's 10:00 is a few hours too far.
    weekly_only = free_slots(MORNINGS, [], now=at(MONDAY, 8))
    assert weekly_only == free_slots(MORNINGS, [], now=at(MONDAY, 8), days=1)
    assert free_slots(MORNINGS, [], now=at(MONDAY, 10, 1))[-1] == at(MONDAY + timedelta(days=7), 10)


def test_london_hours_keep_the_wall_clock_across_the_clock_change() -> None:
    london = ZoneInfo("Europe/London")
    sundays = Schedule(
        tz="Europe/London",
        weekly={6: [(time(9), time(10))]},
        slot_minutes=60,
        min_notice_minutes=0,
        horizon_days=14,
    )
    # The clocks go back on Sunday 25 October 2026: 09:00 BST then 09:00 GMT.
    found = free_slots(sundays, [], now=datetime(2026, 10, 17, tzinfo=UTC))
    assert found == [
        datetime(2026, 10, 18, 8, tzinfo=UTC),
        datetime(2026, 10, 25, 9, tzinfo=UTC),
    ]
    assert all(s.astimezone(london).hour == 9 for s in found)
    # The skipped hour (01:00-02:00 on 29 March 2026) yields no slot.
    nights = Schedule(
        tz="Europe/London", weekly={6: [(time(1), time(3))]}, slot_minutes=60, min_notice_minutes=0
    )
    spring = free_slots(nights, [], now=datetime(2026, 3, 28, tzinfo=UTC), days=2)
    assert [s.astimezone(london).hour for s in spring] == [2]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tz": "Mars/Olympus"}, "unknown time zone"),
        ({"weekly": {7: [(time(9), time(10))]}}, "weekday 7"),
        ({"weekly": {0: [(time(10), time(9))]}}, "ends before it starts"),
        ({"weekly": {0: [(time(9), time(11)), (time(10), time(12))]}}, "overlap"),
        ({"slot_minutes": 2}, "slot length"),
        ({"buffer_after": 500}, "buffer after"),
        ({"horizon_days": 365}, "90 days"),
    ],
)
def test_invalid_schedules_are_refused_with_a_reason(
    fields: dict[str, object], message: str
) -> None:
    values: dict[str, object] = {"tz": "Asia/Kolkata", "weekly": {}}
    values.update(fields)
    with pytest.raises(ValueError, match=message):
        Schedule(**values)  # type: ignore[arg-type]


def test_times_without_a_zone_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        free_slots(MORNINGS, [], now=datetime(2026, 11, 30, 8))


def test_a_department_list_names_who_is_free() -> None:
    a, b = at(MONDAY, 10), at(MONDAY, 10, 30)
    assert merge_free({7: [a, b], 3: [b]}) == [(a, [7]), (b, [3, 7])]


hours = st.integers(0, 22).flatmap(
    lambda h: st.tuples(st.just(time(h)), st.integers(h + 1, 23).map(lambda e: time(e)))
)


@settings(max_examples=150, deadline=None)
@given(
    interval=hours,
    slot=st.sampled_from([10, 15, 20, 30, 45, 60]),
    before=st.integers(0, 30),
    after=st.integers(0, 30),
    bookings=st.lists(st.tuples(st.integers(0, 3 * 24 * 60), st.integers(5, 120)), max_size=6),
    probes=st.lists(st.integers(0, 3 * 24 * 4), max_size=10),
)
def test_free_slots_are_inside_hours_clear_of_bookings_and_agree_with_fits(
    interval: tuple[time, time],
    slot: int,
    before: int,
    after: int,
    bookings: list[tuple[int, int]],
    probes: list[int],
) -> None:
    schedule = Schedule(
        tz="Asia/Kolkata",
        weekly={d: [interval] for d in range(7)},
        slot_minutes=slot,
        buffer_before=before,
        buffer_after=after,
        min_notice_minutes=0,
        horizon_days=3,
    )
    now = at(MONDAY, 0)
    busy = [
        (now + timedelta(minutes=start), now + timedelta(minutes=start + length))
        for start, length in bookings
    ]
    found = free_slots(schedule, busy, now=now)
    assert found == sorted(set(found))
    for start in found:
        local = start.astimezone(IST)
        end_local = local + timedelta(minutes=slot)
        assert (
            interval[0] <= local.time() and end_local.time() <= interval[1]
        ) or end_local.time() == time(0)
        span = (start - timedelta(minutes=before), start + timedelta(minutes=slot + after))
        for b_start, b_end in busy:
            held = (b_start - timedelta(minutes=before), b_end + timedelta(minutes=after))
            assert not (held[0] < span[1] and span[0] < held[1])
        assert fits(schedule, busy, start, now=now)
    for probe in probes:
        candidate = now + timedelta(minutes=15 * probe)
        assert fits(schedule, busy, candidate, now=now) == (candidate in found)


# -- waiting ------------------------------------------------------------------------------


def textbook_erlang_c(agents: int, load: float) -> float:
    top = load**agents / math.factorial(agents) * agents / (agents - load)
    bottom = sum(load**k / math.factorial(k) for k in range(agents)) + top
    return top / bottom


@pytest.mark.parametrize(("agents", "load"), [(2, 1.0), (10, 8.0), (5, 4.5), (1, 0.5), (30, 25.0)])
def test_erlang_c_matches_the_textbook_formula(agents: int, load: float) -> None:
    assert waiting.erlang_c(agents, load) == pytest.approx(
        textbook_erlang_c(agents, load), abs=1e-9
    )


def test_erlang_c_edges_and_mean_wait() -> None:
    assert waiting.erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert waiting.erlang_c(3, 3.0) == 1.0 and waiting.erlang_c(0, 1.0) == 1.0
    assert waiting.erlang_c(3, 0.0) == 0.0
    assert waiting.expected_wait_seconds(agents=2, arrival_rate_per_s=1 / 300, aht_seconds=300) == (
        pytest.approx(1 / 3 * 300 / 1)
    )
    assert (
        waiting.expected_wait_seconds(agents=1, arrival_rate_per_s=1 / 100, aht_seconds=300) is None
    )


def test_a_place_in_line_waits_longer_further_back_and_shorter_with_more_officials() -> None:
    def wait(position: int, free: int, busy: int) -> float | None:
        return waiting.position_wait_seconds(
            position=position, available_officials=free, busy_officials=busy, aht_seconds=300
        )

    assert wait(1, 1, 0) == 0.0
    assert wait(1, 0, 0) is None  # nobody on duty
    assert wait(1, 0, 1) == 150.0  # half a call, on average, until the official is free
    waits = [wait(p, 0, 2) for p in range(1, 6)]
    assert waits == sorted(waits)
    assert wait(4, 0, 3) < wait(4, 0, 1)  # type: ignore[operator]


def test_handle_time_and_wait_texts() -> None:
    assert waiting.average_handle_time([]) == 300.0
    assert waiting.average_handle_time([100, 200, -5, 0]) == 150.0
    assert waiting.average_handle_time(list(range(1, 101)), window=2) == 99.5
    assert waiting.describe_wait(None, "en") == "no official is available now"
    assert waiting.describe_wait(20, "en") == "less than a minute"
    assert waiting.describe_wait(61, "en") == "about 2 minutes"
    assert waiting.describe_wait(3700, "en") == "about 1 hour 2 minutes"
    assert waiting.describe_wait(240, "hi") == "लगभग 4 मिनट"
    assert waiting.describe_wait(None, "hi") == "अभी कोई अधिकारी उपलब्ध नहीं है"
