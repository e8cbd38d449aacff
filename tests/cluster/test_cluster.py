"""Seva scaled out, as real processes: two nodes behind nginx, two dispatchers, one
PostgreSQL and one Redis of their own (``scripts/cluster.py``), and what happens when parts
of it fail under load.

- A USSD session whose hops alternate between the two nodes ends with the right answer: the
  conversation is in Redis, not in either node.
- Two dispatchers drain one queue: each of 2,000 messages reaches the SMSC exactly once (the
  SMSC simulator's own record of every submit_sm), and both dispatchers took part.
- ``kill -9`` of a node while USSD sessions run through nginx: every answer given is right,
  only the hops in flight on the dead node fail, and sessions it had served go on, on the
  other node.
- PostgreSQL restarted mid-load: requests during the outage (USSD hops and SMS sends) get a
  503 naming the database at once (no hang, no 500), and succeed again by themselves within
  a second; sent again, every one is answered right, every SMS submitted once.
- Redis stopped and started again on its port: no hop fails; conversations go to the
  database meanwhile and back to Redis after, sessions walking across both end right.
- The signalling socket through nginx, and a call whose two pages reached different nodes
  (the Redis relay).

One cluster serves the whole module; each test leaves it whole. Figures go to stdout
(``pytest -s`` shows them): hops/s and latency through nginx, failures counted, outage
lengths. Skipped without initdb, redis-server or nginx (a failure with SEVA_TEST_STRICT=1).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from websockets.sync.client import ClientConnection, connect

from seva.db.session import make_engine
from seva.rtc.signalling import CALL, Seat
from seva.rtc.tokens import JoinTokens
from tests.conftest import STRICT

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from cluster import PROBE_PREFIX, Cluster, missing_programs

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("cluster")]

USSD = "/channels/ussd/africastalking"
STEPS = ["", "2", "2*1", "2*1*1234567890"]
EXPECTED = [
    "CON Seva *166#",
    "CON Food & Civil Supplies",
    "CON Enter your ration card number",
    "END Ration card 1234567890 (Sunita Devi): Active.",
]
"""What each hop of the walk to the ration card answer begins with (English, the default)."""
LICENCE = "Your driving licence DL0420190012345 is ready for dispatch. -Transport Dept"
"""The text of a DLT template the demo registers for Transport's header TRNSPT."""


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    missing = missing_programs()
    if missing:
        why = "; ".join(missing) + " (the cluster test starts its own)"
        if STRICT:
            pytest.fail(f"{why}: required when SEVA_TEST_STRICT=1")
        pytest.skip(why)
    started = time.monotonic()
    failed_before = request.session.testsfailed
    with Cluster() as running:
        parts = ", ".join(f"{k} {v:.1f}" for k, v in running.timings.items())
        print(f"\ncluster up in {time.monotonic() - started:.1f} s ({parts})")
        yield running
        if request.session.testsfailed > failed_before:
            running.keep = True  # every part's log, for whoever reads the failure
            print(f"\ncluster logs kept in {running.logs}")


def hop_form(session: str, phone: str, step: int) -> dict[str, str]:
    return {
        "sessionId": session,
        "serviceCode": "*166#",
        "phoneNumber": phone,
        "networkCode": "40410",
        "text": STEPS[step],
    }


def error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def walk(url: str, session: str, steps: range) -> list[tuple[int, str, str]]:
    """Send hops ``steps`` of ``session`` to ``url``: (status, answer, node) of each."""
    answers = []
    with httpx.Client(base_url=url, timeout=20) as client:
        for step in steps:
            response = client.post(USSD, data=hop_form(session, "+919900000003", step))
            # The node that answered: the last nginx tried (it lists each it tried).
            node = response.headers.get("x-seva-node", "").split(", ")[-1]
            answers.append((response.status_code, response.text, node))
    return answers


def right(answers: list[tuple[int, str, str]], steps: range) -> bool:
    return all(
        status == 200 and answer.startswith(EXPECTED[step])
        for (status, answer, _node), step in zip(answers, steps, strict=True)
    )


# -- load: citizens walking USSD sessions through nginx ----------------------------------------


@dataclass
class Hop:
    """One request of a session and what came of it (status 0: no HTTP answer at all)."""

    session: str
    step: int
    started: float
    seconds: float
    status: int
    text: str
    node: str
    code: str = ""

    @property
    def right(self) -> bool:
        return self.status == 200 and self.text.startswith(EXPECTED[self.step])


@dataclass
class UssdLoad:
    """``citizens`` concurrent sessions walking the four hops through ``url``, one session
    after another, until stopped. A hop that fails ends its session, as an aggregator ends
    it, unless ``retry`` (a 503 with Retry-After) says to send it again: then it is sent again
    after ``retry_pause``, as an aggregator following Retry-After would, only sooner."""

    url: str
    name: str
    citizens: int = 12
    retry: bool = False
    retry_pause: float = 0.1
    hops: list[Hop] = field(default_factory=list)
    finished: set[str] = field(default_factory=set)
    abandoned: set[str] = field(default_factory=set)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _waiters: list[tuple[int, asyncio.Event]] = field(default_factory=list)

    async def after_hops(self, count: int) -> None:
        """Return once ``count`` more hops have been answered (or failed)."""
        reached = asyncio.Event()
        self._waiters.append((len(self.hops) + count, reached))
        await asyncio.wait_for(reached.wait(), 60)

    def _record(self, hop: Hop) -> None:
        self.hops.append(hop)
        for target, event in self._waiters:
            if len(self.hops) >= target:
                event.set()

    async def _citizen(self, client: httpx.AsyncClient, n: int) -> None:
        sessions = 0
        while not self._stop.is_set():
            session = f"{self.name}-{n}-{sessions}"
            phone = f"+9198{n:04d}{sessions % 10_000:04d}"
            sessions += 1
            step = 0
            tries = 0
            while step < len(STEPS):
                started = time.monotonic()
                try:
                    response = await client.post(USSD, data=hop_form(session, phone, step))
                    hop = Hop(
                        session,
                        step,
                        started,
                        time.monotonic() - started,
                        response.status_code,
                        response.text,
                        response.headers.get("x-seva-node", "").split(", ")[-1],
                        error_code(response),
                    )
                except httpx.HTTPError as exc:
                    hop = Hop(session, step, started, time.monotonic() - started, 0, repr(exc), "")
                self._record(hop)
                if hop.right:
                    step += 1
                    continue
                tries += 1
                if self.retry and hop.status == 503 and tries < 100 and not self._stop.is_set():
                    await asyncio.sleep(self.retry_pause)
                    continue
                self.abandoned.add(session)
                break
            else:
                self.finished.add(session)

    async def run(self, during: asyncio.Future[object]) -> None:
        """Drive the load until ``during`` is done, then let each session end its walk."""
        limits = httpx.Limits(max_connections=self.citizens)
        async with httpx.AsyncClient(base_url=self.url, timeout=20, limits=limits) as client:
            citizens = [asyncio.create_task(self._citizen(client, n)) for n in range(self.citizens)]
            try:
                await during
            finally:
                self._stop.set()
                await asyncio.gather(*citizens)

    # What came of it.

    def wrong(self) -> list[Hop]:
        """Answers given that are not the right screen for their hop."""
        return [h for h in self.hops if h.status == 200 and not h.right]

    def failed(self) -> list[Hop]:
        return [h for h in self.hops if h.status != 200]

    def nodes(self, since: float = 0.0) -> Counter[str]:
        return Counter(h.node for h in self.hops if h.status == 200 and h.started >= since)

    def latency_ms(self) -> str:
        ms = sorted(h.seconds * 1000 for h in self.hops)
        p = lambda q: ms[min(len(ms) - 1, round(q * (len(ms) - 1)))]  # noqa: E731
        return f"p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms, max {ms[-1]:.0f} ms"


async def under_load(
    load: UssdLoad,
    warm_up: int,
    act: Callable[[], Awaitable[object]],
    *,
    also: Callable[[asyncio.Future[object]], Awaitable[object]] | None = None,
) -> None:
    """Run ``load`` (and ``also``, another load given the same end); after ``warm_up`` hops
    call ``act`` and stop the load when it returns."""

    async def then_act() -> None:
        await load.after_hops(warm_up)
        await act()

    acting = asyncio.ensure_future(then_act())
    await asyncio.gather(load.run(acting), *([also(acting)] if also else []))
    acting.result()


async def submits_to(cluster: Cluster, phones: list[str]) -> tuple[Counter[str], float]:
    """How many submit_sm reached the SMSC for each of ``phones`` (all ``PROBE_PREFIX``
    numbers), from the simulator's own records, once each has arrived, and when the last
    did (wall clock); a second submit of any of them arriving a little later is counted."""
    wanted = {p.removeprefix("+") for p in phones}

    def arrivals() -> list[tuple[str, float]]:
        return [(dest, at) for dest, at in cluster.smsc_probes() if dest in wanted]

    deadline = time.monotonic() + 90
    while len({dest for dest, _at in arrivals()}) < len(wanted):
        assert time.monotonic() < deadline, f"{len(arrivals())} of {len(wanted)} submitted"
        await asyncio.sleep(0.2)
    await asyncio.sleep(2 * cluster.stats_interval + 0.2)  # one more round of counter lines
    found = arrivals()
    return Counter(dest for dest, _at in found), max(at for _dest, at in found)


@dataclass
class SmsSender:
    """A department's client sending one SMS per request through nginx, each with its own
    Idempotency-Key, sending a request again (same key) after a 503 or a 409 until a 202
    (or the 200 of a replay) says it was taken."""

    cluster: Cluster
    senders: int = 2
    accepted: dict[str, int] = field(default_factory=dict)
    """Number → message id, for every message the API took."""
    answers: Counter[int] = field(default_factory=Counter)
    slowest: float = 0.0
    _next: int = 0

    async def _sender(self, client: httpx.AsyncClient, stop: asyncio.Future[object]) -> None:
        while not stop.done():
            phone = f"+{PROBE_PREFIX}1{self._next:05d}"  # +91 70001 …: not the campaign's
            self._next += 1
            for _attempt in range(100):
                started = time.monotonic()
                response = await client.post(
                    "/api/v1/messages",
                    json={"to": phone, "sender": "TRNSPT", "text": LICENCE},
                    headers={"Idempotency-Key": f"cluster-{phone}"},
                )
                self.slowest = max(self.slowest, time.monotonic() - started)
                self.answers[response.status_code] += 1
                if response.status_code in (200, 202):
                    self.accepted[phone] = response.json()["messages"][0]["id"]
                    break
                assert response.status_code in (409, 503), response.text
                await asyncio.sleep(0.1)

    async def run(self, during: asyncio.Future[object]) -> None:
        key = self.cluster.api_keys["TRANSPORT"]
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=self.cluster.url, headers=headers) as client:
            await asyncio.gather(*(self._sender(client, during) for _ in range(self.senders)))


# -- the tests ---------------------------------------------------------------------------------


def test_a_ussd_session_hops_between_the_nodes_and_ends_right(cluster: Cluster) -> None:
    """Each hop straight to the other node: only Redis knows where the session is."""
    answers = []
    nodes = cluster.node_urls
    for step in range(len(STEPS)):
        form = hop_form("alternating-1", "+919900000002", step)
        response = httpx.post(nodes[step % 2] + USSD, data=form, timeout=20)
        assert response.status_code == 200, response.text
        answers.append(response.text)
    for answer, expected in zip(answers, EXPECTED, strict=True):
        assert answer.startswith(expected), answers
    assert answers[-1].startswith("END Ration card 1234567890")


@pytest.mark.asyncio
async def test_nginx_spreads_ussd_sessions_over_both_nodes(cluster: Cluster) -> None:
    load = UssdLoad(cluster.url, "spread", citizens=16)
    started = time.monotonic()
    await under_load(load, 20, lambda: load.after_hops(800))
    elapsed = time.monotonic() - started
    assert not load.failed() and not load.wrong()
    served = load.nodes()
    assert set(served) == {f"127.0.0.1:{port}" for port in cluster.node_ports}
    assert min(served.values()) > 0.4 * len(load.hops)  # round robin: about half each
    print(
        f"\nUSSD through nginx: {len(load.hops)} hops in {elapsed:.1f} s = "
        f"{len(load.hops) / elapsed:.0f} hops/s, 16 sessions at once, {load.latency_ms()}; "
        f"{len(load.finished)} sessions complete; per node {dict(served)}"
    )


@pytest.mark.asyncio
async def test_two_dispatchers_submit_each_message_exactly_once(cluster: Cluster) -> None:
    count = 2000
    phones = [f"+{PROBE_PREFIX}{n:06d}" for n in range(count)]  # +91 70000 00000 …
    before = [cluster.dispatcher_stats(n).get("submitted", 0) for n in range(2)]
    started, sent_at = time.monotonic(), time.time()  # the simulator stamps arrivals in wall time
    async with httpx.AsyncClient(base_url=cluster.url, timeout=60) as client:
        response = await client.post(
            "/api/v1/messages",
            json={"to": phones, "sender": "TRNSPT", "text": LICENCE},
            headers={"Authorization": f"Bearer {cluster.api_keys['TRANSPORT']}"},
        )
    assert response.status_code == 202, response.text
    sent = response.json()
    assert sent["accepted"] == count
    accepted = time.monotonic() - started

    arrivals, last = await submits_to(cluster, phones)
    drained = last - sent_at
    assert set(arrivals.values()) == {1}, arrivals.most_common(3)
    after = [cluster.dispatcher_stats(n).get("submitted", 0) for n in range(2)]
    shares = [int(a - b) for a, b in zip(after, before, strict=True)]
    assert sum(shares) == count and min(shares) > 0, shares
    engine = make_engine(cluster.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT status, sum(resent_after_lease), count(*) FROM sms_messages "
                    "WHERE batch_id = :batch GROUP BY status"
                ),
                {"batch": sent["batch_id"]},
            ).all()
    finally:
        engine.dispose()
    assert {status for status, _resent, _n in rows} <= {"submitted", "delivered"}
    assert sum(n for _s, _r, n in rows) == count
    assert sum(resent for _s, resent, _n in rows) == 0
    print(
        f"\nSMS: {count} accepted in {accepted:.2f} s (one API call through nginx), all "
        f"submitted after {drained:.1f} s ({count / drained:.0f}/s); dispatchers {shares}; "
        "each number submitted once"
    )


# -- calls: the signalling socket ------------------------------------------------------------


def call_token(cluster: Cluster, room: str, identity: str, role: str) -> str:
    """A join token as the call pages hand out, signed with the cluster's key."""
    seat = Seat(room=room, identity=identity, name=identity, role=role, kind=CALL)
    return JoinTokens(cluster.secret_key).issue(seat, now=time.time())


def ws_url(http_url: str, token: str) -> str:
    return http_url.replace("http://", "ws://") + f"/rtc/ws?token={token}"


def call_across_nodes(cluster: Cluster, room: str) -> bool:
    """A citizen's page on node 1 and an official's on node 2 join call ``room``: whether
    they met (then they exchange offer and answer, which must arrive whole) or each sat
    alone in a room of its own process."""
    citizen_token = call_token(cluster, room, "citizen:1", "citizen")
    official_token = call_token(cluster, room, "official:1", "official")
    with connect(ws_url(cluster.node_urls[0], citizen_token), open_timeout=10) as citizen:
        # Seated (the room's home claimed) before the official's page opens: opened together,
        # either could be first, and the one first is alone.
        assert json.loads(citizen.recv(timeout=10))["type"] == "welcome"  # alone so far
        with connect(ws_url(cluster.node_urls[1], official_token), open_timeout=10) as official:
            return _meet(citizen, official)


def _meet(citizen: ClientConnection, official: ClientConnection) -> bool:
    """The official's page, opened second, finds the citizen and they exchange offer and
    answer; False when the official sat alone in a room of its own process."""
    welcome = json.loads(official.recv(timeout=10))
    assert welcome["type"] == "welcome", welcome
    if not welcome["peers"]:
        return False
    assert [p["role"] for p in welcome["peers"]] == ["citizen"], welcome
    citizen_id = welcome["peers"][0]["id"]
    official.send(json.dumps({"type": "offer", "to": citizen_id, "sdp": "v=0 offer"}))
    seen = [json.loads(citizen.recv(timeout=5)) for _ in range(2)]  # peer-joined, offer
    offer = next(m for m in seen if m["type"] == "offer")
    assert offer["from"] == welcome["you"] and offer["sdp"] == "v=0 offer"
    citizen.send(json.dumps({"type": "answer", "to": offer["from"], "sdp": "v=0 answer"}))
    answer = json.loads(official.recv(timeout=5))
    assert answer["type"] == "answer" and answer["from"] == citizen_id
    assert answer["sdp"] == "v=0 answer"
    return True


def test_the_signalling_socket_opens_through_nginx(cluster: Cluster) -> None:
    """nginx passes the WebSocket upgrade on /rtc/ws (and the node checks the token)."""
    token = call_token(cluster, "qClusterNginx01", "citizen:1", "citizen")
    with connect(ws_url(cluster.url, token), open_timeout=10) as socket:
        welcome = json.loads(socket.recv(timeout=10))
        assert welcome["type"] == "welcome" and welcome["peers"] == []
        socket.send(json.dumps({"type": "ping"}))
        assert json.loads(socket.recv(timeout=10))["type"] == "pong"


def test_a_call_connects_across_nodes_through_the_redis_relay(cluster: Cluster) -> None:
    """The two pages of a call reached different nodes (``rtc.relay``)."""
    assert call_across_nodes(cluster, "qClusterRelay01")


@pytest.mark.asyncio
async def test_kill_9_of_a_node_under_load_loses_no_answered_hop(cluster: Cluster) -> None:
    load = UssdLoad(cluster.url, "kill", citizens=12)
    # Sessions half walked on the node about to die, their next hops due after it has.
    opened = [f"open-on-node-1-{n}" for n in range(10)]
    for session in opened:
        assert right(walk(cluster.node_urls[0], session, range(2)), range(2))
    dead = f"127.0.0.1:{cluster.node_ports[0]}"
    live = f"127.0.0.1:{cluster.node_ports[1]}"
    killed_at = dead_at = 0.0

    async def kill_then_carry_on() -> None:
        nonlocal killed_at, dead_at
        killed_at = time.monotonic()
        await asyncio.to_thread(cluster.kill_node, 0)
        dead_at = time.monotonic()  # every process of the node has gone
        await load.after_hops(400)

    await under_load(load, 200, kill_then_carry_on)
    failed = load.failed()
    assert not load.wrong(), load.wrong()[:3]
    # Only hops the dead node held when it died fail, all sent before it had gone: one per
    # citizen at most; nginx passes every later one to the live node.
    when = [(round(h.started - killed_at, 3), h.status, h.node) for h in failed]
    assert all(h.started < dead_at for h in failed), (dead_at - killed_at, when)
    assert max(Counter(h.session.rsplit("-", 1)[0] for h in failed).values(), default=0) <= 1
    assert all((h.status, h.node) == (502, dead) for h in failed), failed
    assert set(load.nodes(since=dead_at)) == {live}
    # Sessions the dead node served go on, on the other node, to the end.
    for session in opened:
        finished = walk(cluster.url, session, range(2, 4))
        assert right(finished, range(2, 4)), finished
        assert {node for _s, _a, node in finished} == {live}
    restart = await asyncio.to_thread(cluster.start_node, 0)
    after = UssdLoad(cluster.url, "after-kill", citizens=4)
    await under_load(after, 1, lambda: after.after_hops(40))
    assert not after.failed() and set(after.nodes()) == {dead, live}
    print(
        f"\nkill -9 of node 1 under {load.citizens} sessions: {len(load.hops)} hops, "
        f"{len(failed)} failed (in flight on the dead node, HTTP 502 from nginx, sent "
        f"{min((h.started - killed_at for h in failed), default=0):+.3f} to "
        f"{max((h.started - killed_at for h in failed), default=0):+.3f} s from the kill; "
        f"the node was gone {dead_at - killed_at:.3f} s after it), 0 wrong; "
        f"{len(opened)} sessions left open on node 1 finished on node 2; "
        f"node 1 back in {restart:.1f} s"
    )


def outage_summary(load: UssdLoad, code: str, began: float, ended: float) -> str:
    refused = [h for h in load.hops if h.status == 503]
    if not refused:
        return f"no {code} answer"
    first = min(h.started for h in refused)
    last = max(h.started + h.seconds for h in refused)
    return (
        f"{len(refused)} answers 503 {code} from {first - began:+.2f} s to {last - began:+.2f} s "
        f"(the outage {ended - began:.2f} s), slowest {max(h.seconds for h in refused):.2f} s"
    )


def recovered_after(load: UssdLoad, ended: float) -> float:
    """Seconds from ``ended`` to the first request after which none failed."""
    last_failure = max((h.started for h in load.failed()), default=0.0)
    following = [h.started for h in load.hops if h.started > max(last_failure, ended)]
    return max(0.0, min(following, default=ended) - ended)


@pytest.mark.asyncio
async def test_a_postgresql_restart_is_a_short_clear_503_then_recovers(cluster: Cluster) -> None:
    load = UssdLoad(cluster.url, "pg", citizens=10, retry=True)
    sms = SmsSender(cluster)
    began = ended = 0.0

    async def restart() -> None:
        nonlocal began, ended
        began = time.monotonic()
        await asyncio.to_thread(cluster.restart_postgres)
        ended = time.monotonic()
        await load.after_hops(300)

    await under_load(load, 200, restart, also=sms.run)
    failed = load.failed()
    assert failed, "the restart went unnoticed: nothing was asked of the database during it"
    assert {(h.status, h.code) for h in failed} == {(503, "database_unavailable")}
    assert max(h.seconds for h in load.hops) < 5  # refused at once, never hung
    assert not load.wrong(), load.wrong()[:3]
    # Every hop refused was sent again and answered right: nothing was half done.
    assert not load.abandoned - load.finished, sorted(load.abandoned)[:5]
    assert recovered_after(load, ended) < 5
    # Every SMS the API took reached the SMSC exactly once, those sent again after a 503
    # with their Idempotency-Key too.
    assert sms.answers[503] > 0 or not failed
    assert sms.slowest < 5
    arrivals, _last = await submits_to(cluster, list(sms.accepted))
    assert set(arrivals.values()) == {1}, arrivals.most_common(3)
    print(
        f"\nPostgreSQL restart (pg_ctl restart -m fast, {ended - began:.2f} s) under "
        f"{load.citizens} sessions: {len(load.hops)} hops; "
        f"{outage_summary(load, 'database_unavailable', began, ended)}; all answered right "
        f"once sent again; recovered {recovered_after(load, ended):.2f} s after pg_ctl returned. "
        f"SMS API meanwhile: answers {dict(sms.answers)}, {len(sms.accepted)} messages taken, "
        "each submitted once"
    )


@pytest.mark.asyncio
async def test_a_redis_outage_moves_conversations_to_the_database_and_back(
    cluster: Cluster,
) -> None:
    """While Redis is away every hop is still answered: conversations fall back to the
    database, and return to Redis when it is back (empty: it keeps nothing on disk). A
    session that changes store mid-walk is not lost, because the aggregator sends its whole
    path ("2*1") with each hop and a session the store does not know is walked again."""
    load = UssdLoad(cluster.url, "redis", citizens=12)
    opened = [f"open-across-redis-{n}" for n in range(10)]
    for session in opened:
        assert right(walk(cluster.url, session, range(2)), range(2))
    began = ended = 0.0
    during: list[list[tuple[int, str, str]]] = []

    async def outage() -> None:
        nonlocal began, ended
        began = time.monotonic()
        await asyncio.to_thread(cluster.stop_redis)
        await load.after_hops(300)
        for session in opened:  # their third hop while Redis is away
            during.append(await asyncio.to_thread(walk, cluster.url, session, range(2, 3)))
        await asyncio.to_thread(cluster.start_redis)
        ended = time.monotonic()
        await load.after_hops(300)

    await under_load(load, 200, outage)
    assert not load.failed(), load.failed()[:3]
    assert not load.wrong(), load.wrong()[:3]
    assert all(right(answers, range(2, 3)) for answers in during), during
    for session in opened:  # and the last with Redis back
        finished = walk(cluster.url, session, range(3, 4))
        assert right(finished, range(3, 4)), finished
    away = [h.seconds * 1000 for h in load.hops if began <= h.started < ended]
    before = [h.seconds * 1000 for h in load.hops if h.started < began]
    assert away, "no hop was answered while Redis was away"
    # Calls: while Redis is away each page sits in the process it reached; each process's
    # relay reconnects with a growing pause (at most 5 s), then calls meet across nodes again.
    attempts = 0
    while not await asyncio.to_thread(call_across_nodes, cluster, f"qAfterRedis{attempts:03d}"):
        attempts += 1
        assert time.monotonic() - ended < 20, "calls did not meet across nodes again"
        await asyncio.sleep(0.2)
    relayed_again = time.monotonic() - ended
    print(
        f"\nRedis stopped for {ended - began:.2f} s and started again under {load.citizens} "
        f"sessions: {len(load.hops)} hops, none failed, none wrong; {len(away)} answered "
        f"while it was away (median {statistics.median(away):.0f} ms, against "
        f"{statistics.median(before):.0f} ms before); {len(opened)} sessions walked across "
        f"Redis, the database and Redis again ended right; calls met across nodes again "
        f"{relayed_again:.1f} s after Redis was back ({attempts} tries before)"
    )
