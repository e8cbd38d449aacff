"""submit_sm per second the SMSC simulator answers on its own, with its CPU time and memory.

Starts `seva smsc-sim` in a subprocess (or `python -m seva.cli.smsc` where the command is not
registered), binds N connections from one client process and pipelines pre-encoded submit_sm
batches on each without waiting for responses (a bounded number of batches in flight per
connection, so neither side buffers without limit). The client only walks PDU headers to count
answers, so it stays cheaper than the server and the figure is the simulator's.

    .venv/bin/python bench/smsc_sim.py [--seconds 10] [--connections 2] [--receipts]

With --receipts every submit_sm asks for a delivery receipt (registered_delivery=1) over
transceiver binds, and the client acknowledges each receipt deliver_sm.

Prints figures; asserts nothing. Bounded by --seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from procstats import cpu_seconds, free_port, memory_mib

HEADER = struct.Struct(">IIII")
SUBMIT_SM_RESP = 0x80000004
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
BIND_RESP_MASK = 0x80000000
VENV_BIN = Path(sys.executable).parent


def simulator_command(port: int, receipt_delay: float, uvloop: bool) -> list[str]:
    args = [
        "--uvloop" if uvloop else "--no-uvloop",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--receipt-delay",
        str(receipt_delay),
        "--stats-interval",
        "1",
        "--account",
        "bench:bench",
    ]
    seva = VENV_BIN / "seva"
    if seva.exists():
        probe = subprocess.run(
            [str(seva), "smsc-sim", "--help"], capture_output=True, timeout=60, check=False
        )
        if probe.returncode == 0:
            return [str(seva), "smsc-sim", *args]
    return [sys.executable, "-m", "seva.cli.smsc", *args]


def cstr(value: str) -> bytes:
    return value.encode() + b"\0"


def pdu(command_id: int, seq: int, body: bytes) -> bytes:
    return HEADER.pack(16 + len(body), command_id, 0, seq) + body


def bind_pdu(transceiver: bool) -> bytes:
    body = cstr("bench") + cstr("bench") + cstr("") + b"\x34\x00\x00" + cstr("")
    return pdu(0x09 if transceiver else 0x02, 1, body)


def submit_batch(count: int, registered_delivery: int) -> bytes:
    """``count`` submit_sm with distinct numbers, as a gateway would send a bulk campaign."""
    parts = []
    for n in range(count):
        text = f"Your ration card {n:06d} is active. Collect at shop 42.".encode()
        body = (
            cstr("")
            + b"\x05\x00"
            + cstr("SEVA")
            + b"\x01\x01"
            + cstr(f"9198{n:08d}")
            + b"\x00\x00\x00"
            + cstr("")
            + cstr("")
            + bytes((registered_delivery, 0, 0, 0, len(text)))
            + text
        )
        parts.append(pdu(0x04, 2 + n, body))
    return b"".join(parts)


class BenchClient(asyncio.Protocol):
    """One bound connection keeping up to ``window`` batches unanswered."""

    def __init__(self, batch: bytes, batch_size: int, window: int, bound: asyncio.Future[None]):
        self.batch = batch
        self.batch_size = batch_size
        self.window = window
        self.bound = bound
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.sent = 0
        self.answered = 0
        self.ok = 0
        self.receipts = 0
        self.running = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def start(self) -> None:
        self.running = True
        self.top_up()

    def top_up(self) -> None:
        assert self.transport is not None
        while self.running and self.sent - self.answered < self.window * self.batch_size:
            self.transport.write(self.batch)
            self.sent += self.batch_size

    def data_received(self, data: bytes) -> None:
        if self.buf:
            data = self.buf + data
        pos, end = 0, len(data)
        acks = []
        unpack = HEADER.unpack_from
        answered = ok = 0
        while end - pos >= 16:
            length, command_id, status, seq = unpack(data, pos)
            if end - pos < length:
                break
            if command_id == SUBMIT_SM_RESP:
                answered += 1
                if status == 0:
                    ok += 1
            elif command_id == DELIVER_SM:
                self.receipts += 1
                acks.append(HEADER.pack(17, DELIVER_SM_RESP, 0, seq) + b"\0")
            elif command_id & BIND_RESP_MASK and not self.bound.done():
                if status:
                    self.bound.set_exception(RuntimeError(f"bind refused: 0x{status:x}"))
                else:
                    self.bound.set_result(None)
            pos += length
        self.buf = data[pos:]
        self.answered += answered
        self.ok += ok
        if acks and self.transport is not None:
            self.transport.write(b"".join(acks))
        self.top_up()


async def drive(args: argparse.Namespace, port: int) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    registered = 1 if args.receipts else 0
    batch = submit_batch(args.batch, registered)
    clients = []
    for _ in range(args.connections):
        bound: asyncio.Future[None] = loop.create_future()
        transport, client = await loop.create_connection(
            lambda b=bound: BenchClient(batch, args.batch, args.window, b), "127.0.0.1", port
        )
        client.transport = transport
        transport.write(bind_pdu(args.receipts))
        await asyncio.wait_for(bound, 10)
        clients.append(client)
    for client in clients:
        client.start()
    await asyncio.sleep(args.warmup)
    answered0 = sum(c.answered for c in clients)
    receipts0 = sum(c.receipts for c in clients)
    cpu0 = cpu_seconds(args.sim_pid)
    client_cpu0 = time.process_time()
    t0 = time.perf_counter()
    for second in range(int(args.seconds)):
        await asyncio.sleep(1)
        done = sum(c.answered for c in clients) - answered0
        print(
            f"  {second + 1:3d}s  {done / (time.perf_counter() - t0):10,.0f} submit_sm/s answered"
            f"  {done:12,d} in all  simulator RSS {memory_mib(args.sim_pid):6.1f} MiB",
            file=sys.stderr,
            flush=True,
        )
    elapsed = time.perf_counter() - t0
    answered = sum(c.answered for c in clients) - answered0
    receipts = sum(c.receipts for c in clients) - receipts0
    cpu = cpu_seconds(args.sim_pid) - cpu0
    client_cpu = time.process_time() - client_cpu0
    for client in clients:
        client.running = False
    await asyncio.sleep(0.5)
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    return {
        "elapsed": elapsed,
        "answered": answered,
        "ok": sum(c.ok for c in clients),
        "sent": sum(c.sent for c in clients),
        "receipts": receipts,
        "cpu": cpu,
        "client_cpu": client_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500, help="submit_sm per pipelined write")
    parser.add_argument("--window", type=int, default=4, help="batches unanswered per connection")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--receipts", action="store_true", help="ask for and ack receipts")
    parser.add_argument("--receipt-delay", type=float, default=0.5)
    parser.add_argument(
        "--no-uvloop", action="store_true", help="run the simulator on asyncio's default loop"
    )
    args = parser.parse_args()

    port = free_port()
    command = simulator_command(port, args.receipt_delay, not args.no_uvloop)
    print("simulator:", " ".join(command[-13:]), file=sys.stderr)
    sim = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if sim.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the simulator did not start") from None
                time.sleep(0.1)
        args.sim_pid = sim.pid
        rss_idle = memory_mib(sim.pid)
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        figures = runner(drive(args, port))
        rss_end = memory_mib(sim.pid)
    finally:
        sim.send_signal(signal.SIGINT)
        try:
            out, _ = sim.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            sim.kill()
            out, _ = sim.communicate()
    stats = [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    rate = figures["answered"] / figures["elapsed"]
    print(f"connections            {args.connections} x {args.window} batches of {args.batch}")
    print(f"receipts               {'requested and acknowledged' if args.receipts else 'off'}")
    print(f"event loop             {'asyncio default' if args.no_uvloop else 'uvloop'}")
    print(f"submit_sm/s answered   {rate:,.0f}")
    if args.receipts:
        print(f"receipts/s received    {figures['receipts'] / figures['elapsed']:,.0f}")
    print(
        f"simulator CPU          {figures['cpu']:.2f} s in {figures['elapsed']:.1f} s "
        f"({figures['cpu'] / figures['elapsed']:.0%} of one core); "
        f"{figures['cpu'] / max(figures['answered'], 1) * 100_000:.2f} s per 100k submit_sm"
    )
    print(f"client CPU             {figures['client_cpu']:.2f} s")
    print(f"simulator RSS          {rss_idle:.1f} MiB idle, {rss_end:.1f} MiB at the end")
    if stats:
        last = stats[-1]
        print(
            "simulator counters     "
            f"submits {last['submits']:,}, ok {last['submit_resps_ok']:,}, "
            f"receipts sent {last['receipts_sent']:,}, acked {last['receipts_acked']:,}"
        )


if __name__ == "__main__":
    main()
