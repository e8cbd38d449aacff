"""Deliveries in doubt are settled and counted: a message whose receipt never comes becomes
``unknown`` after the receipt timeout (a late receipt still settles it), and a message sent
again after its dispatcher's lease expired is counted as a possible duplicate. Time is passed
in; nothing sleeps."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import select
from typer.testing import CliRunner

from seva.cli import app as cli
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.messaging import service as queue
from seva.messaging.dispatcher import Dispatcher, LinkEvents, Outgoing
from seva.messaging.models import SmsCallback
from seva.messaging.service import Receipt, Send, Submitted
from seva.settings import get_settings
from seva.tenancy.service import department_by_code
from tests.channels.smpp_link.waiting import until
from tests.console.pages import login as console_login

NOW = 1_700_000_000.0
"""Before any message the demo seed queues (those are due at the real time of seeding)."""
HOUR = 3600.0
TIMEOUT = 48 * HOUR


def submitted(
    gateway: Gateway, count: int = 1, *, parts: int = 1, callback: str | None = None
) -> list[int]:
    """``count`` FOOD messages handed to the SMSC at ``NOW``, awaiting their receipts."""
    with gateway.session() as session:
        food = department_by_code(session, "FOOD")
        assert food is not None
        accepted = queue.send(
            session,
            Send(
                to=[f"+91981{n:07d}" for n in range(count)],
                text="x" * (153 * parts) if parts > 1 else "Your ration card is ready",
                department_id=food.id,
                department_code="FOOD",
                callback_url=callback,
            ),
            now=NOW,
        )
        claimed = queue.claim(session, limit=count + 1000, now=NOW)
        mine = sorted(c.id for c in claimed if c.batch_id == accepted.batch_id)
        queue.record_submitted(
            session,
            [Submitted(mid, "sim", [f"m{mid}p{p}" for p in range(parts)]) for mid in mine],
            now=NOW,
        )
    assert len(mine) == count
    return mine


def status(gateway: Gateway, message_id: int) -> str:
    with gateway.session() as session:
        view = queue.message(session, message_id)
    assert view is not None
    return view.status


def callbacks(gateway: Gateway) -> list[dict[str, object]]:
    with gateway.session() as session:
        rows = session.scalars(select(SmsCallback).order_by(SmsCallback.id)).all()
        return [json.loads(row.payload) for row in rows]


def test_a_message_whose_receipt_never_comes_becomes_unknown(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    (mid,) = submitted(gateway, callback="http://127.0.0.1:9/status")
    with gateway.session() as session:
        assert queue.expire_receipts(session, now=NOW + TIMEOUT - 1, timeout=TIMEOUT) == []
    assert status(gateway, mid) == "submitted"
    with gateway.session() as session:
        assert queue.expire_receipts(session, now=NOW + TIMEOUT + 1, timeout=TIMEOUT) == [mid]
        assert queue.expire_receipts(session, now=NOW + TIMEOUT + 2, timeout=TIMEOUT) == []
    assert status(gateway, mid) == "unknown"
    [told] = callbacks(gateway)
    assert told["id"] == mid and told["status"] == "unknown"  # the department hears it

    key = {"X-API-Key": seeded.api_keys["FOOD"]}
    message = client.get(f"/api/v1/messages/{mid}", headers=key).json()
    assert message["status"] == "unknown" and message["done_at"] is not None
    batch = client.get(f"/api/v1/batches/{message['batch_id']}", headers=key).json()
    assert batch["counts"] == {"unknown": 1}

    console_login(client, "food.admin")
    page = client.get(f"/console/sms/{mid}").text
    assert 'data-status="unknown">No receipt<' in page
    listing = client.get("/console/sms?status=unknown").text
    assert f'href="/console/sms/{mid}"' in listing


@pytest.mark.parametrize(
    ("parts", "state", "settled"),
    [(1, "DELIVRD", "delivered"), (3, "DELIVRD", "delivered"), (1, "UNDELIV", "failed")],
)
def test_a_late_receipt_still_settles_an_unknown_message(
    gateway: Gateway, seeded: SeedReport, parts: int, state: str, settled: str
) -> None:
    (mid,) = submitted(gateway, parts=parts, callback="http://127.0.0.1:9/status")
    with gateway.session() as session:
        queue.expire_receipts(session, now=NOW + TIMEOUT + 1, timeout=TIMEOUT)
    assert status(gateway, mid) == "unknown"
    with gateway.session() as session:
        late = [Receipt("sim", f"m{mid}p{p}", state, "001") for p in range(parts)]
        assert queue.apply_receipts(session, late, now=NOW + TIMEOUT + 3600) == []
    assert status(gateway, mid) == settled
    assert [c["status"] for c in callbacks(gateway)] == ["unknown", settled]


def test_several_dispatchers_sweeping_at_once_mark_each_message_once(
    gateway: Gateway, seeded: SeedReport
) -> None:
    ids = submitted(gateway, 1200)
    marked: list[list[int]] = [[], [], []]
    errors: list[BaseException] = []
    start = threading.Barrier(len(marked))

    def sweep(mine: list[int]) -> None:
        try:
            start.wait(10)
            for _ in range(100):
                with gateway.session() as session:
                    found = queue.expire_receipts(
                        session, now=NOW + TIMEOUT + 1, timeout=TIMEOUT, limit=100
                    )
                mine.extend(found)
                if not found:
                    return
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sweep, args=(m,)) for m in marked]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    every = [mid for mine in marked for mid in mine]
    assert sorted(every) == sorted(ids)  # each once, none left out
    with gateway.session() as session:
        assert queue.status_counts(session).get("unknown") == len(ids)


class QuietLink:
    """A link with no room: the dispatcher runs its loops but hands nothing over."""

    def attach(self, events: LinkEvents) -> None:
        self.events = events

    def free_capacity(self) -> int:
        return 0

    def submit(self, message: Outgoing) -> None:
        raise AssertionError("nothing should be sent")

    def in_flight(self) -> list[int]:
        return []


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


@pytest.mark.asyncio
async def test_the_dispatcher_sweeps_for_receipts_past_the_timeout(
    gateway: Gateway, seeded: SeedReport
) -> None:
    ids = submitted(gateway, 3)
    before = metric("seva_sms_receipt_timeouts_total")
    dispatcher = Dispatcher(
        gateway.db,
        QuietLink(),
        receipt_timeout=TIMEOUT,
        clock=lambda: NOW + TIMEOUT + 60,
        idle_poll=0.01,
    )
    await dispatcher.start()
    try:
        await until(lambda: dispatcher.stats.unknown == 3, timeout=10)
    finally:
        await dispatcher.stop()
    assert [status(gateway, mid) for mid in ids] == ["unknown"] * 3
    assert metric("seva_sms_receipt_timeouts_total") == before + 3


@pytest.fixture
def cli_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SEVA_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.asyncio
async def test_a_message_sent_again_after_a_lease_expired_is_counted(
    client: TestClient, gateway: Gateway, seeded: SeedReport, cli_database: None
) -> None:
    with gateway.session() as session:
        food = department_by_code(session, "FOOD")
        assert food is not None
        (mid,) = queue.send(
            session,
            Send(to=["+919810000001"], text="Camp on Sunday", department_id=food.id),
            now=NOW,
        ).message_ids
        # A dispatcher claims it, hands it to the SMSC perhaps, and dies before writing it.
        assert [c.id for c in queue.claim(session, limit=1000, now=NOW, lease=60)] == [mid]
    before = metric("seva_sms_resent_after_lease_total")
    # Its successor starts after the lease ran out and takes the message back.
    successor = Dispatcher(gateway.db, QuietLink(), lease=60, clock=lambda: NOW + 61)
    await successor.start()
    await successor.stop()
    assert successor.stats.recovered == 1
    assert metric("seva_sms_resent_after_lease_total") == before + 1
    await asyncio.to_thread(submitted_again, gateway, mid)

    key = {"X-API-Key": seeded.api_keys["FOOD"]}
    message = client.get(f"/api/v1/messages/{mid}", headers=key).json()
    assert message["resent_after_lease"] == 1 and message["attempts"] == 2
    console_login(client, "food.admin")
    assert 'id="resent-after-lease">1<' in client.get(f"/console/sms/{mid}").text

    stats = CliRunner().invoke(cli, ["dispatch", "--stats"])
    assert stats.exit_code == 0, stats.output
    assert "resent after a dispatcher stopped: 1 messages, 1 times" in stats.stdout
    assert "submitted 1" in stats.stdout


def submitted_again(gateway: Gateway, message_id: int) -> None:
    with gateway.session() as session:
        assert [c.id for c in queue.claim(session, limit=1000, now=NOW + 62)] == [message_id]
        queue.record_submitted(session, [Submitted(message_id, "sim", ["again"])], now=NOW + 63)
