"""The one way Seva calls out to the world: department backends and status callbacks.

Every request Seva makes on a department's behalf goes to an address the department chose, so
it passes three guards, in this order:

1. **Where it may go** (``UrlPolicy``). Loopback, private, link-local (the cloud metadata
   address ``169.254.169.254``), multicast, reserved and other non-global addresses are refused
   when the URL is registered (a literal address or ``localhost``) and again when the
   connection is made, after DNS resolution: ``GuardedTransport`` resolves the name itself,
   refuses if *any* address it resolves to is forbidden (so a name with one public and one
   private record cannot be used either) and connects to the address it checked, so a DNS
   answer that changes between the check and the connection (rebinding) changes nothing. TLS
   still verifies the certificate against the name. An operator can allow networks with
   ``SEVA_OUTBOUND_ALLOW`` (the demo allows its own stand-in backend on loopback). Proxies from
   the environment are not used: a proxy would make the check meaningless.
2. **How many at once** (``Bulkheads``). Each department has at most
   ``SEVA_OUTBOUND_PER_DEPARTMENT`` calls waiting at once in this process; one more is refused
   at once instead of queueing. A department whose backend hangs can therefore occupy only
   that many worker threads, and every other department's requests go on.
3. **Whether it is worth trying** (a circuit breaker per department). After
   ``SEVA_OUTBOUND_BREAKER_FAILURES`` failures in a row (timeouts, refusals, 5xx) calls are
   refused without trying for ``SEVA_OUTBOUND_BREAKER_SECONDS``; then one call is let through
   and its outcome closes or reopens the circuit. The citizen gets the service's own "not
   reachable now" answer in milliseconds instead of after a timeout.

Every call has a **whole budget** and a **size cap** (``Outbound.call``/``acall``). httpx's
timeouts count per socket operation, so a server trickling a byte a second would never trip
them; here each connect, write and read is given only what is left of the call's budget (a
deadline carried in a context variable down to the guarded socket streams, and
``asyncio.timeout`` around async calls), so a call ends at its budget however the server
dribbles. The answer is streamed and read up to the cap and no further: a backend's JSON
answer may be ``BACKEND_LIMIT`` bytes, a status callback's ignored body is cut at
``CALLBACK_LIMIT``. A too-large answer is a failed call, not an outage; a missed deadline is.

The slots and circuits are kept per department *and purpose* (``backend`` for service calls,
``callbacks`` for SMS status callbacks): a department's broken callback URL does not stop its
citizens' services. Waiting for one of this process's own pooled connections
(``httpx.PoolTimeout``) is not counted against any department (``unavailable``).

Callers hold no database transaction while they wait (``flows.runtime`` commits before it
calls; the SMS status callbacks read what is due, release, post, then record). The bulkheads
and breakers are per process, which is what protects that process's workers; on several nodes
each node keeps its own.

The guard is written here rather than taken from a library: the maintained options either
check only the URL's text (missing DNS rebinding) or patch ``socket`` globally; httpcore's
network-backend hook lets the check sit exactly where the address is chosen.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx
from prometheus_client import Counter

from seva.settings import networks

REFUSED = Counter(
    "seva_outbound_refused_total",
    "Outbound calls not made, by department, purpose (backend, callbacks) and reason "
    "(busy, circuit_open)",
    ["department", "purpose", "reason"],
)

BACKEND = "backend"
"""Purpose of a service flow's call to the department's backend."""
CALLBACKS = "callbacks"
"""Purpose of an SMS status callback to the department's callback URL."""

BACKEND_LIMIT = 1 << 20
"""Bytes of a backend's JSON answer read at most; more is a failed call."""
CALLBACK_LIMIT = 4096
"""Bytes of a status callback's answer read at most (the body is ignored; only the status
matters)."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """An outbound call that was not made, and why (shown to the department, logged)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Busy(Refused):
    """The department already has as many calls waiting as it may."""


class CircuitOpen(Refused):
    """The department's backend failed repeatedly; it is not tried for a while."""


class TooLarge(Exception):
    """The answer was longer than the call's cap; what was read is dropped. The backend did
    answer, so this does not count against its circuit."""

    reason = "response too large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"{self.reason} (more than {limit} bytes)")


class DeadlineExceeded(httpx.TimeoutException):
    """The call's whole budget (connect, send and receive) ran out."""


def unavailable(exc: BaseException) -> bool:
    """Whether a failed call counts against the department's circuit: its address did not
    answer in time, refused or reset. Waiting for a free connection in this process's own pool
    (``httpx.PoolTimeout``) says nothing about the department and is not counted."""
    return isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.PoolTimeout)


_DEADLINE: ContextVar[float | None] = ContextVar("seva_outbound_deadline", default=None)
"""``time.monotonic()`` by which the current call must be over (set by ``Outbound.call``)."""


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` for one socket operation, shortened to what is left of the call's budget."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the call's time budget is spent")
    return left if timeout is None else min(timeout, left)


class _TimedStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the current call's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)
        )
        return _TimedStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncTimedStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        inner = await self._inner.start_tls(
            ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)
        )
        return _AsyncTimedStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _plain(address: Address) -> Address:
    """An IPv4 address written as IPv6 (``::ffff:127.0.0.1``, ``64:ff9b::7f00:1``) is judged
    as the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def forbidden(address: Address) -> bool:
    """Not a public unicast address: loopback, private, link-local, multicast, reserved,
    unspecified, shared (CGNAT) or documentation ranges."""
    address = _plain(address)
    return (
        not address.is_global
        or address.is_multicast
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_reserved
        or address.is_unspecified
    )


LOOPBACK = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """Where outbound calls may go: public addresses, plus the networks an operator allows."""

    allow: tuple[Network, ...] = ()

    @classmethod
    def from_setting(cls, value: str) -> UrlPolicy:
        return cls(networks(value))

    def allowed(self, address: Address) -> bool:
        plain = _plain(address)
        if any(address in network or plain in network for network in self.allow):
            return True
        return not forbidden(address)

    def check_address(self, address: Address, host: str = "") -> None:
        if not self.allowed(address):
            shown = f"{host} ({address})" if host and host != str(address) else str(address)
            raise Refused(f"{shown} is not a public address")

    def check_url(self, url: str) -> None:
        """At registration: an http(s) URL without credentials whose host, if written as an
        address (in any of the forms ``inet_aton`` reads, ``2130706433`` included) or as a
        local name, is allowed. Names are resolved only when called (``GuardedTransport``)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise Refused(f"not a valid URL: {exc}") from exc
        if parts.scheme not in ("http", "https"):
            raise Refused("only http and https URLs can be called")
        if parts.username is not None or parts.password is not None:
            raise Refused("a URL may not carry a user name or password")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise Refused("the URL has no host")
        if port == 0:
            raise Refused("port 0 cannot be called")
        address = numeric_address(host)
        if address is not None:
            self.check_address(address, host)
        elif _local_name(host) and not (
            self.allowed(ipaddress.ip_address("127.0.0.1"))
            or self.allowed(ipaddress.ip_address("::1"))
        ):
            raise Refused(f"{host} is this machine")

    def resolve(self, host: str, port: int) -> str:
        """At connection time: the address to connect to, every address of ``host`` checked."""
        address = numeric_address(host)
        if address is not None:
            self.check_address(address, host)
            return str(address)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise Refused(f"{host} could not be resolved") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not addresses:
            raise Refused(f"{host} could not be resolved")
        for resolved in addresses:
            self.check_address(resolved, host)
        return str(addresses[0])


def _local_name(host: str) -> bool:
    name = host.lower()
    return name in LOCAL_NAMES or name.endswith(".localhost")


def numeric_address(host: str) -> Address | None:
    """``host`` as an address if it is written as one, in any form the resolver would read
    without asking DNS (``127.1``, ``0x7f.0.0.1``, ``2130706433``, ``[::1]``)."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return None
    return ipaddress.ip_address(infos[0][4][0]) if infos else None


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, policy: UrlPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        address = self._policy.resolve(host, port)
        timeout = _left(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
        return _TimedStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise Refused("unix sockets cannot be called")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: UrlPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # getaddrinfo blocks: off the event loop.
        address = await anyio.to_thread.run_sync(self._policy.resolve, host, port)
        timeout = _left(timeout, httpcore.ConnectTimeout)
        stream = await self._inner.connect_tcp(
            address, port, timeout, local_address, socket_options
        )
        return _AsyncTimedStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise Refused("unix sockets cannot be called")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


_POOL = {"max_connections": 100, "max_keepalive_connections": 20, "keepalive_expiry": 5.0}


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with the address check in its connection pool.

    httpx takes no network backend, so the pool it made is replaced by one with the same
    limits and the guarded backend (``tests/test_outbound.py`` proves the guard is in place).
    """

    def __init__(self, policy: UrlPolicy) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_GuardedBackend(policy),
            **_POOL,  # type: ignore[arg-type]
        )


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: UrlPolicy) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_AsyncGuardedBackend(policy),
            **_POOL,  # type: ignore[arg-type]
        )


@dataclass
class _Circuit:
    waiting: int = 0
    failures: int = 0
    open_until: float = 0.0
    trial: bool = False
    """Half-open: one call is out to see whether the backend is back."""


@dataclass
class Bulkheads:
    """Per-department, per-purpose concurrency caps and circuit breakers, safe across threads.

    A department's service backend and its status-callback endpoint are separate addresses
    that fail separately, so each purpose has its own slots and its own circuit."""

    per_department: int = 8
    failures_to_open: int = 5
    open_seconds: float = 30.0
    _circuits: dict[tuple[str, str], _Circuit] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def slot(
        self, department: str, purpose: str = BACKEND, now: float | None = None
    ) -> Iterator[_Outcome]:
        """Hold one of the department's call slots for ``purpose``; the body reports how the
        call went with ``outcome.failed()``. Raises ``Busy`` or ``CircuitOpen`` without
        waiting."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            circuit = self._circuits.setdefault((department, purpose), _Circuit())
            trial = False
            if circuit.open_until:
                if moment < circuit.open_until or circuit.trial:
                    REFUSED.labels(department, purpose, "circuit_open").inc()
                    raise CircuitOpen(f"the department's {purpose} is not answering; not tried")
                trial = circuit.trial = True
            if circuit.waiting >= self.per_department:
                if trial:
                    circuit.trial = False
                REFUSED.labels(department, purpose, "busy").inc()
                raise Busy(f"{self.per_department} calls to the department's {purpose} are waiting")
            circuit.waiting += 1
        outcome = _Outcome()
        try:
            yield outcome
        except BaseException:
            outcome.failed()
            raise
        finally:
            self._settle(circuit, outcome.ok, trial)

    def _settle(self, circuit: _Circuit, ok: bool, trial: bool) -> None:
        with self._lock:
            circuit.waiting -= 1
            if trial:
                circuit.trial = False
            if ok:
                circuit.failures = 0
                circuit.open_until = 0.0
                return
            circuit.failures += 1
            if trial or circuit.failures >= self.failures_to_open:
                circuit.open_until = time.monotonic() + self.open_seconds

    def state(self, department: str, purpose: str = BACKEND) -> str:
        """``closed``, ``open`` or ``half-open`` (for metrics and tests)."""
        with self._lock:
            circuit = self._circuits.get((department, purpose))
            if circuit is None or not circuit.open_until:
                return "closed"
            return "open" if time.monotonic() < circuit.open_until else "half-open"

    def retry_after(self, department: str, purpose: str = BACKEND) -> float:
        """Seconds until the circuit lets a trial call through (0 when it would now): how long
        work waiting for this department and purpose can be put aside in one go."""
        with self._lock:
            circuit = self._circuits.get((department, purpose))
            if circuit is None or not circuit.open_until:
                return 0.0
            if circuit.trial:  # a trial is out; its outcome decides
                return max(circuit.open_until - time.monotonic(), 1.0)
            return max(circuit.open_until - time.monotonic(), 0.0)

    def room(self, department: str, purpose: str = BACKEND) -> int:
        """Slots free now for the department and purpose."""
        with self._lock:
            circuit = self._circuits.get((department, purpose))
            return self.per_department - (circuit.waiting if circuit else 0)


@dataclass
class _Outcome:
    ok: bool = True

    def failed(self) -> None:
        self.ok = False


@dataclass(frozen=True, slots=True)
class Reply:
    """A backend's answer, read whole within the call's cap."""

    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _headers(headers: Mapping[str, str]) -> dict[str, str]:
    # Asked for uncompressed: a compressed answer's cap would bound only its wire size.
    return {**headers, "Accept-Encoding": "identity"}


def _declared(response: httpx.Response, limit: int, strict: bool) -> None:
    length = response.headers.get("Content-Length", "")
    if strict and length.isdigit() and int(length) > limit:
        raise TooLarge(limit)


def _add(body: bytearray, chunk: bytes, limit: int, strict: bool) -> bool:
    """Append ``chunk`` up to ``limit``; whether to go on reading."""
    body += chunk[: limit + 1 - len(body)]
    if len(body) > limit:
        if strict:
            raise TooLarge(limit)
        del body[limit:]
        return False
    return True


def _decoded(response: httpx.Response, body: bytes, limit: int, strict: bool) -> Reply:
    """The body as sent, or inflated within the cap when a server compressed it anyway."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if strict and encoding not in ("", "identity"):
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise httpx.DecodingError(f"unsupported content encoding {encoding!r}")
        inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
        try:
            plain = inflate.decompress(body, limit + 1)
        except zlib.error as exc:
            raise httpx.DecodingError(str(exc)) from exc
        if len(plain) > limit or inflate.unconsumed_tail:
            raise TooLarge(limit)
        body = plain
    return Reply(response.status_code, bytes(body))


@dataclass
class Outbound:
    """The guarded clients and the bulkheads, built once per process from settings."""

    policy: UrlPolicy
    bulkheads: Bulkheads
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(
            transport=GuardedTransport(self.policy), follow_redirects=False, trust_env=False
        )

    def async_client(self, timeout: float) -> httpx.AsyncClient:
        """A client for one asyncio task's lifetime (clients are bound to their loop)."""
        return httpx.AsyncClient(
            transport=AsyncGuardedTransport(self.policy),
            follow_redirects=False,
            trust_env=False,
            timeout=timeout,
        )

    def call(
        self,
        method: str,
        url: str,
        *,
        budget: float,
        limit: int = BACKEND_LIMIT,
        strict: bool = True,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Reply:
        """One request, over within ``budget`` seconds all told, its answer read up to
        ``limit`` bytes: beyond it ``TooLarge`` (``strict``) or the rest left unread.

        Raises ``Refused`` (address), ``TooLarge``, or ``httpx.HTTPError`` (``unavailable``
        says whether it counts against the department)."""
        token = _DEADLINE.set(time.monotonic() + budget)
        try:
            with self.client.stream(
                method,
                url,
                headers=_headers(headers or {}),
                content=content,
                params=params,
                timeout=budget,
            ) as response:
                _declared(response, limit, strict)
                body = bytearray()
                for chunk in response.iter_raw():
                    if not _add(body, chunk, limit, strict):
                        break
                return _decoded(response, bytes(body), limit, strict)
        finally:
            _DEADLINE.reset(token)

    async def acall(
        self,
        http: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        budget: float,
        limit: int = BACKEND_LIMIT,
        strict: bool = True,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> Reply:
        """``call`` on an ``async_client``, with ``asyncio.timeout`` over the whole of it (name
        resolution included)."""
        token = _DEADLINE.set(time.monotonic() + budget)
        try:
            async with asyncio.timeout(budget):
                return await self._areceive(
                    http, method, url, budget, limit, strict, headers, content
                )
        except TimeoutError as exc:
            raise DeadlineExceeded(f"no complete answer within {budget} s") from exc
        finally:
            _DEADLINE.reset(token)

    @staticmethod
    async def _areceive(
        http: httpx.AsyncClient,
        method: str,
        url: str,
        budget: float,
        limit: int,
        strict: bool,
        headers: Mapping[str, str] | None,
        content: bytes | None,
    ) -> Reply:
        async with http.stream(
            method, url, headers=_headers(headers or {}), content=content, timeout=budget
        ) as response:
            _declared(response, limit, strict)
            body = bytearray()
            chunks: AsyncIterator[bytes] = response.aiter_raw()
            async for chunk in chunks:
                if not _add(body, chunk, limit, strict):
                    break
            return _decoded(response, bytes(body), limit, strict)

    def close(self) -> None:
        self.client.close()
