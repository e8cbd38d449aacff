"""An SMSC that sends garbage and malformed PDUs: the ESME client answers per SMPP, drops a
link whose framing is lost, binds again, and keeps working."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

import pytest

from seva.channels.smpp import pdu as P
from seva.channels.smpp.asyncio.client import RouteConfig, SmppClient
from seva.messaging.dispatcher import Inbound

pytestmark = pytest.mark.asyncio


class Events:
    """What the dispatcher would be told."""

    def __init__(self) -> None:
        self.inbound: list[Inbound] = []

    def submitted(self, message_id: int, route: str, smsc_ids: list[str]) -> None: ...
    def failed(self, message_id: int, reason: str, *, permanent: bool) -> None: ...
    def deferred(self, message_id: int, delay: float) -> None: ...
    def receipt(
        self, route: str, smsc_id: str, state: str, error: str, ack: Callable[[], None]
    ) -> None:
        ack()

    def ready(self) -> None: ...

    def mo(self, message: Inbound, ack: Callable[[], None]) -> None:
        self.inbound.append(message)
        ack()


async def read_pdu(reader: asyncio.StreamReader) -> P.Pdu:
    head = await reader.readexactly(4)
    (length,) = struct.unpack(">I", head)
    return P.decode(head + await reader.readexactly(length - 4))


async def test_garbage_and_malformed_pdus_from_the_smsc(unused_tcp_port: int) -> None:
    connections = 0
    answers: list[P.Pdu] = []
    done = asyncio.Event()

    async def smsc(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        bind = await read_pdu(reader)
        writer.write(
            P.encode(P.BindTransceiverResp(sequence_number=bind.sequence_number, system_id="x"))
        )
        if connections == 1:
            # Framing lost: a command_length of 5 cannot be an SMPP PDU.
            writer.write(b"\x00\x00\x00\x05garbage")
            await writer.drain()
            await reader.read()  # the client hangs up
            writer.close()
            return
        good = P.encode(
            P.DeliverSm(
                sequence_number=8,
                source_addr="919900000001",
                destination_addr="166",
                short_message=b"HELP",
            )
        )
        # The same PDU with its body cut short, but framed correctly, comes first.
        broken = struct.pack(">IIII", 16 + 5, 0x00000005, 0, 7) + b"\x00\x01\x01AB"
        writer.write(broken + good)
        await writer.drain()
        while len(answers) < 2:
            pdu = await read_pdu(reader)
            if not isinstance(pdu, P.EnquireLink):
                answers.append(pdu)
        done.set()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(smsc, "127.0.0.1", unused_tcp_port)
    client = SmppClient(
        [
            RouteConfig(
                name="hostile",
                host="127.0.0.1",
                port=unused_tcp_port,
                system_id="seva",
                password="x",
                reconnect_min=0.05,
            )
        ]
    )
    events = Events()
    client.attach(events)
    await client.start()
    try:
        try:
            await asyncio.wait_for(done.wait(), 10)
        except TimeoutError:
            raise AssertionError(f"connections={connections} answers={answers}") from None
    finally:
        await client.stop()
        server.close()
    assert connections == 2  # the garbled link was dropped and bound again
    nack, ok = answers
    assert nack.sequence_number == 7 and nack.command_status != 0  # malformed: an error answer
    assert isinstance(ok, P.DeliverSmResp) and ok.sequence_number == 8 and ok.command_status == 0
    assert [(m.source, m.destination, m.text) for m in events.inbound] == [
        ("919900000001", "166", "HELP")
    ]
