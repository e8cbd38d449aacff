"""USSD hops per second against a real `seva demo`, with start-up time and idle memory.

Starts `seva demo` on a fresh data directory (embedded SQLite, as a newcomer runs it), times
how long until /healthz answers, reads its resident memory once idle, then drives USSD
sessions the way an aggregator does (form POSTs with the `*`-joined history) from concurrent
clients for a fixed duration. Each session walks four hops: dial *166#, pick Food, pick
Ration card status, enter the card number, and checks the final `END` answer.

    .venv/bin/python bench/ussd_hops.py [--seconds 20] [--concurrency 16]
    .venv/bin/python bench/ussd_hops.py --workers 2 \
        --database-url postgresql://postgres@127.0.0.1:5432/seva_bench --redis-url redis://127.0.0.1:6379/1

The second form is the scale-out shape: `seva serve --workers N` on PostgreSQL and Redis (the
database is created if missing, migrated and seeded first).

Prints figures; asserts nothing. Bounded by --seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from procstats import free_port, tree_memory_mib

HOPS = ["", "2", "2*1", "2*1*1234567890"]
EXPECTED_END = "END Ration card 1234567890 (Sunita Devi): Active."
SECRET = "bench-secret-key-not-for-production"


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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def session_worker(
    client: httpx.AsyncClient,
    url: str,
    worker: int,
    deadline: float,
    latencies: list[float],
    errors: list[str],
) -> int:
    sessions = 0
    while time.perf_counter() < deadline:
        session_id = f"bench-{worker}-{sessions}"
        phone = f"+9198{worker:04d}{sessions % 10000:04d}"
        for hop in HOPS:
            form = {
                "sessionId": session_id,
                "serviceCode": "*166#",
                "phoneNumber": phone,
                "networkCode": "40410",
                "text": hop,
            }
            started = time.perf_counter()
            response = await client.post(url, data=form)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors.append(f"HTTP {response.status_code}")
                break
        else:
            if not response.text.startswith(EXPECTED_END):
                errors.append(f"unexpected answer: {response.text[:60]!r}")
        sessions += 1
    return sessions


async def drive(base: str, seconds: float, concurrency: int) -> None:
    url = f"{base}/channels/ussd/africastalking"
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        # Warm up: one session so imports and caches are not in the figures.
        await session_worker(client, url, 9999, time.perf_counter() + 0.01, [], [])
        started = time.perf_counter()
        deadline = started + seconds
        counts = await asyncio.gather(
            *(
                session_worker(client, url, w, deadline, latencies, errors)
                for w in range(concurrency)
            )
        )
        elapsed = time.perf_counter() - started
    hops = len(latencies)
    print(f"concurrency          {concurrency}")
    print(f"sessions completed   {sum(counts)}  ({sum(counts) / elapsed:.1f}/s)")
    print(f"USSD hops            {hops} in {elapsed:.1f} s = {hops / elapsed:.1f} hops/s")
    if latencies:
        ms = [v * 1000 for v in latencies]
        print(
            f"latency ms           p50 {percentile(ms, 50):.1f}  p90 {percentile(ms, 90):.1f}  "
            f"p99 {percentile(ms, 99):.1f}  max {max(ms):.1f}  mean {statistics.fmean(ms):.1f}"
        )
    print(f"errors               {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=0, help="seva serve workers (scale-out)")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args()
    if args.workers:
        if not args.database_url:
            raise SystemExit("--workers needs --database-url (PostgreSQL)")
        prepare_database(args.database_url)

    seva = Path(sys.executable).parent / "seva"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="seva-bench-") as data:
        env = os.environ | {"SEVA_DATA_DIR": data, "SEVA_BASE_URL": base}
        env.pop("SEVA_DATABASE_URL", None)
        env.pop("SEVA_REDIS_URL", None)
        command = [str(seva), "demo", "--host", "127.0.0.1", "--port", str(port)]
        if args.workers:
            env["SEVA_DATABASE_URL"] = args.database_url
            env["SEVA_SECRET_KEY"] = SECRET
            env["SEVA_AFRICASTALKING_ALLOW"] = "127.0.0.1"  # the benchmark is the aggregator
            if args.redis_url:
                env["SEVA_REDIS_URL"] = args.redis_url
            command = [str(seva), "serve", "--port", str(port), "--workers", str(args.workers)]
        started = time.perf_counter()
        proc = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            ready = None
            while time.perf_counter() - started < 60:
                if proc.poll() is not None:
                    raise SystemExit(f"seva demo exited: {proc.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        ready = time.perf_counter() - started
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
            if ready is None:
                raise SystemExit("seva demo did not answer /healthz within 60 s")
            time.sleep(2)
            print(f"machine              {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
            what = (
                f"seva serve --workers {args.workers} (PostgreSQL"
                + (", Redis)" if args.redis_url else ")")
                if args.workers
                else "seva demo (fresh data dir: migrate + seed, SQLite)"
            )
            print(f"server               {what}")
            print(f"start-up             {ready:.2f} s to first /healthz")
            print(f"idle memory          {tree_memory_mib(proc.pid):.0f} MiB RSS (all processes)")
            asyncio.run(drive(base, args.seconds, args.concurrency))
            print(f"memory after load    {tree_memory_mib(proc.pid):.0f} MiB RSS")
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
