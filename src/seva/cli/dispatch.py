"""``seva dispatch``: the SMS dispatcher on its own (operator binds + queue draining + MO).

Scale-out runs one or more of these beside the web workers; on PostgreSQL they share the queue
through ``FOR UPDATE SKIP LOCKED``. On SQLite run exactly one.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time

import typer

from seva.cli import common
from seva.cli.common import console, loop_factory


def dispatch(
    stats_interval: float = typer.Option(
        0.0, "--stats-interval", help="Print a line of counters every N seconds (0 = never)"
    ),
) -> None:
    """Drain the SMS queue into the SMSCs named by SEVA_SMSC and answer citizens' SMS."""
    from seva.channels.smpp.client import parse_routes
    from seva.channels.smpp.engine import SmsEngine
    from seva.gateway import build_gateway

    settings = common.settings(serving=True)
    try:
        routes = parse_routes(settings.smsc.get_secret_value())
    except ValueError as exc:
        console.print(f"[red]SEVA_SMSC: {exc}[/red]")
        raise typer.Exit(2) from None
    if not routes:
        console.print("[red]Set SEVA_SMSC to at least one smpp://user:password@host:port[/red]")
        raise typer.Exit(2)
    gateway = build_gateway(settings)

    async def run() -> None:
        engine = SmsEngine(gateway, routes)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await engine.start()
        names = ", ".join(f"{r.name} ({r.host}:{r.port} ×{r.binds})" for r in routes)
        console.print(f"dispatching to {names}")
        started = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), stats_interval or 3600)
            if stats_interval and not stop.is_set():
                s = engine.dispatcher.stats
                console.print(
                    f"{time.monotonic() - started:7.1f}s claimed {s.claimed} submitted "
                    f"{s.submitted} failed {s.failed} receipts {s.receipts} mo {s.mo}",
                    highlight=False,
                )
        await engine.stop()

    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(run())
    finally:
        gateway.close()
