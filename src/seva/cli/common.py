"""Helpers shared by the CLI groups: settings, a gateway and a console."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from sqlalchemy.orm import Session

from seva.db.migrate import upgrade
from seva.gateway import Gateway, build_gateway
from seva.settings import get_settings

console = Console()
err = Console(stderr=True)


@contextmanager
def gateway(*, migrate: bool = True) -> Iterator[Gateway]:
    settings = get_settings()
    if migrate:
        upgrade(settings.effective_database_url)
    gw = build_gateway(settings)
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
