"""A call whose two pages reach different nodes connects through Redis (``rtc.relay``).

Each node is a whole app served by uvicorn on its own loopback port, with its own gateway, on
one database and one Redis; the pages are real WebSocket clients. Every test has a Redis key
prefix of its own, so tests running side by side never share a room's home.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy import select as query
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

import seva
from seva.app import create_app
from seva.citizens import service as citizens
from seva.demo.seed import SeedReport
from seva.gateway import Gateway, build_gateway
from seva.rtc import service as rtc
from seva.rtc.models import DONE, CallRecording, QueueEntry
from seva.rtc.relay import CLOSE_RESTART, PREFIX, RoomRelay
from seva.rtc.signalling import Seat
from seva.settings import Settings
from seva.tenancy import service as tenancy
from tests.conftest import REDIS_URL, free_port, need
from tests.rtc.relay_node import BEAT
from tests.rtc.test_meetings import add_food_officer

WAIT = 10.0
"""The longest any step waits for what it expects; nothing here sleeps."""


@dataclass
class Events:
    """The room events one node's hub handed to its bookkeeping, as they were handed."""

    seen: list[tuple[str, str]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def add(self, batch: list[tuple[str, str]]) -> None:
        with self.changed:
            self.seen.extend(batch)
            self.changed.notify_all()

    def wait(self, done: Callable[[list[tuple[str, str]]], bool]) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: done(self.seen), timeout=WAIT), self.seen


@dataclass
class Node:
    gateway: Gateway
    port: int
    events: Events

    def page(self, seat: Seat) -> ClientConnection:
        """A call page's signalling socket, opened on this node."""
        token = self.gateway.rtc_tokens.issue(seat, now=time.time())
        return connect(f"ws://127.0.0.1:{self.port}/rtc/ws?token={token}", open_timeout=WAIT)

    @property
    def relay(self) -> RoomRelay:
        relay = self.gateway.rtc.relay
        assert isinstance(relay, RoomRelay)
        return relay


def receive(page: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(page.recv(timeout=WAIT))
    return message


def send(page: ClientConnection, message: dict[str, Any]) -> None:
    page.send(json.dumps(message))


def closed(page: ClientConnection) -> tuple[int, str]:
    """How the server closed this page's socket (after anything still on its way)."""
    with pytest.raises(ConnectionClosed) as ended:
        for _ in range(1000):
            page.recv(timeout=WAIT)
    frame = ended.value.rcvd
    assert frame is not None, "the socket was dropped without a close frame"
    return frame.code, frame.reason


@pytest.fixture
def redis_url() -> str:
    return need(REDIS_URL, "SEVA_TEST_REDIS_URL")


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """This test's own Redis key prefix, emptied afterwards."""
    import redis

    name = f"seva-test:{uuid.uuid4().hex}:rtc:"
    yield name
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{name}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@contextmanager
def serving(gateway: Gateway, settings: Settings, port: int) -> Iterator[None]:
    app = create_app(settings, gateway=gateway)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not server.started:  # uvicorn offers nothing to wait on in another thread
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=WAIT)


@contextmanager
def node(settings: Settings, database_url: str, redis_url: str, prefix: str) -> Iterator[Node]:
    port = free_port()
    settings = settings.model_copy(
        update={"redis_url": SecretStr(redis_url), "base_url": f"http://127.0.0.1:{port}"}
    )
    gateway = build_gateway(settings, database_url=database_url)
    gateway.rtc.relay = RoomRelay(redis_url, gateway.rtc, prefix=prefix, beat=BEAT)
    events = Events()
    bookkeeping = gateway.rtc._on_events
    assert bookkeeping is not None

    def tally(batch: list[tuple[Any, bool]]) -> None:
        bookkeeping(batch)
        events.add([(event.event, event.identity) for event, _ in batch])

    gateway.rtc._on_events = tally
    try:
        with serving(gateway, settings, port):
            yield Node(gateway, port, events)
    finally:
        gateway.close()


@pytest.fixture
def nodes(
    seeded: SeedReport, settings: Settings, database_url: str, redis_url: str, prefix: str
) -> Iterator[tuple[Node, Node]]:
    with (
        node(settings, database_url, redis_url, prefix) as a,
        node(settings, database_url, redis_url, prefix) as b,
    ):
        assert a.relay.up and b.relay.up
        yield a, b


def queue_call(gateway: Gateway) -> tuple[str, Seat, Seat]:
    """A citizen's queue turn taken by FOOD's official: the room and both seats."""
    now = datetime.now(UTC)
    with gateway.session() as session:
        department = tenancy.department_by_code(session, "FOOD")
        official = tenancy.official_by_username(session, "food.admin")
        assert department is not None and official is not None
        citizen = citizens.get_or_create(session, "+919811000701")
        entry = rtc.join_queue(session, department, citizen, now=now)
        rtc.set_on_duty(session, official, True, now=now)
        offered = rtc.offer_for(session, official, now=now)
        assert offered is not None and offered.id == entry.id
        rtc.accept(session, official, entry.id, now=now)
        return entry.room, rtc.queue_seat(session, entry), rtc.official_seat(official, entry.room)


def test_a_call_across_two_nodes_relays_both_ways_and_is_recorded_once(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    room, citizen_seat, official_seat = queue_call(a.gateway)
    with a.page(citizen_seat) as citizen:  # first in: the room lives on node a
        welcome = receive(citizen)
        assert welcome["type"] == "welcome" and welcome["peers"] == []
        me = welcome["you"]
        with b.page(official_seat) as official:
            greeted = receive(official)
            assert greeted["type"] == "welcome" and greeted["role"] == "official"
            assert [(p["id"], p["role"]) for p in greeted["peers"]] == [(me, "citizen")]
            them = greeted["you"]
            joined = receive(citizen)
            assert joined["type"] == "peer-joined"
            assert joined["peer"]["id"] == them and joined["peer"]["name"] == official_seat.name

            # JSEP offer/answer and trickle ICE, each way across the nodes.
            send(official, {"type": "offer", "to": me, "sdp": "v=0 offer from b"})
            assert receive(citizen) == {"type": "offer", "from": them, "sdp": "v=0 offer from b"}
            send(citizen, {"type": "answer", "to": them, "sdp": "v=0 answer from a"})
            assert receive(official) == {"type": "answer", "from": me, "sdp": "v=0 answer from a"}
            line = "candidate:1 1 udp 2122260223 192.0.2.7 50000 typ host"
            for sender, receiver, to, sender_id in (
                (official, citizen, me, them),
                (citizen, official, them, me),
            ):
                candidate = {"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0}
                send(sender, {"type": "candidate", "to": to, "candidate": candidate})
                assert receive(receiver) == {
                    "type": "candidate",
                    "from": sender_id,
                    "candidate": candidate,
                }
            send(official, {"type": "candidate", "to": me, "candidate": None})
            assert receive(citizen) == {"type": "candidate", "from": them, "candidate": None}

            # Both agree to a recording, one on each node.
            send(citizen, {"type": "record", "consent": True})
            assert receive(citizen)["on"] is False and receive(official)["on"] is False
            send(official, {"type": "record", "consent": True})
            assert receive(citizen)["on"] is True and receive(official)["on"] is True

            # The official leaves from node b; the citizen on node a sees it.
            send(official, {"type": "leave"})
            assert closed(official) == (1000, "left")
            assert receive(citizen) == {
                "type": "recording",
                "on": False,
                "consented": [],
                "by": them,
            }
            assert receive(citizen) == {"type": "peer-left", "peer": them}
    citizen_id, official_id = citizen_seat.identity, official_seat.identity
    a.events.wait(lambda seen: {("left", citizen_id), ("left", official_id)} <= set(seen))

    # Each socket's events are recorded in its own order; two sockets' may interleave (each
    # batch is written from a thread of its own), so the whole is compared as a set of
    # exactly these, and each person's as a sequence.
    expected = {
        citizen_id: [("joined", citizen_id), ("connected", citizen_id),
                     ("recording", citizen_id), ("left", citizen_id)],
        official_id: [("joined", official_id), ("connected", official_id),
                      ("recording", official_id), ("recording-stopped", official_id),
                      ("left", official_id)],
    }  # fmt: skip
    assert sorted(a.events.seen) == sorted(expected[citizen_id] + expected[official_id])
    for identity, theirs in expected.items():
        assert [e for e in a.events.seen if e[1] == identity] == theirs
    assert b.events.seen == []  # its page was only carried: the room's records are a's
    with a.gateway.session() as session:
        entry = session.scalar(query(QueueEntry).where(QueueEntry.room == room))
        assert entry is not None and entry.status == DONE and entry.ended_at is not None
        [recording] = session.scalars(query(CallRecording).where(CallRecording.room == room))
        assert sorted(recording.consent) == sorted([citizen_id, official_id])
        assert recording.stopped_at is not None


def test_a_moderator_on_one_node_admits_mutes_and_removes_a_guest_on_another(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    add_food_officer(a.gateway)
    with a.gateway.session() as session:
        host = tenancy.official_by_username(session, "food.admin")
        officer = tenancy.official_by_username(session, "food.officer")
        assert host is not None and officer is not None
        room = rtc.create_meeting(session, host, title="Ration review", lobby=True).room
        host_seat = rtc.meeting_seat(session, host, room)
        guest_seat = rtc.meeting_seat(session, officer, room)
    assert host_seat.role == "moderator" and guest_seat.role == "official"

    with b.page(guest_seat) as guest:  # first in, and waiting: the meeting lives on node b
        assert receive(guest) == {"type": "lobby", "room": room}
        with a.page(host_seat) as moderator:
            welcome = receive(moderator)
            assert welcome["type"] == "welcome" and welcome["role"] == "moderator"
            waiting = receive(moderator)
            assert waiting["type"] == "waiting"
            [(guest_id, name)] = [(p["id"], p["name"]) for p in waiting["peers"]]
            assert name == guest_seat.name

            send(moderator, {"type": "admit", "peer": guest_id})
            admitted = receive(guest)
            assert admitted["type"] == "welcome"
            assert [p["id"] for p in admitted["peers"]] == [welcome["you"]]
            assert receive(moderator)["type"] == "peer-joined"

            send(moderator, {"type": "mute", "peer": guest_id})
            assert receive(guest) == {"type": "mute-request", "by": host_seat.name}

            send(moderator, {"type": "remove", "peer": guest_id})
            assert closed(guest) == (4003, f"removed by {host_seat.name}")
            assert receive(moderator) == {"type": "peer-left", "peer": guest_id}
    guest_id, host_id = guest_seat.identity, host_seat.identity
    b.events.wait(lambda seen: {("left", guest_id), ("left", host_id)} <= set(seen))
    assert a.events.seen == []
    # As in the call above: each person's events in order, the two interleaved any way.
    assert sorted(b.events.seen) == sorted(
        [("joined", guest_id), ("joined", host_id), ("left", guest_id), ("left", host_id)]
    )
    for identity in (guest_id, host_id):
        assert [e for e in b.events.seen if e[1] == identity] == [
            ("joined", identity),
            ("left", identity),
        ]


def test_a_page_that_drops_is_seen_to_leave_by_the_other_node(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    _, citizen_seat, official_seat = queue_call(a.gateway)
    with a.page(citizen_seat) as citizen:
        me = receive(citizen)["you"]
        with b.page(official_seat) as official:
            them = receive(official)["you"]
            assert receive(citizen)["type"] == "peer-joined"
        # The tab was closed: no goodbye.
        assert receive(citizen) == {"type": "peer-left", "peer": them}
        # The official comes back through node a this time: the same room in the same hub.
        with a.page(official_seat) as again:
            welcome = receive(again)
            assert [p["id"] for p in welcome["peers"]] == [me]
            assert receive(citizen)["peer"]["id"] == welcome["you"]


def test_a_relayed_page_is_held_to_the_hubs_size_and_rate_limits(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    citizen_seat, official_seat = call_seats()
    with a.page(citizen_seat) as citizen:
        assert receive(citizen)["type"] == "welcome"
        with b.page(official_seat) as official:
            them = receive(official)["you"]
            assert receive(citizen)["type"] == "peer-joined"
            send(official, {"type": "chat", "text": "x" * (64 * 1024)})
            assert closed(official) == (1009, "message too big")
        assert receive(citizen) == {"type": "peer-left", "peer": them}
        with b.page(official_seat) as official:
            them = receive(official)["you"]
            assert receive(citizen)["type"] == "peer-joined"
            for _ in range(400):  # twice the hub's burst, at once
                send(official, {"type": "ping"})
            assert closed(official) == (4429, "too many messages")
        assert receive(citizen) == {"type": "peer-left", "peer": them}


# -- a node dies -------------------------------------------------------------------------------


@contextmanager
def node_process(
    database_url: str, redis_url: str, prefix: str, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A node in a process of its own, killed with SIGKILL if the test has not."""
    port = free_port()
    source = Path(seva.__file__).resolve().parents[1]
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(source), str(Path.cwd())])}
    data = tmp_path / f"node-{port}"
    data.mkdir()
    script = Path(__file__).with_name("relay_node.py")
    process = subprocess.Popen(
        [sys.executable, str(script), str(port), database_url, redis_url, prefix, str(data)],
        env=env,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        says(process, b"ready", within=30)
        yield process, port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(WAIT)
        if process.stdout is not None:
            process.stdout.close()


def says(process: subprocess.Popen[bytes], words: bytes, within: float = WAIT) -> None:
    """Wait until the process writes ``words`` on its stdout (read unbuffered, so nothing it
    said waits unseen in a buffer)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    said = b""
    deadline = time.monotonic() + within
    while words not in said:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 65536) if ready else b""
        assert chunk, f"no {words!r} from {process.args!r}: {said.decode(errors='replace')}"
        said += chunk


def kill_9(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(WAIT)


def page_on(port: int, gateway: Gateway, seat: Seat) -> ClientConnection:
    token = gateway.rtc_tokens.issue(seat, now=time.time())
    return connect(f"ws://127.0.0.1:{port}/rtc/ws?token={token}", open_timeout=WAIT)


def call_seats() -> tuple[Seat, Seat]:
    """Both seats of a call in a room of its own (no queue turn behind it)."""
    room = f"q{uuid.uuid4().hex[:16]}"
    return (
        Seat(room=room, identity=f"citizen:{room}", name="Citizen", role="citizen"),
        Seat(room=room, identity=f"official:{room}", name="Officer", role="official"),
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_when_a_node_is_killed_its_calls_end_cleanly_and_rejoin_elsewhere(
    seeded: SeedReport,
    settings: Settings,
    database_url: str,
    redis_url: str,
    prefix: str,
    tmp_path: Path,
) -> None:
    """One call lives on the node that dies, with a page relayed to it from node a; another
    lives on node a, with a page relayed to it from the node that dies."""
    citizen_there, official_here = call_seats()
    official_first, citizen_relayed = call_seats()
    with (
        node(settings, database_url, redis_url, prefix) as a,
        a.page(official_first) as lives_here,
    ):
        me = receive(lives_here)["you"]
        with node_process(database_url, redis_url, prefix, tmp_path) as (doomed, port):
            with page_on(port, a.gateway, citizen_there) as citizen:
                assert receive(citizen)["type"] == "welcome"  # seated: its room lives there
                with (
                    a.page(official_here) as relayed,
                    page_on(port, a.gateway, citizen_relayed) as other_citizen,
                ):
                    assert receive(relayed)["type"] == "welcome"
                    assert [p["id"] for p in receive(other_citizen)["peers"]] == [me]
                    them = receive(lives_here)["peer"]["id"]
                    kill_9(doomed)
                    # The page relayed to the dead node is closed, to rejoin...
                    code, _ = closed(relayed)
                    assert code == CLOSE_RESTART
                    # ...and the call that lives here sees the person whose node died leave.
                    assert receive(lives_here) == {"type": "peer-left", "peer": them}
        # The rejoin finds the room a new home, here: the dead node's claim is let go.
        with a.page(official_here) as rejoined:
            welcome = receive(rejoined)
            assert welcome["type"] == "welcome" and welcome["peers"] == []
        a.events.wait(lambda seen: ("left", official_here.identity) in seen)
    assert a.events.seen.count(("left", citizen_relayed.identity)) == 1
    assert ("joined", citizen_there.identity) not in a.events.seen


# -- Redis goes away and comes back ------------------------------------------------------------


class OwnRedis:
    """A Redis server of this test's own, to stop and start again."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        options = {"port": str(self.port), "bind": "127.0.0.1", "save": "", "appendonly": "no"}
        self.process = subprocess.Popen(
            [self.binary, "--dir", str(self.directory)]
            + [word for name, value in options.items() for word in (f"--{name}", value)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            says(self.process, b"Ready to accept connections")
        except AssertionError:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(WAIT)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    binary = need(shutil.which("redis-server"), "redis-server (Debian package redis-server)")
    server = OwnRedis(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def until(done: Callable[[], bool], what: str) -> None:
    """Wait for a state another thread's event loop reaches (it offers nothing to wait on)."""
    deadline = time.monotonic() + WAIT
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_while_redis_is_away_calls_within_a_node_go_on_and_calls_across_nodes_come_back(
    seeded: SeedReport, settings: Settings, database_url: str, own_redis: OwnRedis
) -> None:
    url = own_redis.url
    with (
        node(settings, database_url, url, PREFIX) as a,
        node(settings, database_url, url, PREFIX) as b,
    ):
        citizen_seat, official_seat = call_seats()
        with a.page(citizen_seat) as citizen:
            assert receive(citizen)["type"] == "welcome"  # seated: its room lives on node a
            with b.page(official_seat) as official:
                them = receive(official)["you"]
                assert receive(citizen)["type"] == "peer-joined"

                own_redis.kill()
                # The relayed page is told to rejoin; the page whose room lives here sees the
                # other leave.
                assert closed(official)[0] == CLOSE_RESTART
            assert receive(citizen) == {"type": "peer-left", "peer": them}

            # Both sides of a call on one node still meet.
            here_citizen, here_official = call_seats()
            with a.page(here_citizen) as first:
                me = receive(first)["you"]
                with a.page(here_official) as second:
                    you = receive(second)["you"]
                    assert receive(first)["type"] == "peer-joined"
                    send(second, {"type": "offer", "to": me, "sdp": "v=0 during the outage"})
                    assert receive(first)["from"] == you

                    own_redis.start()
                    until(lambda: a.relay.up and b.relay.up, "the relays reconnect to Redis")
                    # The call that began in the outage goes on, its room now on record.
                    send(first, {"type": "answer", "to": you, "sdp": "v=0 after it"})
                    answer = {"type": "answer", "from": me, "sdp": "v=0 after it"}
                    assert receive(second) == answer

        # And a call across the nodes connects again.
        citizen_seat, official_seat = call_seats()
        with b.page(citizen_seat) as citizen:
            me = receive(citizen)["you"]
            with a.page(official_seat) as official:
                assert [p["id"] for p in receive(official)["peers"]] == [me]
                assert receive(citizen)["type"] == "peer-joined"
                send(citizen, {"type": "chat", "text": "Namaste"})
                assert receive(citizen)["text"] == receive(official)["text"] == "Namaste"


def test_a_node_whose_own_redis_connections_drop_leaves_no_ghost_in_the_room(
    nodes: tuple[Node, Node], redis_url: str
) -> None:
    """Only node b's connections to Redis drop, and Redis stays up: b closes the page it
    relayed, to rejoin, and the room on node a sees that person leave."""
    import redis

    a, b = nodes
    citizen_seat, official_seat = call_seats()
    with a.page(citizen_seat) as citizen:
        assert receive(citizen)["type"] == "welcome"
        with b.page(official_seat) as official:
            them = receive(official)["you"]
            assert receive(citizen)["type"] == "peer-joined"
            admin = redis.Redis.from_url(redis_url)
            try:
                name = f"seva-rtc-{b.relay.node}"
                for client in admin.client_list():
                    if client["name"] == name:
                        admin.client_kill_filter(_id=client["id"])
            finally:
                admin.close()
            assert closed(official)[0] == CLOSE_RESTART
        assert receive(citizen) == {"type": "peer-left", "peer": them}
