"""Phone calls: how many concurrent calls one node's SIP endpoint holds with clean pacing.

    .venv/bin/python bench/voice_calls.py [--calls 50,200,500] [--hold 20]

``seva serve`` with the SIP endpoint on (SQLite, the demo data, espeak-ng prompts) and, for
each size, sipp placing that many calls at once (``tests/channels/voice/sipp/
hangup_mid_prompt.xml``: answer, listen for ``--hold`` seconds, hang up). Each call hears the
language prompt, then silence, then the prompt again (the menu repeats a question nobody
answers), so about half of every call is speech. All calls send their audio to one sink
process that timestamps every packet.

Printed for each size: calls answered and completed, RTP packets sent per second, our send
lateness (how late each packet left its 20 ms slot, from the server's own
``seva_rtp_send_lateness_seconds`` histogram: p50/p99), inter-arrival jitter at the sink
(|gap − 20 ms| within a talkspurt, p50/p99 — includes the sink's own scheduling), and server
CPU per call-second and RSS.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

from procstats import cpu_seconds, free_port, memory_mib, wait_port

BIN = Path(sys.executable).parent
SEVA = BIN / "seva"
ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "tests/channels/voice/sipp/hangup_mid_prompt.xml"

SINK = textwrap.dedent(
    """
    import socket, struct, sys, time
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    sock.settimeout(float(sys.argv[2]))
    last = {}
    deviations = []
    packets = 0
    print("ready", flush=True)
    while True:
        try:
            data = sock.recv(2048)
        except socket.timeout:
            break
        now = time.monotonic()
        packets += 1
        marker = data[1] & 0x80
        ssrc = struct.unpack("!I", data[8:12])[0]
        before = last.get(ssrc)
        last[ssrc] = now
        if before is not None and not marker:
            deviations.append(abs(now - before - 0.020))
    deviations.sort()
    def pick(q):
        if not deviations:
            return 0
        return deviations[min(len(deviations) - 1, int(q * (len(deviations) - 1)))]
    print(packets, len(last), pick(0.5), pick(0.99), flush=True)
    """
)


def histogram_quantile(text: str, name: str, q: float, before: dict[float, float]) -> float:
    """A quantile from a Prometheus histogram's bucket counts, less a previous snapshot."""
    buckets = buckets_of(text, name)
    counts = {le: count - before.get(le, 0.0) for le, count in buckets.items()}
    total = counts.get(float("inf"), 0.0)
    if total <= 0:
        return 0.0
    for le in sorted(counts):
        if counts[le] >= q * total:
            return le
    return float("inf")


def buckets_of(text: str, name: str) -> dict[float, float]:
    found = {}
    for le, value in re.findall(rf'^{name}_bucket{{le="([^"]+)"}} (\S+)$', text, re.M):
        found[float(le)] = float(value)
    return found


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return str(response.read().decode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="50,200,500")
    parser.add_argument("--hold", type=float, default=20.0)
    args = parser.parse_args()
    sipp = shutil.which("sipp")
    if sipp is None or shutil.which("espeak-ng") is None:
        raise SystemExit("needs sipp and espeak-ng: apt-get install sip-tester espeak-ng")
    sizes = [int(n) for n in args.calls.split(",")]

    with tempfile.TemporaryDirectory() as workdir:
        http_port, sip_port = free_port(), free_port()
        env = os.environ | {
            "SEVA_DATA_DIR": workdir,
            "SEVA_ENV": "development",
            "SEVA_SECRET_KEY": "bench-secret-key-not-for-production",
            "SEVA_SIP": "1",
            "SEVA_SIP_PORT": str(sip_port),
            "SEVA_SIP_RTP_PORTS": "32000-33999",
            "SEVA_SIP_MAX_CALLS": str(max(sizes) + 10),
        }
        for name in ("SEVA_DATABASE_URL", "SEVA_REDIS_URL", "SEVA_SMS_DISPATCH"):
            env.pop(name, None)
        subprocess.run([str(SEVA), "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run(
            [str(BIN / "python"), "-c",
             "from seva.settings import get_settings; from seva.gateway import build_gateway;"
             "from seva.demo.seed import seed; g = build_gateway(get_settings());"
             "s = g.db.sessionmaker(); seed(s); s.commit()"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        server = subprocess.Popen(
            [str(SEVA), "serve", "--port", str(http_port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_port(http_port)
            print(
                f"{'calls':>6} {'completed':>9} {'pkts/s':>7} {'late p50':>9} {'late p99':>9} "
                f"{'jitter p50':>10} {'jitter p99':>10} {'CPU ms/call-s':>13} {'RSS MiB':>8}"
            )
            for n in sizes:
                run(n, args.hold, sipp, sip_port, http_port, server.pid, Path(workdir))
        finally:
            server.terminate()
            server.wait(timeout=10)


def run(
    n: int, hold: float, sipp: str, sip_port: int, http_port: int, pid: int, workdir: Path
) -> None:
    sink_port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK, str(sink_port), "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    sink.stdout.readline()
    scenario = workdir / f"calls-{n}.xml"
    scenario.write_text(
        SCENARIO.read_text()
        .replace("CALLER", "9811400000")
        .replace("SINK_PORT", str(sink_port))
        .replace("HOLD_MS", str(int(hold * 1000)))
    )
    before = buckets_of(metrics(http_port), "seva_rtp_send_lateness_seconds")
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    rate = max(10, n // 5)  # everyone on the line within about five seconds
    done = subprocess.run(
        [sipp, f"127.0.0.1:{sip_port}", "-sf", str(scenario), "-m", str(n), "-r", str(rate),
         "-l", str(n), "-i", "127.0.0.1", "-p", str(free_port()), "-mp", str(free_port()),
         "-nostdin", "-timeout", f"{int(hold + 60)}s", "-trace_stat", "-stf",
         str(workdir / f"stat-{n}.csv")],
        capture_output=True, text=True, cwd=workdir, timeout=hold + 120,
    )  # fmt: skip
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(pid) - cpu0
    rss = memory_mib(pid)
    text = metrics(http_port)
    p50 = histogram_quantile(text, "seva_rtp_send_lateness_seconds", 0.5, before)
    p99 = histogram_quantile(text, "seva_rtp_send_lateness_seconds", 0.99, before)
    out, _ = sink.communicate(timeout=30)
    packets, streams, j50, j99 = out.strip().splitlines()[-1].split()
    completed = re.search(r"Successful call\s+\|\s+\d+\s+\|\s+(\d+)", done.stdout)
    ok = completed.group(1) if completed else "?"
    print(
        f"{n:>6} {ok:>9} {int(packets) / elapsed:>7.0f} {p50 * 1000:>7.1f}ms {p99 * 1000:>7.1f}ms "
        f"{float(j50) * 1000:>8.2f}ms {float(j99) * 1000:>8.2f}ms "
        f"{cpu * 1000 / (n * hold):>13.2f} {rss:>8.0f}",
        flush=True,
    )
    if int(streams) != n:
        print(f"       ({streams} of {n} calls' audio reached the sink)")


if __name__ == "__main__":
    main()
