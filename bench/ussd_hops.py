"""USSD (or SMS pull) hops per second and server CPU per hop: Seva against a bare-ASGI floor.

Starts Seva, times how long until /healthz answers and reads its resident memory once idle,
then drives it the way an aggregator does, from concurrent clients for a fixed duration; then
does the same to the *floor*: ``asgi_floor.py`` beside this file, a pure ASGI callable that
reads the same form bodies and answers the same screens with no framework and no database,
served by the same uvicorn with the same event loop (``auto``: uvloop), HTTP parser (``auto``:
httptools) and number of worker processes as Seva. Seva's figures are then printed as a
multiple of the floor's: what the gateway costs over what any Python ASGI server costs here.

    .venv/bin/python bench/ussd_hops.py [--seconds 20] [--concurrency 16] [--channel ussd|sms]
    .venv/bin/python bench/ussd_hops.py --workers 2 \\
        --database-url postgresql://postgres@127.0.0.1:5432/seva_bench --redis-url redis://127.0.0.1:6379/1

Targets. By default `seva demo` on a fresh data directory (embedded SQLite, one process, as
a newcomer runs it; its SMSC simulator, dispatcher and SIP run in that process too and their
idle CPU counts). With ``--workers N`` it is the scale-out shape, `seva serve --workers N` on
PostgreSQL (and Redis with ``--redis-url``); the database is created if missing, migrated and
seeded first. Either way the benchmark is the aggregator: ``SEVA_AFRICASTALKING_ALLOW`` and
``SEVA_KANNEL_ALLOW`` name 127.0.0.1, and no other ``SEVA_*`` setting of the calling shell is
passed on, so a run does not depend on who starts it (``--set SEVA_NAME=VALUE`` passes one).
`seva serve` logs every request at info level (uvicorn's access log through Seva's redacting
handler); the floor logs nothing: that logging is part of what Seva costs over the floor.

Channels. *ussd* (``POST /channels/ussd/africastalking``): each session walks four hops, dial
*166#, pick Food, pick Ration card status, enter the card number, and checks the final answer
is the card's status. *sms* (``POST /channels/sms/kannel``, form fields ``from``, ``to``,
``text``): each request is ``RATION 1234567890`` from a new number, one hop whose reply is read
from the demo's ration card data set, and checked.

The client is a few lines of asyncio over raw sockets: one keep-alive HTTP/1.1 connection
per concurrent worker, each request a hand-built form POST with Content-Length, each answer
read as headers up to the blank line and then Content-Length bytes. A general HTTP client
spends most of a millisecond of CPU per request, on a machine where client and server share
the cores; this one costs a small fraction of the server's work (its CPU per hop is printed).
Each target gets ``--warmup`` seconds of the same load first, on the same connections, so
imports and caches are not in the figures.

Measured per target: hops/s, latency percentiles, errors, and the server's CPU per hop:
utime + stime from /proc/<pid>/stat summed over the server's process tree (the uvicorn
master and its workers) just before and just after the load window, divided by the hops.
On PostgreSQL running on this machine, the CPU of its backends connected to the benchmark's
database is read the same way and shown beside it (not in the ratio: the floor has no
database); Redis's is not counted (one shared process). The machine's other load shows in
every figure: compare runs made back to back.

Prints figures; asserts nothing. Bounded by --seconds (and a 30 s grace for late answers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from procstats import cpu_seconds, free_port, tree_cpu_seconds, tree_memory_mib

HOPS = ["", "2", "2*1", "2*1*1234567890"]
EXPECTED_END = "END Ration card 1234567890 (Sunita Devi): Active."
SMS_TEXT = "RATION 1234567890"
EXPECTED_SMS = "Ration card 1234567890 (Sunita Devi): Active."
USSD_PATH = "/channels/ussd/africastalking"
SMS_PATH = "/channels/sms/kannel"
SECRET = "bench-secret-key-not-for-production"
HERE = Path(__file__).resolve().parent
LATE = 30.0
"""Seconds past the deadline a worker may take to finish the hop it is in."""


class ProtocolError(Exception):
    """An answer this client does not read (no Content-Length, a chunked body)."""


class HttpConnection:
    """One keep-alive HTTP/1.1 connection that sends form POSTs and reads whole answers.

    Only what the two servers here answer is read: a status line, headers with a
    Content-Length, that many bytes. The connection is (re)opened on first use and after a
    failure or a ``Connection: close``."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._prefix = f"Host: {host}:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"

    async def post(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        body = urlencode(form).encode()
        head = f"POST {path} HTTP/1.1\r\n{self._prefix}Content-Length: {len(body)}\r\n\r\n"
        self._writer.write(head.encode() + body)
        raw = await self._reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = raw[:-4].partition(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length: int | None = None
        close = False
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                raise ProtocolError(f"transfer-encoding {value.strip().decode()!r}")
        if length is None:
            raise ProtocolError("no content-length")
        text = (await self._reader.readexactly(length)).decode()
        if close:
            self.close()
        return status, text

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


@dataclass
class Load:
    """What one load window produced."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    sessions: int = 0
    elapsed: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    database_cpu: float | None = None
    """PostgreSQL's backends for the benchmark's database, when it runs on this machine."""

    @property
    def hops(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.hops / self.elapsed if self.elapsed else 0.0

    def ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000 if self.latencies else 0.0

    @property
    def cpu_ms_per_hop(self) -> float:
        return self.server_cpu * 1000 / self.hops if self.hops else 0.0

    @property
    def database_ms_per_hop(self) -> float | None:
        if self.database_cpu is None or not self.hops:
            return None
        return self.database_cpu * 1000 / self.hops

    @property
    def client_ms_per_hop(self) -> float:
        return self.client_cpu * 1000 / self.hops if self.hops else 0.0


@dataclass
class Figures:
    name: str
    startup: float
    idle_mib: float
    idle_cpu: float
    """CPU seconds per second while idle, once start-up work has died down."""
    load: Load
    loaded_mib: float


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# -- the walks ---------------------------------------------------------------------------------

Walk = Callable[[HttpConnection, str, int, int, list[float]], Coroutine[Any, Any, str | None]]


async def ussd_session(
    conn: HttpConnection, run: str, worker: int, n: int, latencies: list[float]
) -> str | None:
    """One four-hop USSD session; an error as a short text, or None."""
    session_id = f"bench-{run}-{worker}-{n}"
    phone = f"+9198{worker:04d}{n % 10000:04d}"
    for hop in HOPS:
        form = {
            "sessionId": session_id,
            "serviceCode": "*166#",
            "phoneNumber": phone,
            "networkCode": "40410",
            "text": hop,
        }
        started = time.perf_counter()
        status, text = await conn.post(USSD_PATH, form)
        latencies.append(time.perf_counter() - started)
        if status != 200:
            return f"HTTP {status}"
        if hop != HOPS[-1] and not text.startswith("CON "):
            return f"hop {hop!r} answered {text[:50]!r}"
    if not text.startswith(EXPECTED_END):
        return f"unexpected answer: {text[:60]!r}"
    return None


async def sms_request(
    conn: HttpConnection, run: str, worker: int, n: int, latencies: list[float]
) -> str | None:
    """One SMS pull: the keyword with its argument, answered from the data set."""
    del run  # every request starts its conversation afresh: the keyword does that
    form = {"from": f"+9197{worker:04d}{n % 10000:04d}", "to": "166", "text": SMS_TEXT}
    started = time.perf_counter()
    status, text = await conn.post(SMS_PATH, form)
    latencies.append(time.perf_counter() - started)
    if status != 200:
        return f"HTTP {status}"
    if not text.startswith(EXPECTED_SMS):
        return f"unexpected answer: {text[:60]!r}"
    return None


async def worker(
    conn: HttpConnection, walk: Walk, run: str, number: int, deadline: float, load: Load
) -> None:
    n = 0
    while time.perf_counter() < deadline:
        try:
            error = await walk(conn, run, number, n, load.latencies)
        except (OSError, EOFError, ValueError, ProtocolError) as exc:
            # EOFError: asyncio.IncompleteReadError, the server closed mid-answer.
            error = f"{type(exc).__name__}: {exc}"[:80]
            conn.close()
        if error is not None:
            load.errors[error] += 1
        n += 1
        load.sessions += 1


async def window(
    conns: list[HttpConnection],
    walk: Walk,
    run: str,
    seconds: float,
    server_pid: int | None,
    backends: Backends | None = None,
) -> Load:
    """Every connection's worker walks until ``seconds`` have passed; CPU read around it."""
    load = Load()
    database0 = backend_cpu(backends) if backends else {}
    cpu0 = tree_cpu_seconds(server_pid) if server_pid else 0.0
    client0 = time.process_time()
    started = time.perf_counter()
    deadline = started + seconds
    tasks = [
        asyncio.create_task(worker(conn, walk, run, number, deadline, load))
        for number, conn in enumerate(conns)
    ]
    _done, late = await asyncio.wait(tasks, timeout=seconds + LATE)
    for task in late:
        task.cancel()
        load.errors[f"no answer within {LATE:.0f} s of the end"] += 1
    load.elapsed = time.perf_counter() - started
    load.client_cpu = time.process_time() - client0
    load.server_cpu = (tree_cpu_seconds(server_pid) - cpu0) if server_pid else 0.0
    if backends:
        # A backend not there at the start was opened in the window: all its time counts.
        database1 = backend_cpu(backends)
        if database1:
            load.database_cpu = sum(t - database0.get(pid, 0.0) for pid, t in database1.items())
    return load


Backends = Callable[[], list[int]]


def backend_cpu(backends: Backends) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend ``backends`` names that this machine shows."""
    found: dict[int, float] = {}
    for pid in backends():
        with contextlib.suppress(OSError):  # ended meanwhile, or PostgreSQL is elsewhere
            found[pid] = cpu_seconds(pid)
    return found


def database_backends(url: str) -> Backends:
    """The server processes of the connections to ``url``'s database, asked of PostgreSQL
    from its maintenance database (so the asking connection is not among them)."""
    from sqlalchemy import text

    from seva.db.session import make_engine

    base, name = url.rsplit("/", 1)
    engine = make_engine(base + "/postgres")
    query = text("SELECT pid FROM pg_stat_activity WHERE datname = :n")

    def pids() -> list[int]:
        with engine.connect() as conn:
            return [int(row[0]) for row in conn.execute(query, {"n": name})]

    return pids


async def drive(
    port: int,
    channel: str,
    seconds: float,
    warmup: float,
    concurrency: int,
    pid: int,
    backends: Backends | None,
) -> Load:
    walk: Walk = ussd_session if channel == "ussd" else sms_request
    run = f"{os.getpid():x}{int(time.time()) % 100000:x}"  # session ids new on every run
    conns = [HttpConnection("127.0.0.1", port) for _ in range(concurrency)]
    try:
        if warmup > 0:
            await window(conns, walk, run + "w", warmup, None)
        return await window(conns, walk, run, seconds, pid, backends)
    finally:
        for conn in conns:
            conn.close()


def run_client(coroutine: Coroutine[Any, Any, Load]) -> Load:
    """Run the client on uvloop where it is installed (it is with uvicorn[standard]): the
    cheaper the client, the more of the shared cores the server has."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


# -- servers -----------------------------------------------------------------------------------


def prepare_database(url: str) -> None:
    """Create (if missing), migrate and seed the scale-out database."""
    from sqlalchemy import text

    from seva.db.migrate import upgrade
    from seva.db.session import make_engine
    from seva.demo.seed import seed
    from seva.gateway import build_gateway
    from seva.settings import Settings

    base, name = url.rsplit("/", 1)
    admin = make_engine(base + "/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    upgrade(url)
    gateway = build_gateway(Settings(secret_key=SECRET), database_url=url)
    with gateway.session() as session:
        seed(session)
    gateway.close()


def healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def measure(
    name: str,
    command: list[str],
    env: dict[str, str],
    port: int,
    workdir: Path,
    args: argparse.Namespace,
    backends: Backends | None = None,
) -> Figures:
    """Start one server, wait for it, let it settle, load it, stop it."""
    log = workdir / f"{name.split()[0]}-{port}.log"
    started = time.perf_counter()
    with log.open("wb") as out:
        # Output to a file, never a pipe nobody reads: `seva serve` logs every request.
        proc = subprocess.Popen(
            command, env=env, stdout=out, stderr=out, start_new_session=True, cwd=workdir
        )
    try:
        ready = None
        while time.perf_counter() - started < 60:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-800:]
                raise SystemExit(f"{name} exited with {proc.returncode}:\n{tail}")
            if healthy(port):
                ready = time.perf_counter() - started
                break
            time.sleep(0.05)
        if ready is None:
            raise SystemExit(f"{name} did not answer /healthz within 60 s")
        # Work goes on after /healthz first answers (background tasks starting, first
        # imports): it is let die down and shown, then idle CPU is read over a quiet second.
        settle, quiet = 2.0, 1.0
        cpu0 = tree_cpu_seconds(proc.pid)
        time.sleep(settle)
        cpu1 = tree_cpu_seconds(proc.pid)
        time.sleep(quiet)
        idle_cpu = (tree_cpu_seconds(proc.pid) - cpu1) / quiet
        idle_mib = tree_memory_mib(proc.pid)
        print(f"\n== {name}", flush=True)
        print(f"start-up             {ready:.2f} s to first /healthz")
        print(f"after start-up       {cpu1 - cpu0:.2f} s CPU in the {settle:.0f} s after that")
        print(f"idle memory          {idle_mib:.0f} MiB RSS (all processes)")
        print(f"idle CPU             {idle_cpu * 1000:.0f} ms/s (the second after those)")
        load = run_client(
            drive(
                port, args.channel, args.seconds, args.warmup, args.concurrency, proc.pid, backends
            )
        )
        loaded_mib = tree_memory_mib(proc.pid)
        report(load, args)
        print(f"memory after load    {loaded_mib:.0f} MiB RSS", flush=True)
        return Figures(name, ready, idle_mib, idle_cpu, load, loaded_mib)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def report(load: Load, args: argparse.Namespace) -> None:
    what = "USSD sessions" if args.channel == "ussd" else "SMS requests"
    hops = "USSD hops" if args.channel == "ussd" else "SMS hops"
    print(f"concurrency          {args.concurrency} connections, {args.seconds:.0f} s")
    print(f"{what:20} {load.sessions}  ({load.sessions / load.elapsed:.1f}/s)")
    print(f"{hops:20} {load.hops} in {load.elapsed:.1f} s = {load.rate:.1f} hops/s")
    if load.latencies:
        ms = [v * 1000 for v in load.latencies]
        print(
            f"latency ms           p50 {load.ms(50):.1f}  p90 {load.ms(90):.1f}  "
            f"p99 {load.ms(99):.1f}  max {max(ms):.1f}  mean {statistics.fmean(ms):.1f}"
        )
    print(f"server CPU per hop   {load.cpu_ms_per_hop:.2f} ms ({load.server_cpu:.1f} s in all)")
    database = load.database_ms_per_hop
    if database is not None:
        print(f"PostgreSQL CPU/hop   {database:.2f} ms (its backends for this database)")
    print(f"client CPU per hop   {load.client_ms_per_hop:.2f} ms")
    total = sum(load.errors.values())
    first = load.errors.most_common(1)
    print(f"errors               {total}" + (f" (most: {first[0][0]})" if first else ""))


def summary(results: list[Figures]) -> None:
    print()
    print(
        f"{'target':44} {'hops/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms/hop':>10} "
        f"{'PG ms/hop':>9} {'errors':>6}  ratio to floor (hops/s, CPU/hop)"
    )
    floor = next((r for r in results if r.name.startswith("floor")), None)
    for r in results:
        load = r.load
        ratio = ""
        if floor is not None and r is not floor and floor.load.rate and floor.load.cpu_ms_per_hop:
            ratio = (
                f"{load.rate / floor.load.rate:.2f}x, "
                f"{load.cpu_ms_per_hop / floor.load.cpu_ms_per_hop:.1f}x"
            )
        database = load.database_ms_per_hop
        pg = f"{database:9.2f}" if database is not None else f"{'-':>9}"
        print(
            f"{r.name:44} {load.rate:8.1f} {load.ms(50):7.1f} {load.ms(99):7.1f} "
            f"{load.cpu_ms_per_hop:10.2f} {pg} {sum(load.errors.values()):6d}  {ratio}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load first")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--channel", choices=("ussd", "sms"), default="ussd")
    parser.add_argument("--workers", type=int, default=0, help="seva serve workers (scale-out)")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--no-floor", action="store_true", help="measure Seva only")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SEVA_NAME=VALUE",
        help="a setting for Seva (repeatable), e.g. SEVA_HOPS_AT_ONCE=2",
    )
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.set)
    if any(not name.startswith("SEVA_") for name in settings):
        raise SystemExit("--set takes SEVA_NAME=VALUE")
    if args.workers:
        if not args.database_url:
            raise SystemExit("--workers needs --database-url (PostgreSQL)")
        prepare_database(args.database_url)

    bin_dir = Path(sys.executable).parent
    print(f"machine              {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"channel              {args.channel}")
    results: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="seva-bench-") as tmp:
        workdir = Path(tmp)
        data = workdir / "data"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEVA_")}
        env |= {
            "SEVA_DATA_DIR": str(data),
            "SEVA_BASE_URL": base,
            # The benchmark is the aggregator and the SMSC's Kannel.
            "SEVA_AFRICASTALKING_ALLOW": "127.0.0.1",
            "SEVA_KANNEL_ALLOW": "127.0.0.1",
        }
        seva = str(bin_dir / "seva")
        seva_env = env | settings
        if args.workers:
            seva_env |= {"SEVA_DATABASE_URL": args.database_url, "SEVA_SECRET_KEY": SECRET}
            if args.redis_url:
                seva_env["SEVA_REDIS_URL"] = args.redis_url
            command = [seva, "serve", "--port", str(port), "--workers", str(args.workers)]
            name = f"seva serve --workers {args.workers} (PostgreSQL" + (
                ", Redis)" if args.redis_url else ")"
            )
        else:
            command = [seva, "demo", "--host", "127.0.0.1", "--port", str(port)]
            name = "seva demo (fresh: migrate + seed, SQLite)"
        backends = database_backends(args.database_url) if args.workers else None
        if settings:
            name += " " + " ".join(args.set)
        results.append(measure(name, command, seva_env, port, workdir, args, backends))

        if not args.no_floor:
            port = free_port()
            floor = [str(bin_dir / "python"), "-m", "uvicorn", "asgi_floor:app"]
            floor += ["--app-dir", str(HERE), "--host", "127.0.0.1", "--port", str(port)]
            floor += ["--loop", "auto", "--http", "auto", "--log-level", "warning"]
            floor += ["--no-access-log"]
            if args.workers:  # as `seva serve` runs it
                floor += ["--workers", str(args.workers), "--proxy-headers"]
                floor += ["--forwarded-allow-ips", "127.0.0.1"]
            floor_name = f"floor: bare ASGI on uvicorn, {max(1, args.workers)} process(es)"
            results.append(measure(floor_name, floor, env, port, workdir, args))
    summary(results)


if __name__ == "__main__":
    main()
