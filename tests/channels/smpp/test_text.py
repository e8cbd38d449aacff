"""GSM 7-bit / UCS-2 text, splitting into parts, and putting incoming parts back together."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seva.channels.smpp.pdu import DeliverSm
from seva.sms_text import (
    GSM7,
    UCS2,
    Incomplete,
    Reassembler,
    Segment,
    decode_gsm7,
    decode_text,
    encode_gsm7,
    encode_text,
    is_gsm7,
    join,
    segment_count,
    split,
    split_sar,
)

HINDI = (
    "आपका राशन कार्ड 1234567890 सक्रिय है। आपकी उचित मूल्य की दुकान संख्या 12, मुख्य बाज़ार, "
    "वार्ड 7 है। इस महीने का गेहूँ और चावल 15 तारीख से मिलेगा। अधिक जानकारी के लिए 1967 पर "
    "कॉल करें या सेवा केंद्र पर जाएँ। धन्यवाद।"
)


# --- GSM 03.38 ----------------------------------------------------------------------------


def test_extension_characters_go_as_escape_pairs() -> None:
    assert encode_gsm7("€") == b"\x1b\x65"
    assert encode_gsm7("[") == b"\x1b\x3c"
    assert encode_gsm7("^") == b"\x1b\x14"
    assert encode_gsm7("a€[^]") == b"a\x1b\x65\x1b\x3c\x1b\x14\x1b\x3e"
    assert decode_gsm7(b"a\x1b\x65\x1b\x3c\x1b\x14\x1b\x3e") == "a€[^]"


def test_basic_table_differs_from_ascii_where_the_standard_says() -> None:
    assert encode_gsm7("@$_£") == b"\x00\x02\x11\x01"
    assert decode_gsm7(b"\x00\x02\x11\x01\x24") == "@$_£¤"


def test_decode_gsm7_tolerates_odd_input() -> None:
    assert decode_gsm7(b"\x1b\x41") == "A"  # unknown escape: the basic character
    assert decode_gsm7(b"ok\x1b") == "ok"  # dangling escape dropped
    assert decode_gsm7(b"\xff") == "\ufffd"


def test_text_outside_gsm_goes_as_ucs2() -> None:
    assert is_gsm7("Hello {world} €5")
    assert not is_gsm7("नमस्ते")
    assert not is_gsm7("ç")  # only capital Ç is in the table
    assert encode_text("नमस्ते") == (UCS2, "नमस्ते".encode("utf-16-be"))
    assert encode_text("Hi €") == (GSM7, b"Hi \x1b\x65")
    coding, data = encode_text("ok 😀")
    assert coding == UCS2
    assert data[-4:] == bytes.fromhex("d83dde00")  # a surrogate pair
    with pytest.raises(ValueError, match="U\\+0928"):
        encode_gsm7("न")


@pytest.mark.parametrize(
    ("coding", "data", "text"),
    [
        (0x00, b"\x00bc", "@bc"),
        (0x01, b"@bc", "@bc"),
        (0x03, b"caf\xe9", "café"),
        (0x08, "नमस्ते".encode("utf-16-be"), "नमस्ते"),
        (0x18, "नमस्ते".encode("utf-16-be"), "नमस्ते"),  # general group, UCS-2, class 0
        (0xF0, b"\x00", "@"),  # message class group, GSM 7-bit
        (0xE0, "नमस्ते".encode("utf-16-be"), "नमस्ते"),  # message waiting, UCS-2
        (0x44, b"\xe9", "é"),  # general group, 8-bit data
        (0x04, b"\xff\x00", "ÿ\x00"),  # binary: nothing dropped
        (0x08, b"\x00A\x00", "A\ufffd"),  # odd length
    ],
)
def test_decode_text_by_data_coding(coding: int, data: bytes, text: str) -> None:
    assert decode_text(coding, data) == text


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=200))
def test_decode_text_never_raises(coding: int, data: bytes) -> None:
    assert isinstance(decode_text(coding, data), str)


# --- segmentation -------------------------------------------------------------------------


def test_gsm_single_part_up_to_160_septets() -> None:
    assert segment_count("a" * 160) == 1
    assert segment_count("a" * 161) == 2
    assert segment_count("a" * 159 + "€") == 2  # the euro sign is two septets
    assert segment_count("a" * 158 + "€") == 1
    assert segment_count("a" * 306) == 2
    assert segment_count("a" * 307) == 3
    assert segment_count("") == 1


def test_gsm_parts_are_153_septets_and_never_split_an_escape_pair() -> None:
    text = "a" * 152 + "€" + "b" * 10
    parts = split(text, reference=9)
    assert [part.short_message[:6] for part in parts] == [
        bytes.fromhex("050003090201"),
        bytes.fromhex("050003090202"),
    ]
    assert parts[0].short_message[6:] == b"a" * 152  # the euro moved whole to part two
    assert parts[1].short_message[6:8] == b"\x1b\x65"
    assert all(part.esm_class == 0x40 and part.data_coding == GSM7 for part in parts)
    assert parts[0].air_octets <= 140


def test_hindi_long_message_is_split_into_67_unit_parts() -> None:
    assert len(HINDI) > 140
    parts = split(HINDI, reference=0xA7)
    assert len(parts) == math.ceil(len(HINDI) / 67) == segment_count(HINDI)
    for number, part in enumerate(parts, start=1):
        assert part.data_coding == UCS2
        assert part.esm_class == 0x40
        assert part.short_message[:6] == bytes((5, 0, 3, 0xA7, len(parts), number))
        assert len(part.short_message) <= 140
    assert [len(part.short_message) - 6 for part in parts[:-1]] == [134] * (len(parts) - 1)
    assert join(parts) == HINDI


def test_ucs2_single_part_up_to_70_units_and_emoji_count_two() -> None:
    assert segment_count("क" * 70) == 1
    assert segment_count("क" * 71) == 2
    assert segment_count("क" * 69 + "😀") == 2
    parts = split("क" * 66 + "😀" + "ख" * 10, reference=1)
    assert parts[0].short_message[6:] == ("क" * 66).encode("utf-16-be")  # pair not split
    assert parts[1].short_message[6:10] == "😀".encode("utf-16-be")


def test_short_text_is_one_segment_without_udh() -> None:
    assert split("Your OTP is 4821", reference=3) == [
        Segment(
            data_coding=GSM7,
            esm_class=0,
            short_message=b"Your OTP is 4821",
            seqnum=1,
            total=1,
            reference=3,
        )
    ]


def test_split_rejects_bad_reference_and_too_many_parts() -> None:
    with pytest.raises(ValueError, match=r"0\.\.255"):
        split("x", reference=256)
    with pytest.raises(ValueError, match="at most 255"):
        split("x" * 153 * 256, reference=1)


def test_split_sar_has_no_udh_and_a_16_bit_reference() -> None:
    parts = split_sar(HINDI, reference=0xBEEF)
    assert len(parts) == segment_count(HINDI)
    assert all(part.esm_class == 0 and part.reference == 0xBEEF for part in parts)
    assert b"".join(part.short_message for part in parts) == HINDI.encode("utf-16-be")
    assert join(parts) == HINDI


SAMPLE_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from("abc XYZ019@£$¥èÇ\n€[]^{}|~\\"),
        st.characters(min_codepoint=0x0900, max_codepoint=0x097F),  # Devanagari
        st.sampled_from("😀🙏🇮🇳"),
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
    ),
    max_size=700,
)


@settings(max_examples=150, deadline=None)
@given(SAMPLE_TEXT, st.integers(0, 255))
def test_split_then_reassemble_gives_the_text_back(text: str, reference: int) -> None:
    parts = split(text, reference=reference)
    assert len(parts) == segment_count(text)
    for part in parts:
        assert part.air_octets <= 140
        if part.data_coding == UCS2:
            assert len(part.short_message) <= 140
        else:
            assert len(part.short_message) <= 160
    reassembler = Reassembler()
    results = [
        reassembler.add(
            source="919811000101",
            short_message=part.short_message,
            data_coding=part.data_coding,
            esm_class=part.esm_class,
            now=0.0,
        )
        for part in reversed(parts)
    ]
    assert results[-1] == text
    assert results[:-1] == [None] * (len(parts) - 1)
    assert reassembler.pending == 0


@settings(max_examples=60, deadline=None)
@given(SAMPLE_TEXT, st.integers(0, 0xFFFF))
def test_split_sar_then_reassemble_gives_the_text_back(text: str, reference: int) -> None:
    parts = split_sar(text, reference=reference)
    reassembler = Reassembler()
    out = None
    for part in parts:
        out = reassembler.add(
            source="s",
            short_message=part.short_message,
            data_coding=part.data_coding,
            sar_msg_ref_num=part.reference if part.total > 1 else None,
            sar_total_segments=part.total if part.total > 1 else None,
            sar_segment_seqnum=part.seqnum if part.total > 1 else None,
            now=0.0,
        )
    assert out == text


# --- reassembly ---------------------------------------------------------------------------


def test_sixteen_bit_udh_parts_are_joined() -> None:
    reassembler = Reassembler()
    first = bytes.fromhex("060804beef0201") + b"Hello, "
    second = bytes.fromhex("060804beef0202") + b"world"
    assert reassembler.add(source="a", short_message=second, esm_class=0x40, now=0) is None
    assert reassembler.add(source="a", short_message=first, esm_class=0x40, now=1) == (
        "Hello, world"
    )


def test_parts_from_different_senders_do_not_mix() -> None:
    reassembler = Reassembler()
    udh1 = bytes.fromhex("0500030702") + b"\x01"
    udh2 = bytes.fromhex("0500030702") + b"\x02"
    assert reassembler.add(source="a", short_message=udh1 + b"A1", esm_class=0x40, now=0) is None
    assert reassembler.add(source="b", short_message=udh2 + b"B2", esm_class=0x40, now=0) is None
    assert reassembler.pending == 2
    assert reassembler.add(source="a", short_message=udh2 + b"A2", esm_class=0x40, now=0) == "A1A2"


def test_duplicate_part_does_not_complete_the_message() -> None:
    reassembler = Reassembler()
    part1 = bytes.fromhex("050003070201") + b"A"
    assert reassembler.add(source="a", short_message=part1, esm_class=0x40, now=0) is None
    assert reassembler.add(source="a", short_message=part1, esm_class=0x40, now=0) is None
    assert reassembler.pending == 1


def test_ucs2_surrogate_pair_cut_by_the_sender_is_joined() -> None:
    emoji = "😀".encode("utf-16-be")
    reassembler = Reassembler()
    first = bytes.fromhex("050003010201") + "a".encode("utf-16-be") + emoji[:2]
    second = bytes.fromhex("050003010202") + emoji[2:]
    reassembler.add(source="a", short_message=first, esm_class=0x40, data_coding=UCS2, now=0)
    assert (
        reassembler.add(source="a", short_message=second, esm_class=0x40, data_coding=UCS2, now=0)
        == "a😀"
    )


def test_broken_numbering_is_delivered_as_its_own_message() -> None:
    reassembler = Reassembler()
    bad_seq = bytes.fromhex("050003010203") + b"text"
    assert reassembler.add(source="a", short_message=bad_seq, esm_class=0x40, now=0) == "text"
    overrun = bytes.fromhex("09000301") + b"xy"  # UDH claims 9 octets
    assert reassembler.add(source="a", short_message=overrun, esm_class=0x40, now=0) == (
        decode_gsm7(overrun)
    )


def test_timeout_gives_up_with_the_parts_that_arrived() -> None:
    reassembler = Reassembler(timeout=60.0)
    part = bytes.fromhex("050003050302") + b"middle"
    assert reassembler.add(source="a", short_message=part, esm_class=0x40, now=100.0) is None
    assert reassembler.next_deadline() == 160.0
    assert reassembler.expire(159.0) == []
    assert reassembler.expire(160.0) == [
        Incomplete(source="a", reference=5, total=3, text="middle", missing=(1, 3))
    ]
    assert reassembler.pending == 0
    assert reassembler.next_deadline() is None


def test_pending_messages_are_bounded() -> None:
    reassembler = Reassembler(max_pending=2)
    for reference in range(3):
        udh = bytes((5, 0, 3, reference, 2, 1))
        reassembler.add(source="a", short_message=udh + b"x", esm_class=0x40, now=float(reference))
    assert reassembler.pending == 2
    assert reassembler.next_deadline() == 2.0
    given_up = reassembler.expire(2.0)
    assert [item.reference for item in given_up] == [0]


def test_add_pdu_reads_sar_tlvs_and_message_payload() -> None:
    reassembler = Reassembler()
    one = DeliverSm(
        source_addr="919811000101",
        message_payload=b"Hello ",
        sar_msg_ref_num=300,
        sar_total_segments=2,
        sar_segment_seqnum=1,
    )
    two = DeliverSm(
        source_addr="919811000101",
        short_message=b"again",
        sar_msg_ref_num=300,
        sar_total_segments=2,
        sar_segment_seqnum=2,
    )
    assert reassembler.add_pdu(one, now=0) is None
    assert reassembler.add_pdu(two, now=0) == "Hello again"
