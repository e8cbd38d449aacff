"""Call signalling across processes and nodes, through Redis pub/sub (``SEVA_REDIS_URL``).

A room lives in one process's hub, its *home*; a browser whose socket another process holds
is relayed to it. The hub (``rtc.signalling``) stays the one authority on a room: seats,
joins and leaves, the waiting room and a moderator's actions, recording consent. Its room
events reach ``on_events`` once, from the home, and the Janus bookkeeping (``rtc.transport``)
is done there too. The other design, every process running the hub for its own sockets and
broadcasting to the room, would need the hubs to agree on seats, on who was first, on the
lobby and on consent: a distributed hub, where this is a routing table.

* **Home.** ``seva:rtc:home:<room>`` names the process whose hub holds the room. The first
  socket of a room claims it (a Lua compare-and-set, so two first sockets on two nodes cannot
  both win); its home refreshes it every ``beat`` seconds while anyone is seated there, and it
  lapses ``3 × beat`` after that, or after the home died. A room that empties keeps its home
  until then: someone rejoining lands in the same hub, never in a second one.
* **Channels.** Each process subscribes to one channel, ``seva:rtc:to:<node>``. A process
  holding a socket whose room lives elsewhere publishes ``join`` (the seat its token
  granted), then each ``frame`` the page sends, then ``gone``, to the home's channel; the
  home answers ``send``/``close`` for that socket on the holder's channel, or ``moved`` if
  the room found another home meanwhile (the holder asks again). The holder reads nothing
  from the page before the home's first answer (the page sends nothing before its
  ``welcome`` or ``lobby``), so ``moved`` loses nothing. A process publishes its messages for
  one socket one at a time, and Redis delivers a channel's messages in the order published.
* **Death.** Each process keeps ``seva:rtc:node:<node>`` alive with the same ``3 × beat``
  lapse. Every beat a home checks the processes holding its relayed sockets, and a holder
  checks the homes it relays to: a process whose key lapsed or that no longer listens (a
  ``kill -9`` drops its Redis connection at once) is dead. The home then lets the room know
  its people left; the holder closes its pages with 1012 (Service Restart, RFC 6455 §7.4.1),
  which the call page reads as a lost connection to rejoin, and a rejoin claims a new home.
  A publish no one hears means the same without waiting for the beat.
* **Redis unreachable.** A socket whose room nobody can look up is seated in this process's
  hub, as without Redis: a call whose two sides reach the same process still works, and the
  failure is logged once. Relayed sockets cannot be carried, and Pub/Sub drops what it could
  not deliver, so every relayed socket is closed (1012) and the relay keeps reconnecting.
  A process whose own connection dropped may be the only one that noticed: it tells the other
  side once Redis is back, and a message for a socket the receiving side no longer has is
  answered (the page is told to rejoin, or the home frees the seat), so no ghost stays in a
  room. When Redis is back each home claims its rooms again; a process that finds its room claimed
  by another (two sides who met no one during the outage) closes its sockets of that room,
  and their rejoin brings them to the one home. Bookkeeping from such a split (a queue call
  recorded as ended on one side) is the price of keeping calls up while Redis is down.
* **Bounds.** A relayed socket waits in a queue of ``inbox`` messages at either end; a home
  that falls that far behind a page closes it with 4429 as the hub does for a flood, and a
  page that cannot take its messages as fast as they come is closed with 1013 (Try Again
  Later). A page's message over the hub's size limit is refused where the page is (1009).
  Nothing here blocks the event loop: redis-py's asyncio client, one subscription per
  process, one task per relayed socket.

Redis is trusted as the database is: the holder checked the page's join token, and the home
takes the seat it publishes as granted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import itertools
import json
import uuid
from collections.abc import Coroutine
from dataclasses import asdict
from typing import Any

import redis.asyncio
import structlog

from seva.kv import REDIS_ERRORS
from seva.rtc.signalling import CLOSE_TOO_BIG, CLOSE_TOO_MANY, Seat
from seva.rtc.transport import Line, SignallingServer

log = structlog.get_logger(__name__)

CLOSE_RESTART = 1012
"""RFC 6455 Service Restart: the room's home went away or the room moved; rejoin."""
CLOSE_TRY_AGAIN = 1013
"""RFC 6455 Try Again Later: the room's home could not be reached or kept up with."""

PREFIX = "seva:rtc:"
BEAT = 5.0
JOIN_TIMEOUT = 15.0
"""How long a holder waits for the home's first answer: a meeting's ``welcome`` waits for
Janus (``rtc.janus``) as well as for the hub."""
INBOX = 256
"""Messages waiting for one relayed socket; above the hub's burst of 200, so the hub's own
rate limit answers a flood before this does."""
MAX_HOPS = 3
MAX_OWED = 10_000
"""Notices kept for when Redis is back (one per relayed socket dropped while it was away)."""

_CLAIM = """
local owner = redis.call('GET', KEYS[1])
if not owner or owner == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return owner
"""
_FORGET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class _Outcome(enum.Enum):
    DONE = "done"
    MOVED = "moved"
    HOME_GONE = "home gone"


class RelayedLine:
    """At a room's home: a participant whose page is connected to another process."""

    def __init__(self, relay: RoomRelay, origin: str, link: str, size: int) -> None:
        self.relay = relay
        self.origin = origin
        self.link = link
        self._inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue(size)
        self._ended = False
        self._flooded = False
        self._telling = asyncio.Lock()
        """One message to the page's process at a time: several coroutines speak to it (each
        sender's, the page's own, the room's upkeep), and concurrent publishes may go out on
        different connections and arrive in either order."""

    def put(self, data: str | bytes | None) -> None:
        if self._ended:
            return
        if data is None:
            self.end()
            return
        try:
            self._inbox.put_nowait(data)
        except asyncio.QueueFull:
            self._flooded = True
            self.end()

    def end(self) -> None:
        """No more from the page: what waits is dropped, ``receive`` answers ``None``."""
        self._ended = True
        _drop_then_end(self._inbox)

    async def receive(self) -> str | bytes | None:
        data = await self._inbox.get()
        if data is None and self._flooded:
            self._flooded = False
            await self._tell({"op": "close", "code": CLOSE_TOO_MANY, "reason": "too many messages"})
        return data

    async def send(self, message: dict[str, Any]) -> bool:
        if self._ended:
            return False
        if not await self._tell({"op": "send", "message": message}):
            self.end()
            return False
        return True

    async def close(self, code: int, reason: str) -> None:
        if not self._ended:
            await self._tell({"op": "close", "code": code, "reason": reason})
        self.end()

    async def moved(self) -> None:
        """The room lives elsewhere now: the holder asks for its home again."""
        await self._tell({"op": "moved"})
        self.end()

    async def _tell(self, message: dict[str, Any]) -> bool:
        try:
            async with self._telling:
                heard = await self.relay.publish(
                    self.origin, {**message, "from": self.relay.node, "link": self.link}
                )
        except REDIS_ERRORS as exc:
            log.warning("rtc.relay_publish_failed", node=self.origin, error=str(exc))
            return False
        return heard > 0


class _Link:
    """At the process holding a page's socket: its line to the room's home."""

    def __init__(self, line: Line, home: str, size: int) -> None:
        self.line = line
        self.home = home
        self.inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(size)
        self.seated = False
        self.closed_by_home = False

    def put(self, message: dict[str, Any]) -> None:
        try:
            self.inbox.put_nowait(message)
        except asyncio.QueueFull:  # the page cannot take its messages as fast as they come
            _drop_then_end(self.inbox)


def _drop_then_end(queue: asyncio.Queue[Any]) -> None:
    """Empty ``queue`` and leave ``None`` in it: its reader stops after what it holds now."""
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(None)


class RoomRelay:
    """This process's end of the relay: its channel, its rooms' homes, its relayed sockets."""

    def __init__(
        self,
        url: str,
        server: SignallingServer,
        *,
        prefix: str = PREFIX,
        beat: float = BEAT,
        join_timeout: float = JOIN_TIMEOUT,
        inbox: int = INBOX,
    ) -> None:
        self.server = server
        self.prefix = prefix
        self.beat = beat
        self.join_timeout = join_timeout
        self.inbox = inbox
        self.node = uuid.uuid4().hex[:16]
        self._url = url
        self._redis: redis.asyncio.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._up = False
        self._ready = asyncio.Event()
        self._ids = itertools.count(1)
        self._relayed: dict[tuple[str, str], RelayedLine] = {}
        self._links: dict[str, _Link] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._owed: list[tuple[str, dict[str, Any]]] = []
        self._warned = False

    # -- names -------------------------------------------------------------------------------

    def _home_key(self, room: str) -> str:
        return f"{self.prefix}home:{room}"

    def _node_key(self, node: str) -> str:
        return f"{self.prefix}node:{node}"

    def _channel(self, node: str) -> str:
        return f"{self.prefix}to:{node}"

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.beat * 3 * 1000))

    @property
    def up(self) -> bool:
        """Listening on Redis: rooms are looked up and sockets relayed."""
        return self._up

    # -- lifetime ----------------------------------------------------------------------------

    async def start(self, wait: float = 2.0) -> None:
        """Subscribe (waiting up to ``wait`` seconds, so the first sockets are relayed);
        with Redis unreachable, carry on alone and keep trying."""
        if self._task is not None:
            return
        self._ready = asyncio.Event()
        self._redis = redis.asyncio.Redis.from_url(
            self._url,
            decode_responses=True,
            client_name=f"seva-rtc-{self.node}",  # which node a connection is, in CLIENT LIST
            socket_connect_timeout=2,
            socket_timeout=max(2.0, self.beat),
        )
        self._task = asyncio.create_task(self._run(), name="seva-rtc-relay")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), wait)

    async def stop(self) -> None:
        """Hand relayed pages back (1012, so they rejoin elsewhere) and let the rooms go."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        rooms = self.server.rooms_held()
        for relayed in list(self._relayed.values()):
            await relayed.close(CLOSE_RESTART, "the server is restarting; rejoin")
        for link in list(self._links.values()):
            await link.line.close(CLOSE_RESTART, "the server is restarting; rejoin")
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        for pending in list(self._tasks):
            pending.cancel()
        client = self._redis
        if client is not None and self._up:
            try:
                async with client.pipeline(transaction=False) as pipe:
                    for room in rooms:
                        pipe.eval(_FORGET, 1, self._home_key(room), self.node)
                    pipe.delete(self._node_key(self.node))
                    await pipe.execute()
            except REDIS_ERRORS as exc:
                log.info("rtc.relay_stop_unclean", error=str(exc))
        self._up = False
        if client is not None:
            await client.aclose()
        self._redis = None

    async def _run(self) -> None:
        """Listen on this process's channel and keep its keys alive; reconnect when lost."""
        loop = asyncio.get_running_loop()
        backoff = 0.2
        while True:
            assert self._redis is not None
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel(self.node))
                    await self._tend()
                    await self._settle()
                    self._up = True
                    self._ready.set()
                    backoff = 0.2
                    if self._warned:
                        log.info("rtc.relay_back", node=self.node)
                        self._warned = False
                    next_beat = loop.time() + self.beat
                    while True:
                        wait = max(0.0, next_beat - loop.time())
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=wait
                        )
                        if message is not None:
                            self._dispatch(message.get("data"))
                        if loop.time() >= next_beat:
                            await self._tend()
                            next_beat = loop.time() + self.beat
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # redis-py's errors, a refused connection, a timeout
                self._ready.set()  # start() need not wait any longer: carry on alone
                if not self._warned:
                    log.warning(
                        "rtc.relay_lost",
                        node=self.node,
                        error=str(exc) or repr(exc),
                        exc_info=not isinstance(exc, REDIS_ERRORS),  # a fault of its own
                    )
                    self._warned = True
                if self._up:
                    self._up = False
                    await self._drop_relayed("lost touch with the call's server; rejoin")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _drop_relayed(self, reason: str) -> None:
        """Redis is gone, and what Pub/Sub could not deliver with it: end every relayed
        socket here, and owe the other side a word for when Redis is back (a process whose
        own connection dropped may be the only one that noticed)."""
        for relayed in list(self._relayed.values()):
            relayed.end()
            close = {"op": "close", "code": CLOSE_RESTART, "reason": reason}
            self._owe(relayed.origin, {**close, "from": self.node, "link": relayed.link})
        for link_id, link in list(self._links.items()):
            self._owe(link.home, {"op": "gone", "from": self.node, "link": link_id})
            await link.line.close(CLOSE_RESTART, reason)

    def _owe(self, node: str, message: dict[str, Any]) -> None:
        self._owed.append((node, message))
        del self._owed[:-MAX_OWED]

    async def _settle(self) -> None:
        """Back on Redis: deliver what was owed while it was away."""
        while self._owed:
            node, message = self._owed[0]
            await self.publish(node, message)
            self._owed.pop(0)

    async def _tend(self) -> None:
        """One beat: this process is alive, its rooms are still its own, its peers alive."""
        assert self._redis is not None
        rooms = sorted(self.server.rooms_held())
        peers = sorted(
            {r.origin for r in self._relayed.values()}
            | {link.home for link in self._links.values() if link.seated}
        )
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._node_key(self.node), "1", px=self._ttl_ms)
            for room in rooms:
                pipe.eval(_CLAIM, 1, self._home_key(room), self.node, self._ttl_ms)
            for node in peers:
                pipe.exists(self._node_key(node))
            if peers:
                pipe.pubsub_numsub(*(self._channel(node) for node in peers))
            results = await pipe.execute()
        owners = results[1 : 1 + len(rooms)]
        for room, owner in zip(rooms, owners, strict=True):
            if owner != self.node:
                log.warning("rtc.room_moved", room=room, home=owner)
                await self.server.close_room(room, CLOSE_RESTART, "the call moved; rejoin")
        if not peers:
            return
        keys = results[1 + len(rooms) : 1 + len(rooms) + len(peers)]
        listening = dict(results[-1])
        dead = {
            node
            for node, key in zip(peers, keys, strict=True)
            if not key or not listening.get(self._channel(node))
        }
        if dead:
            await self._bury(dead)

    async def _bury(self, dead: set[str]) -> None:
        log.warning("rtc.relay_peers_gone", nodes=sorted(dead))
        for relayed in list(self._relayed.values()):
            if relayed.origin in dead:
                relayed.end()
        for link in list(self._links.values()):
            if link.home in dead:
                await link.line.close(CLOSE_RESTART, "the call's server stopped; rejoin")

    async def publish(self, node: str, message: dict[str, Any]) -> int:
        """Send one message to a process's channel; how many listeners heard it."""
        if self._redis is None:
            return 0
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        return int(await self._redis.publish(self._channel(node), data))

    # -- a socket on this process ------------------------------------------------------------

    async def serve(self, line: Line, seat: Seat) -> None:
        """Seat a page here if its room lives here (or nobody can tell), else relay it."""
        try:
            for _ in range(MAX_HOPS):
                home = await self._home_of(seat.room)
                if home is None or home == self.node:
                    await self.server.attend(line, seat)
                    return
                outcome = await self._forward(line, seat, home)
                if outcome is _Outcome.DONE:
                    return
                if outcome is _Outcome.HOME_GONE:
                    assert self._redis is not None
                    await self._redis.eval(_FORGET, 1, self._home_key(seat.room), home)
        except REDIS_ERRORS as exc:
            log.warning("rtc.relay_failed", room=seat.room, error=str(exc) or repr(exc))
        await line.close(CLOSE_TRY_AGAIN, "the call's server could not be reached")

    async def _home_of(self, room: str) -> str | None:
        """The room's home, claimed for this process if it has none; ``None`` without Redis."""
        if not self._up or self._redis is None:
            if not self._warned:
                log.warning("rtc.relay_unavailable", room=room)
                self._warned = True
            return None
        try:
            owner = await self._redis.eval(_CLAIM, 1, self._home_key(room), self.node, self._ttl_ms)
        except REDIS_ERRORS as exc:
            log.warning("rtc.relay_unavailable", room=room, error=str(exc) or repr(exc))
            return None
        return str(owner)

    async def _forward(self, line: Line, seat: Seat, home: str) -> _Outcome:
        link_id = str(next(self._ids))
        link = _Link(line, home, self.inbox)
        self._links[link_id] = link
        try:
            join = {"op": "join", "from": self.node, "link": link_id, "seat": asdict(seat)}
            if not await self.publish(home, join):
                return _Outcome.HOME_GONE
            try:
                first = await asyncio.wait_for(link.inbox.get(), self.join_timeout)
            except TimeoutError:
                await self._say_gone(home, link_id)
                await line.close(CLOSE_TRY_AGAIN, "the call's server did not answer")
                return _Outcome.DONE
            if first is not None and first.get("op") == "moved":
                return _Outcome.MOVED
            link.seated = True
            pump = asyncio.create_task(self._pump(link, first))
            try:
                await self._carry(line, link, link_id)
            finally:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
                if not link.closed_by_home:
                    await self._say_gone(home, link_id)
            return _Outcome.DONE
        finally:
            self._links.pop(link_id, None)

    async def _carry(self, line: Line, link: _Link, link_id: str) -> None:
        """The page's messages to the home, in order, until either side ends."""
        limit = self.server.hub.max_message_bytes
        while not link.closed_by_home:
            data = await line.receive()
            if data is None:
                return
            if len(data) > limit:
                await line.close(CLOSE_TOO_BIG, "message too big")
                return
            frame: dict[str, Any] = {"op": "frame", "from": self.node, "link": link_id}
            if isinstance(data, bytes):
                frame["bytes"] = base64.b64encode(data).decode("ascii")
            else:
                frame["text"] = data
            try:
                heard = await self.publish(link.home, frame)
            except REDIS_ERRORS as exc:
                log.warning("rtc.relay_publish_failed", node=link.home, error=str(exc))
                heard = 0
            if not heard:
                await line.close(CLOSE_RESTART, "the call's server stopped; rejoin")
                return

    async def _pump(self, link: _Link, first: dict[str, Any] | None) -> None:
        """The home's answers to the page, in order."""
        message = first
        while True:
            if message is None:
                await link.line.close(CLOSE_TRY_AGAIN, "too far behind the call")
                return
            if message.get("op") == "send":
                if not await link.line.send(message.get("message") or {}):
                    return
            elif message.get("op") == "close":
                link.closed_by_home = True
                await link.line.close(int(message.get("code", 1000)), str(message.get("reason")))
                return
            message = await link.inbox.get()

    async def _say_gone(self, home: str, link_id: str) -> None:
        with contextlib.suppress(*REDIS_ERRORS):
            await self.publish(home, {"op": "gone", "from": self.node, "link": link_id})

    # -- what other processes send -----------------------------------------------------------

    def _dispatch(self, raw: object) -> None:
        try:
            message = json.loads(raw) if isinstance(raw, str | bytes) else None
            if not isinstance(message, dict):
                raise ValueError("not a JSON object")
            op = message.get("op")
            if op == "join":
                self._arrive(str(message["from"]), str(message["link"]), message["seat"])
            elif op in ("frame", "gone"):
                origin, link_id = str(message["from"]), str(message["link"])
                relayed = self._relayed.get((origin, link_id))
                if relayed is not None:
                    relayed.put(_frame_data(message) if op == "frame" else None)
                elif op == "frame":  # a socket this home no longer seats: let its page rejoin
                    rejoin = {"op": "close", "code": CLOSE_RESTART, "reason": "rejoin"}
                    self._spawn(self._notify(origin, {**rejoin, "link": link_id}))
            elif op in ("send", "close", "moved"):
                link_id = str(message["link"])
                link = self._links.get(link_id)
                if link is not None:
                    link.put(message)
                elif op == "send" and "from" in message:  # for a page gone from here
                    gone = {"op": "gone", "from": self.node, "link": link_id}
                    self._spawn(self._notify(str(message["from"]), gone))
            else:
                raise ValueError(f"unknown op {op!r}")
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("rtc.relay_bad_message", error=str(exc))

    def _arrive(self, origin: str, link: str, fields: dict[str, Any]) -> None:
        seat = Seat(**fields)
        relayed = RelayedLine(self, origin, link, self.inbox)
        self._relayed[(origin, link)] = relayed
        self._spawn(self._seat_relayed(relayed, seat))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self, node: str, message: dict[str, Any]) -> None:
        with contextlib.suppress(*REDIS_ERRORS):
            await self.publish(node, message)

    async def _seat_relayed(self, relayed: RelayedLine, seat: Seat) -> None:
        try:
            owner = await self._home_of(seat.room)
            if owner is not None and owner != self.node:
                await relayed.moved()
                return
            await self.server.attend(relayed, seat)
        except REDIS_ERRORS as exc:
            log.warning("rtc.relay_failed", room=seat.room, error=str(exc) or repr(exc))
        finally:
            self._relayed.pop((relayed.origin, relayed.link), None)


def _frame_data(message: dict[str, Any]) -> str | bytes:
    if "text" in message:
        return str(message["text"])
    return base64.b64decode(str(message["bytes"]))
