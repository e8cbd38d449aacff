"""The WebSocket layer around the signalling hub (``rtc.signalling``): sockets in, hub out.

One hub per process, and a room's state lives in one of them. The hub talks to ``Line``s: a
browser's WebSocket on this process (``SocketLine``), or, with ``SEVA_REDIS_URL`` set, one
whose browser is connected to another process and whose messages ``rtc.relay`` carries
through Redis. So with several workers or nodes any of them can take any ``/rtc/ws``; without
Redis there is one process's hub and nothing else, as on a laptop.

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
from typing import Any, Protocol

import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from seva.rtc.janus import JanusError, JanusSfu
from seva.rtc.signalling import MEETING, Close, Hub, Output, RoomEvent, Seat, Send

log = structlog.get_logger(__name__)


class Line(Protocol):
    """One participant's end of the signalling, as the hub's transport sees it."""

    async def receive(self) -> str | bytes | None:
        """The next message from the page, or ``None`` once it is gone."""

    async def send(self, message: dict[str, Any]) -> bool:
        """Hand one message on; ``False`` if the line is gone and the message went nowhere."""

    async def close(self, code: int, reason: str) -> None:
        """Close the page's socket with this code and reason; safe on a closed line."""


class Relay(Protocol):
    """Where a socket goes when rooms may live on another process (``rtc.relay``)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def serve(self, line: Line, seat: Seat) -> None: ...


class SocketLine:
    """A browser's WebSocket on this process."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def receive(self) -> str | bytes | None:
        try:
            message = await self.websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            # RuntimeError: Starlette's answer to receive() on a socket this server has
            # already closed (a replaced window, a removed participant).
            return None
        if message["type"] == "websocket.disconnect":
            return None
        data: str | bytes | None = message.get("text")
        if data is None:
            data = message.get("bytes") or b""
        return data

    async def send(self, message: dict[str, Any]) -> bool:
        if self.websocket.application_state != WebSocketState.CONNECTED:
            return False
        try:
            await self.websocket.send_json(message)
        except (RuntimeError, OSError, WebSocketDisconnect):
            return False
        return True

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            await self.websocket.close(code=code, reason=reason)


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
        self.relay: Relay | None = None
        """Set when rooms may live on other processes too (``rtc.relay``, with Redis)."""
        self._lines: dict[int, Line] = {}
        self._seats: dict[int, Seat] = {}
        self._ids = itertools.count(1)
        self._on_events = on_events

    async def start(self) -> None:
        """Begin relaying, if this process has a relay (with the app, on its event loop)."""
        if self.relay is not None:
            await self.relay.start()

    async def stop(self) -> None:
        if self.relay is not None:
            await self.relay.stop()

    async def serve(self, websocket: WebSocket, seat: Seat) -> None:
        """Run one accepted connection until it closes, here or through the relay."""
        line = SocketLine(websocket)
        if self.relay is not None:
            await self.relay.serve(line, seat)
        else:
            await self.attend(line, seat)

    async def attend(self, line: Line, seat: Seat) -> None:
        """Seat one line in this process's hub and carry its messages until it closes."""
        conn = next(self._ids)
        self._lines[conn] = line
        self._seats[conn] = seat
        try:
            await self._apply(self.hub.join(conn, seat, time.time()))
            while conn in self._lines:
                data = await line.receive()
                if data is None:
                    break
                await self._apply(self.hub.receive(conn, data, time.time()))
        finally:
            self._lines.pop(conn, None)
            await self._apply(self.hub.disconnected(conn, time.time()))
            self._seats.pop(conn, None)

    def rooms_held(self) -> set[str]:
        """The rooms with someone seated in this process's hub."""
        return {seat.room for seat in self._seats.values()}

    async def close_room(self, room: str, code: int, reason: str) -> None:
        """Close every line seated in one room (its state is to live elsewhere now)."""
        for conn, seat in list(self._seats.items()):
            if seat.room == room:
                await self._close(conn, code, reason)

    async def _close(self, conn: int, code: int, reason: str) -> None:
        line = self._lines.pop(conn, None)
        if line is not None:
            await line.close(code, reason)

    async def _apply(self, outputs: list[Output]) -> None:
        events: list[tuple[RoomEvent, bool]] = []
        for out in outputs:
            if isinstance(out, Send):
                message = out.message
                if self.sfu is not None:
                    message = await self._through_sfu(self.sfu, out.conn, message)
                line = self._lines.get(out.conn)
                if line is not None and not await line.send(message):
                    self._lines.pop(out.conn, None)
            elif isinstance(out, Close):
                await self._close(out.conn, out.code, out.reason)
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
        return len(self._lines)
