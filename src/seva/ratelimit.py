"""Rate limits: how many times something may happen per key in a sliding window.

Login failures per account and per client, one-time codes per client, per number range and
per day all count here. Two implementations share one interface, chosen by settings like the
conversation store: ``MemoryLimiter`` (the embedded default, one process) and
``RedisLimiter`` when ``SEVA_REDIS_URL`` is set, so every node counts against the same
numbers.

The algorithm is the sliding-window counter (as in the ``limits`` library's
``SlidingWindowCounterRateLimiter`` and Cloudflare's rate limiting): a counter per fixed window,
and an estimate of the last ``seconds`` as the current window's count plus the previous
window's count weighted by how much of it still overlaps. Two integers per key, no burst of
twice the limit at a window's edge as plain fixed windows allow, and one Redis round trip.

``hit`` counts only when the event is allowed: a refused attempt does not extend its own
refusal, so someone who keeps trying is let in once the window has moved on, and a lock-out
always ends.

A limiter fails open: when Redis cannot be reached, ``hit`` allows and logs. The limits guard
against abuse; refusing every login and every code while Redis is down would turn an outage
of the counter into an outage of the gateway.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from seva.settings import Settings

log = structlog.get_logger("seva.ratelimit")


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``limit`` events per ``seconds``."""

    limit: int
    seconds: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.seconds <= 0:
            raise ValueError("a rate allows at least one event in a positive window")


class Limiter(Protocol):
    def hit(self, key: str, rate: Rate, *, now: float | None = None) -> float:
        """Count one event for ``key`` if ``rate`` allows it and return 0.0; otherwise count
        nothing and return the seconds until one more would be allowed."""
        ...

    def wait(self, key: str, rate: Rate, *, now: float | None = None) -> float:
        """Seconds until one more event for ``key`` would be allowed (0.0: now); counts
        nothing."""
        ...

    def clear(self, key: str, rate: Rate, *, now: float | None = None) -> None:
        """Forget ``key``'s events (a successful login clears its account's failures)."""
        ...

    def undo(self, key: str, rate: Rate, *, now: float | None = None) -> None:
        """Take back one event counted in the window of ``now``: an attempt counted before
        its outcome was known turned out to be one that should not count."""
        ...


def _wait(cur: int, prev: int, rate: Rate, now: float) -> float:
    """Seconds until ``prev`` (weighted by its overlap) plus ``cur`` plus one more fits."""
    window = rate.seconds
    start = math.floor(now / window) * window
    overlap = 1.0 - (now - start) / window
    if prev * overlap + cur + 1 <= rate.limit:
        return 0.0
    if cur + 1 <= rate.limit:
        # The previous window's share decays within this window.
        needed = 1.0 - (rate.limit - 1 - cur) / prev
        return max(start + needed * window - now, 0.001)
    # This window alone is full: wait into the next, until this window's share has decayed.
    needed = max(0.0, 1.0 - (rate.limit - 1) / cur)
    return start + window + needed * window - now


def _index(now: float, rate: Rate) -> int:
    return math.floor(now / rate.seconds)


class MemoryLimiter:
    """Counters in this process (the demo, tests, a single-node install)."""

    SWEEP_EVERY = 1000
    """Hits between sweeps of keys whose windows have all passed, so memory stays bounded
    by the keys active in the last two windows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int, int, float]] = {}
        """key → (window index, count in it, count in the window before, window length)."""
        self._hits = 0

    def _read(self, key: str, rate: Rate, now: float) -> tuple[int, int, int]:
        index = _index(now, rate)
        stored = self._counts.get(key)
        if stored is None or stored[3] != rate.seconds:
            return index, 0, 0
        at, cur, prev, _ = stored
        if at == index:
            return index, cur, prev
        if at == index - 1:
            return index, 0, cur
        return index, 0, 0

    def hit(self, key: str, rate: Rate, *, now: float | None = None) -> float:
        now = time.time() if now is None else now
        with self._lock:
            index, cur, prev = self._read(key, rate, now)
            wait = _wait(cur, prev, rate, now)
            if wait == 0.0:
                self._counts[key] = (index, cur + 1, prev, rate.seconds)
                self._hits += 1
                if self._hits % self.SWEEP_EVERY == 0:
                    self._sweep(now)
            return wait

    def wait(self, key: str, rate: Rate, *, now: float | None = None) -> float:
        now = time.time() if now is None else now
        with self._lock:
            _, cur, prev = self._read(key, rate, now)
            return _wait(cur, prev, rate, now)

    def clear(self, key: str, rate: Rate, *, now: float | None = None) -> None:
        with self._lock:
            self._counts.pop(key, None)

    def undo(self, key: str, rate: Rate, *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            stored = self._counts.get(key)
            if stored is None or stored[3] != rate.seconds or stored[0] != _index(now, rate):
                return
            at, cur, prev, seconds = stored
            self._counts[key] = (at, max(cur - 1, 0), prev, seconds)

    def _sweep(self, now: float) -> None:
        stale = [
            key
            for key, (at, _, _, seconds) in self._counts.items()
            if at < math.floor(now / seconds) - 1
        ]
        for key in stale:
            del self._counts[key]


_HIT_SCRIPT = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
if ARGV[1] == '1' and prev * tonumber(ARGV[2]) + cur + 1 <= tonumber(ARGV[3]) then
  redis.call('INCR', KEYS[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {cur, prev, 1}
end
return {cur, prev, 0}
"""
"""Check and count in one step, so concurrent hits on several nodes never exceed the limit."""

_UNDO_SCRIPT = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
  redis.call('DECR', KEYS[1])
end
"""
"""Take one back without going below zero (an expired or cleared window stays empty)."""


class RedisLimiter:
    """Counters in Redis, shared by every node: ``<prefix><key>:<window index>``."""

    def __init__(self, client: Any, *, prefix: str = "seva:rl:") -> None:
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_HIT_SCRIPT)
        self._undo = client.register_script(_UNDO_SCRIPT)

    def _keys(self, key: str, rate: Rate, now: float) -> list[str]:
        index = _index(now, rate)
        # The window length is part of the key: two rates on one key never share counters.
        base = f"{self.prefix}{key}:{rate.seconds:g}"
        return [f"{base}:{index}", f"{base}:{index - 1}"]

    def _run(self, key: str, rate: Rate, now: float, *, count: bool) -> float:
        window = rate.seconds
        start = math.floor(now / window) * window
        overlap = 1.0 - (now - start) / window
        ttl_ms = int(window * 2 * 1000) + 1000
        try:
            cur, prev, counted = self._script(
                keys=self._keys(key, rate, now),
                args=["1" if count else "0", repr(overlap), rate.limit, ttl_ms],
            )
        except Exception as exc:  # redis.RedisError and connection errors alike
            log.error("ratelimit.unavailable", key=key, error=type(exc).__name__)
            return 0.0
        if int(counted):
            return 0.0
        return _wait(int(cur), int(prev), rate, now)

    def hit(self, key: str, rate: Rate, *, now: float | None = None) -> float:
        return self._run(key, rate, time.time() if now is None else now, count=True)

    def wait(self, key: str, rate: Rate, *, now: float | None = None) -> float:
        return self._run(key, rate, time.time() if now is None else now, count=False)

    def clear(self, key: str, rate: Rate, *, now: float | None = None) -> None:
        try:
            self.client.delete(*self._keys(key, rate, time.time() if now is None else now))
        except Exception as exc:
            log.error("ratelimit.unavailable", key=key, error=type(exc).__name__)

    def undo(self, key: str, rate: Rate, *, now: float | None = None) -> None:
        try:
            self._undo(keys=self._keys(key, rate, time.time() if now is None else now)[:1])
        except Exception as exc:
            log.error("ratelimit.unavailable", key=key, error=type(exc).__name__)


def wait_seconds(wait: float) -> int:
    """A wait as whole seconds for a message or ``Retry-After`` (never 0 for a refusal)."""
    return max(1, math.ceil(wait))


def client_address(connection: HTTPConnection) -> str:
    """The client as limits count it: its IP address as this app sees it (behind a proxy,
    uvicorn's ``--proxy-headers`` and ``--forwarded-allow-ips`` make that the real client's).
    An IPv6 client counts by its /64, the block one subscriber is given, so that it cannot
    step around a limit by changing the address's last bits."""
    host = connection.client.host if connection.client is not None else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(frozen=True, slots=True)
class FailedLogins:
    """Wrong guesses (passwords, one-time codes) counted per account and per client address;
    an attempt is refused while either count is full.

    The account count stops guessing one password from many addresses; the client count
    stops one address trying one password on many accounts. Unknown accounts count like
    known ones, so a refusal never tells whether a username exists.

    An attempt takes its place in both counts *before* the secret is checked (``attempt``)
    and gives it back when it was right (``succeeded``). Checking first and counting after
    the slow password hash let a hundred requests sent together all pass the check, a
    hundred guesses where five were allowed; the limiter's ``hit`` checks and counts in one
    step, so at most the limit get through however many arrive at once.
    """

    limiter: Limiter
    per_account: Rate
    per_client: Rate
    kind: str
    """Whose accounts (``official``, ``msdg``, ``otp``): accounts of two kinds never share a
    count."""
    client_scope: str = "login"
    """Which client count: password logins of every kind share ``login``; code checks keep
    ``verify`` (the counts of codes *sent* are ``otp:…``), so mistyped codes do not lock an
    office's officials out."""

    @classmethod
    def from_settings(cls, limiter: Limiter, settings: Settings, kind: str) -> FailedLogins:
        window = settings.login_window_seconds
        return cls(
            limiter,
            per_account=Rate(settings.login_account_failures, window),
            per_client=Rate(settings.login_client_failures, window),
            kind=kind,
        )

    @classmethod
    def for_codes(cls, limiter: Limiter, settings: Settings) -> FailedLogins:
        """Wrong one-time codes per phone and per client address (every channel together)."""
        window = settings.login_window_seconds
        return cls(
            limiter,
            per_account=Rate(settings.otp_verify_phone_failures, window),
            per_client=Rate(settings.otp_verify_client_failures, window),
            kind="otp",
            client_scope="verify",
        )

    def _account(self, account: str) -> str:
        return f"{self.client_scope}:{self.kind}:{account}"

    def _client(self, client: str) -> str:
        return f"{self.client_scope}:client:{client}"

    def wait(self, account: str, client: str) -> float:
        """Seconds before this account may be tried from this client (0.0: now)."""
        return max(
            self.limiter.wait(self._account(account), self.per_account),
            self.limiter.wait(self._client(client), self.per_client),
        )

    def attempt(self, account: str, client: str) -> float:
        """Take a place for one try in both counts and return 0.0, or count nothing and
        return the seconds before a try is allowed."""
        now = time.time()
        wait = self.limiter.hit(self._account(account), self.per_account, now=now)
        if wait:
            return wait
        wait = self.limiter.hit(self._client(client), self.per_client, now=now)
        if wait:
            self.limiter.undo(self._account(account), self.per_account, now=now)
        return wait

    def succeeded(self, account: str, client: str) -> None:
        """The try was right: the account's failures are forgotten and the client's place
        is given back (only wrong guesses count against an address)."""
        self.limiter.clear(self._account(account), self.per_account)
        self.limiter.undo(self._client(client), self.per_client)

    def locked(self, account: str, client: str) -> bool:
        """Whether the last wrong try used up what was allowed (for the audit log)."""
        return self.wait(account, client) > 0
