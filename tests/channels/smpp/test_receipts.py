"""Delivery receipts as operators really send them, and as the simulator writes them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seva.channels.smpp.pdu import DataSm, DeliverSm
from seva.channels.smpp.receipts import (
    DeliveryReceipt,
    format_receipt,
    id_candidates,
    parse_receipt,
)

# As received from an Indian operator SMSC (Appendix B layout, capitalised "Text:").
REAL_WORLD = (
    b"id:1387230012 sub:001 dlvrd:001 submit date:2311271614 done date:2311271615 "
    b"stat:DELIVRD err:000 Text:Your ration card 1"
)


def receipt_pdu(text: bytes, **fields: Any) -> DeliverSm:
    fields.setdefault("esm_class", 0x04)
    return DeliverSm(
        source_addr="919811000101", destination_addr="SEVA", short_message=text, **fields
    )


def test_real_world_receipt() -> None:
    receipt = parse_receipt(receipt_pdu(REAL_WORLD))
    assert receipt == DeliveryReceipt(
        message_id="1387230012",
        state="DELIVRD",
        submitted=1,
        delivered=1,
        submit_date="2311271614",
        done_date="2311271615",
        error="000",
        text="Your ration card 1",
    )
    assert receipt.final
    assert receipt.delivered_ok


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            b"ID:7F3A9C SUB:1 DLVRD:0 SUBMIT DATE:231127161402 DONE DATE:231127161502 "
            b"STAT:UNDELIV ERR:034 TEXT:hello",
            {"message_id": "7F3A9C", "state": "UNDELIV", "error": "034", "text": "hello"},
        ),
        (
            b"id:42 submit_date:2311271614 done_date:2311271615 stat:DELIVERED err:0",
            {"message_id": "42", "state": "DELIVRD", "submit_date": "2311271614", "text": ""},
        ),
        (b"id:abc stat:EXPIRED", {"state": "EXPIRED", "submitted": 0, "done_date": ""}),
        (b"id:abc stat:ENROUTE text:id:999 stat:DELIVRD", {"state": "ENROUTE"}),
        (b"id:abc stat:WHATEVER", {"state": "UNKNOWN"}),
        (b"id:abc sub:xyz dlvrd:-3 stat:REJECTD", {"submitted": 0, "delivered": 0}),
    ],
    ids=[
        "upper-case",
        "underscored-dates",
        "missing-fields",
        "text-looks-like-keys",
        "odd-state",
        "bad-counts",
    ],
)
def test_receipt_text_variants(text: bytes, expected: dict[str, object]) -> None:
    receipt = parse_receipt(receipt_pdu(text))
    assert receipt is not None
    for name, value in expected.items():
        assert getattr(receipt, name) == value, name


def test_enroute_is_not_final() -> None:
    receipt = parse_receipt(receipt_pdu(b"id:1 stat:ENROUTE", esm_class=0x20))
    assert receipt is not None
    assert not receipt.final
    assert not receipt.delivered_ok


def test_tlvs_win_over_the_text() -> None:
    receipt = parse_receipt(
        receipt_pdu(
            b"id:1387230012 stat:DELIVRD",
            receipted_message_id="52a9c1f0",
            message_state=5,
            network_error_code=b"\x03\x00\x22",
        )
    )
    assert receipt is not None
    assert receipt.message_id == "52a9c1f0"
    assert receipt.state == "UNDELIV"
    assert receipt.error == "034"


def test_receipt_in_data_sm_payload() -> None:
    pdu = DataSm(esm_class=0x04, source_addr="919811000101", message_payload=REAL_WORLD)
    receipt = parse_receipt(pdu)
    assert receipt is not None
    assert receipt.message_id == "1387230012"


def test_ucs2_receipt_text() -> None:
    receipt = parse_receipt(receipt_pdu("id:77 stat:DELIVRD".encode("utf-16-be"), data_coding=8))
    assert receipt is not None
    assert (receipt.message_id, receipt.state) == ("77", "DELIVRD")


def test_mobile_originated_message_is_not_a_receipt() -> None:
    assert parse_receipt(receipt_pdu(REAL_WORLD, esm_class=0x00)) is None
    assert parse_receipt(receipt_pdu(REAL_WORLD, esm_class=0x40)) is None


def test_receipt_without_any_id_is_none() -> None:
    assert parse_receipt(receipt_pdu(b"stat:DELIVRD err:000")) is None


def test_format_then_parse_round_trip() -> None:
    receipt = DeliveryReceipt(
        message_id="5f1e0c",
        state="DELIVRD",
        submitted=1,
        delivered=1,
        submit_date="2311271614",
        done_date="2311271615",
        error="000",
        text="Appointment confirmed for Monday",
    )
    wire = format_receipt(receipt)
    assert wire == (
        b"id:5f1e0c sub:001 dlvrd:001 submit date:2311271614 done date:2311271615 "
        b"stat:DELIVRD err:000 text:Appointment confirme"
    )
    parsed = parse_receipt(receipt_pdu(wire))
    assert parsed == DeliveryReceipt(
        message_id="5f1e0c",
        state="DELIVRD",
        submitted=1,
        delivered=1,
        submit_date="2311271614",
        done_date="2311271615",
        error="000",
        text="Appointment confirme",
    )


def test_id_candidates_cover_hex_and_decimal_forms() -> None:
    assert {"1387230012", "52af733c", "52AF733C"} <= set(id_candidates("1387230012"))
    assert "1387230012" in id_candidates("52AF733C")
    assert "123" in id_candidates("000123")
    assert id_candidates("msg-1") == ("msg-1",)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=254), st.integers(0, 255), st.sampled_from([0x04, 0x20, 0x3C]))
def test_garbage_never_raises(body: bytes, data_coding: int, esm_class: int) -> None:
    receipt = parse_receipt(receipt_pdu(body, data_coding=data_coding, esm_class=esm_class))
    assert receipt is None or receipt.message_id
