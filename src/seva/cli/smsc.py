"""``seva smsc-sim``: run the SMPP v3.4 SMSC simulator on a TCP port until interrupted.

It takes binds only from the accounts given with ``--account SYSTEM_ID:PASSWORD`` (``seva:seva``
when none is given), answering others as an SMSC does (ESME_RINVSYSID, ESME_RINVPASWD).

With ``--stats-interval`` one JSON object of counters goes to stdout per interval (benchmarks
read them); everything meant for people goes to stderr so stdout stays machine-readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import signal
import time

import typer

from seva.channels.smpp.asyncio.simulator import DEFAULT_ACCOUNTS, SimConfig, SmscSimulator
from seva.cli.common import err, loop_factory

DEFAULT_ACCOUNT_OPTIONS = [f"{name}:{password}" for name, password in DEFAULT_ACCOUNTS.items()]


def smsc_sim(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(2775, "--port", help="TCP port (0 picks a free one)"),
    receipt_delay: float = typer.Option(
        0.5, "--receipt-delay", help="Seconds from submit to delivery receipt; negative = never"
    ),
    failure_rate: float = typer.Option(
        0.0, "--failure-rate", help="Fraction of messages whose receipt says UNDELIV"
    ),
    reject_rate: float = typer.Option(
        0.0, "--reject-rate", help="Fraction of submit_sm refused with ESME_RSUBMITFAIL"
    ),
    throttle_rate: float = typer.Option(
        0.0, "--throttle-rate", help="Fraction of submit_sm refused with ESME_RTHROTTLED"
    ),
    max_tps: int = typer.Option(
        0, "--max-tps", help="Submissions per second per bind before ESME_RTHROTTLED; 0 = no cap"
    ),
    latency: float = typer.Option(
        0.0, "--latency", help="Extra seconds before each submit_sm_resp, e.g. 0.02"
    ),
    keep_messages: int = typer.Option(
        0,
        "--keep-messages",
        help="Messages kept per destination for inspection (only reachable in-process)",
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed for reproducible failures"),
    stats_interval: float = typer.Option(
        0.0, "--stats-interval", help="Print one JSON line of counters every S seconds"
    ),
    probe_prefix: str = typer.Option(
        "",
        "--probe-prefix",
        help="Record when submits to numbers with this prefix arrive (in the stats lines)",
    ),
    use_uvloop: bool = typer.Option(
        True, "--uvloop/--no-uvloop", help="Use uvloop's event loop when it is installed"
    ),
    account: list[str] = typer.Option(
        DEFAULT_ACCOUNT_OPTIONS,
        "--account",
        help="SYSTEM_ID:PASSWORD an ESME may bind with (repeat for more)",
    ),
) -> None:
    """Run an SMPP 3.4 SMSC simulator (binds, submit_sm, receipts, MO) until Ctrl-C."""
    try:
        config = SimConfig(
            accounts=_accounts(account),
            receipt_delay=receipt_delay,
            failure_rate=failure_rate,
            reject_rate=reject_rate,
            throttle_rate=throttle_rate,
            max_tps=max_tps,
            latency=latency,
            keep_messages=keep_messages,
            seed=seed,
            probe_prefix=probe_prefix,
        )
    except ValueError as exc:
        err.print(f"[red]error: {exc}[/red]")
        raise typer.Exit(2) from None
    try:
        with asyncio.Runner(loop_factory=loop_factory(use_uvloop)) as runner:
            runner.run(_serve(config, host, port, stats_interval))
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        err.print(f"[red]error: cannot listen on {host}:{port}: {reason or exc}[/red]")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        # A second Ctrl-C while stopping: leave quietly all the same.
        pass


def _accounts(given: list[str]) -> dict[str, str]:
    accounts: dict[str, str] = {}
    for entry in given:
        system_id, colon, password = entry.partition(":")
        if not colon or not system_id:
            raise ValueError(f"--account {entry!r}: expected SYSTEM_ID:PASSWORD")
        accounts[system_id] = password
    return accounts


async def _serve(config: SimConfig, host: str, port: int, stats_interval: float) -> None:
    simulator = SmscSimulator(config)
    bound_host, bound_port = await simulator.start(host, port)
    err.print(f"SMSC simulator listening on {bound_host}:{bound_port} (SMPP 3.4); Ctrl-C stops")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    started = time.monotonic()
    try:
        while not stopping.is_set():
            if stats_interval > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), stats_interval)
                line: dict[str, object] = {
                    "time": round(time.time(), 3),
                    "uptime": round(time.monotonic() - started, 3),
                    "cpu_seconds": round(time.process_time(), 3),
                    **simulator.stats.as_dict(),
                }
                if simulator.probes:
                    line["probes"] = simulator.probes
                    simulator.probes = []
                print(json.dumps(line), flush=True)
            else:
                await stopping.wait()
    finally:
        await simulator.stop()
    err.print("SMSC simulator stopped")


if __name__ == "__main__":
    typer.run(smsc_sim)
