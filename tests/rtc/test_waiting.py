"""Queue wait estimates: Erlang C against the textbook formula (computed independently, in
floats and in exact fractions), monotonicity, a citizen's place in line, and the texts."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seva.rtc import waiting


def textbook_erlang_c(agents: int, load: float) -> float:
    """C(N, A) = (A^N/N! · N/(N-A)) / (Σ_{k<N} A^k/k! + A^N/N! · N/(N-A))."""
    top = load**agents / math.factorial(agents) * agents / (agents - load)
    bottom = sum(load**k / math.factorial(k) for k in range(agents)) + top
    return top / bottom


def exact_erlang_c(agents: int, load: Fraction) -> Fraction:
    top = load**agents / math.factorial(agents) * agents / (agents - load)
    return top / (sum(load**k / math.factorial(k) for k in range(agents)) + top)


@pytest.mark.parametrize(
    ("agents", "load", "known"),
    [
        (2, 1.0, 1 / 3),  # by hand: (1/2 · 2) / (1 + 1 + 1)
        (10, 8.0, 0.409),
        (1, 0.5, 0.5),  # M/M/1: the chance to wait is the utilisation
        (5, 4.5, None),
        (30, 25.0, None),
        (3, 0.01, None),
    ],
)
def test_erlang_c_matches_the_textbook_formula(
    agents: int, load: float, known: float | None
) -> None:
    got = waiting.erlang_c(agents, load)
    assert got == pytest.approx(textbook_erlang_c(agents, load), abs=1e-12)
    if known is not None:
        assert round(got, 3) == round(known, 3)


def test_erlang_c_stays_exact_where_the_textbook_formula_overflows() -> None:
    agents, load = 200, Fraction(190)
    with pytest.raises(OverflowError):
        textbook_erlang_c(agents, float(load))
    assert waiting.erlang_c(agents, float(load)) == pytest.approx(
        float(exact_erlang_c(agents, load)), rel=1e-9
    )


@pytest.mark.parametrize(
    ("agents", "load", "expected"),
    [(0, 0.0, 1.0), (0, 2.0, 1.0), (3, 3.0, 1.0), (3, 7.5, 1.0), (3, 0.0, 0.0), (1, 0.0, 0.0)],
)
def test_erlang_c_edges(agents: int, load: float, expected: float) -> None:
    assert waiting.erlang_c(agents, load) == expected


@pytest.mark.parametrize(("agents", "load"), [(-1, 1.0), (2, -0.5), (2, math.nan), (True, 0.5)])
def test_erlang_c_refuses_nonsense(agents: int, load: float) -> None:
    with pytest.raises(ValueError):
        waiting.erlang_c(agents, load)


@settings(max_examples=200, deadline=None)
@given(
    agents=st.integers(1, 60),
    load=st.floats(0.01, 59.0),
    more=st.integers(1, 5),
    extra=st.floats(0.01, 5.0),
)
def test_erlang_c_is_a_probability_that_falls_with_agents_and_rises_with_load(
    agents: int, load: float, more: int, extra: float
) -> None:
    c = waiting.erlang_c(agents, load)
    assert 0.0 <= c <= 1.0
    assert waiting.erlang_c(agents + more, load) <= c + 1e-12
    assert waiting.erlang_c(agents, load + extra) >= c - 1e-12


def test_mean_wait() -> None:
    # 2 officials, a call every 300 s of 300 s each: load 1, C = 1/3, wait = C · 300 / 1.
    assert waiting.expected_wait_seconds(
        agents=2, arrival_rate_per_s=1 / 300, aht_seconds=300
    ) == pytest.approx(100.0)
    assert waiting.expected_wait_seconds(
        agents=10, arrival_rate_per_s=8 / 240, aht_seconds=240
    ) == pytest.approx(textbook_erlang_c(10, 8.0) * 240 / 2)
    assert waiting.expected_wait_seconds(agents=3, arrival_rate_per_s=0.0, aht_seconds=300) == 0.0


@pytest.mark.parametrize(
    ("agents", "rate", "aht"),
    [(1, 1 / 100, 300.0), (2, 1 / 150, 300.0), (0, 0.0, 300.0), (0, 1.0, 300.0)],
)
def test_no_mean_wait_when_the_queue_is_unstable_or_nobody_answers(
    agents: int, rate: float, aht: float
) -> None:
    assert (
        waiting.expected_wait_seconds(agents=agents, arrival_rate_per_s=rate, aht_seconds=aht)
        is None
    )


@settings(max_examples=200, deadline=None)
@given(agents=st.integers(1, 40), rate=st.floats(0.0, 0.2), aht=st.floats(1.0, 900.0))
def test_mean_wait_falls_as_officials_join(agents: int, rate: float, aht: float) -> None:
    now = waiting.expected_wait_seconds(agents=agents, arrival_rate_per_s=rate, aht_seconds=aht)
    later = waiting.expected_wait_seconds(
        agents=agents + 1, arrival_rate_per_s=rate, aht_seconds=aht
    )
    if now is None:
        assert rate * aht >= agents
    else:
        assert now >= 0.0 and later is not None and later <= now + 1e-9


# -- a place in line --------------------------------------------------------------------------


def wait(position: int, free: int, busy: int, aht: float = 300.0) -> float | None:
    return waiting.position_wait_seconds(
        position=position, available_officials=free, busy_officials=busy, aht_seconds=aht
    )


@pytest.mark.parametrize(
    ("position", "free", "busy", "expected"),
    [
        (1, 1, 0, 0.0),  # someone is free for the next citizen
        (2, 2, 5, 0.0),
        (1, 0, 0, None),  # nobody is on duty
        (5, 0, 0, None),
        (1, 0, 1, 300.0),  # one official, one call ahead to finish
        (2, 0, 1, 600.0),
        (1, 0, 3, 100.0),  # three officials: one ends every 100 s on average
        (4, 0, 3, 400.0),
        (3, 1, 1, 300.0),  # the free one takes #1; #3 waits for 2 ends among 2 officials
    ],
)
def test_position_wait(position: int, free: int, busy: int, expected: float | None) -> None:
    assert wait(position, free, busy) == expected


@settings(max_examples=300, deadline=None)
@given(
    position=st.integers(1, 50),
    free=st.integers(0, 10),
    busy=st.integers(0, 10),
    aht=st.floats(1.0, 3600.0),
)
def test_position_wait_grows_down_the_line_and_shrinks_with_officials(
    position: int, free: int, busy: int, aht: float
) -> None:
    here = wait(position, free, busy, aht)
    if free + busy == 0:
        assert here is None
        return
    assert here is not None and here >= 0.0
    assert (here == 0.0) == (position <= free)
    assert here <= wait(position + 1, free, busy, aht)  # type: ignore[operator]
    assert wait(position, free + 1, busy, aht) <= here  # type: ignore[operator]
    assert wait(position, free, busy + 1, aht) <= here  # type: ignore[operator]


@pytest.mark.parametrize(
    "fields",
    [
        {"position": 0},
        {"available_officials": -1},
        {"busy_officials": -2},
        {"aht_seconds": -1.0},
    ],
)
def test_position_wait_refuses_nonsense(fields: dict[str, int | float]) -> None:
    values: dict[str, int | float] = {
        "position": 1,
        "available_officials": 0,
        "busy_officials": 1,
        "aht_seconds": 300.0,
    }
    values.update(fields)
    with pytest.raises(ValueError):
        waiting.position_wait_seconds(**values)  # type: ignore[arg-type]


# -- handle time and texts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("durations", "kwargs", "expected"),
    [
        ([], {}, 300.0),
        ([], {"default": 120.0}, 120.0),
        ([0.0, -5.0], {}, 300.0),
        ([100.0, 200.0, -5.0, 0.0], {}, 150.0),
        ([float(d) for d in range(1, 101)], {"window": 2}, 99.5),
        ([float(d) for d in range(1, 101)], {}, 75.5),  # the last 50: 51..100
        ([10.0, 20.0, 0.0, -1.0], {"window": 2}, 15.0),  # the window counts real calls
        ([math.inf, math.nan, 60.0], {}, 60.0),
    ],
)
def test_average_handle_time(
    durations: list[float], kwargs: dict[str, float | int], expected: float
) -> None:
    assert waiting.average_handle_time(durations, **kwargs) == expected  # type: ignore[arg-type]


def test_average_handle_time_refuses_an_empty_window() -> None:
    with pytest.raises(ValueError, match="window"):
        waiting.average_handle_time([60.0], window=0)


@pytest.mark.parametrize(
    ("seconds", "en", "hi"),
    [
        (None, "no official is available now", "अभी कोई अधिकारी उपलब्ध नहीं है"),
        (0.0, "less than a minute", "एक मिनट से कम"),
        (-3.0, "less than a minute", "एक मिनट से कम"),
        (20.0, "less than a minute", "एक मिनट से कम"),
        (59.9, "less than a minute", "एक मिनट से कम"),
        (60.0, "about 1 minute", "लगभग 1 मिनट"),
        (61.0, "about 2 minutes", "लगभग 2 मिनट"),
        (240.0, "about 4 minutes", "लगभग 4 मिनट"),
        (230.5, "about 4 minutes", "लगभग 4 मिनट"),
        (59 * 60 + 1, "about 1 hour", "लगभग 1 घंटा"),
        (3600.0, "about 1 hour", "लगभग 1 घंटा"),
        (3660.0, "about 1 hour, 1 minute", "लगभग 1 घंटा और 1 मिनट"),
        (3700.0, "about 1 hour, 2 minutes", "लगभग 1 घंटा और 2 मिनट"),
        (2 * 3600.0, "about 2 hours", "लगभग 2 घंटे"),
        (2 * 3600 + 15 * 60, "about 2 hours, 15 minutes", "लगभग 2 घंटे और 15 मिनट"),
    ],
)
def test_describe_wait(seconds: float | None, en: str, hi: str) -> None:
    assert waiting.describe_wait(seconds, "en") == en
    assert waiting.describe_wait(seconds, "hi") == hi


def test_describe_wait_languages() -> None:
    assert waiting.describe_wait(240.0, "hi-IN") == "लगभग 4 मिनट"
    assert waiting.describe_wait(240.0, "HI") == "लगभग 4 मिनट"
    assert waiting.describe_wait(240.0, "en-IN") == "about 4 minutes"
    assert waiting.describe_wait(240.0, "ta") == "சுமார் 4 நிமிடங்கள்"
    assert waiting.describe_wait(240.0, "xx") == "about 4 minutes"  # English when untranslated
    with pytest.raises(ValueError):
        waiting.describe_wait(math.nan, "en")
