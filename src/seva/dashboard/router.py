"""The public live status page (``/status``), its JSON snapshot and its Server-Sent Events.

The page is complete without JavaScript: numbers, tables and SVG charts are rendered on the
server. ``/status/stream`` (the HTML5 Server-Sent Events format) pushes a new snapshot only
when the numbers change, with a comment line as heartbeat so proxies keep the connection, and
ends after ``STREAM_SECONDS``; the browser's ``EventSource`` reconnects by itself. All open
streams of one process share one snapshot per poll, so a hundred viewers cost the database the
same as one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from seva.core import Core
from seva.dashboard import charts
from seva.dashboard import service as status
from seva.deps import SessionDep
from seva.i18n import text as ui
from seva.templating import page_lang, render
from seva.tenancy.login import current_official

router = APIRouter(tags=["status"])
log = structlog.get_logger("seva.dashboard")

POLL_SECONDS = 2.0
HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 600.0
RETRY_MILLISECONDS = 3000


def grouped(number: int) -> str:
    """Indian digit grouping (1,23,45,678), the way figures are printed in India."""
    digits = str(abs(number))
    if len(digits) > 3:
        head, tail = digits[:-3], digits[-3:]
        pairs: list[str] = []
        while len(head) > 2:
            pairs.insert(0, head[-2:])
            head = head[:-2]
        digits = ",".join([head, *pairs, tail])
    return f"-{digits}" if number < 0 else digits


def indian_date(iso_day: str) -> str:
    """``2026-03-10`` as ``10-03-2026``, the order dates are written in India."""
    year, month, day = iso_day.split("-")
    return f"{day}-{month}-{year}"


def _label(prefix: str, key: str, lang: str) -> str:
    text = ui(f"{prefix}_{key}", lang)
    return key if text == f"{prefix}_{key}" else text


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request, session: SessionDep) -> HTMLResponse:
    current_official(request, session)
    lang = page_lang(request)
    snap = status.snapshot(session)
    channel_chart = charts.bar_chart(
        [(c.key, _label("ch", c.key, lang), c.count) for c in snap.by_channel]
    )
    hour_chart = charts.hour_chart(snap.hourly)
    busiest = max(range(24), key=lambda h: snap.hourly[h]) if any(snap.hourly) else None
    before, _, after = ui("st_as_of", lang).partition("{day}")
    return render(
        request,
        "status_page.html",
        {
            "snap": snap,
            "as_of": (before, indian_date(snap.day), after),
            "channel_chart": channel_chart,
            "hour_chart": hour_chart,
            "busiest": busiest,
            "n": grouped,
            "pick": lambda names: names.get(lang) or names.get("en") or "",
            "outcome_label": lambda key: _label("oc", key, lang),
        },
    )


@router.get(
    "/status.json",
    summary="Live status snapshot",
    response_model=status.Snapshot,
    responses={200: {"description": "Today's counts (IST calendar day) and the live services."}},
)
def status_json(session: SessionDep) -> JSONResponse:
    """Today's transactions by channel, department, service, outcome and hour (IST), and the
    services live per department: the numbers behind ``/status``."""
    return JSONResponse(status.snapshot(session).as_dict())


class _SharedSnapshot:
    """The latest snapshot of one process, refreshed at most once per ``max_age`` seconds."""

    def __init__(self, gateway: Core, max_age: float) -> None:
        self.gateway = gateway
        self.max_age = max_age
        self._lock = threading.Lock()
        self._value: status.Snapshot | None = None
        self._taken = 0.0

    def get(self) -> status.Snapshot:
        with self._lock:
            if self._value is None or time.monotonic() - self._taken >= self.max_age:
                with self.gateway.session() as session:
                    self._value = status.snapshot(session)
                self._taken = time.monotonic()
            return self._value


_shared_lock = threading.Lock()


def _shared(request: Request) -> _SharedSnapshot:
    state = request.app.state
    with _shared_lock:
        shared: _SharedSnapshot | None = getattr(state, "status_snapshot", None)
        if shared is None:
            shared = _SharedSnapshot(state.gateway, max_age=POLL_SECONDS * 0.9)
            state.status_snapshot = shared
        return shared


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def _events(request: Request, shared: _SharedSnapshot, once: bool) -> AsyncIterator[str]:
    started = last_write = time.monotonic()
    sent: dict[str, Any] | None = None
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    while True:
        try:
            snap = await run_in_threadpool(shared.get)
        except SQLAlchemyError:
            log.exception("status_stream_query_failed")
            return  # the browser reconnects after ``retry`` and tries again
        numbers = snap.numbers()
        now = time.monotonic()
        if numbers != sent:
            sent = numbers
            last_write = now
            yield _event(snap.as_dict())
            if once:
                return
        elif now - last_write >= HEARTBEAT_SECONDS:
            last_write = now
            yield ": heartbeat\n\n"
        if now - started >= STREAM_SECONDS:
            return
        await anyio.sleep(POLL_SECONDS)
        if await request.is_disconnected():
            return


@router.get(
    "/status/stream",
    summary="Live status as Server-Sent Events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "A `data:` event with the `/status.json` snapshot whenever the "
            "numbers change, a comment line every 15 s, and the end of the stream after "
            "10 minutes (EventSource reconnects).",
        }
    },
)
async def status_stream(
    request: Request,
    once: Annotated[
        bool, Query(description="End the stream after the first snapshot (for scripts).")
    ] = False,
) -> StreamingResponse:
    return StreamingResponse(
        _events(request, _shared(request), once),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
