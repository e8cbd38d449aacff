"""The SIP endpoint's media side without sockets: a held call keeps time but sends nothing."""

from __future__ import annotations

from typing import Any

from seva.channels.voice.asyncio.endpoint import Call, _Rtp
from seva.channels.voice.dialog import StartMedia
from seva.channels.voice.rtp import Codec, Sender
from seva.channels.voice.sdp import Direction


class Wire:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Any]] = []

    def sendto(self, data: bytes, addr: Any) -> None:
        self.sent.append((data, addr))


def call_with(direction: Direction, host: str = "127.0.0.1") -> tuple[Call, Wire]:
    call = Call("c1", None, endpoint=None)  # type: ignore[arg-type]
    call.media = StartMedia(
        call_id="c1",
        remote_rtp_addr=(host, 40000),
        codec=Codec.PCMU,
        payload_type=0,
        dtmf_pt=101,
        local_port=31000,
        direction=direction,
    )
    call.sender = Sender(ssrc=7, codec=Codec.PCMU)
    wire = Wire()
    call.rtp = _Rtp(call)
    call.rtp.transport = wire  # type: ignore[assignment]
    call.start_time = 100.0
    call.sender.queue(bytes(160 * 10), at=0.0)
    return call, wire


def test_a_call_on_hold_keeps_time_but_sends_nothing() -> None:
    for direction, host in ((Direction.INACTIVE, "127.0.0.1"), (Direction.RECVONLY, "127.0.0.1"),
                            (Direction.SENDRECV, "0.0.0.0")):  # fmt: skip
        held, wire = call_with(direction, host)
        held.send_due(100.0 + 0.1)
        assert wire.sent == []
        assert held.prompt_packets == 6  # the prompt moved on as if heard


def test_a_call_not_on_hold_sends_each_due_packet() -> None:
    live, wire = call_with(Direction.SENDRECV)
    live.send_due(100.0 + 0.1)
    assert len(wire.sent) == 6 and all(addr == ("127.0.0.1", 40000) for _, addr in wire.sent)
