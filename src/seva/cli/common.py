"""Helpers shared by the CLI groups: settings, a gateway and a console."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.orm import Session

from seva import logs
from seva.db.migrate import upgrade
from seva.gateway import Gateway, build_gateway
from seva.settings import Settings, get_settings

console = Console()
err = Console(stderr=True)


def settings(*, serving: bool = False) -> Settings:
    """The ``SEVA_*`` settings, or exit 2 saying in a sentence what is wrong with them (not a
    traceback). ``serving`` commands (``serve``, ``dispatch``) answer the outside world, so
    they refuse ``SEVA_ENV=demo`` too: only ``seva demo`` runs on the demo's settings. The
    command's logs are redacted from here on (``seva.logs``)."""
    try:
        loaded = get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = "_".join(str(part) for part in error["loc"]).upper()
            message = error["msg"].removeprefix("Value error, ")
            where = f"SEVA_{field}: " if field else ""
            err.print(f"[red]{escape(where + message)}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    if serving and loaded.env == "demo":
        err.print(
            "[red]SEVA_ENV=demo is for `seva demo` only: set SEVA_ENV=production (or "
            "development) and SEVA_SECRET_KEY[/red]",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    logs.configure(loaded.env, level=loaded.log_level)
    return loaded


@contextmanager
def gateway(*, migrate: bool = True) -> Iterator[Gateway]:
    config = settings()
    if migrate:
        upgrade(config.effective_database_url)
    gw = build_gateway(config)
    try:
        yield gw
    finally:
        gw.close()


@contextmanager
def session() -> Iterator[Session]:
    with gateway() as gw, gw.session() as s:
        yield s


def loop_factory(use_uvloop: bool = True) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when wanted and installed (it comes with uvicorn[standard]): the SMPP commands
    spend much of their time reading and writing sockets, which uvloop's transports do in C."""
    if not use_uvloop:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
