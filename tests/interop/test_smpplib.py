"""A third-party SMPP client (python-smpplib) against Seva's SMSC simulator.

smpplib is an independent ESME implementation: if it can bind, send a long Hindi message split
its own way (``smpplib.gsm.make_parts``: UCS-2 with an 8-bit concatenation UDH) and read the
delivery receipts, the simulator speaks SMPP 3.4 as other software understands it, not just as
Seva's own codec does. smpplib is blocking, so it runs in a worker thread with socket timeouts
and a deadline; the simulator runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from seva.channels.smpp.asyncio.simulator import SimConfig, SmscSimulator

smpplib_client = pytest.importorskip("smpplib.client")
smpplib_consts = pytest.importorskip("smpplib.consts")
smpplib_gsm = pytest.importorskip("smpplib.gsm")

pytestmark = pytest.mark.asyncio

HINDI = (
    "आपका राशन कार्ड तैयार है। कृपया उचित मूल्य की दुकान से अपना अनाज ले लें। "
    "अधिक जानकारी के लिए 166 पर कॉल करें। धन्यवाद।"
)
PHONE = "919812345678"
DEADLINE = 20.0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def send_and_collect_receipts(host: str, port: int) -> dict[str, Any]:
    """Bind as transceiver, submit every part, read until each part's receipt is in."""
    client = smpplib_client.Client(host, port, timeout=2, allow_unknown_opt_params=True)
    submitted: list[str] = []
    receipts: list[dict[str, Any]] = []

    def on_sent(pdu: Any, **_: Any) -> None:
        submitted.append(_text(pdu.message_id))

    def on_received(pdu: Any, **_: Any) -> None:
        receipts.append(
            {
                "esm_class": pdu.esm_class,
                "receipted_message_id": _text(pdu.receipted_message_id),
                "message_state": pdu.message_state,
                "text": _text(pdu.short_message),
            }
        )

    client.set_message_sent_handler(on_sent)
    client.set_message_received_handler(on_received)
    client.connect()
    try:
        client.bind_transceiver(system_id="seva", password="secret")
        parts, coding, esm_class = smpplib_gsm.make_parts(HINDI)
        for part in parts:
            client.send_message(
                source_addr_ton=smpplib_consts.SMPP_TON_ALNUM,
                source_addr_npi=smpplib_consts.SMPP_NPI_UNK,
                source_addr="SEVA",
                dest_addr_ton=smpplib_consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib_consts.SMPP_NPI_ISDN,
                destination_addr=PHONE,
                short_message=part,
                data_coding=coding,
                esm_class=esm_class,
                registered_delivery=True,
            )
        deadline = time.monotonic() + DEADLINE
        while len(receipts) < len(parts) and time.monotonic() < deadline:
            client.read_once()
        client.unbind()
    finally:
        client.disconnect()
    return {"parts": len(parts), "coding": coding, "submitted": submitted, "receipts": receipts}


async def test_smpplib_sends_long_hindi_and_receives_receipts() -> None:
    sim = SmscSimulator(SimConfig(receipt_delay=0.05, accounts={"seva": "secret"}))
    host, port = await sim.start("127.0.0.1", 0)
    try:
        result = await asyncio.wait_for(
            asyncio.to_thread(send_and_collect_receipts, host, port), DEADLINE + 10
        )
        (received,) = sim.messages_to(PHONE)
    finally:
        await sim.stop()

    assert result["coding"] == smpplib_consts.SMPP_ENCODING_ISO10646
    assert result["parts"] > 1
    # The simulator put smpplib's parts back together.
    assert received.text == HINDI
    assert received.parts == result["parts"]
    assert received.source == "SEVA"
    # smpplib got an id per part and a receipt naming each one.
    assert len(set(result["submitted"])) == result["parts"]
    assert sorted(r["receipted_message_id"] for r in result["receipts"]) == sorted(
        result["submitted"]
    )
    for receipt in result["receipts"]:
        assert receipt["esm_class"] == 0x04  # §5.2.12 SMSC delivery receipt (no smpplib name)
        assert receipt["message_state"] == smpplib_consts.SMPP_MESSAGE_STATE_DELIVERED
        assert "stat:DELIVRD" in receipt["text"]
        assert f"id:{receipt['receipted_message_id']} " in receipt["text"]
