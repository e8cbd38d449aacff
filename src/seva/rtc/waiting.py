"""Wait estimates for the "connect now" queue: Erlang C, a citizen's place in line, and the
sentence that tells them.

Erlang C (A. K. Erlang, 1917; the M/M/N queue) gives the probability that a caller waits and
the mean wait when calls arrive at random (Poisson) and handle times are exponential; contact
centres size their desks with it. It is computed through the Erlang B recurrence
``B(0) = 1, B(k) = A·B(k-1) / (k + A·B(k-1))`` and ``C = N·B / (N - A·(1 - B))``, which never
forms ``A^N`` or ``N!`` and so stays exact for hundreds of agents.

A citizen already in line is better told an estimate from their own position, made under the
same assumption (see :func:`position_wait_seconds`). All functions are pure; durations and
counts are passed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from babel.lists import format_list
from babel.units import format_unit

from seva.i18n import served, text
from seva.i18n.dates import locale_of

__all__ = [
    "average_handle_time",
    "describe_wait",
    "erlang_c",
    "expected_wait_seconds",
    "position_wait_seconds",
]


def _count(what: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a whole number, 0 or more, not {value!r}")


def _amount(what: str, value: float) -> None:
    if math.isnan(value) or value < 0:
        raise ValueError(f"{what} must be 0 or more, not {value!r}")


def erlang_c(agents: int, offered_load: float) -> float:
    """Probability that an arrival waits, for ``agents`` officials and ``offered_load``
    Erlangs (arrival rate × mean handle time). 1.0 when the queue is unstable
    (``offered_load >= agents``), including when nobody is on duty."""
    _count("agents", agents)
    _amount("offered load", offered_load)
    if offered_load >= agents:
        return 1.0
    if offered_load == 0:
        return 0.0
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return agents * blocking / (agents - offered_load * (1 - blocking))


def expected_wait_seconds(
    *, agents: int, arrival_rate_per_s: float, aht_seconds: float
) -> float | None:
    """Mean wait over all callers, ``C · aht / (agents - load)`` (Erlang C); None when nobody
    is on duty or the queue would grow without end (``load >= agents``)."""
    _count("agents", agents)
    _amount("arrival rate", arrival_rate_per_s)
    _amount("handle time", aht_seconds)
    load = arrival_rate_per_s * aht_seconds
    if agents == 0 or load >= agents:
        return None
    return erlang_c(agents, load) * aht_seconds / (agents - load)


def position_wait_seconds(
    *, position: int, available_officials: int, busy_officials: int, aht_seconds: float
) -> float | None:
    """What the citizen at ``position`` (1 = next) can expect to wait, in seconds.

    ``wait = (position - available) · aht / n`` with ``n = available + busy`` officials on
    duty; 0 when an official is free for them, None when nobody is on duty.

    The free officials take the first ``available`` citizens at once; after that all ``n``
    officials are in calls, and the citizen waits for ``position - available`` of those calls
    to end. With exponential handle times (Erlang C's assumption) calls end at rate ``n / aht``
    whatever their age, so the k-th end comes after ``k · aht / n`` on average. Real calls'
    remaining time is ``aht · (1 + cv²) / 2``, close to ``aht`` for the skewed durations of
    service calls, so the estimate leans pessimistic, which a waiting citizen minds least.
    It never falls as ``position`` grows and never rises as officials are added.
    """
    if isinstance(position, bool) or not isinstance(position, int) or position < 1:
        raise ValueError(f"position starts at 1, not {position!r}")
    _count("available officials", available_officials)
    _count("busy officials", busy_officials)
    _amount("handle time", aht_seconds)
    on_duty = available_officials + busy_officials
    if on_duty == 0:
        return None
    ahead = position - available_officials
    if ahead <= 0:
        return 0.0
    return ahead * aht_seconds / on_duty


def average_handle_time(
    durations_seconds: Sequence[float], *, default: float = 300.0, window: int = 50
) -> float:
    """Mean of the last ``window`` completed calls (oldest first in ``durations_seconds``),
    ``default`` before there are any. Non-positive or non-finite durations are not calls
    (clock skew, a call never answered) and are left out before the window is counted."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be 1 or more calls, not {window!r}")
    calls = [d for d in durations_seconds if math.isfinite(d) and d > 0][-window:]
    return math.fsum(calls) / len(calls) if calls else default


def _duration(hours: int, minutes: int, lang: str) -> str:
    """ "1 hour, 5 minutes" / "1 घंटा और 5 मिनट": units and the way a list of them is joined
    from CLDR, in the reader's language."""
    locale = locale_of(lang)
    parts = [
        format_unit(count, unit, length="long", locale=locale)
        for count, unit in ((hours, "duration-hour"), (minutes, "duration-minute"))
        if count
    ]
    return format_list(parts, style="unit", locale=locale)


def describe_wait(seconds: float | None, lang: str) -> str:
    """A short phrase for a wait: "about 4 minutes" / "लगभग 4 मिनट".

    Under a minute is "less than a minute"; otherwise whole minutes rounded up (a promise of
    4 minutes kept in 3:10 disappoints no one), as hours and minutes from an hour on. None is
    "no official is available now". Words from the message catalog, units from CLDR.
    """
    lang = served(lang)
    if seconds is None:
        return text("wait_none", lang)
    if not math.isfinite(seconds):
        raise ValueError(f"a wait is a number of seconds, not {seconds!r}")
    if seconds < 60:
        return text("wait_soon", lang)
    hours, minutes = divmod(math.ceil(seconds / 60), 60)
    return text("wait_about", lang, duration=_duration(hours, minutes, lang))
