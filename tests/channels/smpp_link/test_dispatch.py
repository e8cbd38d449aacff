"""Queue → dispatcher → SMPP binds → SMSC simulator and back, over real sockets.

Each test runs on SQLite and on PostgreSQL: messages accepted into the queue reach the
simulator, receipts mark them delivered or failed, and a citizen's SMS to 166 is answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import pytest_asyncio
from sqlalchemy import event, select, update

from seva.channels.smpp.asyncio.client import RouteConfig
from seva.channels.smpp.asyncio.engine import SmsEngine
from seva.channels.smpp.asyncio.simulator import SimConfig, SmscSimulator
from seva.demo.seed import SeedReport
from seva.flows.runtime import sign
from seva.gateway import Gateway
from seva.messaging import service as queue
from seva.messaging.models import SmsCallback
from seva.messaging.service import Send
from seva.outbound import CALLBACKS
from seva.tenancy.service import department_by_code
from tests.channels.smpp_link.waiting import until

pytestmark = pytest.mark.asyncio

HINDI = "आपका राशन कार्ड तैयार है। कृपया उचित मूल्य की दुकान से अपना अनाज ले लें। धन्यवाद।"


ADDRESSES: dict[int, tuple[str, int]] = {}


@pytest_asyncio.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    sim = SmscSimulator(SimConfig(receipt_delay=0.05, seed=7, accounts={"seva": "secret"}))
    ADDRESSES[id(sim)] = await sim.start("127.0.0.1", 0)
    yield sim
    await sim.stop()
    ADDRESSES.pop(id(sim))


def route(sim: SmscSimulator, **options: object) -> RouteConfig:
    host, port = ADDRESSES[id(sim)]
    base = RouteConfig(
        name="sim",
        host=host,
        port=port,
        system_id="seva",
        password="secret",
        window=50,
        reconnect_min=0.05,
        reconnect_max=0.2,
    )
    return replace(base, **options)  # type: ignore[arg-type]


def counts(gateway: Gateway, batch_ids: list[int]) -> dict[str, int]:
    total: dict[str, int] = {}
    with gateway.session() as session:
        for bid in batch_ids:
            for status, n in queue.batch_counts(session, bid).items():
                total[status] = total.get(status, 0) + n
    return total


async def test_every_queued_message_is_delivered(
    gateway: Gateway, seeded: SeedReport, smsc: SmscSimulator
) -> None:
    phones = [f"+9198{n:08d}" for n in range(300)]
    with gateway.session() as session:
        bulk = queue.send(session, Send(to=phones, text="Pulse polio camp on Sunday", kind="bulk"))
        hindi = queue.send(session, Send(to=phones[:50], text=HINDI))
        otp = queue.send(session, Send(to=[phones[0]], text="Seva OTP 481516", kind="otp"))
    engine = SmsEngine(gateway, [route(smsc, binds=2)])
    await engine.start(wait_bound=5)
    try:
        batches = [bulk.batch_id, hindi.batch_id, otp.batch_id]
        await until(
            lambda: counts(gateway, batches).get("delivered", 0) == 351,
            timeout=10,
            explain=lambda: (counts(gateway, batches), engine.dispatcher.stats, smsc.stats),
        )
    finally:
        await engine.stop()
    received = smsc.messages_to(phones[0].lstrip("+"))
    assert sorted(m.text for m in received) == sorted(
        ["Pulse polio camp on Sunday", HINDI, "Seva OTP 481516"]
    )
    assert next(m for m in received if m.text == HINDI).parts == 2  # 82 chars of UCS-2
    with gateway.session() as session:
        view = queue.message(session, hindi.message_ids[0])
    assert view is not None and view.status == "delivered" and view.submitted_at is not None


async def test_undeliverable_receipts_fail_the_message(
    gateway: Gateway, seeded: SeedReport, smsc: SmscSimulator
) -> None:
    smsc.config = replace(smsc.config, failure_rate=1.0)
    with gateway.session() as session:
        sent = queue.send(session, Send(to=["+919812345678"], text="Hello"))
    engine = SmsEngine(gateway, [route(smsc)])
    await engine.start(wait_bound=5)
    try:
        await until(lambda: counts(gateway, [sent.batch_id]).get("failed", 0) == 1)
    finally:
        await engine.stop()
    with gateway.session() as session:
        view = queue.message(session, sent.message_ids[0])
    assert view is not None and view.error is not None and view.error.startswith("UNDELIV")


async def test_a_citizens_sms_is_answered_through_the_smsc(
    gateway: Gateway, seeded: SeedReport, smsc: SmscSimulator
) -> None:
    engine = SmsEngine(gateway, [route(smsc)])
    await engine.start(wait_bound=5)
    try:
        assert smsc.inject_mo(source="919900000001", destination="166", text="RATION 1234567890")
        await until(lambda: any(m.source == "166" for m in smsc.messages_to("919900000001")))
    finally:
        await engine.stop()
    (reply,) = [m for m in smsc.messages_to("919900000001") if m.source == "166"]
    assert reply.text.startswith("Ration card 1234567890 (Sunita Devi): Active.")


async def test_traffic_survives_drops_refused_binds_and_throttling(
    gateway: Gateway, seeded: SeedReport, smsc: SmscSimulator
) -> None:
    phones = [f"+9197{n:08d}" for n in range(1000)]
    with gateway.session() as session:
        sent = queue.send(session, Send(to=phones, text="Water supply off 10-14h", kind="bulk"))
    smsc.config = replace(smsc.config, throttle_rate=0.2)
    engine = SmsEngine(gateway, [route(smsc, binds=2, window=20)])
    await engine.start(wait_bound=5)
    try:
        await until(lambda: counts(gateway, [sent.batch_id]).get("delivered", 0) > 200)
        smsc.config = replace(smsc.config, refuse_binds=True)
        smsc.drop_connections()
        await asyncio.sleep(0.5)
        smsc.config = replace(smsc.config, refuse_binds=False)
        await until(lambda: counts(gateway, [sent.batch_id]).get("delivered", 0) == 1000)
    finally:
        await engine.stop()
    assert engine.client.stats["sim"].throttled > 0
    assert engine.client.stats["sim"].reconnects >= 2
    for phone in phones[::97]:
        assert smsc.messages_to(phone.lstrip("+")), phone


async def test_the_department_hears_the_final_status_signed(
    gateway: Gateway, seeded: SeedReport, smsc: SmscSimulator
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
        body = await reader.readexactly(int(headers["content-length"]))
        received.append((headers, body))
        # The first attempt is refused: the callback must come again.
        status = b"503 Busy" if len(received) == 1 else b"204 No Content"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with gateway.session() as session:
        department = department_by_code(session, "MCD")
        assert department is not None
        secret = department.webhook_secret
        sent = queue.send(
            session,
            Send(
                to=["+919812300000"],
                text="Property tax receipt 42 issued",
                department_id=department.id,
                department_code="MCD",
                callback_url=f"http://127.0.0.1:{port}/sms-status",
                client_ref="tax-42",
            ),
        )
    engine = SmsEngine(gateway, [route(smsc)])
    await engine.start(wait_bound=5)
    try:
        # The retry comes after the back-off; once the refusal is on record, bring it forward
        # (once: moving a retry that is already on its way would send it twice).
        await until(lambda: len(received) >= 1)

        def refusal_recorded() -> bool:
            with gateway.session() as session:
                row = session.scalars(select(SmsCallback)).one()
                return row.attempts == 1 and not row.done

        await until(refusal_recorded)
        with gateway.session() as session:
            session.execute(
                update(SmsCallback).where(SmsCallback.done.is_(False)).values(next_at=0)
            )
        await until(lambda: len(received) >= 2)
        assert len(received) == 2
    finally:
        await engine.stop()
        server.close()
    headers, body = received[-1]
    payload = json.loads(body)
    assert payload["id"] == sent.message_ids[0]
    assert payload["status"] == "delivered" and payload["client_ref"] == "tax-42"
    assert headers["x-seva-signature"] == sign(secret, headers["x-seva-timestamp"], body)
    assert received[0][1] == body  # the same report, sent again


async def test_a_departments_rate_cap_spreads_its_campaign(
    gateway: Gateway, seeded: SeedReport, smsc: SmscSimulator
) -> None:
    with gateway.session() as session:
        department = department_by_code(session, "TRANSPORT")
        assert department is not None
        queue.ensure_account(session, department.id).rate_per_second = 20
        phones = [f"+9195{n:08d}" for n in range(60)]
        sent = queue.send(
            session,
            Send(
                to=phones,
                text="Your driving licence DL01 is ready for dispatch. -Transport Dept",
                kind="bulk",
                department_id=department.id,
                sender="TRNSPT",
            ),
        )
    engine = SmsEngine(gateway, [route(smsc)])
    await engine.start(wait_bound=5)
    try:
        await until(lambda: counts(gateway, [sent.batch_id]).get("delivered", 0) == 60)
    finally:
        await engine.stop()
    arrivals = sorted(smsc.messages_to(p.lstrip("+"))[0].received_at for p in phones)
    # One every 1/20 s: the sixtieth about three seconds after the first.
    assert arrivals[-1] - arrivals[0] >= 2.5
    # Each waiting message was put back once, with its turn, not claimed again and again.
    assert engine.dispatcher.stats.deferred <= 60


async def test_callbacks_of_a_department_with_an_open_circuit_are_put_aside_in_one_write(
    gateway: Gateway, seeded: SeedReport, smsc: SmscSimulator
) -> None:
    """Thirty status callbacks are due for a department whose callback circuit is open: they
    are deferred together until the circuit would let a trial through, not rewritten one by
    one, and nothing is posted."""
    heads = gateway.runtime.outbound.bulkheads
    now = time.time()
    with gateway.session() as session:
        department = department_by_code(session, "MCD")
        assert department is not None
        session.add_all(
            SmsCallback(
                department_id=department.id,
                message_id=n,
                url="http://127.0.0.1:9/never",
                payload="{}",
                next_at=now - 1,
            )
            for n in range(30)
        )
    for _ in range(heads.failures_to_open):
        with heads.slot("MCD", CALLBACKS) as outcome:
            outcome.failed()
    writes: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE SMS_CALLBACKS"):
            writes.append(statement)

    event.listen(gateway.db.engine, "before_cursor_execute", count)
    engine = SmsEngine(gateway, [route(smsc)])
    poster = asyncio.create_task(engine._send_callbacks())

    def set_aside() -> bool:
        with gateway.session() as session:
            rows = session.scalars(select(SmsCallback)).all()
            # Past the claim's lease (120 s ahead): deferred until the circuit's trial.
            moment = time.time()
            return all(
                moment + heads.open_seconds / 2 < row.next_at <= moment + heads.open_seconds + 1
                for row in rows
            )

    try:
        await until(set_aside)
    finally:
        poster.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poster
        event.remove(gateway.db.engine, "before_cursor_execute", count)
    assert len(writes) <= 2, writes  # the claim, then one deferral for the department
    with gateway.session() as session:
        rows = session.scalars(select(SmsCallback)).all()
        assert all(row.attempts == 0 and not row.done for row in rows)
