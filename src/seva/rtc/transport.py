"""The WebSocket layer around the signalling hub (``rtc.signalling``): sockets in, hub out.

One hub per process. Both sides of a call must reach the same process, so a deployment with
several workers routes ``/rtc/ws`` by room to one of them (any load balancer's hash on the
``room`` query parameter does it); a Redis relay between nodes is not built yet.

With Janus configured (``rtc.janus``) this layer also does the SFU's bookkeeping the hub
decides on: a meeting's ``welcome`` carries the Janus token and feed Seva just added, a
moderator's mute is enforced by Janus as well as asked of the page, and a participant who
leaves or is removed loses their feed and tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from typing import Any

import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from seva.rtc.janus import JanusError, JanusSfu
from seva.rtc.signalling import MEETING, Close, Hub, Output, RoomEvent, Seat, Send

log = structlog.get_logger(__name__)


class SignallingServer:
    def __init__(
        self,
        hub: Hub | None = None,
        *,
        on_events: Callable[[list[tuple[RoomEvent, bool]]], None] | None = None,
        sfu: JanusSfu | None = None,
    ) -> None:
        self.hub = hub or Hub()
        self.sfu = sfu
        self._sockets: dict[int, WebSocket] = {}
        self._seats: dict[int, Seat] = {}
        self._ids = itertools.count(1)
        self._on_events = on_events

    async def serve(self, websocket: WebSocket, seat: Seat) -> None:
        """Run one accepted connection until it closes."""
        conn = next(self._ids)
        self._sockets[conn] = websocket
        self._seats[conn] = seat
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
            self._seats.pop(conn, None)

    async def _apply(self, outputs: list[Output]) -> None:
        events: list[tuple[RoomEvent, bool]] = []
        for out in outputs:
            if isinstance(out, Send):
                message = out.message
                if self.sfu is not None:
                    message = await self._through_sfu(self.sfu, out.conn, message)
                socket = self._sockets.get(out.conn)
                if socket is not None and socket.application_state == WebSocketState.CONNECTED:
                    try:
                        await socket.send_json(message)
                    except (RuntimeError, OSError, WebSocketDisconnect):
                        self._sockets.pop(out.conn, None)
            elif isinstance(out, Close):
                socket = self._sockets.pop(out.conn, None)
                if socket is not None:
                    with contextlib.suppress(RuntimeError, OSError):
                        await socket.close(code=out.code, reason=out.reason)
            else:  # with whether the room is empty now, read here on the loop's thread
                empty = not self.hub.occupants(out.room)
                events.append((out, empty))
                if self.sfu is not None and out.event == "left":
                    try:
                        await self.sfu.release(out.room, out.identity, room_empty=empty)
                    except JanusError as exc:
                        log.warning("rtc.sfu_release_failed", room=out.room, error=str(exc))
        if events and self._on_events is not None:
            try:
                await asyncio.to_thread(self._on_events, events)
            except Exception:  # a bookkeeping failure must not take the call down
                log.exception("rtc.events_failed", events=len(events))

    async def _through_sfu(
        self, sfu: JanusSfu, conn: int, message: dict[str, Any]
    ) -> dict[str, Any]:
        seat = self._seats.get(conn)
        if seat is None or seat.kind != MEETING:
            return message
        if message.get("type") == "welcome":
            try:
                admission = await sfu.admit(seat.room, seat.identity, seat.name)
            except JanusError as exc:
                log.warning("rtc.sfu_admit_failed", room=seat.room, error=str(exc))
                return {**message, "sfu": None, "notice": "the meeting server is unreachable"}
            return {**message, "sfu": admission.for_page(sfu.ws_url)}
        if message.get("type") == "mute-request":
            try:
                await sfu.mute(seat.room, seat.identity)
            except JanusError as exc:  # not publishing yet: the page's own mute stands
                log.info("rtc.sfu_mute_skipped", room=seat.room, error=str(exc))
        return message

    def connections(self) -> int:
        return len(self._sockets)
