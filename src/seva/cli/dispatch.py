"""``seva dispatch``: the SMS dispatcher on its own (operator binds + queue draining + MO).

Scale-out runs one or more of these beside the web workers; on PostgreSQL they share the queue
through ``FOR UPDATE SKIP LOCKED``. On SQLite run exactly one. ``seva dispatch --stats`` prints
the queue by status and how many messages a crashed dispatcher may have sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from typing import TYPE_CHECKING

import typer

from seva.cli import common
from seva.cli.common import console, loop_factory

if TYPE_CHECKING:
    from seva.gateway import Gateway


def dispatch(
    stats_interval: float = typer.Option(
        0.0, "--stats-interval", help="Print a line of counters every N seconds (0 = never)"
    ),
    stats: bool = typer.Option(
        False,
        "--stats",
        help="Print the queue's messages by status and those possibly sent twice, then exit",
    ),
) -> None:
    """Drain the SMS queue into the SMSCs named by SEVA_SMSC and answer citizens' SMS."""
    from seva.channels.smpp.asyncio.client import parse_routes
    from seva.channels.smpp.asyncio.engine import SmsEngine
    from seva.gateway import build_gateway

    settings = common.settings(serving=True)
    if stats:
        gateway = build_gateway(settings)
        try:
            print_stats(gateway)
        finally:
            gateway.close()
        return
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
        gateway.size_thread_pools()
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
                    f"{s.submitted} failed {s.failed} receipts {s.receipts} mo {s.mo} "
                    f"resent-after-lease {s.recovered} no-receipt {s.unknown}",
                    highlight=False,
                )
        await engine.stop()

    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(run())
    finally:
        gateway.close()


def print_stats(gateway: Gateway) -> None:
    """The whole queue's state, from the database: what every dispatcher did, not this one."""
    from seva.messaging import service as messaging
    from seva.messaging.models import STATES

    with gateway.session() as session:
        counts = messaging.status_counts(session)
        resent = messaging.resent_after_lease(session)
    console.print("  ".join(f"{state} {counts.get(state, 0)}" for state in STATES), highlight=False)
    console.print(
        f"resent after a dispatcher stopped: {resent.messages} messages, {resent.times} times "
        "(each possibly delivered twice)",
        highlight=False,
    )
