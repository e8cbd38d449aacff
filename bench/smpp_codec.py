"""SMPP codec throughput: encode/decode of submit_sm and submit_sm_resp, framing, a session pair.

Pure Python, one core, no sockets: this is the ceiling the protocol core puts on a gateway node
before any I/O. A submit_sm here is a typical government notification: alphanumeric sender,
an Indian mobile number, a receipt requested, a full 160-character GSM 7-bit text.

    .venv/bin/python bench/smpp_codec.py [--seconds 1.0]

Prints figures; asserts nothing. Bounded by --seconds per measurement.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from seva.channels.smpp.pdu import PduReader, SubmitSm, SubmitSmResp, decode, encode
from seva.channels.smpp.session import RequestReceived, SmppSession

SUBMIT = SubmitSm(
    sequence_number=12345,
    source_addr_ton=5,
    source_addr="GOVSVA",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="919811000101",
    registered_delivery=1,
    short_message=(b"Your ration card 1234567890 is active. Shop 12, Main Bazaar. " * 3)[:160],
)
SUBMIT_RESP = SubmitSmResp(sequence_number=12345, message_id="5f1e0c3a-7b2d-4c1e")


def rate(work: Callable[[], object], seconds: float, batch: int = 1000) -> float:
    """Calls of ``work`` per second over about ``seconds``."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            work()
        done += batch
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def framing_rate(seconds: float) -> float:
    """PDUs per second cut from a stream arriving in 4 KiB reads."""
    wire = encode(SUBMIT) * 2000
    chunks = [wire[index : index + 4096] for index in range(0, len(wire), 4096)]

    def read_all() -> None:
        reader = PduReader()
        for chunk in chunks:
            reader.feed(chunk)
            while reader.next_pdu() is not None:
                pass

    return rate(read_all, seconds, batch=1) * 2000


def session_rate(seconds: float) -> float:
    """submit_sm round trips per second through an ESME and an SMSC session pair."""
    esme = SmppSession(role="esme", window=100)
    smsc = SmppSession(role="smsc", window=100)
    esme.bind("transceiver", "seva", "secret", 0.0)
    smsc.receive_data(esme.data_to_send(), 0.0)
    smsc.next_event()
    smsc.accept_bind("SMSC")
    esme.receive_data(smsc.data_to_send(), 0.0)
    esme.next_event()
    smsc.next_event()

    def hundred() -> None:
        for _ in range(100):
            esme.send_request(SUBMIT, 0.0)
        smsc.receive_data(esme.data_to_send(), 0.0)
        while (event := smsc.next_event()) is not None:
            if isinstance(event, RequestReceived):
                number = event.pdu.sequence_number
                smsc.send_response(SubmitSmResp(sequence_number=number, message_id=str(number)))
        esme.receive_data(smsc.data_to_send(), 0.0)
        while esme.next_event() is not None:
            pass

    return rate(hundred, seconds, batch=1) * 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()
    seconds = args.seconds

    submit_wire = encode(SUBMIT)
    resp_wire = encode(SUBMIT_RESP)
    rows = [
        ("encode submit_sm", rate(lambda: encode(SUBMIT), seconds)),
        ("decode submit_sm", rate(lambda: decode(submit_wire), seconds)),
        ("encode submit_sm_resp", rate(lambda: encode(SUBMIT_RESP), seconds)),
        ("decode submit_sm_resp", rate(lambda: decode(resp_wire), seconds)),
        ("PduReader submit_sm (4 KiB reads)", framing_rate(seconds)),
        ("session pair submit round trip", session_rate(seconds)),
    ]
    print(f"submit_sm is {len(submit_wire)} bytes, submit_sm_resp {len(resp_wire)} bytes")
    width = max(len(name) for name, _ in rows)
    for name, ops in rows:
        print(f"{name:<{width}}  {ops:>12,.0f} /s  {1e6 / ops:6.2f} µs")


if __name__ == "__main__":
    main()
