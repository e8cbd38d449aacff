"""Calls: how fast a call connects in real browsers, and how many calls one node's signalling holds.

    .venv/bin/python bench/rtc_calls.py [--calls 20] [--pairs 250,1000,2500]
                                        [--only setup|signalling]

*setup* — ``seva serve`` on a fresh SQLite database with the demo data; for each of
``--calls`` appointments, a citizen page (Debian Chromium, fake camera) opens the SMS link and
then an official page joins from the console. Printed: join → connected, from the second
page's navigation to its ``RTCPeerConnection`` reaching ``connected`` (p50/p95), the same for
the first page, and the server's CPU per call.

*signalling* — the same server, and ``--pairs`` simulated 1:1 calls (two WebSockets each,
Python ``websockets`` clients in this process) that join, exchange an offer, an answer and
eight ICE candidates each way, then stay in the room. Printed for each size: time to set up
every call, server CPU per call set up, server RSS while all calls are held, and the round
trip of a chat message through a held room (p50/p99) while they are all held.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from procstats import cpu_seconds, free_port, memory_mib, wait_port

BIN = Path(sys.executable).parent
SEVA = BIN / "seva"
SECRET = "bench-secret-key-not-for-production"
CHROMIUM = "/usr/bin/chromium"


class Server:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.env = os.environ | {
            "SEVA_DATA_DIR": str(workdir),
            "SEVA_ENV": "development",
            "SEVA_SECRET_KEY": SECRET,
            "SEVA_BASE_URL": f"http://127.0.0.1:{self.port}",
        }
        for name in ("SEVA_DATABASE_URL", "SEVA_REDIS_URL", "SEVA_SMS_DISPATCH"):
            self.env.pop(name, None)
        subprocess.run([str(SEVA), "db", "upgrade"], env=self.env, check=True, capture_output=True)
        subprocess.run(
            [
                str(BIN / "python"),
                "-c",
                "from seva.settings import get_settings; from seva.gateway import build_gateway;"
                "from seva.demo.seed import seed; g = build_gateway(get_settings());"
                "s = g.db.sessionmaker(); seed(s); s.commit()",
            ],
            env=self.env,
            check=True,
            capture_output=True,
        )
        self.proc = subprocess.Popen(
            [str(SEVA), "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}"

    def appointments(self, count: int) -> list[str]:
        """Rooms of ``count`` FOOD appointments starting in five minutes."""
        script = (
            "import json, sys\n"
            "from datetime import UTC, datetime, timedelta\n"
            "from seva.settings import get_settings\n"
            "from seva.gateway import build_gateway\n"
            "from seva.citizens import service as citizens\n"
            "from seva.rtc.models import Appointment\n"
            "from seva.rtc.service import new_room\n"
            "from seva.tenancy import service as tenancy\n"
            "g = build_gateway(get_settings()); rooms = []\n"
            "with g.session() as s:\n"
            "    official = tenancy.official_by_username(s, 'food.admin')\n"
            "    start = datetime.now(UTC) + timedelta(minutes=5)\n"
            f"    for n in range({count}):\n"
            "        c = citizens.get_or_create(s, f'+9198200{n:05d}')\n"
            "        room = new_room('a')\n"
            "        s.add(Appointment(department_id=official.department_id,\n"
            "            official_id=official.id, citizen_id=c.id, starts_at=start,\n"
            "            ends_at=start + timedelta(minutes=15), room=room, slot_key=None))\n"
            "        rooms.append(room)\n"
            "print(json.dumps(rooms))\n"
        )
        done = subprocess.run(
            [str(BIN / "python"), "-c", script],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        rooms: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
        return rooms

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# -- call setup in Chromium -----------------------------------------------------------------


def run_setup(server: Server, calls: int) -> None:
    if not Path(CHROMIUM).exists():
        print("setup: Debian chromium not installed (apt install chromium) - skipped")
        return
    from playwright.sync_api import sync_playwright

    rooms = server.appointments(calls)
    args = [
        "--headless=new",
        "--no-sandbox",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        "--allow-loopback-in-peer-connection",
    ]
    second: list[float] = []
    first: list[float] = []
    cpu_before = cpu_seconds(server.proc.pid)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        official_context = browser.new_context(base_url=server.url)
        login = official_context.new_page()
        login.goto("/login?next=/console/calls")
        login.fill("#username", "food.admin")
        login.fill("#password", "seva-demo-1")
        login.click("form button[type=submit]")
        login.wait_for_url("**/console/calls")
        citizen_context = browser.new_context(base_url=server.url)
        for room in rooms:
            citizen = citizen_context.new_page()
            official = official_context.new_page()
            citizen.goto(f"/call/a/{room}")
            citizen.wait_for_function("window.sevaCall && window.sevaCall.me !== null")
            official.goto(f"/call/room/{room}")
            for page in (citizen, official):
                page.wait_for_function("window.sevaCall.timing.connected !== null", timeout=20_000)
            late = official.evaluate("window.sevaCall.timing")
            early = citizen.evaluate("window.sevaCall.timing")
            second.append(late["connected"] - late["joined"])
            first.append(early["connected"] - early["joined"])
            citizen.close()
            official.close()
        browser.close()
    cpu = cpu_seconds(server.proc.pid) - cpu_before
    print(
        f"setup: {calls} calls in Chromium (loopback, fake camera); join -> connected of the "
        f"second page p50 {statistics.median(second):.0f} ms, "
        f"p95 {percentile(second, 0.95):.0f} ms; "
        f"first page (from its own join) p50 {statistics.median(first):.0f} ms; "
        f"server CPU {cpu / calls * 1000:.1f} ms per call (pages, tokens, signalling)"
    )


# -- signalling capacity --------------------------------------------------------------------


async def signalling(server: Server, pairs: int) -> dict[str, float]:
    import websockets

    from seva.rtc.signalling import Seat
    from seva.rtc.tokens import JoinTokens

    tokens = JoinTokens(SECRET)
    now = time.time()
    ws_url = f"ws://127.0.0.1:{server.port}/rtc/ws?token="
    sdp = "v=0\r\n" + "a=candidate-placeholder\r\n" * 60  # a realistic ~2 KB SDP
    candidate = {
        "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host",
        "sdpMid": "0",
    }
    sockets: list[object] = []
    cpu_before = cpu_seconds(server.proc.pid)
    started = time.perf_counter()

    async def one_call(n: int) -> tuple[object, object]:
        room = f"qbench{n:06d}xx"
        a_token = tokens.issue(Seat(room=room, identity=f"c{n}", name="A", role="citizen"), now=now)
        b_token = tokens.issue(
            Seat(room=room, identity=f"o{n}", name="B", role="official"), now=now
        )
        a = await websockets.connect(ws_url + a_token, max_queue=None)
        assert json.loads(await a.recv())["type"] == "welcome"
        b = await websockets.connect(ws_url + b_token, max_queue=None)
        welcome = json.loads(await b.recv())
        a_id = welcome["peers"][0]["id"]
        joined = json.loads(await a.recv())
        b_id = joined["peer"]["id"]
        await b.send(json.dumps({"type": "offer", "to": a_id, "sdp": sdp}))
        assert json.loads(await a.recv())["type"] == "offer"
        await a.send(json.dumps({"type": "answer", "to": b_id, "sdp": sdp}))
        assert json.loads(await b.recv())["type"] == "answer"
        for side, other, peer in ((a, b, b_id), (b, a, a_id)):
            for _ in range(8):
                await side.send(
                    json.dumps({"type": "candidate", "to": peer, "candidate": candidate})
                )
            for _ in range(8):
                await other.recv()
        return a, b

    batch = 50
    for start in range(0, pairs, batch):
        made = await asyncio.gather(*(one_call(n) for n in range(start, min(pairs, start + batch))))
        for a, b in made:
            sockets.extend((a, b))
    setup_seconds = time.perf_counter() - started
    cpu = cpu_seconds(server.proc.pid) - cpu_before
    rss = memory_mib(server.proc.pid)

    # Chat round trips through rooms while every call is held.
    rtts: list[float] = []
    for n in range(0, len(sockets), max(2, len(sockets) // 100) // 2 * 2):
        a, b = sockets[n], sockets[n + 1]
        sent = time.perf_counter()
        await a.send(json.dumps({"type": "chat", "text": "ping"}))  # type: ignore[attr-defined]
        while json.loads(await a.recv())["type"] != "chat":  # type: ignore[attr-defined]
            pass
        rtts.append((time.perf_counter() - sent) * 1000)
        while json.loads(await b.recv())["type"] != "chat":  # type: ignore[attr-defined]
            pass
    await asyncio.gather(*(s.close() for s in sockets))  # type: ignore[attr-defined]
    return {
        "pairs": pairs,
        "setup_s": setup_seconds,
        "calls_per_s": pairs / setup_seconds,
        "cpu_ms_per_call": cpu / pairs * 1000,
        "rss_mib": rss,
        "rtt_p50": statistics.median(rtts),
        "rtt_p99": percentile(rtts, 0.99),
    }


def run_signalling(server: Server, sizes: list[int]) -> None:
    print(
        f"{'calls held':>10}  {'setup s':>8}  {'calls/s':>8}  {'CPU ms/call':>11}  "
        f"{'server RSS':>10}  {'chat RTT p50/p99 ms':>20}"
    )
    for pairs in sizes:
        row = asyncio.run(signalling(server, pairs))
        print(
            f"{row['pairs']:>10.0f}  {row['setup_s']:>8.2f}  {row['calls_per_s']:>8.0f}  "
            f"{row['cpu_ms_per_call']:>11.2f}  {row['rss_mib']:>7.0f}Mi  "
            f"{row['rtt_p50']:>9.1f} / {row['rtt_p99']:<8.1f}"
        )
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--pairs", default="250,1000,2500")
    parser.add_argument("--only", choices=("setup", "signalling"))
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
        "one `seva serve` worker, SQLite"
    )
    with tempfile.TemporaryDirectory(prefix="seva-rtc-bench-") as tmp:
        server = Server(Path(tmp))
        try:
            if args.only in (None, "setup"):
                run_setup(server, args.calls)
            if args.only in (None, "signalling"):
                run_signalling(server, [int(p) for p in args.pairs.split(",")])
        finally:
            server.stop()


if __name__ == "__main__":
    main()
