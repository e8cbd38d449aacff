"""WebRTC signalling without I/O: rooms, joins, offer/answer and ICE relay, chat, lobby, leave.

The browser side is plain ``RTCPeerConnection`` (W3C WebRTC 1.0, JSEP offer/answer per RFC
8829, trickle ICE per RFC 8838): the server never reads SDP, it checks who may talk to whom
and forwards. ``Hub`` takes what a connection sent and returns what to send to which
connection, which connections to close with which code and reason, and room events for the
service layer (a citizen's call connected, an official left). The WebSocket endpoint in
``rtc.router`` is the thin asyncio layer around it; tests drive the hub directly.

Protocol, one JSON object per WebSocket message, ``type`` first:

* server → client on admission: ``welcome`` {you, room, kind, role, peers: [{id, name, role,
  state}]}; then ``peer-joined``/``peer-left``/``state`` about others. The newcomer offers to
  every peer already there (so two peers never offer to each other at once).
* ``offer``/``answer`` {to, sdp}, ``candidate`` {to, candidate: {candidate, sdpMid,
  sdpMLineIndex} | null}: relayed to ``to`` with ``from`` added.
* ``chat`` {text}: stamped with sender and time and sent to everyone in the room.
* ``state`` {audio, video, screen}: what the sender has on, for the others' tiles.
* meetings with a lobby: non-moderators wait (``lobby``) until a moderator sends ``admit``
  {peer}; moderators can ``mute`` {peer} (a request the page obeys; with Janus the SFU also
  enforces it) and ``remove`` {peer}.
* ``record`` {consent: true|false}: in a call, recording starts only when everyone in it has
  said yes; each change is told to all as ``recording`` {on, consented: [ids]}. Anyone saying
  no, or leaving, stops it. The service layer hears ``recording``/``recording-stopped`` room
  events, one per person who agreed, and keeps that consent with the recording.
* ``leave``; ``ping`` → ``pong``.

Anything malformed closes that connection with code 4400 and a reason naming what was wrong;
nothing a client sends raises out of the hub. Message size and rate are bounded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CALL = "call"
"""One citizen and one official (or two officials): two seats."""
MEETING = "meeting"
"""Officials' meetings: up to ``meeting_capacity`` seats, optional lobby, moderators."""
KINDS = (CALL, MEETING)
ROLES = ("citizen", "official", "moderator")

CLOSE_NORMAL = 1000
CLOSE_TOO_BIG = 1009
CLOSE_REPLACED = 4001
CLOSE_REMOVED = 4003
CLOSE_FULL = 4009
CLOSE_BAD_MESSAGE = 4400
CLOSE_TOO_MANY = 4429

MAX_SDP = 32 * 1024
MAX_CHAT = 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class Seat:
    """What a verified join token grants: one identity, one role, in one room."""

    room: str
    identity: str
    name: str
    role: str
    kind: str = CALL
    lobby: bool = False
    """Meetings only: non-moderators wait until a moderator admits them."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"room kind must be one of {KINDS}")
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        if not self.room or not self.identity:
            raise ValueError("a seat needs a room and an identity")


@dataclass(frozen=True, slots=True)
class Send:
    conn: int
    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Close:
    conn: int
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """For the service layer: ``joined``/``left`` a room, ``connected`` when a call has both."""

    room: str
    event: str
    identity: str
    role: str
    at: float


Output = Send | Close | RoomEvent


class BadMessage(Exception):
    pass


@dataclass(slots=True)
class _Peer:
    conn: int
    seat: Seat
    admitted: bool
    tokens: float
    last: float
    state: dict[str, bool] = field(
        default_factory=lambda: {"audio": True, "video": True, "screen": False}
    )

    @property
    def id(self) -> str:
        return str(self.conn)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.seat.name,
            "role": self.seat.role,
            "state": dict(self.state),
        }


@dataclass(slots=True)
class _Room:
    name: str
    kind: str
    peers: dict[int, _Peer] = field(default_factory=dict)
    connected: bool = False
    consent: set[int] = field(default_factory=set)
    recording: bool = False

    def admitted(self) -> list[_Peer]:
        return [p for p in self.peers.values() if p.admitted]

    def waiting(self) -> list[_Peer]:
        return [p for p in self.peers.values() if not p.admitted]

    def moderators(self) -> list[_Peer]:
        return [p for p in self.admitted() if p.seat.role == "moderator"]


class Hub:
    """Every room of this node. Not thread-safe: one event loop drives it."""

    def __init__(
        self,
        *,
        meeting_capacity: int = 30,
        max_message_bytes: int = 64 * 1024,
        burst: int = 200,
        per_second: float = 100.0,
    ) -> None:
        self.meeting_capacity = meeting_capacity
        self.max_message_bytes = max_message_bytes
        self.burst = burst
        self.per_second = per_second
        self._rooms: dict[str, _Room] = {}
        self._where: dict[int, _Room] = {}
        self._handlers: dict[str, Callable[[_Room, _Peer, dict[str, Any], float], list[Output]]]
        self._handlers = {
            "ping": self._ping,
            "offer": self._relay_sdp,
            "answer": self._relay_sdp,
            "candidate": self._relay_candidate,
            "chat": self._chat,
            "state": self._state,
            "admit": self._admit,
            "mute": self._mute,
            "remove": self._remove,
            "record": self._record,
            "leave": self._leave_message,
        }

    # -- what the transport calls ------------------------------------------------------------

    def join(self, conn: int, seat: Seat, now: float) -> list[Output]:
        if conn in self._where:
            return [Close(conn, CLOSE_BAD_MESSAGE, "this connection has already joined")]
        room = self._rooms.get(seat.room)
        if room is None:
            room = self._rooms[seat.room] = _Room(seat.room, seat.kind)
        elif room.kind != seat.kind:
            return [Close(conn, CLOSE_BAD_MESSAGE, "the token is for another kind of room")]
        out: list[Output] = []
        twin = next((p for p in room.peers.values() if p.seat.identity == seat.identity), None)
        if twin is not None:  # the same person again (a reload, a second tab): the newest wins
            out.append(Close(twin.conn, CLOSE_REPLACED, "joined again from another window"))
            out.extend(self._drop(room, twin, now))
            room = self._rooms.setdefault(seat.room, room)
        capacity = 2 if seat.kind == CALL else self.meeting_capacity
        if len(room.peers) >= capacity:
            if not room.peers:
                self._rooms.pop(room.name, None)
            return [*out, Close(conn, CLOSE_FULL, "the room is full")]
        waits = seat.kind == MEETING and seat.lobby and seat.role != "moderator"
        peer = _Peer(conn, seat, admitted=not waits, tokens=float(self.burst), last=now)
        room.peers[conn] = peer
        self._where[conn] = room
        out.append(RoomEvent(room.name, "joined", seat.identity, seat.role, now))
        if waits:
            out.append(Send(conn, {"type": "lobby", "room": room.name}))
            out.extend(self._lobby_news(room))
            return out
        return out + self._admitted(room, peer, now)

    def receive(self, conn: int, data: str | bytes, now: float) -> list[Output]:
        room = self._where.get(conn)
        if room is None:
            return [Close(conn, CLOSE_BAD_MESSAGE, "join first")]
        peer = room.peers[conn]
        if len(data) > self.max_message_bytes:
            return [Close(conn, CLOSE_TOO_BIG, "message too big"), *self._drop(room, peer, now)]
        peer.tokens = min(self.burst, peer.tokens + (now - peer.last) * self.per_second)
        peer.last = now
        if peer.tokens < 1:
            return [Close(conn, CLOSE_TOO_MANY, "too many messages"), *self._drop(room, peer, now)]
        peer.tokens -= 1
        try:
            message = _parse(data)
            handler = self._handlers.get(message["type"])
            if handler is None:
                raise BadMessage(f"unknown message type {message['type'][:40]!r}")
            if not peer.admitted and message["type"] not in ("ping", "leave"):
                return [Send(conn, _error("in_lobby", "wait for a moderator to admit you"))]
            return handler(room, peer, message, now)
        except BadMessage as exc:
            reason = str(exc)[:120]
            return [Close(conn, CLOSE_BAD_MESSAGE, reason), *self._drop(room, peer, now)]

    def disconnected(self, conn: int, now: float) -> list[Output]:
        """The transport is gone (closed by either side): tell the room."""
        room = self._where.get(conn)
        if room is None:
            return []
        return self._drop(room, room.peers[conn], now)

    def rooms(self) -> int:
        return len(self._rooms)

    def connections(self) -> int:
        return len(self._where)

    def occupants(self, room: str) -> list[str]:
        found = self._rooms.get(room)
        return [p.seat.identity for p in found.admitted()] if found else []

    # -- internals ---------------------------------------------------------------------------

    def _admitted(self, room: _Room, peer: _Peer, now: float) -> list[Output]:
        others = [p for p in room.admitted() if p is not peer]
        out: list[Output] = [
            Send(
                peer.conn,
                {
                    "type": "welcome",
                    "you": peer.id,
                    "room": room.name,
                    "kind": room.kind,
                    "role": peer.seat.role,
                    "peers": [p.public() for p in others],
                },
            )
        ]
        joined = {"type": "peer-joined", "peer": peer.public()}
        out.extend(Send(p.conn, joined) for p in others)
        if room.kind == CALL and len(room.admitted()) == 2 and not room.connected:
            room.connected = True
            out.extend(
                RoomEvent(room.name, "connected", p.seat.identity, p.seat.role, now)
                for p in room.admitted()
            )
        if room.waiting():
            out.extend(self._lobby_news(room))
        return out

    def _lobby_news(self, room: _Room) -> list[Output]:
        waiting = [p.public() for p in room.waiting()]
        return [Send(m.conn, {"type": "waiting", "peers": waiting}) for m in room.moderators()]

    def _drop(self, room: _Room, peer: _Peer, now: float) -> list[Output]:
        room.peers.pop(peer.conn, None)
        self._where.pop(peer.conn, None)
        out: list[Output] = []
        if room.consent or room.recording:  # whoever leaves, the consent given goes
            out.extend(self._consent_changed(room, peer, False, now))
        out.append(RoomEvent(room.name, "left", peer.seat.identity, peer.seat.role, now))
        if peer.admitted:
            left = {"type": "peer-left", "peer": peer.id}
            out.extend(Send(p.conn, left) for p in room.admitted())
        if room.waiting() or not peer.admitted:
            out.extend(self._lobby_news(room))
        if not room.peers:
            del self._rooms[room.name]
        return out

    def _target(self, room: _Room, message: dict[str, Any], key: str) -> _Peer | None:
        wanted = _text(message, key, 20)
        return next((p for p in room.peers.values() if p.id == wanted), None)

    # -- handlers ----------------------------------------------------------------------------

    def _ping(self, room: _Room, peer: _Peer, message: dict[str, Any], now: float) -> list[Output]:
        return [Send(peer.conn, {"type": "pong"})]

    def _relay_sdp(
        self, room: _Room, peer: _Peer, message: dict[str, Any], now: float
    ) -> list[Output]:
        sdp = _text(message, "sdp", MAX_SDP)
        target = self._target(room, message, "to")
        if target is None or not target.admitted or target is peer:
            return [Send(peer.conn, _error("unknown_peer", "that peer is not in the room"))]
        relayed = {"type": message["type"], "from": peer.id, "sdp": sdp}
        return [Send(target.conn, relayed)]

    def _relay_candidate(
        self, room: _Room, peer: _Peer, message: dict[str, Any], now: float
    ) -> list[Output]:
        candidate = message.get("candidate")
        if candidate is not None:
            if not isinstance(candidate, dict):
                raise BadMessage("candidate must be an object or null")
            line = candidate.get("candidate")
            mid = candidate.get("sdpMid")
            index = candidate.get("sdpMLineIndex")
            if not isinstance(line, str) or len(line) > 1024:
                raise BadMessage("candidate.candidate must be a string")
            if mid is not None and (not isinstance(mid, str) or len(mid) > 64):
                raise BadMessage("candidate.sdpMid must be a string or null")
            if index is not None and (
                isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 64
            ):
                raise BadMessage("candidate.sdpMLineIndex must be a small integer or null")
            candidate = {"candidate": line, "sdpMid": mid, "sdpMLineIndex": index}
        target = self._target(room, message, "to")
        if target is None or not target.admitted or target is peer:
            return [Send(peer.conn, _error("unknown_peer", "that peer is not in the room"))]
        return [Send(target.conn, {"type": "candidate", "from": peer.id, "candidate": candidate})]

    def _chat(self, room: _Room, peer: _Peer, message: dict[str, Any], now: float) -> list[Output]:
        text = _text(message, "text", MAX_CHAT).strip()
        if not text:
            raise BadMessage("chat text is empty")
        said = {
            "type": "chat",
            "from": peer.id,
            "name": peer.seat.name,
            "text": text,
            "at": round(now, 3),
        }
        return [Send(p.conn, said) for p in room.admitted()]

    def _state(self, room: _Room, peer: _Peer, message: dict[str, Any], now: float) -> list[Output]:
        for key in ("audio", "video", "screen"):
            if key in message:
                value = message[key]
                if not isinstance(value, bool):
                    raise BadMessage(f"state.{key} must be true or false")
                peer.state[key] = value
        news = {"type": "state", "peer": peer.id, "state": dict(peer.state)}
        return [Send(p.conn, news) for p in room.admitted() if p is not peer]

    def _moderated(
        self, room: _Room, peer: _Peer, message: dict[str, Any]
    ) -> tuple[_Peer | None, list[Output]]:
        target = self._target(room, message, "peer")
        if peer.seat.role != "moderator":
            return None, [Send(peer.conn, _error("not_allowed", "only a moderator can do that"))]
        if target is None or target is peer:
            return None, [Send(peer.conn, _error("unknown_peer", "that peer is not in the room"))]
        return target, []

    def _admit(self, room: _Room, peer: _Peer, message: dict[str, Any], now: float) -> list[Output]:
        target, refused = self._moderated(room, peer, message)
        if target is None:
            return refused
        if target.admitted:
            return []
        target.admitted = True
        return self._admitted(room, target, now)

    def _mute(self, room: _Room, peer: _Peer, message: dict[str, Any], now: float) -> list[Output]:
        target, refused = self._moderated(room, peer, message)
        if target is None:
            return refused
        return [Send(target.conn, {"type": "mute-request", "by": peer.seat.name})]

    def _remove(
        self, room: _Room, peer: _Peer, message: dict[str, Any], now: float
    ) -> list[Output]:
        target, refused = self._moderated(room, peer, message)
        if target is None:
            return refused
        return [
            Close(target.conn, CLOSE_REMOVED, f"removed by {peer.seat.name[:60]}"),
            *self._drop(room, target, now),
        ]

    def _record(
        self, room: _Room, peer: _Peer, message: dict[str, Any], now: float
    ) -> list[Output]:
        consent = message.get("consent")
        if not isinstance(consent, bool):
            raise BadMessage("record.consent must be true or false")
        if room.kind != CALL:
            return [Send(peer.conn, _error("not_allowed", "only calls can be recorded"))]
        return self._consent_changed(room, peer, consent, now)

    def _consent_changed(self, room: _Room, peer: _Peer, consent: bool, now: float) -> list[Output]:
        """Recording runs while everyone admitted (two of them) has said yes."""
        if consent:
            room.consent.add(peer.conn)
        else:
            room.consent.clear()  # a no from anyone ends it; asking again starts afresh
        present = room.admitted()
        everyone = len(present) == 2 and all(p.conn in room.consent for p in present)
        out: list[Output] = []
        if everyone and not room.recording:
            room.recording = True
            out.extend(
                RoomEvent(room.name, "recording", p.seat.identity, p.seat.role, now)
                for p in present
            )
        elif room.recording and not everyone:
            room.recording = False
            out.append(
                RoomEvent(room.name, "recording-stopped", peer.seat.identity, peer.seat.role, now)
            )
        news = {
            "type": "recording",
            "on": room.recording,
            "consented": sorted(str(c) for c in room.consent),
            "by": peer.id,
        }
        out.extend(Send(p.conn, news) for p in present)
        return out

    def _leave_message(
        self, room: _Room, peer: _Peer, message: dict[str, Any], now: float
    ) -> list[Output]:
        return [Close(peer.conn, CLOSE_NORMAL, "left"), *self._drop(room, peer, now)]


def _parse(data: str | bytes) -> dict[str, Any]:
    try:
        message = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadMessage("not a JSON message") from exc
    if not isinstance(message, dict):
        raise BadMessage("a message is a JSON object")
    if not isinstance(message.get("type"), str):
        raise BadMessage("a message needs a string 'type'")
    return message


def _text(message: dict[str, Any], key: str, limit: int) -> str:
    value = message.get(key)
    if not isinstance(value, str):
        raise BadMessage(f"{key} must be a string")
    if len(value) > limit:
        raise BadMessage(f"{key} is longer than {limit} characters")
    return value


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}
