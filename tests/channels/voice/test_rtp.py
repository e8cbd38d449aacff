"""RTP packets, G.711 against audioop, the 20 ms sender and RFC 4733 DTMF reception."""

from __future__ import annotations

import io
import math
import struct
import warnings
import wave
from array import array
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seva.channels.voice import rtp
from seva.channels.voice.rtp import (
    PACKET_SECONDS,
    SAMPLES_PER_PACKET,
    Codec,
    DtmfReceiver,
    Recorder,
    RtpError,
    RtpExtension,
    RtpPacket,
    Sender,
    TelephoneEvent,
    beep,
    decode,
    decode_telephone_event,
)


def _audioop() -> ModuleType | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:  # Python 3.13 and later
            return None
    return audioop


audioop = _audioop()
needs_audioop = pytest.mark.skipif(audioop is None, reason="audioop was removed in Python 3.13")

ALL_SAMPLES = struct.pack("<65536h", *range(-32768, 32768))
ALL_CODES = bytes(range(256))


# --- packets ----------------------------------------------------------------------------------


def test_known_packet_bytes() -> None:
    packet = RtpPacket(
        payload_type=0,
        sequence=0x1234,
        timestamp=0xDEADBEEF,
        ssrc=0x01020304,
        marker=True,
        payload=b"\xff" * 4,
    )
    assert packet.encode().hex() == "80801234deadbeef01020304ffffffff"
    assert decode(packet.encode()) == packet


@pytest.mark.parametrize(
    "packet",
    [
        RtpPacket(payload_type=8, sequence=0, timestamp=0, ssrc=0),
        RtpPacket(
            payload_type=127, sequence=65535, timestamp=2**32 - 1, ssrc=2**32 - 1, marker=True
        ),
        RtpPacket(payload_type=101, sequence=7, timestamp=8, ssrc=9, payload=b"\x05\x0a\x00\xa0"),
        RtpPacket(payload_type=0, sequence=1, timestamp=2, ssrc=3, csrc=(1, 2, 3), payload=b"x"),
        RtpPacket(payload_type=0, sequence=1, timestamp=2, ssrc=3, csrc=tuple(range(15))),
        RtpPacket(
            payload_type=0,
            sequence=1,
            timestamp=2,
            ssrc=3,
            extension=RtpExtension(profile=0xBEDE, data=b"\x10\xaa\x00\x00"),
            payload=b"abc",
        ),
        RtpPacket(
            payload_type=0, sequence=1, timestamp=2, ssrc=3, extension=RtpExtension(profile=1)
        ),
        RtpPacket(payload_type=0, sequence=1, timestamp=2, ssrc=3, payload=b"abc", padding=5),
        RtpPacket(payload_type=0, sequence=1, timestamp=2, ssrc=3, padding=1),
    ],
)
def test_round_trip(packet: RtpPacket) -> None:
    data = packet.encode()
    assert data[0] >> 6 == 2
    assert decode(data) == packet


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "shorter"),
        (bytes.fromhex("8000000100000002000000"), "shorter"),
        (bytes.fromhex("400000010000000200000003"), "version 1"),
        (bytes.fromhex("000000010000000200000003"), "version 0"),
        (bytes.fromhex("820000010000000200000003" + "00000001"), "CSRC"),
        (bytes.fromhex("900000010000000200000003"), "extension"),
        (bytes.fromhex("900000010000000200000003" + "bede0002" + "00000000"), "extension of 2"),
        (bytes.fromhex("a00000010000000200000003" + "00"), "count is 0"),
        (bytes.fromhex("a00000010000000200000003" + "0103"), "overrun"),
    ],
)
def test_bad_packets(data: bytes, match: str) -> None:
    with pytest.raises(RtpError, match=match):
        decode(data)


@pytest.mark.parametrize(
    "fields",
    [
        {"payload_type": 128},
        {"payload_type": -1},
        {"sequence": 65536},
        {"timestamp": 2**32},
        {"ssrc": -1},
        {"csrc": tuple(range(16))},
        {"padding": 256},
    ],
)
def test_construction_is_validated(fields: dict[str, object]) -> None:
    base: dict[str, object] = {"payload_type": 0, "sequence": 0, "timestamp": 0, "ssrc": 0}
    with pytest.raises(ValueError):
        RtpPacket(**{**base, **fields})  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RtpExtension(profile=1, data=b"abc")


packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence=st.integers(0, 65535),
    timestamp=st.integers(0, 2**32 - 1),
    ssrc=st.integers(0, 2**32 - 1),
    payload=st.binary(max_size=200),
    marker=st.booleans(),
    csrc=st.lists(st.integers(0, 2**32 - 1), max_size=15).map(tuple),
    extension=st.none()
    | st.builds(
        RtpExtension,
        profile=st.integers(0, 65535),
        data=st.integers(0, 8).map(lambda n: bytes(4 * n)),
    ),
    padding=st.integers(0, 255),
)


@settings(max_examples=150, deadline=None)
@given(packets)
def test_any_packet_round_trips(packet: RtpPacket) -> None:
    assert decode(packet.encode()) == packet


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_random_bytes_raise_only_rtp_error(data: bytes) -> None:
    try:
        packet = decode(data)
    except RtpError:
        return
    assert decode(packet.encode()) == packet


# --- G.711 ------------------------------------------------------------------------------------


@needs_audioop
def test_ulaw_agrees_with_audioop_everywhere() -> None:
    assert audioop is not None
    assert rtp.ulaw_encode(ALL_SAMPLES) == audioop.lin2ulaw(ALL_SAMPLES, 2)
    assert rtp.ulaw_decode(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)


@needs_audioop
def test_alaw_agrees_with_audioop_everywhere() -> None:
    assert audioop is not None
    assert rtp.alaw_encode(ALL_SAMPLES) == audioop.lin2alaw(ALL_SAMPLES, 2)
    assert rtp.alaw_decode(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)


@pytest.mark.parametrize("codec", list(Codec))
def test_g711_round_trip(codec: Codec) -> None:
    # Decoding then encoding gives the same code back for every code but μ-law's "negative
    # zero" 0x7F, which decodes to 0 and so encodes as 0xFF.
    decoded = codec.decode(ALL_CODES)
    again = codec.encode(decoded)
    mismatches = [c for c in range(256) if again[c] != c]
    assert mismatches == ([0x7F] if codec is Codec.PCMU else [])
    # Encoding is close: G.711 keeps about 5 % relative precision above the smallest steps.
    samples = struct.unpack("<65536h", codec.decode(codec.encode(ALL_SAMPLES)))
    worst = max(abs(a - b) / max(abs(b), 256) for a, b in zip(samples, range(-32768, 32768)))
    assert worst < 0.055


@pytest.mark.parametrize(
    ("codec", "sample", "code"),
    [
        (Codec.PCMU, 0, 0xFF),
        (Codec.PCMU, 32767, 0x80),
        (Codec.PCMU, -32768, 0x00),
        (Codec.PCMA, 0, 0xD5),
        (Codec.PCMA, 32767, 0xAA),
        (Codec.PCMA, -32768, 0x2A),
    ],
)
def test_g711_known_values(codec: Codec, sample: int, code: int) -> None:
    assert codec.encode(struct.pack("<h", sample)) == bytes([code])
    assert codec.silence == codec.encode(b"\x00\x00")[0]


def test_g711_needs_whole_samples() -> None:
    with pytest.raises(ValueError, match="even"):
        rtp.ulaw_encode(b"\x00\x01\x02")
    assert Codec.PCMU.encoding_name == "PCMU"
    assert Codec(8) is Codec.PCMA


# --- sender -----------------------------------------------------------------------------------


def test_sender_packetises_in_20ms() -> None:
    sender = Sender(ssrc=0xCAFE, codec=Codec.PCMA, sequence=100, timestamp=1000)
    assert sender.due_at(50.0) is None
    sender.queue(b"\x01" * 400)
    assert sender.queued == 400
    sent = []
    while (due := sender.due_at(50.0)) is not None:
        packet = sender.pop()
        assert packet is not None
        sent.append((due, packet))
    assert sender.pop() is None
    assert [round(due - 50.0, 6) for due, _ in sent] == [0.0, 0.02, 0.04]
    assert [p.sequence for _, p in sent] == [100, 101, 102]
    assert [p.timestamp for _, p in sent] == [1000, 1160, 1320]
    assert [p.marker for _, p in sent] == [True, False, False]
    assert {p.ssrc for _, p in sent} == {0xCAFE}
    assert {p.payload_type for _, p in sent} == {8}
    assert all(len(p.payload) == SAMPLES_PER_PACKET for _, p in sent)
    assert sent[2][1].payload == b"\x01" * 80 + bytes([Codec.PCMA.silence]) * 80


def test_sender_new_talkspurt_after_silence() -> None:
    sender = Sender(ssrc=1, sequence=65535, timestamp=2**32 - 160)
    sender.queue(b"\xff" * 160)
    first = sender.pop()
    # Continuing straight on is the same talkspurt: no marker, no gap.
    sender.queue(b"\xff" * 160, at=0.01)
    second = sender.pop()
    # Two seconds later: a new talkspurt, timestamp jumps by 2 s of samples, sequence does not.
    sender.queue(b"\xff" * 160, at=2.0)
    assert sender.due_at(10.0) == pytest.approx(12.0)
    third = sender.pop()
    assert first is not None and second is not None and third is not None
    assert [p.sequence for p in (first, second, third)] == [65535, 0, 1]
    assert [p.marker for p in (first, second, third)] == [True, False, True]
    assert first.timestamp == 2**32 - 160
    assert second.timestamp == 0  # wrapped
    assert third.timestamp == (2**32 - 160 + math.ceil(2.0 / PACKET_SECONDS) * 160) % 2**32


def test_sender_random_start_clear_and_bound() -> None:
    starts = {(p.sequence, p.timestamp) for p in (_first(Sender(ssrc=1)) for _ in range(20))}
    assert len(starts) > 1  # RFC 3550 §5.1: random initial values
    sender = Sender(ssrc=1, max_queued=1000)
    sender.queue(b"x" * 1000)
    with pytest.raises(BufferError):
        sender.queue(b"x")
    sender.clear()
    assert sender.due_at(0.0) is None
    with pytest.raises(ValueError):
        Sender(ssrc=2**32)


def _first(sender: Sender) -> RtpPacket:
    sender.queue(b"x")
    packet = sender.pop()
    assert packet is not None
    return packet


# --- RFC 4733 ---------------------------------------------------------------------------------


def test_telephone_event_payload() -> None:
    event = decode_telephone_event(bytes.fromhex("058a0320"))
    assert event == TelephoneEvent(event=5, end=True, volume=10, duration=800)
    assert event.encode() == bytes.fromhex("058a0320")
    assert decode_telephone_event(bytes.fromhex("0b4a0000")).end is False  # reserved bit ignored
    with pytest.raises(RtpError):
        decode_telephone_event(b"\x05\x8a")
    with pytest.raises(ValueError):
        TelephoneEvent(event=1, volume=64)


@pytest.mark.parametrize(
    ("event", "digit"),
    [(0, "0"), (5, "5"), (9, "9"), (10, "*"), (11, "#"), (12, None), (16, None), (255, None)],
)
def test_event_digits(event: int, digit: str | None) -> None:
    assert TelephoneEvent(event=event).digit == digit


def key_press(
    event: int, timestamp: int, *, ssrc: int = 0x5151, seq: int = 0, pt: int = 101, packets: int = 4
) -> list[RtpPacket]:
    """What a phone sends for one key press (RFC 4733 §2.5.1): growing duration, the end
    packet three times, all with the event's start timestamp."""
    out = []
    for i in range(packets):
        out.append((i, False, 160 * (i + 1)))
    out += [(packets + i, True, 160 * packets + 80) for i in range(3)]
    return [
        RtpPacket(
            payload_type=pt,
            sequence=(seq + i) & 0xFFFF,
            timestamp=timestamp,
            ssrc=ssrc,
            marker=i == 0,
            payload=TelephoneEvent(event=event, end=end, duration=duration).encode(),
        )
        for i, end, duration in out
    ]


def test_one_digit_per_key_press() -> None:
    receiver = DtmfReceiver(101)
    digits = [
        d
        for i, event in enumerate([1, 2, 3, 11, 10, 0])
        for packet in key_press(event, 8000 * (i + 1), seq=10 * i)
        if (d := receiver.receive(packet)) is not None
    ]
    assert digits == ["1", "2", "3", "#", "*", "0"]
    assert receiver.take_digits() == "123#*0"
    assert receiver.take_digits() == ""


def test_same_key_twice_is_two_digits() -> None:
    receiver = DtmfReceiver(101)
    for packet in key_press(7, 1000) + key_press(7, 5000, seq=20):
        receiver.receive(packet)
    assert receiver.take_digits() == "77"


def test_late_retransmissions_and_duplicates_are_absorbed() -> None:
    receiver = DtmfReceiver(101)
    first, second = key_press(4, 1000), key_press(5, 3000, seq=10)
    stream = first[:5] + second[:2] + first[5:] + second[2:] + first[-1:] + second[1:]
    for packet in stream:
        receiver.receive(packet)
    assert receiver.take_digits() == "45"


def test_first_packets_lost_still_one_digit() -> None:
    receiver = DtmfReceiver(101)
    for packet in key_press(9, 1000)[3:]:
        receiver.receive(packet)
    assert receiver.take_digits() == "9"


def test_other_ssrc_mid_event_is_ignored() -> None:
    receiver = DtmfReceiver(101)
    press = key_press(1, 1000)
    intruder = key_press(2, 1200, ssrc=0xBAD)
    receiver.receive(press[0])
    for packet in intruder:
        receiver.receive(packet)
    for packet in press[1:]:
        receiver.receive(packet)
    # Once the event has ended, a new source is accepted (a re-INVITE may change SSRC).
    for packet in key_press(3, 9000, ssrc=0x777):
        receiver.receive(packet)
    assert receiver.take_digits() == "13"


def test_new_source_takes_over_when_the_end_was_lost() -> None:
    receiver = DtmfReceiver(101)
    for packet in key_press(1, 1000)[:3]:  # no end packets arrive
        receiver.receive(packet)
    other = [
        RtpPacket(
            payload_type=101,
            sequence=i,
            timestamp=5000,
            ssrc=0x999,
            payload=TelephoneEvent(event=2, duration=160 * (i + 1)).encode(),
        )
        for i in range(DtmfReceiver.SSRC_TAKEOVER + 5)
    ]
    digits = [receiver.receive(packet) for packet in other]
    assert digits.index("2") == DtmfReceiver.SSRC_TAKEOVER - 1
    assert receiver.take_digits() == "12"


def test_long_press_in_segments_is_one_digit() -> None:
    receiver = DtmfReceiver(101)
    segment = [
        RtpPacket(
            payload_type=101,
            sequence=i,
            timestamp=1000,
            ssrc=1,
            payload=TelephoneEvent(event=6, duration=min(0xFFFF, 160 * (i + 1))).encode(),
        )
        for i in range(420)
    ]
    continuation = [
        RtpPacket(
            payload_type=101,
            sequence=420 + i,
            timestamp=1000 + 0xFFFF,
            ssrc=1,
            payload=TelephoneEvent(event=6, end=i > 0, duration=160).encode(),
        )
        for i in range(4)
    ]
    for packet in segment + continuation:
        receiver.receive(packet)
    assert receiver.take_digits() == "6"


def test_other_payloads_and_garbage_are_ignored() -> None:
    receiver = DtmfReceiver(101)
    audio = RtpPacket(payload_type=0, sequence=1, timestamp=1, ssrc=1, payload=b"\xff" * 160)
    short = RtpPacket(payload_type=101, sequence=2, timestamp=2, ssrc=1, payload=b"\x01")
    flash = key_press(16, 5000)
    for packet in [audio, short, *flash]:
        assert receiver.receive(packet) is None
    assert receiver.malformed == 1
    assert receiver.take_digits() == ""


def test_dtmf_flood_is_bounded() -> None:
    receiver = DtmfReceiver(101, max_digits=8)
    for i in range(5000):
        receiver.receive(
            RtpPacket(
                payload_type=101,
                sequence=i & 0xFFFF,
                timestamp=i * 400,
                ssrc=1,
                payload=TelephoneEvent(event=i % 10, end=True, duration=400).encode(),
            )
        )
    assert receiver.pending == 8
    assert receiver.dropped == 5000 - 8
    assert receiver.take_digits() == "01234567"
    assert len(receiver._recent) <= 16


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 7), st.booleans(), st.sampled_from([1, 2])),
        max_size=80,
    )
)
def test_receiver_never_yields_two_digits_for_one_press(
    events: list[tuple[int, int, bool, int]],
) -> None:
    # Up to 16 distinct (ssrc, timestamp) presses, in any order, repeated, ended or not:
    # each is reported at most once, however its packets are shuffled and duplicated.
    receiver = DtmfReceiver(101, max_digits=1000)
    seen: dict[tuple[int, int], int] = {}
    for i, (code, slot, end, ssrc) in enumerate(events):
        packet = RtpPacket(
            payload_type=101,
            sequence=i,
            timestamp=slot * 8000,
            ssrc=ssrc,
            payload=TelephoneEvent(event=code, end=end, duration=160).encode(),
        )
        if receiver.receive(packet) is not None:
            key = (ssrc, slot)
            seen[key] = seen.get(key, 0) + 1
    assert all(count == 1 for count in seen.values())


def test_a_replayed_key_press_later_is_a_new_press_when_time_is_given() -> None:
    # sipp replays one recorded key press with the same SSRC and timestamp each time.
    receiver = DtmfReceiver(101)
    for packet in key_press(2, 23200):
        receiver.receive(packet, now=10.0)
    for packet in key_press(2, 23200)[-2:]:  # end retransmissions, moments later
        receiver.receive(packet, now=10.05)
    assert receiver.take_digits() == "2"
    for packet in key_press(2, 23200):
        receiver.receive(packet, now=12.0)
    assert receiver.take_digits() == "2"
    # Without a clock, a repeat of a known timestamp stays a retransmission unless it starts
    # again with a marked packet after the end: that is a replay, even read in the same burst.
    plain = DtmfReceiver(101)
    press = key_press(2, 23200)
    for packet in press + press[1:] + press[-3:]:
        plain.receive(packet)
    assert plain.take_digits() == "2"
    for packet in press + key_press(3, 30000) + press:
        plain.receive(packet)
    assert plain.take_digits() == "232"


def test_a_marked_first_packet_seen_twice_mid_event_is_one_press() -> None:
    # A duplicated first packet arriving before the event ends is the same press.
    receiver = DtmfReceiver(101)
    press = key_press(5, 4000)
    for packet in [press[0], press[1], press[0], *press[2:]]:
        receiver.receive(packet)
    assert receiver.take_digits() == "5"


def tone(samples: int, level: int = 4000, start: int = 0) -> bytes:
    """A 400 Hz tone in 16-bit PCM (speech-loud at the default level)."""
    return array(
        "h",
        (round(level * math.sin(2 * math.pi * 400 * (start + i) / 8000)) for i in range(samples)),
    ).tobytes()


def audio_packets(
    pcm: bytes, *, codec: Codec = Codec.PCMA, ssrc: int = 9, timestamp: int = 2**32 - 480
) -> list[RtpPacket]:
    """``pcm`` as 20 ms packets; the first timestamp sits just below the 32-bit wrap."""
    codes = codec.encode(pcm)
    return [
        RtpPacket(
            payload_type=codec.value,
            sequence=i,
            timestamp=(timestamp + i * 160) & 0xFFFFFFFF,
            ssrc=ssrc,
            payload=codes[i * 160 : (i + 1) * 160],
        )
        for i in range(len(codes) // 160)
    ]


def test_a_recording_places_packets_by_timestamp() -> None:
    speech = tone(160 * 50)
    packets = audio_packets(speech)
    recorder = Recorder(Codec.PCMA, 8, max_seconds=10)
    # Out of order, one duplicated, one lost: the lost one is silence in its place.
    shuffled = packets[:10] + packets[11:20] + [packets[25], *packets[20:25], *packets[26:]]
    for packet in [*shuffled, packets[3]]:
        recorder.feed(packet)
    heard = recorder.pcm()
    expected = bytearray(Codec.PCMA.decode(Codec.PCMA.encode(speech)))
    expected[10 * 320 : 11 * 320] = bytes(320)
    assert heard == bytes(expected)
    assert recorder.seconds == 1.0 and recorder.heard_speech


def test_a_recording_keeps_one_source_and_its_limit() -> None:
    recorder = Recorder(Codec.PCMU, 0, max_seconds=0.5)
    own = audio_packets(tone(160 * 40), codec=Codec.PCMU)
    other = audio_packets(tone(160 * 5, level=9000), codec=Codec.PCMU, ssrc=77)
    dtmf = RtpPacket(payload_type=101, sequence=1, timestamp=5, ssrc=9,
                     payload=TelephoneEvent(event=1).encode())  # fmt: skip
    for packet in [own[0], *other, dtmf, *own[1:]]:
        recorder.feed(packet)
    assert recorder.seconds == 0.5 and recorder.full  # 25 packets kept, the rest ignored
    assert recorder.ignored == 5 + 15
    # A bogus timestamp far ahead is not allowed to grow the buffer.
    far = audio_packets(tone(160), codec=Codec.PCMU, timestamp=own[0].timestamp + 8000 * 3600)
    fresh = Recorder(Codec.PCMU, 0, max_seconds=10)
    fresh.feed(own[0])
    fresh.feed(far[0])
    assert fresh.seconds == 0.02


def test_quiet_after_speech_is_trimmed_and_silence_is_not_speech() -> None:
    recorder = Recorder(Codec.PCMA, 8, max_seconds=30)
    pcm = tone(8000) + bytes(2 * 8000 * 3)  # 1 s of speech, then 3 s of quiet
    for packet in audio_packets(pcm):
        recorder.feed(packet)
    assert recorder.quiet_for() == pytest.approx(3.0)
    assert recorder.kept_seconds == pytest.approx(1.5)  # half a second of quiet kept
    with wave.open(io.BytesIO(recorder.wav())) as file:
        assert (file.getframerate(), file.getnchannels(), file.getsampwidth()) == (8000, 1, 2)
        assert file.getnframes() == 12000
    silent = Recorder(Codec.PCMA, 8, max_seconds=30)
    for packet in audio_packets(bytes(2 * 8000)):
        silent.feed(packet)
    assert not silent.heard_speech and silent.quiet_for() == pytest.approx(1.0)


def test_the_recording_cue_is_a_clean_tone() -> None:
    cue = array("h", beep(0.4))
    assert len(cue) == 3200 and cue[0] == 0 and abs(cue[-1]) < 100
    assert max(cue) > 7000  # loud enough to hear over a phone line
