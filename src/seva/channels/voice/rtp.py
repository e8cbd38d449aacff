"""RTP packets, G.711 audio and RFC 4733 DTMF for the voice channel, without I/O.

Follows RFC 3550 §5.1 (the fixed RTP header, CSRC list, header extension and padding) and
§5.1's advice that the initial sequence number and timestamp be random; RFC 3551 §4.5.14 and
ITU-T G.711 (PCMU, static payload type 0, and PCMA, payload type 8, both 8000 Hz, 20 ms =
160 samples per packet) and §4.1 (the marker bit starts a talkspurt); RFC 4733 §2.3 (the
telephone-event payload) and §2.5.2 (how a receiver turns the redundant packets of one key
press — same timestamp, growing duration, the end packet sent three times — into one event).

The G.711 codecs are written out here as lookup tables rather than taken from ``audioop``:
``audioop`` is deprecated since Python 3.11 and removed in 3.13 (PEP 594). The tables are
computed once, on first use, from the same segment algorithm as the Sun reference code that
``audioop`` uses, and the tests check that every 16-bit sample and every code byte agrees with
``audioop`` while it is still available. Encoding a 20 ms frame is one ``bytes(map(...))`` over
a 64 KiB table, so the per-sample work runs in C.

Linear PCM is signed 16-bit little-endian throughout (what WAV files and espeak-ng produce).
"""

from __future__ import annotations

import enum
import functools
import io
import math
import secrets
import struct
import sys
import wave
from array import array
from collections import deque
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CLOCK_RATE",
    "MAX_TALKSPURT_BYTES",
    "PACKET_SECONDS",
    "SAMPLES_PER_PACKET",
    "Codec",
    "DtmfReceiver",
    "Recorder",
    "RtpError",
    "RtpExtension",
    "RtpPacket",
    "Sender",
    "TelephoneEvent",
    "alaw_decode",
    "alaw_encode",
    "beep",
    "decode",
    "decode_telephone_event",
    "ulaw_decode",
    "ulaw_encode",
    "wav_file",
]

CLOCK_RATE: Final = 8000
SAMPLES_PER_PACKET: Final = 160
PACKET_SECONDS: Final = SAMPLES_PER_PACKET / CLOCK_RATE
# Five minutes of G.711: far beyond any prompt, small enough that a runaway producer is caught.
MAX_TALKSPURT_BYTES: Final = CLOCK_RATE * 300

_RTP_VERSION: Final = 2
_HEADER: Final = struct.Struct("!BBHII")
_EXTENSION_HEADER: Final = struct.Struct("!HH")
_EVENT: Final = struct.Struct("!BBH")
_U16: Final = 0xFFFF
_U32: Final = 0xFFFFFFFF


class RtpError(Exception):
    """An RTP packet or payload that cannot be read; the packet is to be dropped."""


# --- G.711 ------------------------------------------------------------------------------------

# Segment end points of the Sun reference implementation (g711.c), which audioop follows.
_ULAW_SEGMENT_ENDS: Final = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_ALAW_SEGMENT_ENDS: Final = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)
_ULAW_BIAS: Final = 0x84
_ULAW_CLIP: Final = 8159


def _segment(value: int, ends: tuple[int, ...]) -> int:
    for index, end in enumerate(ends):
        if value <= end:
            return index
    return len(ends)


def _ulaw_from_14bit(sample: int) -> int:
    """μ-law code of a signed 14-bit sample (the top 14 bits of a 16-bit one)."""
    if sample < 0:
        sample, mask = -sample, 0x7F
    else:
        mask = 0xFF
    sample = min(sample, _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = _segment(sample, _ULAW_SEGMENT_ENDS)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((sample >> (segment + 1)) & 0x0F)) ^ mask


def _alaw_from_13bit(sample: int) -> int:
    """A-law code of a signed 13-bit sample (the top 13 bits of a 16-bit one)."""
    if sample >= 0:
        mask = 0xD5
    else:
        mask, sample = 0x55, -sample - 1
    segment = _segment(sample, _ALAW_SEGMENT_ENDS)
    if segment >= 8:
        return 0x7F ^ mask
    shift = 1 if segment < 2 else segment
    return ((segment << 4) | ((sample >> shift) & 0x0F)) ^ mask


def _ulaw_to_linear(code: int) -> int:
    code = ~code & 0xFF
    magnitude = (((code & 0x0F) << 3) + _ULAW_BIAS) << ((code & 0x70) >> 4)
    return _ULAW_BIAS - magnitude if code & 0x80 else magnitude - _ULAW_BIAS


def _alaw_to_linear(code: int) -> int:
    code ^= 0x55
    magnitude = (code & 0x0F) << 4
    segment = (code & 0x70) >> 4
    if segment == 0:
        magnitude += 8
    elif segment == 1:
        magnitude += 0x108
    else:
        magnitude = (magnitude + 0x108) << (segment - 1)
    return magnitude if code & 0x80 else -magnitude


@functools.cache
def _encode_table(law: str) -> bytes:
    """Code byte for every unsigned 16-bit value (the two's complement bits of a sample).

    For an unsigned ``u``, ``u >> 2`` (μ-law) or ``u >> 3`` (A-law) indexes the 14- or 13-bit
    two's complement value, so each small-table entry is simply repeated 4 or 8 times.
    """
    if law == "ulaw":
        small = [_ulaw_from_14bit(v - 0x4000 if v & 0x2000 else v) for v in range(0x4000)]
        repeat = 4
    else:
        small = [_alaw_from_13bit(v - 0x2000 if v & 0x1000 else v) for v in range(0x2000)]
        repeat = 8
    return b"".join(bytes((code,)) * repeat for code in small)


@functools.cache
def _decode_table(law: str) -> tuple[int, ...]:
    to_linear = _ulaw_to_linear if law == "ulaw" else _alaw_to_linear
    return tuple(to_linear(code) for code in range(256))


def _samples(pcm: bytes) -> array[int]:
    if len(pcm) % 2:
        raise ValueError(f"16-bit PCM must have an even number of bytes, not {len(pcm)}")
    samples = array("H", pcm)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _linear(codes: bytes, law: str) -> bytes:
    samples = array("h", map(_decode_table(law).__getitem__, codes))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def ulaw_encode(pcm: bytes) -> bytes:
    """G.711 μ-law: one code byte per signed 16-bit little-endian sample."""
    return bytes(map(_encode_table("ulaw").__getitem__, _samples(pcm)))


def ulaw_decode(codes: bytes) -> bytes:
    """G.711 μ-law code bytes to signed 16-bit little-endian samples."""
    return _linear(codes, "ulaw")


def alaw_encode(pcm: bytes) -> bytes:
    """G.711 A-law: one code byte per signed 16-bit little-endian sample."""
    return bytes(map(_encode_table("alaw").__getitem__, _samples(pcm)))


def alaw_decode(codes: bytes) -> bytes:
    """G.711 A-law code bytes to signed 16-bit little-endian samples."""
    return _linear(codes, "alaw")


class Codec(enum.IntEnum):
    """The audio codecs Seva speaks; the value is the RFC 3551 static payload type."""

    PCMU = 0
    PCMA = 8

    @property
    def encoding_name(self) -> str:
        """The name in ``a=rtpmap`` (RFC 3551 §6)."""
        return self.name

    @property
    def silence(self) -> int:
        """The code byte for a zero sample, used to pad the last packet of a talkspurt."""
        return 0xFF if self is Codec.PCMU else 0xD5

    def encode(self, pcm: bytes) -> bytes:
        """16-bit little-endian linear PCM to this codec's bytes."""
        return ulaw_encode(pcm) if self is Codec.PCMU else alaw_encode(pcm)

    def decode(self, codes: bytes) -> bytes:
        """This codec's bytes to 16-bit little-endian linear PCM."""
        return ulaw_decode(codes) if self is Codec.PCMU else alaw_decode(codes)


# --- RTP packets --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RtpExtension:
    """§5.3.1 header extension: a profile-defined 16-bit id and data in 32-bit words."""

    profile: int
    data: bytes = b""

    def __post_init__(self) -> None:
        if not (isinstance(self.profile, int) and 0 <= self.profile <= _U16):
            raise ValueError(f"extension profile must be an int 0..65535, not {self.profile!r}")
        if len(self.data) % 4 or len(self.data) > _U16 * 4:
            raise ValueError(
                f"extension data must be whole 32-bit words (at most 65535), "
                f"not {len(self.data)} bytes"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class RtpPacket:
    """One RTP packet (RFC 3550 §5.1). The version is always 2.

    ``padding`` is the number of padding octets (0 for none; the count includes the last octet
    that holds it, so 1..255). Decoding strips the padding from ``payload`` and records its
    length here.
    """

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding: int = 0

    def __post_init__(self) -> None:
        if not (isinstance(self.payload_type, int) and 0 <= self.payload_type <= 127):
            raise ValueError(f"payload_type must be an int 0..127, not {self.payload_type!r}")
        for name, value, top in (
            ("sequence", self.sequence, _U16),
            ("timestamp", self.timestamp, _U32),
            ("ssrc", self.ssrc, _U32),
        ):
            if not (isinstance(value, int) and 0 <= value <= top):
                raise ValueError(f"{name} must be an int 0..{top}, not {value!r}")
        if len(self.csrc) > 15 or not all(isinstance(c, int) and 0 <= c <= _U32 for c in self.csrc):
            raise ValueError(f"csrc must be at most 15 32-bit identifiers, not {self.csrc!r}")
        if not (isinstance(self.padding, int) and 0 <= self.padding <= 255):
            raise ValueError(f"padding must be an int 0..255, not {self.padding!r}")

    def encode(self) -> bytes:
        """The packet on the wire; padding octets are zero apart from the count at the end."""
        first = _RTP_VERSION << 6 | len(self.csrc)
        if self.padding:
            first |= 0x20
        if self.extension is not None:
            first |= 0x10
        parts = [
            _HEADER.pack(
                first,
                (0x80 if self.marker else 0) | self.payload_type,
                self.sequence,
                self.timestamp,
                self.ssrc,
            )
        ]
        if self.csrc:
            parts.append(struct.pack(f"!{len(self.csrc)}I", *self.csrc))
        if self.extension is not None:
            ext = self.extension
            parts.append(_EXTENSION_HEADER.pack(ext.profile, len(ext.data) // 4))
            parts.append(ext.data)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes((self.padding,)))
        return b"".join(parts)


def decode(data: bytes) -> RtpPacket:
    """Read one RTP packet; :class:`RtpError` for anything RFC 3550 §5.1 does not allow."""
    if len(data) < _HEADER.size:
        raise RtpError(f"RTP packet of {len(data)} bytes is shorter than the 12-byte header")
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != _RTP_VERSION:
        raise RtpError(f"RTP version {first >> 6}; only version 2 exists")
    end = len(data)
    padding = 0
    if first & 0x20:
        padding = data[-1]
        if padding == 0:
            raise RtpError("padding bit set but the padding count is 0")
    offset = _HEADER.size
    csrc_count = first & 0x0F
    csrc: tuple[int, ...] = ()
    if csrc_count:
        if offset + 4 * csrc_count > end:
            raise RtpError(f"{csrc_count} CSRC identifiers overrun a {len(data)}-byte packet")
        csrc = struct.unpack_from(f"!{csrc_count}I", data, offset)
        offset += 4 * csrc_count
    extension = None
    if first & 0x10:
        if offset + 4 > end:
            raise RtpError("header extension bit set but the packet ends before it")
        profile, words = _EXTENSION_HEADER.unpack_from(data, offset)
        offset += 4
        if offset + 4 * words > end:
            raise RtpError(f"header extension of {words} words overruns the packet")
        extension = RtpExtension(profile=profile, data=data[offset : offset + 4 * words])
        offset += 4 * words
    if offset + padding > end:
        raise RtpError(f"{padding} padding octets overrun the payload")
    return RtpPacket(
        payload_type=second & 0x7F,
        marker=bool(second & 0x80),
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        csrc=csrc,
        extension=extension,
        payload=data[offset : end - padding],
        padding=padding,
    )


# --- sending ------------------------------------------------------------------------------------


class Sender:
    """Cuts a codec byte stream into 20 ms RTP packets and says when each is due.

    Packet *slot* ``n`` is due at ``start_time + n * 20 ms`` and carries timestamp
    ``initial + n * 160``, so the timestamp keeps counting sampling instants across the silence
    between prompts while the sequence number counts only packets sent (RFC 3550 §5.1). The
    first packet after a gap (and the very first) has the marker bit set (RFC 3551 §4.1).

    The transport keeps ``start_time`` (its clock when media started), sleeps until
    :meth:`due_at`, sends :meth:`pop`, and repeats; :meth:`queue` with ``at`` set to the seconds
    elapsed since ``start_time`` makes a new prompt start now rather than in the past.
    """

    def __init__(
        self,
        *,
        ssrc: int,
        codec: Codec = Codec.PCMU,
        payload_type: int | None = None,
        sequence: int | None = None,
        timestamp: int | None = None,
        max_queued: int = MAX_TALKSPURT_BYTES,
    ) -> None:
        if not 0 <= ssrc <= _U32:
            raise ValueError(f"ssrc must be 0..{_U32}, not {ssrc}")
        self.ssrc = ssrc
        self.codec = codec
        self.payload_type = int(codec) if payload_type is None else payload_type
        self._sequence = secrets.randbelow(_U16 + 1) if sequence is None else sequence & _U16
        self._timestamp0 = secrets.randbelow(_U32 + 1) if timestamp is None else timestamp & _U32
        self._max_queued = max_queued
        self._buffer = bytearray()
        self._slot = 0
        self._talkspurt = True

    @property
    def queued(self) -> int:
        """Codec bytes waiting to be sent."""
        return len(self._buffer)

    def queue(self, audio: bytes, *, at: float | None = None) -> None:
        """Append codec bytes (already G.711-encoded) to send.

        ``at`` is the time, in seconds since the transport's ``start_time``, from which this
        audio may be sent. When it lies past the next free slot, the slots in between are
        silence and the next packet starts a talkspurt. Raises :class:`BufferError` rather than
        hold more than ``max_queued`` bytes.
        """
        if len(self._buffer) + len(audio) > self._max_queued:
            raise BufferError(
                f"{len(self._buffer) + len(audio)} bytes queued; the limit is {self._max_queued}"
            )
        if at is not None and not self._buffer:
            slot = math.ceil(at / PACKET_SECONDS - 1e-9)
            if slot > self._slot:
                self._slot = slot
                self._talkspurt = True
        self._buffer += audio

    def clear(self) -> None:
        """Drop queued audio (barge-in: the caller pressed a key during a prompt)."""
        self._buffer.clear()

    def due_at(self, start_time: float) -> float | None:
        """When the next packet should leave, on the transport's clock; None when idle."""
        if not self._buffer:
            return None
        return start_time + self._slot * PACKET_SECONDS

    def pop(self) -> RtpPacket | None:
        """The next packet (the last one of a prompt padded with silence), or None when idle."""
        if not self._buffer:
            return None
        chunk = bytes(self._buffer[:SAMPLES_PER_PACKET])
        del self._buffer[:SAMPLES_PER_PACKET]
        if len(chunk) < SAMPLES_PER_PACKET:
            chunk += bytes((self.codec.silence,)) * (SAMPLES_PER_PACKET - len(chunk))
        packet = RtpPacket(
            payload_type=self.payload_type,
            sequence=self._sequence,
            timestamp=(self._timestamp0 + self._slot * SAMPLES_PER_PACKET) & _U32,
            ssrc=self.ssrc,
            marker=self._talkspurt,
            payload=chunk,
        )
        self._sequence = (self._sequence + 1) & _U16
        self._slot += 1
        self._talkspurt = False
        return packet


# --- RFC 4733 telephone events ----------------------------------------------------------------

_DIGITS: Final = "0123456789*#"


@dataclass(frozen=True, slots=True, kw_only=True)
class TelephoneEvent:
    """RFC 4733 §2.3 telephone-event payload: event code, end bit, volume (−dBm0), duration."""

    event: int
    end: bool = False
    volume: int = 10
    duration: int = 0

    def __post_init__(self) -> None:
        if not (isinstance(self.event, int) and 0 <= self.event <= 255):
            raise ValueError(f"event must be an int 0..255, not {self.event!r}")
        if not (isinstance(self.volume, int) and 0 <= self.volume <= 63):
            raise ValueError(f"volume must be an int 0..63, not {self.volume!r}")
        if not (isinstance(self.duration, int) and 0 <= self.duration <= _U16):
            raise ValueError(f"duration must be an int 0..65535, not {self.duration!r}")

    @property
    def digit(self) -> str | None:
        """``0``-``9``, ``*`` or ``#`` for DTMF events 0-11 (RFC 4733 §3.2); None otherwise."""
        return _DIGITS[self.event] if self.event < len(_DIGITS) else None

    def encode(self) -> bytes:
        return _EVENT.pack(self.event, (0x80 if self.end else 0) | self.volume, self.duration)


def decode_telephone_event(payload: bytes) -> TelephoneEvent:
    """The first event block of a telephone-event payload (RFC 4733 §2.3)."""
    if len(payload) < _EVENT.size:
        raise RtpError(f"telephone-event payload of {len(payload)} bytes; at least 4 are needed")
    event, flags, duration = _EVENT.unpack_from(payload)
    # Bit 0x40 is reserved: senders set it to 0 and receivers ignore it (§2.3).
    return TelephoneEvent(
        event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration
    )


@dataclass(slots=True)
class _Event:
    ssrc: int
    timestamp: int
    code: int
    duration: int
    ended: bool


class DtmfReceiver:
    """Turns telephone-event packets into one digit per key press (RFC 4733 §2.5.2).

    One key press is every packet with the same SSRC and RTP timestamp: the first one yields the
    digit, the rest (growing durations, the end packet and its retransmissions) are absorbed.
    Late retransmissions of earlier events are recognised by remembering the last few event
    timestamps. An event too long for the 16-bit duration continues in a new segment whose
    timestamp is the old one plus the old duration (§2.5.1.3); that is not a new key press.
    While an event is in progress, packets from another SSRC are ignored; if its end packets
    were all lost, the other source takes over after :attr:`SSRC_TAKEOVER` of its packets.

    At most ``max_digits`` digits wait to be taken; beyond that a flood of key presses is
    counted in :attr:`dropped` and discarded, so memory stays bounded.

    A tool replaying one recorded key press (sipp's DTMF pcaps carry fixed SSRC, timestamps and
    sequence numbers) sends the same event again for the same key pressed twice. Two signs tell
    that replay from a retransmission: its first packet carries the marker bit again after the
    event had ended, which a phone never does (§2.5.1.3: only the first packet of an event is
    marked, and end packets are retransmitted unmarked); and, with ``now`` given, the event
    timestamp comes back more than :attr:`REPRESS_AFTER` seconds after its last packet, while
    retransmitted end packets follow within tens of milliseconds. The marker rule does not
    depend on when packets are read, so it holds when a busy loop reads both presses at once.
    """

    REPRESS_AFTER: Final = 1.0

    _RECENT: Final = 16
    # Half a second of 20 ms event packets from another source ends an event whose end was lost.
    SSRC_TAKEOVER: Final = 25
    # A continuation segment starts where the previous one ended, give or take a packet or two.
    _CONTINUATION_SLACK: Final = 2 * SAMPLES_PER_PACKET

    def __init__(self, payload_type: int, *, max_digits: int = 32) -> None:
        self.payload_type = payload_type
        self.max_digits = max_digits
        self.dropped = 0
        self.malformed = 0
        self._digits: deque[str] = deque()
        self._current: _Event | None = None
        self._recent: deque[tuple[int, int]] = deque(maxlen=self._RECENT)
        self._seen: dict[tuple[int, int], float] = {}
        self._foreign = 0

    def receive(self, packet: RtpPacket, now: float | None = None) -> str | None:
        """Feed one RTP packet; returns the digit when this packet starts a new key press.

        Packets of other payload types and unreadable payloads are ignored.
        """
        if packet.payload_type != self.payload_type:
            return None
        try:
            event = decode_telephone_event(packet.payload)
        except RtpError:
            self.malformed += 1
            return None
        current = self._current
        if current is not None and not current.ended:
            if packet.ssrc != current.ssrc:
                self._foreign += 1
                if self._foreign < self.SSRC_TAKEOVER:
                    return None
                current.ended = True
            self._foreign = 0
        key = (packet.ssrc, packet.timestamp)
        last_seen = self._seen.get(key)
        restarted = (
            packet.marker
            and not event.end
            and (key in self._recent)
            and (current is None or key != (current.ssrc, current.timestamp) or current.ended)
        )
        repressed = restarted or (
            now is not None and last_seen is not None and now - last_seen > self.REPRESS_AFTER
        )
        if now is not None:
            self._seen[key] = now
            if len(self._seen) > self._RECENT * 4:
                for old in list(self._seen)[: self._RECENT * 2]:
                    del self._seen[old]
        if repressed:
            if key in self._recent:
                self._recent.remove(key)
            if current is not None and key == (current.ssrc, current.timestamp):
                self._current = current = None
        if current is not None and key == (current.ssrc, current.timestamp):
            current.duration = max(current.duration, event.duration)
            current.ended = current.ended or event.end
            return None
        if key in self._recent:
            return None
        continuation = (
            current is not None
            and not current.ended
            and current.code == event.event
            and (packet.timestamp - current.timestamp - current.duration) % (_U32 + 1)
            <= self._CONTINUATION_SLACK
        )
        self._current = _Event(
            ssrc=packet.ssrc,
            timestamp=packet.timestamp,
            code=event.event,
            duration=event.duration,
            ended=event.end,
        )
        self._recent.append(key)
        digit = event.digit
        if continuation or digit is None:
            return None
        if len(self._digits) >= self.max_digits:
            self.dropped += 1
            return None
        self._digits.append(digit)
        return digit

    def take_digits(self) -> str:
        """All digits received and not yet taken, oldest first."""
        digits = "".join(self._digits)
        self._digits.clear()
        return digits

    @property
    def pending(self) -> int:
        """Digits waiting in :meth:`take_digits`."""
        return len(self._digits)


# --- recording the caller ------------------------------------------------------------------------


def beep(seconds: float = 0.4, hz: int = 1000, level: int = 8000) -> bytes:
    """A tone in 16-bit PCM: the cue, after a prompt, that recording has begun."""
    count = round(seconds * CLOCK_RATE)
    fade = CLOCK_RATE // 100  # 10 ms in and out, so the tone starts and stops without a click
    samples = array(
        "h",
        (
            round(
                level
                * min(1.0, i / fade, (count - i) / fade)
                * math.sin(2 * math.pi * hz * i / CLOCK_RATE)
            )
            for i in range(count)
        ),
    )
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


class Recorder:
    """The caller's audio for a recorded answer, as 16-bit PCM at 8 kHz.

    Each packet is placed by its RTP timestamp rather than by when it arrived: a lost packet
    leaves silence in its place, a late one lands where it belongs, a duplicate rewrites the
    same samples, so network jitter never stretches or shuffles the recording. Only the
    first source's packets of the call's audio payload type are kept, and nothing beyond
    ``max_seconds``, so memory is bounded whatever arrives.

    A packet louder than :attr:`SPEECH_LEVEL` (mean absolute sample) counts as speech; the
    endpoint ends the recording after a stretch of quiet (:meth:`quiet_for`).
    """

    SPEECH_LEVEL: Final = 300
    """About -40 dBFS: above line noise, below the quietest speech."""
    _MAX_AHEAD: Final = CLOCK_RATE * 2
    """A packet this far past the end of what was heard is a wrapped or bogus timestamp."""

    def __init__(self, codec: Codec, payload_type: int, max_seconds: float) -> None:
        self.codec = codec
        self.payload_type = payload_type
        self.max_samples = round(max_seconds * CLOCK_RATE)
        self._pcm = bytearray()
        self._ssrc: int | None = None
        self._first_ts = 0
        self._last_loud = -1
        """End (in samples) of the last packet that held speech; -1: none yet."""
        self.packets = 0
        self.ignored = 0

    def feed(self, packet: RtpPacket) -> None:
        if packet.payload_type != self.payload_type or not packet.payload:
            return
        if self._ssrc is None:
            self._ssrc = packet.ssrc
            self._first_ts = packet.timestamp
        elif packet.ssrc != self._ssrc:
            self.ignored += 1
            return
        offset = (packet.timestamp - self._first_ts) & _U32
        heard = len(self._pcm) // 2
        if offset >= self.max_samples or offset > heard + self._MAX_AHEAD:
            self.ignored += 1  # beyond the limit, or from before the first packet (wrapped)
            return
        codes = packet.payload[: self.max_samples - offset]
        pcm = self.codec.decode(codes)
        start, end = offset * 2, offset * 2 + len(pcm)
        if end > len(self._pcm):
            self._pcm.extend(bytes(end - len(self._pcm)))
        self._pcm[start:end] = pcm
        self.packets += 1
        if _level(pcm) >= self.SPEECH_LEVEL:
            self._last_loud = max(self._last_loud, offset + len(codes))

    @property
    def seconds(self) -> float:
        return len(self._pcm) / 2 / CLOCK_RATE

    @property
    def full(self) -> bool:
        return len(self._pcm) // 2 >= self.max_samples

    @property
    def heard_speech(self) -> bool:
        return self._last_loud >= 0

    def quiet_for(self) -> float:
        """Seconds since the last speech (since the start when there was none)."""
        end = len(self._pcm) // 2
        return (end - max(self._last_loud, 0)) / CLOCK_RATE

    @property
    def _kept_samples(self) -> int:
        """Up to half a second after the last speech: the quiet that ended the recording
        (and the time it took to find ``#``) is not kept."""
        heard = len(self._pcm) // 2
        if self._last_loud < 0:
            return heard
        return min(heard, self._last_loud + CLOCK_RATE // 2)

    def pcm(self) -> bytes:
        return bytes(self._pcm[: self._kept_samples * 2])

    @property
    def kept_seconds(self) -> float:
        return self._kept_samples / CLOCK_RATE

    def wav(self) -> bytes:
        """The recording as a WAV file (mono, 16-bit, 8 kHz)."""
        return wav_file(self.pcm())


def wav_file(pcm: bytes, rate: int = CLOCK_RATE) -> bytes:
    """16-bit mono PCM as a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(pcm)
    return out.getvalue()


def _level(pcm: bytes) -> float:
    samples = array("h", pcm)
    if sys.byteorder == "big":
        samples.byteswap()
    return sum(map(abs, samples)) / len(samples) if samples else 0.0
