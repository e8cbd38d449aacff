"""SMPP v3.4 PDU codec: known bytes, round trips, framing, and nothing but PduError on bad input."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    Pdu,
    PduError,
    PduReader,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Unbind,
    UnbindResp,
    command_name,
    decode,
    encode,
    response_class,
    status_name,
    with_sequence_number,
)

ALL_CLASSES: list[type[Pdu]] = [
    BindTransmitter,
    BindReceiver,
    BindTransceiver,
    BindTransmitterResp,
    BindReceiverResp,
    BindTransceiverResp,
    SubmitSm,
    SubmitSmResp,
    DeliverSm,
    DeliverSmResp,
    DataSm,
    DataSmResp,
    QuerySm,
    QuerySmResp,
    EnquireLink,
    EnquireLinkResp,
    Unbind,
    UnbindResp,
    GenericNack,
]

# --- known answers, encoded by hand from the spec's tables --------------------------------

SUBMIT_SM_HEX = (
    "00000036"  # command_length 54
    "00000004"  # submit_sm
    "00000000"  # command_status
    "00000001"  # sequence_number
    "00"  # service_type ""
    "0500"  # source_addr_ton alphanumeric, npi unknown
    "5345564100"  # source_addr "SEVA"
    "0101"  # dest_addr_ton international, npi E.164
    "39313938313130303031303100"  # destination_addr "919811000101"
    "000000"  # esm_class, protocol_id, priority_flag
    "00"  # schedule_delivery_time ""
    "00"  # validity_period ""
    "01000000"  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
    "05"  # sm_length
    "48656c6c6f"  # "Hello"
)

BIND_TRANSMITTER_HEX = (
    "00000021"  # command_length 33
    "00000002"  # bind_transmitter
    "00000000"
    "00000001"
    "7365766100"  # system_id "seva"
    "73656372657400"  # password "secret"
    "00"  # system_type ""
    "34"  # interface_version 3.4
    "00"  # addr_ton
    "00"  # addr_npi
    "00"  # address_range ""
)


def test_submit_sm_known_bytes() -> None:
    pdu = SubmitSm(
        sequence_number=1,
        source_addr_ton=5,
        source_addr="SEVA",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="919811000101",
        registered_delivery=1,
        short_message=b"Hello",
    )
    assert encode(pdu).hex() == SUBMIT_SM_HEX
    assert decode(bytes.fromhex(SUBMIT_SM_HEX)) == pdu


def test_bind_transmitter_known_bytes() -> None:
    pdu = BindTransmitter(sequence_number=1, system_id="seva", password="secret")
    assert encode(pdu).hex() == BIND_TRANSMITTER_HEX
    assert decode(bytes.fromhex(BIND_TRANSMITTER_HEX)) == pdu


def test_submit_sm_resp_and_enquire_link_known_bytes() -> None:
    resp = SubmitSmResp(sequence_number=7, message_id="ab12")
    assert encode(resp) == bytes.fromhex("00000015800000040000000000000007") + b"ab12\0"
    assert encode(EnquireLink(sequence_number=2)).hex() == "00000010000000150000000000000002"


def test_deliver_sm_receipt_with_tlvs_known_bytes() -> None:
    wire = bytes.fromhex(
        "00000000"
        "00000005"
        "00000000"
        "0000002a"  # length patched below
        "00"
        "0101"
        "39313938313130303031303100"
        "0500"
        "5345564100"
        "04"
        "00"
        "00"
        "00"
        "00"
        "00"
        "00"
        "00"
        "00"
        "03"
        "616263"  # sm_length 3, "abc"
        "001e"
        "0005"
        "3745463100"  # receipted_message_id "7EF1"
        "0427"
        "0001"
        "02"  # message_state DELIVERED
        "1403"
        "0002"
        "beef"  # a vendor TLV, kept
    )
    wire = len(wire).to_bytes(4, "big") + wire[4:]
    pdu = decode(wire)
    assert isinstance(pdu, DeliverSm)
    assert pdu.sequence_number == 42
    assert pdu.source_addr == "919811000101"
    assert pdu.destination_addr == "SEVA"
    assert pdu.esm_class == 0x04
    assert pdu.short_message == b"abc"
    assert pdu.receipted_message_id == "7EF1"
    assert pdu.message_state == 2
    assert pdu.other_tlvs == ((0x1403, b"\xbe\xef"),)
    assert encode(pdu) == wire


def test_error_response_without_body_decodes() -> None:
    wire = bytes.fromhex("00000010800000040000005800000009")
    pdu = decode(wire)
    assert pdu == SubmitSmResp(sequence_number=9, command_status=CommandStatus.ESME_RTHROTTLED)


def test_unknown_status_values_keep_their_number() -> None:
    pdu = decode(bytes.fromhex("00000011800000040000042300000003") + b"\0")
    assert pdu.command_status == 0x423
    assert status_name(0x423) == "status 0x00000423"
    assert status_name(0x58) == "ESME_RTHROTTLED"


def test_receipted_message_id_without_nul_is_accepted() -> None:
    body = DeliverSm(esm_class=4, source_addr="1", short_message=b"x")
    wire = encode(body) + bytes.fromhex("001e0004") + b"7EF1"
    wire = len(wire).to_bytes(4, "big") + wire[4:]
    pdu = decode(wire)
    assert isinstance(pdu, DeliverSm)
    assert pdu.receipted_message_id == "7EF1"


# --- validation on construction -----------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [
        (BindTransmitter, "system_id", "x" * 16),
        (BindTransmitter, "password", "x" * 9),
        (BindTransmitter, "system_type", "x" * 13),
        (SubmitSm, "source_addr", "9" * 21),
        (SubmitSm, "destination_addr", "9" * 21),
        (SubmitSm, "service_type", "x" * 6),
        (SubmitSm, "short_message", b"x" * 255),
        (SubmitSm, "schedule_delivery_time", "2401"),
        (SubmitSm, "source_addr", "सेवा"),
        (SubmitSm, "source_addr", "a\0b"),
        (SubmitSm, "data_coding", 256),
        (SubmitSm, "esm_class", -1),
        (SubmitSm, "sar_msg_ref_num", 0x10000),
        (SubmitSm, "network_error_code", b"\x00\x01"),
        (SubmitSm, "other_tlvs", ((Tag.MESSAGE_PAYLOAD, b"x"),)),
        (SubmitSm, "sequence_number", 2**32),
        (SubmitSmResp, "message_id", "x" * 65),
        (DataSm, "source_addr", "9" * 65),
        (QuerySmResp, "message_state", 300),
    ],
)
def test_construction_rejects_out_of_spec_values(cls: type[Pdu], field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field if field != "other_tlvs" else "own field"):
        cls(**{field: value})


def test_bind_repr_hides_the_password() -> None:
    assert "secret" not in repr(BindTransmitter(system_id="seva", password="secret"))


def test_data_sm_allows_longer_addresses_than_submit_sm() -> None:
    pdu = DataSm(source_addr="9" * 64, destination_addr="8" * 64, message_payload=b"hi")
    assert decode(encode(pdu)) == pdu


# --- decode errors carry the status to answer with ----------------------------------------


def _with_length(wire: bytes) -> bytes:
    return len(wire).to_bytes(4, "big") + wire[4:]


def test_unknown_command_id_is_rinvcmdid() -> None:
    with pytest.raises(PduError) as caught:
        decode(bytes.fromhex("00000010000000080000000000000005"))  # cancel_sm
    assert caught.value.command_status == CommandStatus.ESME_RINVCMDID
    assert caught.value.command_id == CommandId.CANCEL_SM
    assert caught.value.sequence_number == 5
    assert "cancel_sm" in str(caught.value)


@pytest.mark.parametrize(
    ("wire", "status"),
    [
        # source_addr of 21 characters
        (
            encode(SubmitSm(sequence_number=3, source_addr="9" * 20)).replace(b"9" * 20, b"9" * 21),
            CommandStatus.ESME_RINVSRCADR,
        ),
        # sm_length runs past the end
        (
            encode(SubmitSm(sequence_number=3, short_message=b"abc"))[:-1],
            CommandStatus.ESME_RINVMSGLEN,
        ),
        # TLV overrun
        (
            encode(SubmitSm(sequence_number=3)) + bytes.fromhex("04240010") + b"abc",
            CommandStatus.ESME_RINVOPTPARSTREAM,
        ),
        # typed TLV of the wrong size
        (
            encode(SubmitSm(sequence_number=3)) + bytes.fromhex("020c0001") + b"\x01",
            CommandStatus.ESME_RINVPARLEN,
        ),
        # body cut inside the C-strings
        (encode(SubmitSm(sequence_number=3))[:18], CommandStatus.ESME_RINVCMDLEN),
        # password not NUL-terminated
        (
            encode(BindTransmitter(sequence_number=3, system_id="a"))[:18],
            CommandStatus.ESME_RINVCMDLEN,
        ),
        # non-ASCII system_id
        (
            encode(BindTransmitter(sequence_number=3, system_id="ab")).replace(b"ab", b"\xe9b"),
            CommandStatus.ESME_RINVSYSID,
        ),
        # enquire_link with a body
        (encode(EnquireLink(sequence_number=3)) + b"\0", CommandStatus.ESME_RINVCMDLEN),
    ],
    ids=[
        "long-source-addr",
        "sm-length-overrun",
        "tlv-overrun",
        "tlv-size",
        "truncated",
        "missing-nul",
        "non-ascii",
        "enquire-link-body",
    ],
)
def test_malformed_body_gives_the_status_to_answer(wire: bytes, status: int) -> None:
    with pytest.raises(PduError) as caught:
        decode(_with_length(wire))
    assert caught.value.command_status == status
    assert caught.value.sequence_number == 3


def test_length_mismatch_is_rinvcmdlen() -> None:
    wire = encode(EnquireLink(sequence_number=1))
    with pytest.raises(PduError) as caught:
        decode(wire + b"\0")
    assert caught.value.command_status == CommandStatus.ESME_RINVCMDLEN
    with pytest.raises(PduError):
        decode(wire[:10])


def test_response_class_pairs_requests_with_responses() -> None:
    assert response_class(CommandId.SUBMIT_SM) is SubmitSmResp
    assert response_class(CommandId.BIND_TRANSCEIVER) is BindTransceiverResp
    assert response_class(CommandId.SUBMIT_SM_RESP) is None
    assert response_class(0x1234) is None
    assert command_name(CommandId.DATA_SM) == "data_sm"
    assert command_name(0x77) == "command_id 0x00000077"


# --- round trips --------------------------------------------------------------------------

ASCII = st.characters(min_codepoint=1, max_codepoint=127)
OCTET = st.integers(0, 0xFF)
U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)
SMPP_TIME = st.one_of(st.just(""), st.text(alphabet="0123456789+-R", min_size=16, max_size=16))


def _cstr(limit: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=ASCII, max_size=limit)


TYPED_TAGS = {
    0x0424, 0x020C, 0x020E, 0x020F, 0x001E, 0x0427, 0x0204, 0x0423, 0x0210, 0x0425,
}  # fmt: skip

OTHER_TLVS = st.lists(
    st.tuples(U16.filter(lambda tag: tag not in TYPED_TAGS), st.binary(max_size=20)),
    max_size=3,
).map(tuple)

FIELD_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "sequence_number": U32,
    "command_status": U32,
    "system_id": _cstr(15),
    "password": _cstr(8),
    "system_type": _cstr(12),
    "address_range": _cstr(40),
    "service_type": _cstr(5),
    "source_addr": _cstr(20),
    "destination_addr": _cstr(20),
    "message_id": _cstr(64),
    "schedule_delivery_time": SMPP_TIME,
    "validity_period": SMPP_TIME,
    "final_date": SMPP_TIME,
    "short_message": st.binary(max_size=254),
    "message_payload": st.none() | st.binary(max_size=400),
    "sar_msg_ref_num": st.none() | U16,
    "sar_total_segments": st.none() | OCTET,
    "sar_segment_seqnum": st.none() | OCTET,
    "receipted_message_id": st.none() | _cstr(64),
    "message_state": st.none() | OCTET,
    "user_message_reference": st.none() | U16,
    "network_error_code": st.none() | st.binary(min_size=3, max_size=3),
    "sc_interface_version": st.none() | OCTET,
    "delivery_failure_reason": st.none() | OCTET,
    "other_tlvs": OTHER_TLVS,
}
OVERRIDES: dict[tuple[type[Pdu], str], st.SearchStrategy[Any]] = {
    (DataSm, "source_addr"): _cstr(64),
    (DataSm, "destination_addr"): _cstr(64),
    (QuerySmResp, "message_state"): OCTET,
}


def pdu_strategy(cls: type[Pdu]) -> st.SearchStrategy[Pdu]:
    fields = {
        f.name: OVERRIDES.get((cls, f.name), FIELD_STRATEGIES.get(f.name, OCTET))
        for f in dataclasses.fields(cls)
    }
    return st.fixed_dictionaries(fields).map(lambda kwargs: cls(**kwargs))


ANY_PDU = st.one_of([pdu_strategy(cls) for cls in ALL_CLASSES])


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda cls: cls.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_encode_decode_round_trip(cls: type[Pdu], data: st.DataObject) -> None:
    pdu = data.draw(pdu_strategy(cls))
    wire = encode(pdu)
    assert int.from_bytes(wire[:4], "big") == len(wire)
    assert decode(wire) == pdu


@settings(max_examples=100, deadline=None)
@given(ANY_PDU, U32)
def test_with_sequence_number_is_replace(pdu: Pdu, number: int) -> None:
    renumbered = with_sequence_number(pdu, number)
    assert renumbered == dataclasses.replace(pdu, sequence_number=number)
    assert type(renumbered) is type(pdu)
    assert decode(encode(renumbered)).sequence_number == number


def test_round_trip_with_every_typed_tlv() -> None:
    pdu = SubmitSm(
        source_addr="SEVA",
        destination_addr="919811000101",
        message_payload="नमस्ते".encode("utf-16-be"),
        sar_msg_ref_num=0xBEEF,
        sar_total_segments=3,
        sar_segment_seqnum=2,
        receipted_message_id="7EF1",
        message_state=2,
        user_message_reference=513,
        network_error_code=b"\x03\x00\x45",
        other_tlvs=((Tag.SOURCE_PORT, b"\x0b\x84"),),
    )
    assert decode(encode(pdu)) == pdu
    assert decode(encode(dataclasses.replace(pdu, other_tlvs=()))).other_tlvs == ()


# --- stream framing -----------------------------------------------------------------------


def _read_all(reader: PduReader) -> list[Pdu | PduError]:
    out: list[Pdu | PduError] = []
    for _ in range(100_000):
        item = reader.next_pdu()
        if item is None:
            return out
        out.append(item)
    raise AssertionError("reader never ran dry")


def _read_whole(stream: bytes) -> list[Pdu | PduError]:
    reader = PduReader()
    reader.feed(stream)
    return _read_all(reader)


def _read_bytewise(stream: bytes) -> list[Pdu | PduError]:
    reader = PduReader()
    out: list[Pdu | PduError] = []
    for index in range(len(stream)):
        reader.feed(stream[index : index + 1])
        out.extend(_read_all(reader))
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(ANY_PDU, max_size=6))
def test_bytewise_and_whole_feeding_give_the_same_pdus(pdus: list[Pdu]) -> None:
    stream = b"".join(encode(pdu) for pdu in pdus)
    assert _read_whole(stream) == pdus
    assert _read_bytewise(stream) == pdus


def test_bad_body_is_skipped_and_the_stream_goes_on() -> None:
    bad = bytes.fromhex("00000011000000150000000000000004") + b"\0"  # enquire_link+body
    good = encode(EnquireLink(sequence_number=5))
    for results in (_read_whole(bad + good), _read_bytewise(bad + good)):
        assert isinstance(results[0], PduError)
        assert results[0].sequence_number == 4
        assert results[1] == EnquireLink(sequence_number=5)


@pytest.mark.parametrize("length", [0, 15, 65537])
def test_bad_command_length_breaks_the_reader(length: int) -> None:
    reader = PduReader(max_command_length=65536)
    reader.feed(length.to_bytes(4, "big") + bytes.fromhex("00000004000000000000000b"))
    error = reader.next_pdu()
    assert isinstance(error, PduError)
    assert error.command_status == CommandStatus.ESME_RINVCMDLEN
    assert error.sequence_number == 11
    assert reader.broken
    reader.feed(encode(EnquireLink(sequence_number=1)))
    assert reader.next_pdu() is None


def test_partial_header_waits_for_more() -> None:
    reader = PduReader()
    wire = encode(SubmitSmResp(sequence_number=1, message_id="x"))
    reader.feed(wire[:15])
    assert reader.next_pdu() is None
    reader.feed(wire[15:])
    assert reader.next_pdu() == SubmitSmResp(sequence_number=1, message_id="x")
    assert reader.buffered == 0


def test_reader_compacts_on_long_streams() -> None:
    reader = PduReader()
    one = encode(SubmitSmResp(sequence_number=1, message_id="x" * 40))
    count = 5000
    reader.feed(one * count)
    reader.feed(one[:10])
    assert len(_read_all(reader)) == count
    assert reader.buffered == 10


# --- fuzz ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_decode_only_raises_pdu_error(data: bytes) -> None:
    try:
        decode(data)
    except PduError:
        pass


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    wire = bytearray(encode(draw(ANY_PDU)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "grow", "length"]))
        if kind == "flip" and wire:
            wire[draw(st.integers(0, len(wire) - 1))] = draw(OCTET)
        elif kind == "cut":
            del wire[draw(st.integers(0, len(wire))) :]
        elif kind == "grow":
            wire += draw(st.binary(min_size=1, max_size=8))
        elif kind == "length" and len(wire) >= 4:
            wire[:4] = len(wire).to_bytes(4, "big")
    return bytes(wire)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_pdus_only_raise_pdu_error(data: bytes) -> None:
    try:
        pdu = decode(data)
    except PduError as exc:
        assert exc.command_status != CommandStatus.ESME_ROK
    else:
        assert decode(encode(pdu)) == pdu


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(mutated(), st.binary(max_size=40)), max_size=5))
def test_reader_never_raises_on_garbage(chunks: list[bytes]) -> None:
    reader = PduReader(max_command_length=4096)
    for chunk in chunks:
        reader.feed(chunk)
        for item in _read_all(reader):
            assert isinstance(item, PduError) or type(item) in ALL_CLASSES
