"""``seva.outbound``: where Seva may call, and how one department's backend is kept its own.

No test here sends traffic beyond loopback: public addresses appear only in registration
checks, which resolve nothing, and every connection test points at a server on 127.0.0.1
(or at ``localhost``, which resolves from /etc/hosts).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator

import httpx
import pytest

from seva import outbound as outbound_module
from seva.outbound import (
    BACKEND,
    CALLBACK_LIMIT,
    CALLBACKS,
    Bulkheads,
    Busy,
    CircuitOpen,
    Outbound,
    Refused,
    TooLarge,
    UrlPolicy,
    numeric_address,
    unavailable,
)

REFUSED = [
    "http://127.0.0.1:8000/cards",
    "http://127.1/",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://0x7f.0.0.1/",
    "http://0.0.0.0:80/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    "http://10.0.0.5/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://192.0.2.10/",  # documentation
    "http://localhost:9000/",
    "http://api.localhost/",
    "ftp://files.example.gov.in/",
    "file:///etc/passwd",
    "http://user:secret@pds.example.gov.in/",
    "http:///no-host",
]


@pytest.mark.parametrize("url", REFUSED)
def test_registration_refuses_what_is_not_public(url: str) -> None:
    with pytest.raises(Refused):
        UrlPolicy().check_url(url)


@pytest.mark.parametrize(
    "url",
    ["https://pds.example.gov.in/cards/{card_no}", "http://8.8.8.8/x", "http://[2001:4860::8888]/"],
)
def test_registration_takes_public_urls(url: str) -> None:
    UrlPolicy().check_url(url)  # resolves nothing: names are checked when called


def test_an_operator_can_allow_a_network() -> None:
    policy = UrlPolicy.from_setting("10.20.0.0/16, 127.0.0.1")
    policy.check_url("http://10.20.3.4:8080/cards")
    policy.check_url("http://127.0.0.1:8000/demo/backend")
    policy.check_url("http://localhost:8000/")  # loopback is allowed, so is its name
    with pytest.raises(Refused):
        policy.check_url("http://10.21.0.1/")
    with pytest.raises(ValueError):
        UrlPolicy.from_setting("not-a-network")


def test_numeric_forms_are_read_without_dns() -> None:
    assert str(numeric_address("2130706433")) == "127.0.0.1"
    assert str(numeric_address("[::1]")) == "::1"
    assert numeric_address("pds.example.gov.in") is None


class Listener:
    """A loopback TCP server that counts connections and answers every request with 200 {}
    (or, ``hang=True``, never answers until closed)."""

    def __init__(self, *, hang: bool = False) -> None:
        self.hang = hang
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.arrived = threading.Condition()
        self.open: list[socket.socket] = []
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.arrived:
                self.accepted += 1
                self.open.append(conn)
                self.arrived.notify_all()
            if not self.hang:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
                    )
                except OSError:
                    pass
                conn.close()

    def wait_for(self, count: int, timeout: float) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: self.accepted >= count, timeout)

    def close(self) -> None:
        self.closing.set()
        self.sock.close()
        self.thread.join(timeout=5)
        for conn in self.open:
            conn.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def test_a_name_resolving_to_loopback_is_refused_when_connecting(listener: Listener) -> None:
    """``localhost`` passes no textual check of an allow-less policy at connection time
    unless its resolved address is allowed: the guard resolves and checks before connecting."""
    outbound = Outbound(UrlPolicy(), Bulkheads())
    with pytest.raises(Refused, match="not a public address"):
        outbound.client.get(f"http://localhost:{listener.port}/", timeout=2)
    with pytest.raises(Refused):
        outbound.client.get(f"http://127.0.0.1:{listener.port}/", timeout=2)
    with pytest.raises(Refused):
        outbound.client.get(f"http://2130706433:{listener.port}/", timeout=2)
    assert listener.accepted == 0
    outbound.close()


def test_the_async_client_is_guarded_too(listener: Listener) -> None:
    async def call() -> None:
        async with Outbound(UrlPolicy(), Bulkheads()).async_client(timeout=2) as http:
            await http.get(f"http://localhost:{listener.port}/")

    with pytest.raises(Refused):
        asyncio.run(call())
    assert listener.accepted == 0


def test_allowed_addresses_are_reached(listener: Listener) -> None:
    outbound = Outbound(UrlPolicy.from_setting("127.0.0.0/8"), Bulkheads())
    response = outbound.client.get(f"http://localhost:{listener.port}/", timeout=2)
    assert response.status_code == 200 and response.json() == {}
    outbound.close()

    async def call() -> int:
        async with Outbound(UrlPolicy.from_setting("127.0.0.1"), Bulkheads()).async_client(
            timeout=2
        ) as http:
            return (await http.get(f"http://127.0.0.1:{listener.port}/")).status_code

    assert asyncio.run(call()) == 200


def test_no_proxy_from_the_environment(listener: Listener, monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy in the environment would make the address check meaningless: it is ignored."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    outbound = Outbound(UrlPolicy.from_setting("127.0.0.1"), Bulkheads())
    assert outbound.client.get(f"http://127.0.0.1:{listener.port}/", timeout=2).status_code == 200
    outbound.close()


def test_a_department_may_have_only_so_many_calls_waiting() -> None:
    heads = Bulkheads(per_department=2)
    with heads.slot("JAL"), heads.slot("JAL"):
        with pytest.raises(Busy), heads.slot("JAL"):
            pass
        with heads.slot("FOOD"):  # another department is not affected
            pass
    with heads.slot("JAL"):  # slots come back
        pass


def test_the_circuit_opens_after_failures_and_lets_one_trial_through() -> None:
    heads = Bulkheads(per_department=10, failures_to_open=3, open_seconds=0.2)
    for _ in range(3):
        with heads.slot("JAL") as outcome:
            outcome.failed()
    assert heads.state("JAL") == "open"
    with pytest.raises(CircuitOpen), heads.slot("JAL"):
        pass
    with heads.slot("FOOD"):
        pass
    assert heads.state("FOOD") == "closed"

    # Once the pause is over one call tries; while it is out, others are still refused.
    later = time.monotonic() + heads.retry_after("JAL") + 0.01
    with heads.slot("JAL", now=later) as trial:
        with pytest.raises(CircuitOpen), heads.slot("JAL", now=later):
            pass
        trial.failed()
    assert heads.state("JAL") == "open"  # a failed trial opens it again at once

    later = time.monotonic() + heads.retry_after("JAL") + 0.01
    with heads.slot("JAL", now=later):
        pass  # the backend is back
    assert heads.state("JAL") == "closed"
    for _ in range(2):
        with heads.slot("JAL") as outcome:
            outcome.failed()
    assert heads.state("JAL") == "closed"  # the count started again


def test_an_exception_in_a_call_counts_as_a_failure() -> None:
    heads = Bulkheads(failures_to_open=1)
    with pytest.raises(httpx.ReadTimeout), heads.slot("JAL"):
        raise httpx.ReadTimeout("slow")
    assert heads.state("JAL") == "open"


class Dribbler:
    """A loopback server with one scripted answer: ``head`` then ``body``, written in pieces of
    ``piece`` bytes every ``pause`` seconds; it records how much it managed to send and whether
    the client hung up before the end."""

    def __init__(self, head: bytes, body_size: int, *, piece: int, pause: float = 0.0) -> None:
        self.head, self.body_size, self.piece, self.pause = head, body_size, piece, pause
        self.sent = 0
        self.cut = threading.Event()
        self.done = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        try:
            conn.recv(65536)
            filler = b"x" * self.piece  # the body is never built whole: memory is measured
            pieces = [self.head[i : i + self.piece] for i in range(0, len(self.head), self.piece)]
            pieces += [filler] * (self.body_size // self.piece)
            for piece in pieces:
                conn.sendall(piece)
                self.sent += len(piece)
                if self.pause:
                    time.sleep(self.pause)
        except OSError:
            self.cut.set()
        finally:
            conn.close()
            self.done.set()

    def close(self) -> None:
        self.sock.close()
        self.thread.join(timeout=10)


OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("what", ["body", "head"])
def test_a_trickling_server_is_cut_at_the_calls_budget(what: str) -> None:
    """httpx's timeout is per read, so one byte every 0.2 s never trips it; the call's budget
    is the whole call's."""
    padded = OK_HEAD.replace(b"\r\n\r\n", b"\r\nX-Pad: " + b"a" * 80 + b"\r\n\r\n")
    server = Dribbler(OK_HEAD if what == "body" else padded, 100, piece=1, pause=0.2)
    outbound = Outbound(UrlPolicy.from_setting("127.0.0.1"), Bulkheads())
    started = time.monotonic()
    with pytest.raises(httpx.TimeoutException) as raised:
        outbound.call("GET", f"http://127.0.0.1:{server.port}/", budget=1.0)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0 + 0.5, elapsed
    assert unavailable(raised.value)  # a missed deadline counts against the backend
    outbound.close()
    server.close()


def test_a_trickling_server_is_cut_at_the_budget_of_an_async_call() -> None:
    server = Dribbler(OK_HEAD, 100, piece=1, pause=0.2)
    outbound = Outbound(UrlPolicy.from_setting("127.0.0.1"), Bulkheads())

    async def call() -> None:
        async with outbound.async_client(timeout=30) as http:
            await outbound.acall(http, "POST", f"http://127.0.0.1:{server.port}/", budget=1.0)

    started = time.monotonic()
    with pytest.raises(httpx.TimeoutException):
        asyncio.run(call())
    assert time.monotonic() - started < 1.5
    outbound.close()
    server.close()


BIG = 64 << 20  # more than the loopback socket buffers can hold


def test_a_huge_answer_is_cut_at_the_cap_and_fails() -> None:
    """No Content-Length (read until close): the body is read up to the cap, then the
    connection is dropped; the server sees it closed long before the end."""
    server = Dribbler(OK_HEAD, BIG, piece=65536)
    outbound = Outbound(UrlPolicy.from_setting("127.0.0.1"), Bulkheads())
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge, match="response too large"):
            outbound.call("GET", f"http://127.0.0.1:{server.port}/", budget=10, limit=1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert server.done.wait(10)
    assert server.cut.is_set() and server.sent < BIG // 4, server.sent
    assert peak < 8 << 20, peak
    assert not unavailable(TooLarge(1))  # the backend answered: not an outage
    outbound.close()
    server.close()


def test_a_declared_huge_answer_fails_before_its_body_is_read() -> None:
    head = OK_HEAD.replace(b"Connection", f"Content-Length: {BIG}\r\nConnection".encode())
    server = Dribbler(head, BIG, piece=65536)
    outbound = Outbound(UrlPolicy.from_setting("127.0.0.1"), Bulkheads())
    with pytest.raises(TooLarge):
        outbound.call("GET", f"http://127.0.0.1:{server.port}/", budget=10, limit=1 << 20)
    assert server.done.wait(10) and server.cut.is_set()
    outbound.close()
    server.close()


def test_a_callbacks_answer_is_read_up_to_the_cap_only() -> None:
    """A status callback's body is ignored: the status counts, the first bytes are read and
    the rest is never fetched."""
    server = Dribbler(OK_HEAD, BIG, piece=65536)
    outbound = Outbound(UrlPolicy.from_setting("127.0.0.1"), Bulkheads())

    async def call() -> tuple[int, int]:
        async with outbound.async_client(timeout=30) as http:
            reply = await outbound.acall(
                http,
                "POST",
                f"http://127.0.0.1:{server.port}/",
                budget=10,
                limit=CALLBACK_LIMIT,
                strict=False,
            )
        return reply.status, len(reply.body)

    assert asyncio.run(call()) == (200, CALLBACK_LIMIT)
    assert server.done.wait(10) and server.cut.is_set() and server.sent < BIG // 4
    outbound.close()
    server.close()


def test_waiting_for_a_pooled_connection_is_not_the_departments_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The guarded transports share one pool; when it is exhausted the wait times out as
    ``PoolTimeout``, which must not open a healthy department's circuit."""
    monkeypatch.setitem(outbound_module._POOL, "max_connections", 1)
    hang = Listener(hang=True)
    outbound = Outbound(UrlPolicy.from_setting("127.0.0.1"), Bulkheads())

    def hold() -> None:
        with pytest.raises(httpx.HTTPError):
            outbound.call("GET", f"http://127.0.0.1:{hang.port}/", budget=3)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert hang.wait_for(1, timeout=5)
    with pytest.raises(httpx.PoolTimeout) as raised:
        outbound.call("GET", f"http://127.0.0.1:{hang.port}/other", budget=0.3)
    assert not unavailable(raised.value)
    hang.close()
    holder.join(timeout=5)
    outbound.close()


def test_callbacks_and_backend_calls_have_their_own_circuits() -> None:
    heads = Bulkheads(per_department=2, failures_to_open=2)
    for _ in range(2):
        with heads.slot("JAL", CALLBACKS) as outcome:
            outcome.failed()
    assert heads.state("JAL", CALLBACKS) == "open"
    assert heads.retry_after("JAL", CALLBACKS) > 0
    with pytest.raises(CircuitOpen), heads.slot("JAL", CALLBACKS):
        pass
    assert heads.state("JAL", BACKEND) == "closed"
    with heads.slot("JAL", BACKEND), heads.slot("JAL", BACKEND):  # its own slots too
        assert heads.room("JAL", BACKEND) == 0 and heads.room("JAL", CALLBACKS) == 2
