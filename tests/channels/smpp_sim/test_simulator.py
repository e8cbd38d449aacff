"""The SMSC simulator over real loopback sockets, as an ESME (the gateway) sees it.

A small raw client built on the core's ``encode``/``PduReader`` plays the ESME, so every byte
the simulator sends is also checked by an independent decoder.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest
import pytest_asyncio
import typer
from typer.testing import CliRunner

from seva.channels.smpp.asyncio.simulator import SimConfig, SmscSimulator
from seva.channels.smpp.pdu import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CommandId,
    CommandStatus,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    MessageState,
    Pdu,
    PduError,
    PduReader,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    encode,
)
from seva.channels.smpp.receipts import parse_receipt
from seva.cli.smsc import smsc_sim
from seva.sms_text import Reassembler, encode_text, split, split_sar

pytestmark = pytest.mark.asyncio

HINDI = (
    "आपका राशन कार्ड तैयार है। कृपया उचित मूल्य की दुकान से अपना अनाज ले लें। "
    "अधिक जानकारी के लिए 166 पर कॉल करें। धन्यवाद।"
)
PHONE = "919812345678"
WAIT = 5.0  # seconds any single expected PDU may take on a loaded machine


class Esme:
    """A raw SMPP client: sends PDUs, reads them back through the core's PduReader."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.pdus = PduReader()
        self.seq = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def send(self, pdu: Pdu) -> None:
        self.writer.write(encode(pdu))

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def recv(self, timeout: float = WAIT) -> Pdu | PduError:
        """The next PDU (or decoding error); TimeoutError when none comes, EOFError at close."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.pdus.next_pdu()
            if item is not None:
                return item
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no PDU arrived in time")
            data = await asyncio.wait_for(self.reader.read(65536), left)
            if not data:
                raise EOFError("the simulator closed the connection")
            self.pdus.feed(data)

    async def expect(self, kind: type[Pdu], timeout: float = WAIT) -> Pdu:
        item = await self.recv(timeout)
        assert isinstance(item, kind), item
        return item

    async def closed(self, timeout: float = WAIT) -> bool:
        """True once the simulator has closed the connection (PDUs before that are skipped)."""
        try:
            while True:
                await self.recv(timeout)
        except EOFError:
            return True
        except (TimeoutError, ConnectionError):
            return False

    async def bind(
        self, kind: type[Pdu] = BindTransceiver, system_id: str = "seva", password: str = "secret"
    ) -> Pdu:
        self.send(
            kind(sequence_number=self.next_seq(), system_id=system_id, password=password)  # type: ignore[call-arg]
        )
        return await self.recv()

    def submit(self, text: str = "hello", *, to: str = PHONE, **fields: object) -> int:
        coding, body = encode_text(text)
        seq = self.next_seq()
        self.send(
            SubmitSm(
                sequence_number=seq,
                source_addr="SEVA",
                source_addr_ton=5,
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=to,
                data_coding=coding,
                short_message=body,
                **fields,  # type: ignore[arg-type]
            )
        )
        return seq

    async def ack_deliveries(self, count: int, timeout: float = WAIT) -> list[DeliverSm]:
        """Receive ``count`` deliver_sm, acknowledging each one."""
        got = []
        while len(got) < count:
            pdu = await self.expect(DeliverSm, timeout)
            assert isinstance(pdu, DeliverSm)
            self.send(DeliverSmResp(sequence_number=pdu.sequence_number))
            got.append(pdu)
        return got

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


Connect = Callable[[], Awaitable[Esme]]
Start = Callable[..., Awaitable[tuple[SmscSimulator, Connect]]]


@pytest_asyncio.fixture
async def start() -> AsyncIterator[Start]:
    """Start simulators on free loopback ports; everything is closed after the test."""
    sims: list[SmscSimulator] = []
    clients: list[Esme] = []

    async def make(**config: object) -> tuple[SmscSimulator, Connect]:
        config.setdefault("accounts", {"seva": "secret"})  # what Esme.bind sends
        sim = SmscSimulator(SimConfig(**config))  # type: ignore[arg-type]
        host, port = await sim.start("127.0.0.1", 0)
        sims.append(sim)

        async def connect() -> Esme:
            client = Esme(*await asyncio.open_connection(host, port))
            clients.append(client)
            return client

        return sim, connect

    yield make
    for client in clients:
        await client.close()
    for sim in sims:
        await sim.stop()


async def until(check: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


# --- binds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "resp_kind"),
    [
        (BindTransmitter, BindTransmitterResp),
        (BindReceiver, BindReceiverResp),
        (BindTransceiver, BindTransceiverResp),
    ],
)
async def test_bind_with_good_credentials(
    start: Start, kind: type[Pdu], resp_kind: type[Pdu]
) -> None:
    sim, connect = await start(accounts={"seva": "secret"})
    esme = await connect()
    resp = await esme.bind(kind)
    assert isinstance(resp, resp_kind)
    assert resp.command_status == 0
    assert resp.system_id == "SevaSMSC"  # type: ignore[union-attr]
    assert sim.stats.binds == 1


@pytest.mark.parametrize(
    ("system_id", "password", "status"),
    [
        ("seva", "seva", CommandStatus.ESME_ROK),
        ("seva", "wrong", CommandStatus.ESME_RINVPASWD),
        ("seva", "", CommandStatus.ESME_RINVPASWD),
        ("other", "seva", CommandStatus.ESME_RINVSYSID),
    ],
)
async def test_a_simulator_given_no_accounts_takes_only_its_default_login(
    system_id: str, password: str, status: int
) -> None:
    sim = SmscSimulator()
    host, port = await sim.start("127.0.0.1", 0)
    try:
        esme = Esme(*await asyncio.open_connection(host, port))
        resp = await esme.bind(BindTransceiver, system_id, password)
        assert resp.command_status == status
        await esme.close()
    finally:
        await sim.stop()


async def test_a_simulator_needs_an_account() -> None:
    with pytest.raises(ValueError, match="accounts"):
        SimConfig(accounts={})


@pytest.mark.parametrize(
    ("system_id", "password", "status"),
    [
        ("seva", "wrong", CommandStatus.ESME_RINVPASWD),
        ("nobody", "secret", CommandStatus.ESME_RINVSYSID),
    ],
)
async def test_bind_with_bad_credentials_is_refused(
    start: Start, system_id: str, password: str, status: int
) -> None:
    sim, connect = await start(accounts={"seva": "secret"})
    esme = await connect()
    resp = await esme.bind(BindTransmitter, system_id, password)
    assert isinstance(resp, BindTransmitterResp)
    assert resp.command_status == status
    # Refused: the connection cannot submit.
    esme.submit()
    refused = await esme.expect(SubmitSmResp)
    assert refused.command_status == CommandStatus.ESME_RINVBNDSTS
    assert sim.stats.binds == 0


async def test_refuse_binds_can_be_switched_at_run_time(start: Start) -> None:
    sim, connect = await start()
    sim.config = replace(sim.config, refuse_binds=True)
    first = await (await connect()).bind()
    assert first.command_status == CommandStatus.ESME_RBINDFAIL
    sim.config = replace(sim.config, refuse_binds=False)
    second = await (await connect()).bind()
    assert second.command_status == 0


async def test_second_bind_on_a_bound_connection_is_already_bound(start: Start) -> None:
    _, connect = await start()
    esme = await connect()
    assert (await esme.bind()).command_status == 0
    assert (await esme.bind()).command_status == CommandStatus.ESME_RALYBND


async def test_enquire_link_is_answered_and_unbind_closes(start: Start) -> None:
    _, connect = await start()
    esme = await connect()
    esme.send(EnquireLink(sequence_number=41))
    pong = await esme.expect(EnquireLinkResp)
    assert pong.sequence_number == 41
    await esme.bind()
    esme.send(Unbind(sequence_number=42))
    bye = await esme.expect(UnbindResp)
    assert (bye.sequence_number, bye.command_status) == (42, 0)
    assert await esme.closed()


# --- submit_sm and receipts ---------------------------------------------------------------


async def test_submit_gets_an_id_and_a_receipt_naming_it(start: Start) -> None:
    delay = 0.05
    sim, connect = await start(receipt_delay=delay)
    esme = await connect()
    await esme.bind()
    sent_at = time.monotonic()
    seq = esme.submit("Your card 1234 is ready", registered_delivery=1)
    resp = await esme.expect(SubmitSmResp)
    assert resp.sequence_number == seq and resp.command_status == 0
    message_id = resp.message_id  # type: ignore[union-attr]
    assert message_id

    (receipt_pdu,) = await esme.ack_deliveries(1)
    waited = time.monotonic() - sent_at
    assert waited >= delay
    assert receipt_pdu.esm_class == 0x04
    assert receipt_pdu.receipted_message_id == message_id
    assert receipt_pdu.message_state == MessageState.DELIVERED
    # Addressed back: from the handset to the sender.
    assert (receipt_pdu.source_addr, receipt_pdu.destination_addr) == (PHONE, "SEVA")
    receipt = parse_receipt(receipt_pdu)
    assert receipt is not None
    assert (receipt.message_id, receipt.state, receipt.text) == (
        message_id,
        "DELIVRD",
        "Your card 1234 is re",
    )
    await until(lambda: sim.stats.receipts_acked == 1)


async def test_message_ids_are_unique(start: Start) -> None:
    _, connect = await start(receipt_delay=-1)
    esme = await connect()
    await esme.bind(BindTransmitter)
    for n in range(300):
        esme.submit(f"message {n}")
    ids = [(await esme.expect(SubmitSmResp)).message_id for _ in range(300)]  # type: ignore[union-attr]
    assert len(set(ids)) == 300


async def test_failure_rate_one_gives_undeliv_receipts(start: Start) -> None:
    _, connect = await start(receipt_delay=0.01, failure_rate=1.0)
    esme = await connect()
    await esme.bind()
    for _ in range(3):
        esme.submit(registered_delivery=1)
    ids = {(await esme.expect(SubmitSmResp)).message_id for _ in range(3)}  # type: ignore[union-attr]
    receipts = await esme.ack_deliveries(3)
    assert {r.receipted_message_id for r in receipts} == ids
    for pdu in receipts:
        assert pdu.message_state == MessageState.UNDELIVERABLE
        assert pdu.network_error_code is not None
        receipt = parse_receipt(pdu)
        assert receipt is not None and receipt.state == "UNDELIV" and not receipt.delivered_ok


async def test_failures_only_receipts_come_only_for_failures(start: Start) -> None:
    sim, connect = await start(receipt_delay=0.01)
    esme = await connect()
    await esme.bind()
    esme.submit(registered_delivery=2)
    await esme.expect(SubmitSmResp)
    with pytest.raises(TimeoutError):
        await esme.recv(timeout=0.3)
    sim.config = replace(sim.config, failure_rate=1.0)
    esme.submit(registered_delivery=2)
    resp = await esme.expect(SubmitSmResp)
    (receipt,) = await esme.ack_deliveries(1)
    assert receipt.receipted_message_id == resp.message_id  # type: ignore[union-attr]
    assert receipt.message_state == MessageState.UNDELIVERABLE


async def test_receipt_goes_to_a_receiver_of_the_same_system_id(start: Start) -> None:
    _, connect = await start(receipt_delay=0.01)
    transmitter, receiver, stranger = await connect(), await connect(), await connect()
    await transmitter.bind(BindTransmitter, "seva")
    await receiver.bind(BindReceiver, "seva")
    await stranger.bind(BindReceiver, "other")
    transmitter.submit(registered_delivery=1)
    resp = await transmitter.expect(SubmitSmResp)
    (receipt,) = await receiver.ack_deliveries(1)
    assert receipt.receipted_message_id == resp.message_id  # type: ignore[union-attr]
    with pytest.raises(TimeoutError):
        await stranger.recv(timeout=0.2)


async def test_receipts_wait_for_a_receiver_to_bind(start: Start) -> None:
    sim, connect = await start(receipt_delay=0.01)
    transmitter = await connect()
    await transmitter.bind(BindTransmitter)
    for _ in range(5):
        transmitter.submit(registered_delivery=1)
    ids = {(await transmitter.expect(SubmitSmResp)).message_id for _ in range(5)}  # type: ignore[union-attr]
    await until(lambda: sim.stats.receipts_sent == 5)  # due while nobody can take them
    receiver = await connect()
    assert (await receiver.bind(BindReceiver)).command_status == 0
    receipts = await receiver.ack_deliveries(5)
    assert {r.receipted_message_id for r in receipts} == ids


async def test_one_receipt_per_part(start: Start) -> None:
    sim, connect = await start(receipt_delay=0.01)
    esme = await connect()
    await esme.bind()
    parts = split(HINDI, reference=9)
    assert len(parts) > 1
    for part in parts:
        esme.send(
            SubmitSm(
                sequence_number=esme.next_seq(),
                source_addr="SEVA",
                destination_addr=PHONE,
                esm_class=part.esm_class,
                data_coding=part.data_coding,
                short_message=part.short_message,
                registered_delivery=1,
            )
        )
    ids = {(await esme.expect(SubmitSmResp)).message_id for _ in parts}  # type: ignore[union-attr]
    receipts = await esme.ack_deliveries(len(parts))
    assert {r.receipted_message_id for r in receipts} == ids
    # Reassembled for inspection, and delivered once every part's receipt went out.
    (received,) = sim.messages_to(PHONE)
    assert received.text == HINDI
    assert received.state == "DELIVRD"


async def test_unacknowledged_receipt_is_sent_again_to_the_next_bind(start: Start) -> None:
    _, connect = await start(receipt_delay=0.01, ack_timeout=0.2)
    deaf, polite = await connect(), await connect()
    await deaf.bind(BindTransceiver)
    await polite.bind(BindReceiver)
    deaf.submit(registered_delivery=1)
    deaf.submit(registered_delivery=1)
    ids = {(await deaf.expect(SubmitSmResp)).message_id for _ in range(2)}  # type: ignore[union-attr]
    # Whatever reaches `deaf` is never acknowledged and must come round to `polite`.
    got: set[str | None] = set()
    deadline = time.monotonic() + WAIT
    while got != ids and time.monotonic() < deadline:
        try:
            (pdu,) = await polite.ack_deliveries(1, timeout=0.5)
        except TimeoutError:
            continue
        got.add(pdu.receipted_message_id)
    assert got == ids


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "status", "counter"),
    [
        ("throttle_rate", CommandStatus.ESME_RTHROTTLED, "throttled"),
        ("reject_rate", CommandStatus.ESME_RSUBMITFAIL, "rejected"),
    ],
)
async def test_refusal_rates(start: Start, option: str, status: int, counter: str) -> None:
    sim, connect = await start(**{option: 1.0, "receipt_delay": -1})
    esme = await connect()
    await esme.bind()
    for _ in range(10):
        esme.submit()
    answers = [(await esme.expect(SubmitSmResp)).command_status for _ in range(10)]
    assert answers == [status] * 10
    assert getattr(sim.stats, counter) == 10

    # About half the time at 0.5.
    sim.config = replace(sim.config, **{option: 0.5})
    for _ in range(200):
        esme.submit()
    answers = [(await esme.expect(SubmitSmResp)).command_status for _ in range(200)]
    refused = answers.count(status)
    assert 50 < refused < 150
    assert answers.count(0) == 200 - refused


async def test_rates_are_reproducible_with_a_seed(start: Start) -> None:
    async def pattern() -> list[int]:
        _, connect = await start(throttle_rate=0.3, reject_rate=0.2, seed=42, receipt_delay=-1)
        esme = await connect()
        await esme.bind()
        for _ in range(50):
            esme.submit()
        return [(await esme.expect(SubmitSmResp)).command_status for _ in range(50)]

    first, second = await pattern(), await pattern()
    assert first == second
    assert {0, CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RSUBMITFAIL} == set(first)


async def test_max_tps_throttles_above_the_rate_per_bind(start: Start) -> None:
    _, connect = await start(max_tps=5, receipt_delay=-1)
    first, second = await connect(), await connect()
    await first.bind()
    await second.bind()
    burst = b"".join(
        encode(SubmitSm(sequence_number=n, source_addr="SEVA", destination_addr=PHONE))
        for n in range(100, 120)
    )
    first.send_raw(burst)  # one write: the burst arrives faster than any refill
    answers = [(await first.expect(SubmitSmResp)).command_status for _ in range(20)]
    # A second's worth goes through at once; the rest is throttled.
    assert 5 <= answers.count(0) <= 6
    assert answers.count(CommandStatus.ESME_RTHROTTLED) == 20 - answers.count(0)
    # The limit is per bind: the other connection has its own allowance.
    second.submit()
    assert (await second.expect(SubmitSmResp)).command_status == 0


async def test_latency_delays_submit_responses(start: Start) -> None:
    _, connect = await start(latency=0.15, receipt_delay=-1)
    esme = await connect()
    await esme.bind()
    sent = time.monotonic()
    esme.submit()
    resp = await esme.expect(SubmitSmResp)
    assert resp.command_status == 0
    assert time.monotonic() - sent >= 0.15
    # Other PDUs are not held back: a keepalive sent after a submission is answered first.
    esme.submit()
    esme.send(EnquireLink(sequence_number=esme.next_seq()))
    await esme.expect(EnquireLinkResp)
    await esme.expect(SubmitSmResp)


# --- wrong state and hostile input --------------------------------------------------------


async def test_submit_on_a_receiver_bind_or_unbound_is_invalid_bind_status(start: Start) -> None:
    sim, connect = await start()
    unbound, receiver = await connect(), await connect()
    await receiver.bind(BindReceiver)
    for esme in (unbound, receiver):
        esme.submit()
        resp = await esme.expect(SubmitSmResp)
        assert resp.command_status == CommandStatus.ESME_RINVBNDSTS
        esme.send(QuerySm(sequence_number=esme.next_seq(), message_id="1"))
        query = await esme.expect(QuerySmResp)
        assert query.command_status == CommandStatus.ESME_RINVBNDSTS
    assert sim.stats.submit_resps_ok == 0


HEADER = struct.Struct(">IIII")


@pytest.mark.parametrize(
    "garbage",
    [
        HEADER.pack(5, 4, 0, 7),  # command_length below the header size
        HEADER.pack(10**9, 4, 0, 7),  # absurdly long
        b"GET / HTTP/1.1\r\nHost: smsc\r\n\r\n",  # not SMPP at all
        bytes(random.Random(3).randrange(256) for _ in range(200)),
    ],
    ids=["length-5", "length-1e9", "http", "random"],
)
async def test_broken_framing_gets_generic_nack_and_close(start: Start, garbage: bytes) -> None:
    _, connect = await start()
    hostile, honest = await connect(), await connect()
    await honest.bind()
    hostile.send_raw(garbage)
    nack = await hostile.recv()
    assert isinstance(nack, GenericNack)
    assert nack.command_status == CommandStatus.ESME_RINVCMDLEN
    assert await hostile.closed()
    # The simulator keeps serving everyone else.
    honest.submit()
    assert (await honest.expect(SubmitSmResp)).command_status == 0


def submit_body(**fields: bytes) -> bytes:
    """A submit_sm body from its fields in order, overriding some with raw bytes."""
    parts = {
        "service_type": b"\0",
        "source": b"\x05\x00SEVA\0",
        "destination": b"\x01\x01" + PHONE.encode() + b"\0",
        "flags": b"\0\0\0",
        "schedule": b"\0",
        "validity": b"\0",
        "rest": b"\0\0\0\0",
        "sm": b"\x05hello",
    }
    parts.update(fields)
    return b"".join(parts.values())


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", CommandStatus.ESME_RINVCMDLEN),
        (b"SEVA", CommandStatus.ESME_RINVCMDLEN),  # service_type never terminated
        (submit_body(sm=b"\x50hello"), CommandStatus.ESME_RINVMSGLEN),
        (submit_body(source=b"\x05\x00" + b"9" * 30 + b"\0"), CommandStatus.ESME_RINVSRCADR),
        (submit_body(destination=b"\x01\x01\0"), CommandStatus.ESME_RINVDSTADR),
        (submit_body(schedule=b"tomorrow\0"), CommandStatus.ESME_RINVSCHED),
        (submit_body(rest=b"\0\0", sm=b""), CommandStatus.ESME_RINVCMDLEN),  # ends early
    ],
    ids=["empty", "no-nul", "sm-length", "long-source", "no-destination", "schedule", "short"],
)
async def test_malformed_submit_gets_matching_error_and_the_link_goes_on(
    start: Start, body: bytes, status: int
) -> None:
    sim, connect = await start()
    esme = await connect()
    await esme.bind()
    esme.send_raw(HEADER.pack(16 + len(body), CommandId.SUBMIT_SM, 0, 77) + body)
    resp = await esme.expect(SubmitSmResp)
    assert (resp.sequence_number, resp.command_status) == (77, status)
    esme.submit()
    assert (await esme.expect(SubmitSmResp)).command_status == 0
    assert sim.stats.malformed == 1


async def test_unknown_command_and_malformed_bind_are_answered(start: Start) -> None:
    _, connect = await start()
    esme = await connect()
    esme.send_raw(HEADER.pack(16, 0x00001234, 0, 5))
    nack = await esme.expect(GenericNack)
    assert (nack.sequence_number, nack.command_status) == (5, CommandStatus.ESME_RINVCMDID)
    esme.send_raw(HEADER.pack(21, CommandId.BIND_TRANSMITTER, 0, 6) + b"sevaX")  # no NULs
    resp = await esme.expect(BindTransmitterResp)
    assert resp.sequence_number == 6 and resp.command_status != 0
    assert (await esme.bind()).command_status == 0


async def test_pdus_split_at_every_byte_are_read_whole(start: Start) -> None:
    _, connect = await start()
    esme = await connect()
    data = encode(BindTransmitter(sequence_number=1, system_id="seva", password="secret"))
    data += encode(SubmitSm(sequence_number=2, source_addr="SEVA", destination_addr=PHONE))
    for byte in data:
        esme.send_raw(bytes((byte,)))
        await esme.writer.drain()
    assert (await esme.expect(BindTransmitterResp)).command_status == 0
    assert (await esme.expect(SubmitSmResp)).command_status == 0


async def test_truncated_pdu_then_hang_up_does_not_hurt(start: Start) -> None:
    sim, connect = await start()
    esme = await connect()
    esme.send_raw(HEADER.pack(100, CommandId.SUBMIT_SM, 0, 1) + b"\0\x05")
    await esme.close()
    await until(lambda: sim.stats.open_connections == 0)
    other = await connect()
    assert (await other.bind()).command_status == 0


async def test_random_bytes_on_many_connections_never_stop_the_server(start: Start) -> None:
    sim, connect = await start()
    rng = random.Random(11)
    valid = encode(BindTransceiver(system_id="a", password="b")) + encode(
        SubmitSm(sequence_number=1, source_addr="S", destination_addr=PHONE)
    )
    hostile = [await connect() for _ in range(20)]
    for esme in hostile:
        mutated = bytearray(valid)
        for _ in range(rng.randrange(1, 6)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        esme.send_raw(bytes(mutated))
    # Each one is answered or hung up on; none of it may stop the server.
    await asyncio.gather(*(esme.closed(timeout=0.3) for esme in hostile))
    for esme in hostile:
        await esme.close()
    await until(lambda: sim.stats.open_connections == 0)
    survivor = await connect()
    assert (await survivor.bind()).command_status == 0
    survivor.submit()
    assert (await survivor.expect(SubmitSmResp)).command_status == 0


# --- query_sm and data_sm -----------------------------------------------------------------


async def test_query_sm_follows_the_message_state(start: Start) -> None:
    _, connect = await start(receipt_delay=0.05)
    esme = await connect()
    await esme.bind()
    esme.submit()
    message_id = (await esme.expect(SubmitSmResp)).message_id  # type: ignore[union-attr]
    esme.send(QuerySm(sequence_number=esme.next_seq(), message_id=message_id, source_addr="SEVA"))
    early = await esme.expect(QuerySmResp)
    assert early.message_state == MessageState.ENROUTE and early.final_date == ""  # type: ignore[union-attr]
    deadline = time.monotonic() + WAIT
    while True:
        esme.send(QuerySm(sequence_number=esme.next_seq(), message_id=message_id))
        late = await esme.expect(QuerySmResp)
        if late.message_state != MessageState.ENROUTE or time.monotonic() > deadline:  # type: ignore[union-attr]
            break
        await asyncio.sleep(0.02)
    assert late.message_state == MessageState.DELIVERED  # type: ignore[union-attr]
    assert len(late.final_date) == 16  # type: ignore[union-attr]
    esme.send(QuerySm(sequence_number=esme.next_seq(), message_id="nope"))
    unknown = await esme.expect(QuerySmResp)
    assert unknown.command_status == CommandStatus.ESME_RQUERYFAIL


async def test_without_keep_messages_a_message_is_forgotten_after_its_receipt(
    start: Start,
) -> None:
    sim, connect = await start(receipt_delay=0.01, keep_messages=0)
    esme = await connect()
    await esme.bind()
    esme.submit(registered_delivery=1)
    message_id = (await esme.expect(SubmitSmResp)).message_id  # type: ignore[union-attr]
    await esme.ack_deliveries(1)
    esme.send(QuerySm(sequence_number=esme.next_seq(), message_id=message_id))
    assert (await esme.expect(QuerySmResp)).command_status == CommandStatus.ESME_RQUERYFAIL
    assert sim.messages_to(PHONE) == []


async def test_data_sm_is_accepted_like_submit_sm(start: Start) -> None:
    sim, connect = await start(receipt_delay=0.01)
    esme = await connect()
    await esme.bind()
    coding, payload = encode_text(HINDI)
    esme.send(
        DataSm(
            sequence_number=9,
            source_addr="SEVA",
            destination_addr=PHONE,
            data_coding=coding,
            registered_delivery=1,
            message_payload=payload,
        )
    )
    resp = await esme.expect(DataSmResp)
    assert resp.command_status == 0 and resp.message_id  # type: ignore[union-attr]
    (receipt,) = await esme.ack_deliveries(1)
    assert receipt.receipted_message_id == resp.message_id  # type: ignore[union-attr]
    (received,) = sim.messages_to(PHONE)
    assert received.text == HINDI


# --- inspection ---------------------------------------------------------------------------


async def test_messages_to_reassembles_a_long_message(start: Start) -> None:
    sim, connect = await start(receipt_delay=-1)
    esme = await connect()
    await esme.bind()
    esme.submit("Short one first")
    udh_parts = split(HINDI, reference=200)
    sar_parts = split_sar(HINDI + " SAR", reference=4000)
    # Arrival out of order must not matter.
    for part in reversed(udh_parts):
        esme.send(
            SubmitSm(
                sequence_number=esme.next_seq(),
                source_addr="SEVA",
                destination_addr="+" + PHONE,
                esm_class=part.esm_class,
                data_coding=part.data_coding,
                short_message=part.short_message,
            )
        )
    for part in sar_parts:
        esme.send(
            SubmitSm(
                sequence_number=esme.next_seq(),
                source_addr="SEVA",
                destination_addr=PHONE,
                data_coding=part.data_coding,
                short_message=part.short_message,
                sar_msg_ref_num=part.reference,
                sar_total_segments=part.total,
                sar_segment_seqnum=part.seqnum,
            )
        )
    for _ in range(1 + len(udh_parts) + len(sar_parts)):
        assert (await esme.expect(SubmitSmResp)).command_status == 0
    short, long_udh, long_sar = sim.messages_to("+" + PHONE)
    assert short.text == "Short one first" and short.parts == 1
    assert long_udh.text == HINDI and long_udh.parts == len(udh_parts) > 1
    assert long_udh.data_coding == 0x08 and long_udh.complete
    assert long_sar.text == HINDI + " SAR" and long_sar.parts == len(sar_parts)
    assert all(m.state == "ENROUTE" and m.source == "SEVA" for m in (short, long_udh, long_sar))


async def test_messages_to_keeps_only_the_latest(start: Start) -> None:
    sim, connect = await start(receipt_delay=-1, keep_messages=3)
    esme = await connect()
    await esme.bind()
    for n in range(10):
        esme.submit(f"message {n}")
    for _ in range(10):
        await esme.expect(SubmitSmResp)
    assert [m.text for m in sim.messages_to(PHONE)] == ["message 7", "message 8", "message 9"]


async def test_track_unique_counts_duplicates(start: Start) -> None:
    sim, connect = await start(track_unique=True, receipt_delay=-1)
    esme = await connect()
    await esme.bind()
    for text in ("one", "two", "one", "one"):
        esme.submit(text)
    for _ in range(4):
        await esme.expect(SubmitSmResp)
    assert (sim.unique_submits, sim.duplicate_submits) == (2, 2)


# --- mobile-originated ----------------------------------------------------------------------


async def test_inject_mo_long_hindi_arrives_as_ucs2_parts_with_udh(start: Start) -> None:
    sim, connect = await start()
    assert sim.inject_mo(source="+" + PHONE, destination="166", text=HINDI) == 0  # nobody bound
    esme = await connect()
    await esme.bind(BindTransceiver)
    count = sim.inject_mo(source="+" + PHONE, destination="166", text=HINDI)
    assert count > 1
    parts = await esme.ack_deliveries(count)
    reassembler = Reassembler()
    texts = []
    for pdu in parts:
        assert pdu.data_coding == 0x08
        assert pdu.esm_class & 0x40
        assert pdu.short_message[:3] == b"\x05\x00\x03"
        assert len(pdu.short_message) <= 140
        assert (pdu.source_addr, pdu.source_addr_ton, pdu.destination_addr) == (PHONE, 1, "166")
        text = reassembler.add_pdu(pdu, now=0.0)
        if text is not None:
            texts.append(text)
    assert texts == [HINDI]
    await until(lambda: sim.stats.mo_acked == count)


async def test_inject_mo_round_robins_and_retries_unacknowledged(start: Start) -> None:
    sim, connect = await start(ack_timeout=0.2)
    transmitter, first, second = await connect(), await connect(), await connect()
    await transmitter.bind(BindTransmitter)
    await first.bind(BindReceiver)
    await second.bind(BindTransceiver)
    assert sim.inject_mo(source=PHONE, destination="166", text="HELP") == 1
    assert sim.inject_mo(source=PHONE, destination="166", text="RATION 1234") == 1
    # One each, never to the transmitter.
    got_first = await first.expect(DeliverSm)
    got_second = await second.expect(DeliverSm)
    assert {got_first.short_message, got_second.short_message} == {b"HELP", b"RATION 1234"}  # type: ignore[union-attr]
    with pytest.raises(TimeoutError):
        await transmitter.recv(timeout=0.1)
    # `first` never answers: its message is sent again, round-robin, until someone acks it.
    second.send(DeliverSmResp(sequence_number=got_second.sequence_number))
    retried = None
    deadline = time.monotonic() + WAIT
    while retried is None and time.monotonic() < deadline:
        for esme in (second, first):
            try:
                pdu = await esme.recv(timeout=0.1)
            except TimeoutError:
                continue
            if esme is second:
                assert isinstance(pdu, DeliverSm)
                second.send(DeliverSmResp(sequence_number=pdu.sequence_number))
                retried = pdu
    assert retried is not None and retried.short_message == got_first.short_message  # type: ignore[union-attr]
    await until(lambda: sim.stats.mo_acked == 2)


async def test_drop_connections_cuts_every_client(start: Start) -> None:
    sim, connect = await start(receipt_delay=0.05)
    a, b = await connect(), await connect()
    await a.bind()
    await b.bind(BindReceiver)
    a.submit(registered_delivery=1)
    message_id = (await a.expect(SubmitSmResp)).message_id  # type: ignore[union-attr]
    sim.drop_connections()
    assert sim.inject_mo(source=PHONE, destination="166", text="nobody home") == 0
    assert await a.closed() and await b.closed()
    await until(lambda: sim.stats.open_connections == 0)
    # The receipt that fell due meanwhile reaches the next bind.
    again = await connect()
    await again.bind(BindReceiver)
    (receipt,) = await again.ack_deliveries(1)
    assert receipt.receipted_message_id == message_id


# --- the command --------------------------------------------------------------------------


async def test_cli_port_in_use_is_a_one_line_error() -> None:
    app = typer.Typer()
    app.command()(smsc_sim)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # The command runs its own event loop, so it gets a thread of its own.
        result = await asyncio.to_thread(CliRunner().invoke, app, ["--port", str(port)])
    assert result.exit_code == 1
    assert "already in use" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


async def test_cli_prints_json_stats_and_stops_on_ctrl_c() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "seva.cli.smsc",
        "--port",
        str(port),
        "--stats-interval",
        "0.2",
        "--account",
        "seva:secret",
        "--account",
        "kannel:other",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        # The first report means the server is up (importing takes a while on a busy machine).
        stats = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        assert stats["binds"] == 0 and "submits" in stats and "cpu_seconds" in stats
        esme = Esme(*await asyncio.open_connection("127.0.0.1", port))
        assert (await esme.bind(BindTransmitter)).command_status == 0
        await esme.close()
        for system_id, password, status in (
            ("kannel", "other", CommandStatus.ESME_ROK),
            ("kannel", "secret", CommandStatus.ESME_RINVPASWD),
            ("seva", "seva", CommandStatus.ESME_RINVPASWD),
        ):
            esme = Esme(*await asyncio.open_connection("127.0.0.1", port))
            bound = await esme.bind(BindTransmitter, system_id, password)
            assert bound.command_status == status, (system_id, password)
            await esme.close()
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()
    assert proc.returncode == 0
    assert b"Traceback" not in err
    last = json.loads(out.splitlines()[-1])
    assert (last["binds"], last["bind_failures"]) == (2, 2)
