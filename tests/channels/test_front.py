"""The lean path for USSD hops and SMS pull (``channels.front``) answers exactly as the
FastAPI routes it stands in front of: same answers, same error shape, same guard."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from seva.channels import front
from seva.demo.seed import DEMO_CITIZEN, SeedReport
from seva.gateway import Gateway

USSD = "/channels/ussd/africastalking"
SMS = "/channels/sms/kannel"
HOP = {"sessionId": "front-1", "serviceCode": "*166#", "phoneNumber": DEMO_CITIZEN, "text": ""}


@pytest.fixture
def seeded_client(client: TestClient, seeded: SeedReport) -> Iterator[TestClient]:
    yield client


def test_a_urlencoded_hop_and_a_multipart_hop_get_the_same_screen(
    seeded_client: TestClient,
) -> None:
    lean = seeded_client.post(USSD, data=HOP)
    routed = seeded_client.post(USSD, data=HOP | {"sessionId": "front-2"}, files={"x": b""})
    assert lean.status_code == routed.status_code == 200
    assert lean.text == routed.text and lean.text.startswith("CON ")
    assert lean.headers["content-type"] == "text/plain; charset=utf-8"
    assert lean.headers["x-content-type-options"] == "nosniff"
    assert lean.headers["x-request-id"]


def test_kannel_get_and_post_reply_alike(seeded_client: TestClient) -> None:
    fields = {"from": DEMO_CITIZEN, "to": "166", "text": "HELP"}
    got = seeded_client.get(SMS, params=fields)
    posted = seeded_client.post(SMS, data=fields)
    assert got.status_code == posted.status_code == 200
    assert got.text == posted.text and got.text


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"sessionId": ""}, "sessionId", "sessionId is required"),
        ({"sessionId": "x" * 129}, "sessionId", "String should have at most 128 characters"),
        ({"sessionId": "a\tb"}, "sessionId", "String should match pattern"),
        ({"phoneNumber": "12"}, "phoneNumber", "phoneNumber is not a valid phone number"),
        ({"text": "1" * 2001}, "text", "String should have at most 2000 characters"),
    ],
)
def test_a_bad_field_is_a_400_in_the_one_error_shape_on_both_paths(
    seeded_client: TestClient, form: dict[str, str], field: str, message: str
) -> None:
    for extra in ({}, {"files": {"x": b""}}):
        answer = seeded_client.post(USSD, data=HOP | form, **extra)  # type: ignore[arg-type]
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["field"] == field and error["message"].startswith(message)


def test_an_oversized_form_is_refused_before_it_is_read_whole(seeded_client: TestClient) -> None:
    answer = seeded_client.post(
        USSD,
        content=b"text=" + b"1" * (front.MAX_BODY + 1),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"


def test_too_many_fields_is_a_400(seeded_client: TestClient) -> None:
    body = "&".join(f"f{i}=1" for i in range(front.MAX_FIELDS + 1))
    answer = seeded_client.post(
        USSD, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 400


def test_a_caller_who_is_not_the_operator_is_refused(
    gateway: Gateway, seeded_client: TestClient
) -> None:
    gateway.settings = gateway.settings.model_copy(update={"africastalking_allow": "192.0.2.1"})
    answer = seeded_client.post(USSD, data=HOP)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"


def test_an_unreachable_database_is_a_503_the_aggregator_can_retry(
    gateway: Gateway, seeded_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def away(*args: object, **kwargs: object) -> str:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(gateway.ussd, "handle", away)
    answer = seeded_client.post(USSD, data=HOP)
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "database_unavailable"


def test_operator_callbacks_write_their_own_line_not_a_second_access_line(
    client: TestClient,
) -> None:
    """uvicorn's access logger drops the callbacks' requests (each logs an ``exchanges``
    line of its own) and keeps everyone else's."""
    access = logging.getLogger("uvicorn.access")

    def record(path: str) -> logging.LogRecord:
        args = ("127.0.0.1:5000", "POST", path, "1.1", 200)
        return access.makeRecord(access.name, logging.INFO, __file__, 0, "%s", args, None)

    assert not access.filter(record(USSD))
    assert not access.filter(record(SMS + "?from=1&text=HI"))
    assert access.filter(record("/api/v1/messages"))


def _requests(channel: str) -> float:
    return REGISTRY.get_sample_value("seva_channel_requests_total", {"channel": channel}) or 0.0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # PostgreSQL: threads
@pytest.mark.parametrize("elsewhere", ["thread", "process"])
def test_a_hop_that_must_wait_for_the_writer_waits_in_a_thread_not_on_the_loop(
    live: str, gateway: Gateway, seeded: SeedReport, elsewhere: str
) -> None:
    """On the embedded database a hop runs on the event loop only while it need not wait: the
    last hop of the ration walk writes the finished transaction, so while another thread of
    this process, or another process (``seva dispatch``, say), is writing, it waits in a
    worker thread, and the node answers everyone else meanwhile. It answers once the write is
    done, counted as one request."""
    hold, holding = threading.Event(), threading.Event()

    def writer() -> None:
        if elsewhere == "thread":
            with gateway.session() as session:
                session.execute(text("UPDATE departments SET code = code WHERE 1 = 0"))
                holding.set()
                hold.wait(30)
            return
        other = sqlite3.connect(gateway.db.url.split("///", 1)[1], isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # the database's write lock, as a process holds it
            holding.set()
            hold.wait(30)
            other.execute("COMMIT")
        finally:
            other.close()

    walk = {"sessionId": "front-wait", "serviceCode": "*166#", "phoneNumber": DEMO_CITIZEN}
    answers: dict[str, str] = {}
    with (
        httpx.Client(base_url=live, timeout=30) as aggregator,
        httpx.Client(base_url=live, timeout=30) as monitor,
    ):
        for keys in ("", "2", "2*1"):
            assert aggregator.post(USSD, data=walk | {"text": keys}).text.startswith("CON ")
        counted = _requests("ussd")
        holder = threading.Thread(target=writer)
        holder.start()
        assert holding.wait(10)

        def last_hop() -> None:
            answers["end"] = aggregator.post(USSD, data=walk | {"text": "2*1*1234567890"}).text

        hopper = threading.Thread(target=last_hop)
        hopper.start()
        try:
            for _ in range(5):  # the loop is free: other requests are answered meanwhile
                assert monitor.get("/healthz", timeout=2).status_code == 200
            # A hop that writes nothing (a menu) does not wait for the writer at all.
            menu = monitor.post(
                USSD, data=walk | {"sessionId": "front-menu", "text": ""}, timeout=2
            )
            assert menu.text.startswith("CON ")
            assert "end" not in answers  # the hop waits for the writer's turn
        finally:
            hold.set()
            holder.join(30)
            hopper.join(30)
    assert answers["end"].startswith("END Ration card 1234567890"), answers
    assert _requests("ussd") - counted == 2  # the menu and the last hop, once each


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the loop's own connections
def test_a_hop_on_the_loop_does_not_wait_for_a_connection_the_threads_hold(
    seeded_client: TestClient, gateway: Gateway
) -> None:
    """Every pooled connection held by threads (pages, API calls, a dispatcher, each waiting
    on something): the loop's hops have connections of their own, so a citizen's menu is
    answered at once rather than after the pool's 30 s timeout, with the loop stuck."""
    engine = gateway.db.engine
    held = [engine.connect() for _ in range(engine.pool.size() + engine.pool._max_overflow)]  # type: ignore[attr-defined]
    try:
        for conn in held:
            conn.execute(text("SELECT 1"))
        started = time.monotonic()
        answer = seeded_client.post(USSD, data=HOP | {"sessionId": "front-pool"})
        assert answer.status_code == 200 and answer.text.startswith("CON ")
        assert time.monotonic() - started < 5
    finally:
        for conn in held:
            conn.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the loop's own connections
def test_a_hop_goes_to_a_thread_when_the_loops_own_connections_are_taken(
    seeded_client: TestClient, gateway: Gateway
) -> None:
    """The loop's connections are never waited for: with both taken, the hop is answered
    from a worker thread, not refused."""
    engine = gateway.db.loop_engine
    assert engine is not None
    held = [engine.connect() for _ in range(engine.pool.size())]
    try:
        answer = seeded_client.post(USSD, data=HOP | {"sessionId": "front-loop-pool"})
        assert answer.status_code == 200 and answer.text.startswith("CON ")
    finally:
        for conn in held:
            conn.close()
