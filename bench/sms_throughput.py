"""SMS push throughput: Seva against Kannel 1.4.5 through the same SMSC simulator.

    .venv/bin/python bench/sms_throughput.py [--seconds 10] [--bulk 100000] [--per-request 1000]
                                             [--window 100] [--latency 0.02] [--only seva|kannel]
                                             [--workload single|bulk|both]

Each gateway runs in turn against a fresh ``seva smsc-sim`` on loopback with the same message
mix (ASCII, Hindi, a third of them long) and receipts on:

* Kannel: bearerbox (SMPP transceiver, ``store-file`` so it persists before acknowledging)
  and smsbox (``sendsms``); DLRs are requested and posted to a sink in this process.
* Seva: ``seva serve`` (one worker, ``--seva-workers N`` for more; the department API) and
  ``seva dispatch`` (the SMPP binds), with production settings as deployed, SQLite by
  default or ``--database-url`` (PostgreSQL).

Workloads: *single* — one message per HTTP request from ``wrk`` (Kannel's GET sendsms against
``POST /api/v1/messages``); *bulk* — a campaign, ``--per-request`` recipients per request
(Kannel's POST sendsms with a space-separated ``X-Kannel-To`` list against the send API with
``kind: bulk``). Printed for each: accepted messages/s over HTTP, submit_sm/s reaching the
SMSC, CPU seconds per 1,000 messages (gateway processes only), peak RSS, and the Seva/Kannel
ratio. Needs ``wrk`` and ``kannel`` (Debian packages) for the single workload and for Kannel;
what is missing is skipped with a note.

Recipients per request are 1,000 for both by default. Kannel's smsbox checks a request's
recipient list for duplicates by adding each number with ``gwlist_append_unique``, a linear
search of the numbers before it, so its time per request grows with the square of the list:
at 10,000 per request that check, not the gateway's sending, is what gets measured, and a
campaign sender would split the list anyway. Seva's send API takes up to 100,000.

Latency: while a workload runs, probe messages go out every 20 ms to numbers the SMSC
simulator watches (919199…), and the time from the gateway's HTTP acceptance to the probe's
submit_sm is its latency (acceptance is when the prober has read the answer: a probe
submitted before its answer reached the prober counts below zero). A probe is sent *with the
workload's own kind*, so it waits where a message of that workload waits: in the single
workload a transactional message (Seva's default kind; Kannel has one kind), in the bulk
workload a campaign message (``kind: bulk`` for Seva, a plain sendsms like the campaign's for
Kannel) queued behind the campaign so far. In the bulk workload a second probe goes out as
``transactional`` (Seva only), which Seva sends ahead of bulk: that column shows how long an
urgent message waits while a campaign is being sent, not how long the campaign's messages
wait. Kannel has no kinds and is probed with the campaign's only (its sendsms ``priority``
would reorder its SMPP queue; not used here).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
from procstats import cpu_seconds, descendants, free_port, tree_memory_mib, wait_port

BIN = Path(sys.executable).parent
SEVA = BIN / "seva"
ASCII = "Your ration for Nov is ready at FPS 112. Collect by 30-11. -Food Dept"
HINDI = "आपका राशन तैयार है। दुकान 112 से 30-11 तक ले लें। -खाद्य विभाग"
LONG = (
    "Dear citizen, the pulse polio camp for children under five will be held on Sunday at "
    "the ward office and all anganwadi centres from 9 am to 5 pm. Please bring the vaccination "
    "card. -Health Dept"
)
TEXTS = (ASCII, HINDI, LONG)
PROBE_PREFIX = "919199"
"""Probe messages go to 9199xxxxxx: the SMSC notes when each arrives (accept→submit latency)."""
PROBE_EVERY = 0.02
SINGLE_KIND = "transactional"
"""The kind Seva's single-message workload sends (the send API's default)."""
BULK_KIND = "bulk"
"""The kind Seva's bulk workload, the campaign, is sent with."""
URGENT_KIND = "transactional"
"""The kind of the second probe during a campaign: Seva sends it ahead of bulk."""


class Smsc:
    """``seva smsc-sim`` in a subprocess, its stats lines read as they come."""

    def __init__(self, latency: float) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                str(SEVA),
                "smsc-sim",
                "--port",
                str(self.port),
                "--receipt-delay",
                "0.2",
                "--keep-messages",
                "0",
                "--stats-interval",
                "0.1",
                "--latency",
                str(latency),
                "--probe-prefix",
                PROBE_PREFIX,
                "--account",
                "kannel:secret",
                "--account",
                "seva:secret",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.samples: list[tuple[float, int]] = []
        self.probes: dict[str, float] = {}
        self.binds = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        wait_port(self.port)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                stats = json.loads(line)
            except ValueError:
                continue
            self.binds = int(stats.get("binds", 0))
            self.samples.append((time.monotonic(), int(stats["submits"])))
            for destination, arrived in stats.get("probes", []):
                self.probes.setdefault(destination, arrived)

    def submits(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def wait_submits(self, target: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.submits() >= target:
                return True
            time.sleep(0.05)
        return False

    def first_time_above(self, base: int) -> float | None:
        return next((t for t, n in self.samples if n > base), None)

    def time_reaching(self, target: int) -> float | None:
        return next((t for t, n in self.samples if n >= target), None)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@dataclass
class Result:
    gateway: str
    workload: str
    messages: int
    parts: int
    accept_seconds: float
    submit_seconds: float
    cpu: float
    rss: float
    errors: int = 0
    notes: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    """Probes of the workload's own kind: how long one of its messages waits."""
    urgent: list[float] | None = None
    """Transactional probes sent during a campaign (Seva's bulk workload only)."""

    def latency(self, pct: float) -> float | None:
        return _pct(self.latencies, pct)

    def urgent_latency(self, pct: float) -> float | None:
        return _pct(self.urgent or [], pct)

    @property
    def accepted_rate(self) -> float:
        return self.messages / self.accept_seconds if self.accept_seconds else 0.0

    @property
    def submit_rate(self) -> float:
        return self.parts / self.submit_seconds if self.submit_seconds else 0.0


def _pct(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] * 1000


def parts_of(text: str) -> int:
    from seva.sms_text import segment_count

    return segment_count(text)


# -- gateways --------------------------------------------------------------------------------


class Gateway:
    name = ""
    has_kinds = False
    """Whether a message can be sent with a kind that outranks another's."""
    pids: list[int]
    http_port: int

    def probe(self, client: httpx.Client, number: str, kind: str) -> bool:
        raise NotImplementedError

    def cpu(self) -> float:
        total = 0.0
        for pid in self.pids:
            for p in descendants(pid):
                with contextlib.suppress(OSError):
                    total += cpu_seconds(p)
        return total

    def rss(self) -> float:
        return sum(tree_memory_mib(pid, "VmHWM") for pid in self.pids)


class Kannel(Gateway):
    name = "Kannel 1.4.5"

    def __init__(self, smsc: Smsc, window: int, workdir: Path, dlr_port: int) -> None:
        self.http_port = free_port()
        core, box = free_port(), free_port()
        self.dlr_port = dlr_port
        (workdir / "log").mkdir()
        conf = workdir / "kannel.conf"
        conf.write_text(
            f"""group = core
admin-port = {core}
admin-interface = 127.0.0.1
admin-password = adminpw
status-password = statuspw
admin-allow-ip = "127.0.0.1"
smsbox-port = {box}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = "{workdir}/log/bearerbox.log"
log-level = 3
dlr-storage = internal
store-type = file
store-location = "{workdir}/kannel.store"

group = smsc
smsc = smpp
smsc-id = sim
host = 127.0.0.1
port = {smsc.port}
transceiver-mode = true
smsc-username = kannel
smsc-password = secret
system-type = ""
source-addr-ton = 5
source-addr-npi = 0
dest-addr-ton = 1
dest-addr-npi = 1
enquire-link-interval = 30
max-pending-submits = {window}
reconnect-delay = 1
msg-id-type = 0x01

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {box}
sendsms-port = {self.http_port}
sendsms-interface = 127.0.0.1
log-file = "{workdir}/log/smsbox.log"
log-level = 3
sendsms-chars = "0123456789 +"

group = sendsms-user
username = gov
password = govpw
max-messages = 10
concatenation = true
"""
        )
        self.bearerbox = subprocess.Popen(
            ["bearerbox", str(conf)],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(box)
        self.smsbox = subprocess.Popen(
            ["smsbox", str(conf)],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.http_port)
        self.pids = [self.bearerbox.pid, self.smsbox.pid]
        deadline = time.monotonic() + 20
        while smsc.binds < 1 and time.monotonic() < deadline:
            time.sleep(0.05)

    def query(self, to: str, text: str) -> str:
        coding = "" if text.isascii() else "&coding=2&charset=UTF-8"
        return (
            f"/cgi-bin/sendsms?username=gov&password=govpw&from=SEVAGV&to={quote(to)}"
            f"&text={quote(text)}{coding}&dlr-mask=3"
            f"&dlr-url={quote(f'http://127.0.0.1:{self.dlr_port}/dlr?s=%d')}"
        )

    def probe(self, client: httpx.Client, number: str, kind: str) -> bool:
        del kind  # one kind: the probe is sent as the workload's messages are
        response = client.get(f"http://127.0.0.1:{self.http_port}" + self.query(number, ASCII))
        return response.status_code in (200, 202)

    def wrk_script(self) -> str:
        ascii_q, hindi_q, long_q = (quote(t) for t in TEXTS)
        dlr = quote(f"http://127.0.0.1:{self.dlr_port}/dlr?s=%d")
        return f"""
counter = 0
texts = {{"{ascii_q}", "{hindi_q}&coding=2&charset=UTF-8", "{long_q}"}}
request = function()
  counter = counter + 1
  local text = texts[(counter % 3) + 1]
  local path = "/cgi-bin/sendsms?username=gov&password=govpw&from=SEVAGV&to=9198" ..
    string.format("%08d", counter) .. "&text=" .. text .. "&dlr-mask=3&dlr-url={dlr}"
  return wrk.format("GET", path)
end
"""

    def bulk(self, client: httpx.Client, numbers: list[str], text: str) -> bool:
        """Kannel's POST sendsms: the text is the body, the rest in X-Kannel-* headers (the
        recipient list is far too long for a query string)."""
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "X-Kannel-Username": "gov",
            "X-Kannel-Password": "govpw",
            "X-Kannel-From": "SEVAGV",
            "X-Kannel-To": " ".join(numbers),
            "X-Kannel-DLR-Mask": "3",
            "X-Kannel-DLR-Url": f"http://127.0.0.1:{self.dlr_port}/dlr?s=%d",
        }
        if not text.isascii():
            headers["X-Kannel-Coding"] = "2"
        response = client.post(
            f"http://127.0.0.1:{self.http_port}/cgi-bin/sendsms",
            content=text.encode(),
            headers=headers,
        )
        return response.status_code in (200, 202)

    def stop(self) -> None:
        for proc in (self.smsbox, self.bearerbox):
            proc.send_signal(signal.SIGTERM)
        for proc in (self.smsbox, self.bearerbox):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


class Seva(Gateway):
    name = "Seva"
    has_kinds = True

    def __init__(
        self, smsc: Smsc, window: int, workdir: Path, database_url: str, workers: int = 1
    ) -> None:
        self.http_port = free_port()
        env = os.environ | {
            "SEVA_DATA_DIR": str(workdir),
            # As deployed: production settings write each log line as JSON (``seva.logs``).
            "SEVA_ENV": "production",
            "SEVA_SECRET_KEY": "bench-secret-key-not-for-production",
            "SEVA_BASE_URL": f"http://127.0.0.1:{self.http_port}",
            "SEVA_SMSC": f"smpp://seva:secret@127.0.0.1:{smsc.port}?name=sim&window={window}",
        }
        env.pop("SEVA_REDIS_URL", None)
        if database_url:
            env["SEVA_DATABASE_URL"] = database_url
        else:
            env.pop("SEVA_DATABASE_URL", None)
        subprocess.run([str(SEVA), "db", "upgrade"], env=env, check=True, capture_output=True)
        seeded = subprocess.run(
            [
                str(BIN / "python"),
                "-c",
                "import json; from seva.settings import get_settings;"
                "from seva.gateway import build_gateway; from seva.demo.seed import seed;"
                "g = build_gateway(get_settings());"
                "s = g.db.sessionmaker(); r = seed(s); s.commit();"
                "print(json.dumps(r.api_keys))",
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        self.key = json.loads(seeded.stdout.strip().splitlines()[-1])["SEVA"]
        self.web = subprocess.Popen(
            [str(SEVA), "serve", "--port", str(self.http_port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.dispatch = subprocess.Popen(
            [str(SEVA), "dispatch"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_port(self.http_port)
        self.pids = [self.web.pid, self.dispatch.pid]
        deadline = time.monotonic() + 20
        while smsc.binds < 1 and time.monotonic() < deadline:
            time.sleep(0.05)

    def probe(self, client: httpx.Client, number: str, kind: str) -> bool:
        response = client.post(
            f"http://127.0.0.1:{self.http_port}/api/v1/messages",
            json={"to": "+" + number, "text": ASCII, "kind": kind},
            headers={"Authorization": f"Bearer {self.key}"},
        )
        return response.status_code == 202

    def wrk_script(self) -> str:
        bodies = [json.dumps(t, ensure_ascii=True) for t in TEXTS]
        return f"""
counter = 0
texts = {{{", ".join("[[" + b + "]]" for b in bodies)}}}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {self.key}"
request = function()
  counter = counter + 1
  local body = '{{"to": "+9198' .. string.format("%08d", counter) .. '", "text": ' ..
    texts[(counter % 3) + 1] .. '}}'
  return wrk.format(nil, "/api/v1/messages", nil, body)
end
"""

    def bulk(self, client: httpx.Client, numbers: list[str], text: str) -> bool:
        response = client.post(
            f"http://127.0.0.1:{self.http_port}/api/v1/messages",
            json={"to": numbers, "text": text, "kind": BULK_KIND},
            headers={"Authorization": f"Bearer {self.key}"},
        )
        return response.status_code == 202

    def stop(self) -> None:
        for proc in (self.web, self.dispatch):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in (self.web, self.dispatch):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


# -- DLR sink for Kannel -------------------------------------------------------------------


class Sink:
    """A minimal HTTP responder for Kannel's DLR callbacks (its CPU is not counted)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.hits = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        wait_port(self.port)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while await reader.readuntil(b"\r\n\r\n"):
                    self.hits += 1
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                pass
            writer.close()

        server = self._loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", self.port))
        del server
        self._loop.run_forever()


class Prober:
    """Sends a probe message of one kind every PROBE_EVERY seconds while a workload runs;
    ``tag`` (one digit) keeps the numbers of two probers running at once apart."""

    def __init__(self, gw: Gateway, kind: str, tag: int = 0) -> None:
        self.gw = gw
        self.kind = kind
        self.tag = tag
        self.accepted: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        n = 0
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                n += 1
                number = f"{PROBE_PREFIX}{self.tag}{n % 100_000:05d}"
                with contextlib.suppress(httpx.HTTPError):
                    if self.gw.probe(client, number, self.kind):
                        self.accepted[number] = time.time()
                self._stop.wait(PROBE_EVERY)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def latencies(self, smsc: Smsc) -> list[float]:
        return [
            smsc.probes[number] - accepted
            for number, accepted in self.accepted.items()
            if number in smsc.probes
        ]


# -- workloads ---------------------------------------------------------------------------------


def run_single(gw: Gateway, smsc: Smsc, seconds: float, connections: int, workdir: Path) -> Result:
    script = workdir / f"{gw.name.split()[0].lower()}.lua"
    script.write_text(gw.wrk_script())
    base = smsc.submits()
    cpu0 = gw.cpu()
    started = time.monotonic()
    prober = Prober(gw, SINGLE_KIND)
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds:.0f}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{gw.http_port}",  # type: ignore[attr-defined]
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    prober.stop()
    accept_seconds = time.monotonic() - started
    requests = int(next(line for line in out.splitlines() if "requests in" in line).split()[0])
    errors = 0
    for line in out.splitlines():
        if "Non-2xx" in line or "Socket errors" in line:
            errors += sum(int(x) for x in line.replace(",", " ").split() if x.isdigit())
    accepted = requests - errors
    # wrk's counter cycles ASCII, Hindi, long: parts per message in that order.
    per_cycle = [parts_of(t) for t in (HINDI, LONG, ASCII)]
    parts = sum(per_cycle[i % 3] for i in range(accepted)) + len(prober.accepted)
    drained = smsc.wait_submits(base + parts, timeout=300)
    end = smsc.time_reaching(base + parts) or time.monotonic()
    first = smsc.first_time_above(base) or started
    result = Result(
        gw.name,
        "single",
        accepted,
        parts,
        accept_seconds,
        end - min(first, started) if drained else 0,
        gw.cpu() - cpu0,
        gw.rss(),
        errors,
    )
    if not drained:
        result.notes.append(f"only {smsc.submits() - base} of {parts} parts reached the SMSC")
    time.sleep(0.3)
    result.latencies = prober.latencies(smsc)
    return result


def run_bulk(gw: Gateway, smsc: Smsc, total: int, per_request: int) -> Result:
    base = smsc.submits()
    cpu0 = gw.cpu()
    parts = 0
    errors = 0
    started = time.monotonic()
    prober = Prober(gw, BULK_KIND)  # waits as a campaign message waits
    urgent = Prober(gw, URGENT_KIND, tag=1) if gw.has_kinds else None
    with httpx.Client(timeout=300) as client:
        sent = 0
        n = 0
        while sent < total:
            count = min(per_request, total - sent)
            numbers = [f"9197{i:08d}" for i in range(sent, sent + count)]
            text = TEXTS[n % 3]
            if gw.bulk(client, numbers, text):
                parts += count * parts_of(text)
            else:
                errors += count
            sent += count
            n += 1
    accept_seconds = time.monotonic() - started
    prober.stop()
    parts += len(prober.accepted)
    if urgent is not None:
        urgent.stop()
        parts += len(urgent.accepted)
    drained = smsc.wait_submits(base + parts, timeout=600)
    end = smsc.time_reaching(base + parts) or time.monotonic()
    result = Result(
        gw.name,
        "bulk",
        total - errors,
        parts,
        accept_seconds,
        end - started if drained else 0,
        gw.cpu() - cpu0,
        gw.rss(),
        errors,
    )
    if not drained:
        result.notes.append(f"only {smsc.submits() - base} of {parts} parts reached the SMSC")
    time.sleep(0.3)
    result.latencies = prober.latencies(smsc)
    if urgent is not None:
        result.urgent = urgent.latencies(smsc)
    return result


def report(results: list[Result]) -> None:
    print()
    print(
        "latency (ms, HTTP accept to submit_sm): own = probes of the workload's own kind "
        "(transactional in single, the campaign's in bulk);\n"
        "txn = transactional probes during the campaign, which Seva sends ahead of bulk "
        "(- where not measured)"
    )
    print(
        f"{'gateway':14} {'workload':8} {'messages':>9} {'parts':>7} {'accepted/s':>11} "
        f"{'submit_sm/s':>12} {'CPU s/1k':>9} {'peak RSS':>9} {'own p50':>7} {'own p99':>7} "
        f"{'txn p50':>7} {'txn p99':>7} {'errors':>7}"
    )
    for r in results:
        cpu_per_k = r.cpu / (r.messages / 1000) if r.messages else 0.0
        urgent = (
            f"{_ms(r.urgent_latency(50))} {_ms(r.urgent_latency(99))}"
            if r.urgent is not None
            else f"{'-':>7} {'-':>7}"
        )
        print(
            f"{r.gateway:14} {r.workload:8} {r.messages:9d} {r.parts:7d} {r.accepted_rate:11.0f} "
            f"{r.submit_rate:12.0f} {cpu_per_k:9.3f} {r.rss:7.0f}Mi "
            f"{_ms(r.latency(50))} {_ms(r.latency(99))} {urgent} {r.errors:7d}"
            + (f"  ({'; '.join(r.notes)})" if r.notes else "")
        )
    for workload in ("single", "bulk"):
        pair = {r.gateway.split()[0]: r for r in results if r.workload == workload}
        if "Seva" in pair and "Kannel" in pair:
            s, k = pair["Seva"], pair["Kannel"]
            ratio: Callable[[float, float], str] = lambda a, b: f"{a / b:.2f}x" if b else "n/a"  # noqa: E731
            print(
                f"Seva/Kannel {workload:6}: accepted/s {ratio(s.accepted_rate, k.accepted_rate)}, "
                f"submit_sm/s {ratio(s.submit_rate, k.submit_rate)}, CPU per message "
                f"{ratio(s.cpu / max(1, s.messages), k.cpu / max(1, k.messages))}"
            )


def _ms(value: float | None) -> str:
    return f"{value:7.0f}" if value is not None else f"{'n/a':>7}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="single workload duration")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--bulk", type=int, default=100_000, help="bulk workload messages")
    parser.add_argument(
        "--per-request", type=int, default=1_000, help="bulk recipients per request (both)"
    )
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--seva-workers", type=int, default=1, help="seva serve --workers")
    parser.add_argument("--latency", type=float, default=0.0, help="SMSC response latency (s)")
    parser.add_argument("--only", choices=("seva", "kannel"))
    parser.add_argument("--workload", choices=("single", "bulk", "both"), default="both")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    have_wrk = shutil.which("wrk") is not None
    have_kannel = shutil.which("bearerbox") is not None
    print(
        f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; window {args.window}, "
        f"SMSC latency {args.latency * 1000:.0f} ms; {args.per_request} recipients per bulk "
        "request; "
        f"database {'PostgreSQL' if args.database_url else 'SQLite'} for Seva"
    )
    results: list[Result] = []
    sink = Sink()
    gateways = [g for g in ("kannel", "seva") if args.only in (None, g)]
    for which in gateways:
        if which == "kannel" and not have_kannel:
            print("kannel: not installed (apt install kannel) - skipped")
            continue
        for workload in ("single", "bulk"):
            if args.workload not in (workload, "both"):
                continue
            if workload == "single" and not have_wrk:
                print("single workload: wrk not installed (apt install wrk) - skipped")
                continue
            with tempfile.TemporaryDirectory(prefix=f"sms-bench-{which}-") as tmp:
                workdir = Path(tmp)
                smsc = Smsc(args.latency)
                gw: Gateway
                try:
                    gw = (
                        Kannel(smsc, args.window, workdir, sink.port)
                        if which == "kannel"
                        else Seva(smsc, args.window, workdir, args.database_url, args.seva_workers)
                    )
                    try:
                        time.sleep(1.0)
                        if workload == "single":
                            r = run_single(gw, smsc, args.seconds, args.connections, workdir)
                        else:
                            r = run_bulk(gw, smsc, args.bulk, args.per_request)
                        results.append(r)
                        print(
                            f"{gw.name} {workload}: {r.messages} messages, accepted "
                            f"{r.accepted_rate:.0f}/s, submit_sm {r.submit_rate:.0f}/s",
                            flush=True,
                        )
                    finally:
                        gw.stop()
                finally:
                    smsc.stop()
    report(results)


if __name__ == "__main__":
    main()
