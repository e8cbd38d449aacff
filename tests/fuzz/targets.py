"""Fuzz targets: each protocol parser fed arbitrary bytes must answer with its own error.

A target takes one input and returns normally when the parser accepted it or refused it the way
it documents (``PduError``, ``SipError``, ``SdpError``, ``RtpError``, a 4400 close…); any other
exception is a crash. ``tests/fuzz/test_parsers.py`` runs a bounded number of inputs per target
in the test suite; ``bench/fuzz_parsers.py`` runs many more, mutating the valid ``SEEDS``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from seva.channels.smpp import pdu
from seva.channels.smpp.session import SmppSession
from seva.channels.voice import rtp, sdp, sip
from seva.rtc import signalling as sig
from tests.channels.voice import messages as sip_messages


def smpp_pdu(data: bytes) -> None:
    try:
        decoded = pdu.decode(data)
    except pdu.PduError:
        return
    pdu.encode(decoded)  # whatever was read can be written back


def smpp_session(data: bytes) -> None:
    """The SMSC side of a session, fed the bytes in two chunks: it must never raise, only
    answer (generic_nack, unbind) or close."""
    session = SmppSession(role="smsc", enquire_link_interval=0)
    middle = len(data) // 2
    session.receive_data(data[:middle], 0.0)
    session.receive_data(data[middle:], 0.1)
    while session.next_event() is not None:
        pass
    session.data_to_send()


def sip_message(data: bytes) -> None:
    try:
        message = sip.parse(data)
    except sip.SipError:
        return
    message.encode()


def sdp_body(data: bytes) -> None:
    try:
        sdp.parse(data)
    except sdp.SdpError:
        return


def rtp_packet(data: bytes) -> None:
    try:
        packet = rtp.decode(data)
    except rtp.RtpError:
        return
    try:
        rtp.decode_telephone_event(packet.payload)
    except rtp.RtpError:
        return


def signalling(data: bytes) -> None:
    """A joined meeting participant sends ``data``: the hub relays it or closes the socket
    with a reason; nothing escapes."""
    hub = sig.Hub()
    hub.join(1, sig.Seat(room="r", identity="a", name="A", role="moderator", kind=sig.MEETING), 0)
    hub.join(2, sig.Seat(room="r", identity="b", name="B", role="official", kind=sig.MEETING), 0)
    hub.receive(2, data, 1.0)
    hub.receive(1, data, 1.0)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "smpp_pdu": smpp_pdu,
    "smpp_session": smpp_session,
    "sip": sip_message,
    "sdp": sdp_body,
    "rtp": rtp_packet,
    "signalling": signalling,
}


def _seeds() -> dict[str, list[bytes]]:
    pdus = [
        pdu.encode(pdu.BindTransceiver(sequence_number=1, system_id="seva", password="pw")),
        pdu.encode(
            pdu.SubmitSm(
                sequence_number=2,
                source_addr="TRNSPT",
                destination_addr="919900000001",
                short_message="नमस्ते".encode("utf-16-be"),
                data_coding=8,
            )
        ),
        pdu.encode(
            pdu.DeliverSm(sequence_number=3, source_addr="919900000001", short_message=b"HI")
        ),
        pdu.encode(pdu.EnquireLink(sequence_number=4)),
    ]
    offers = [sip_messages.OFFER_PCMU, sip_messages.OFFER_DTMF, sip_messages.OFFER_PCAP]
    event = struct.pack("!BBH", 5, 0x80 | 10, 800)
    packets = [
        rtp.RtpPacket(payload_type=0, sequence=1, timestamp=160, ssrc=7, payload=bytes(160)),
        rtp.RtpPacket(payload_type=101, sequence=2, timestamp=320, ssrc=7, payload=event),
    ]
    messages = [
        b'{"type": "offer", "to": "1", "sdp": "v=0"}',
        b'{"type": "chat", "text": "hello"}',
        b'{"type": "admit", "peer": "2"}',
        b'{"type": "mute", "peer": "2"}',
        b'{"type": "state", "camera": false}',
    ]
    return {
        "smpp_pdu": pdus,
        "smpp_session": [b"".join(pdus)],
        "sip": [sip_messages.invite(body=offer) for offer in offers],
        "sdp": [offer if isinstance(offer, bytes) else offer.encode() for offer in offers],
        "rtp": [packet.encode() for packet in packets],
        "signalling": messages,
    }


SEEDS = _seeds()
