"""The WebSocket layer around the signalling hub (``rtc.signalling``): sockets in, hub out.

One hub per process. Both sides of a call must reach the same process, so a deployment with
several workers routes ``/rtc/ws`` by room to one of them (any load balancer's hash on the
``room`` query parameter does it); a Redis relay between nodes is not built yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable

import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from seva.rtc.signalling import Close, Hub, Output, RoomEvent, Seat, Send

log = structlog.get_logger(__name__)


class SignallingServer:
    def __init__(
        self,
        hub: Hub | None = None,
        *,
        on_events: Callable[[list[tuple[RoomEvent, bool]]], None] | None = None,
    ) -> None:
        self.hub = hub or Hub()
        self._sockets: dict[int, WebSocket] = {}
        self._ids = itertools.count(1)
        self._on_events = on_events

    async def serve(self, websocket: WebSocket, seat: Seat) -> None:
        """Run one accepted connection until it closes."""
        conn = next(self._ids)
        self._sockets[conn] = websocket
        try:
            await self._apply(self.hub.join(conn, seat, time.time()))
            while conn in self._sockets:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                await self._apply(self.hub.receive(conn, data, time.time()))
        except (WebSocketDisconnect, RuntimeError):
            # RuntimeError: Starlette's answer to receive() on a socket this server has
            # already closed (a replaced window, a removed participant).
            pass
        finally:
            self._sockets.pop(conn, None)
            await self._apply(self.hub.disconnected(conn, time.time()))

    async def _apply(self, outputs: list[Output]) -> None:
        events: list[tuple[RoomEvent, bool]] = []
        for out in outputs:
            if isinstance(out, Send):
                socket = self._sockets.get(out.conn)
                if socket is not None and socket.application_state == WebSocketState.CONNECTED:
                    try:
                        await socket.send_json(out.message)
                    except (RuntimeError, OSError, WebSocketDisconnect):
                        self._sockets.pop(out.conn, None)
            elif isinstance(out, Close):
                socket = self._sockets.pop(out.conn, None)
                if socket is not None:
                    with contextlib.suppress(RuntimeError, OSError):
                        await socket.close(code=out.code, reason=out.reason)
            else:  # with whether the room is empty now, read here on the loop's thread
                events.append((out, not self.hub.occupants(out.room)))
        if events and self._on_events is not None:
            try:
                await asyncio.to_thread(self._on_events, events)
            except Exception:  # a bookkeeping failure must not take the call down
                log.exception("rtc.events_failed", events=len(events))

    def connections(self) -> int:
        return len(self._sockets)
