"""Wait estimates for the "connect now" queue: Erlang C, and a citizen's place in line.

Erlang C (A. K. Erlang, 1917) gives the probability that a caller waits and the mean wait
for ``agents`` officials answering calls that arrive at random (Poisson) with exponential
handle times; contact centres size their desks with it. A citizen already in line is better
served by a direct estimate from their position: ``position_wait_seconds``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def erlang_c(agents: int, offered_load: float) -> float:
    """Probability an arrival waits; ``offered_load`` = arrival rate × handle time (Erlangs)."""
    if agents <= 0 or offered_load >= agents:
        return 1.0
    if offered_load <= 0:
        return 0.0
    # Erlang B by its stable recurrence, then C from B.
    b = 1.0
    for k in range(1, agents + 1):
        b = offered_load * b / (k + offered_load * b)
    return agents * b / (agents - offered_load * (1 - b))


def expected_wait_seconds(
    *, agents: int, arrival_rate_per_s: float, aht_seconds: float
) -> float | None:
    """Mean wait of all callers (Erlang C); None when the queue would grow without end."""
    load = arrival_rate_per_s * aht_seconds
    if agents <= 0 or load >= agents:
        return None
    return erlang_c(agents, load) * aht_seconds / (agents - load)


def position_wait_seconds(
    *, position: int, available_officials: int, busy_officials: int, aht_seconds: float
) -> float | None:
    """What the citizen at ``position`` (1 = next) can expect to wait.

    With an official free for them, nothing. Otherwise the officials on duty free up, on
    average, one every ``aht / n`` seconds (n officials in calls that are on average half
    done): the citizen waits for ``position - free`` of those, taking half a handle time for
    the first and a whole ``aht / n`` for each after it.
    """
    serving = available_officials + busy_officials
    if serving <= 0:
        return None
    ahead = position - available_officials
    if ahead <= 0:
        return 0.0
    return aht_seconds / 2 / serving + (ahead - 1) * aht_seconds / serving


def average_handle_time(
    durations_seconds: Sequence[float], *, default: float = 300.0, window: int = 50
) -> float:
    """Mean of the last ``window`` completed calls; ``default`` before there are any."""
    recent = [d for d in durations_seconds[-window:] if d > 0]
    return sum(recent) / len(recent) if recent else default


def describe_wait(seconds: float | None, lang: str) -> str:
    hindi = lang == "hi"
    if seconds is None:
        return "अभी कोई अधिकारी उपलब्ध नहीं है" if hindi else "no official is available now"
    if seconds < 60:
        return "एक मिनट से कम" if hindi else "less than a minute"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return (
            f"लगभग {minutes} मिनट"
            if hindi
            else f"about {minutes} minute{'s' if minutes > 1 else ''}"
        )
    hours, rest = divmod(minutes, 60)
    if hindi:
        return f"लगभग {hours} घंटे {rest} मिनट" if rest else f"लगभग {hours} घंटे"
    hour_text = f"{hours} hour{'s' if hours > 1 else ''}"
    return f"about {hour_text} {rest} minutes" if rest else f"about {hour_text}"
