"""SMS text: GSM 7-bit default alphabet, UCS-2, concatenation and reassembly.

Follows 3GPP TS 23.038 §6.2.1 (GSM 7-bit default alphabet and its extension table) and
3GPP TS 23.040 §9.2.3.24.1/§9.2.3.24.8 (concatenated short messages, 8- and 16-bit reference
information elements), with the SMPP v3.4 conventions on top:

* ``short_message`` carries GSM 7-bit text *unpacked*, one septet per octet; the SMSC packs it
  for the air interface. An extension character travels as ESC (0x1B) followed by its code and
  counts as two septets.
* UCS-2 is sent as UTF-16-BE, so characters outside the BMP (emoji) take a surrogate pair: two
  of the 70/67 code units a part holds.
* A message that does not fit one part (160 septets / 70 units) is cut into parts of 153 septets
  / 67 units. Those sizes leave room for the 6-octet concatenation header on the air interface,
  so with the header a GSM part is 140 octets once packed (153 septets with the one fill bit),
  and a UCS-2 part is 140 octets as sent. Cuts fall between characters, so an ESC pair or a
  surrogate pair is never split.

Two ways to mark the parts, as SMPP v3.4 offers both:

* :func:`split` puts a UDH in ``short_message`` (IEI 0x00, 8-bit reference) and sets the UDHI
  bit (0x40) in ``esm_class``;
* :func:`split_sar` returns the same parts without a UDH; the caller sends each with the
  ``sar_msg_ref_num`` (16-bit reference), ``sar_total_segments`` and ``sar_segment_seqnum``
  TLVs (§5.3.2.22-24) taken from the segment's ``reference``/``total``/``seqnum``, and the SMSC
  builds the header. Some SMSCs honour only one of the two; which to use is a per-SMSC setting.

:class:`Reassembler` puts mobile-originated parts back together whichever way they came.
"""

from __future__ import annotations

import math
import struct
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal, Protocol

__all__ = [
    "GSM7",
    "GSM7_ALPHABET",
    "GSM7_EXTENSION",
    "IA5",
    "LATIN1",
    "MAX_PARTS",
    "PART_SIZES",
    "SHOW_OUTSIDE",
    "UCS2",
    "Encoding",
    "Incomplete",
    "Measure",
    "Reassembler",
    "Segment",
    "decode_gsm7",
    "decode_text",
    "encode_gsm7",
    "encode_text",
    "is_gsm7",
    "join",
    "measure",
    "segment_count",
    "split",
    "split_sar",
    "units",
]

GSM7: Final = 0x00
"""SMPP data_coding 0: the SMSC default alphabet, GSM 7-bit on every SMSC Seva talks to."""
IA5: Final = 0x01
LATIN1: Final = 0x03
UCS2: Final = 0x08

UDHI: Final = 0x40
"""esm_class bit 6: short_message starts with a User Data Header (SMPP v3.4 §5.2.12)."""

MAX_PARTS: Final = 255
"""The concatenation header counts parts in one octet."""

_GSM_SINGLE: Final = 160
_GSM_PART: Final = 153
_UCS2_SINGLE: Final = 70
_UCS2_PART: Final = 67

_ESC: Final = 0x1B
_REPLACEMENT: Final = "\ufffd"

# TS 23.038 §6.2.1, code points 0x00-0x7F; 0x1B is the escape to the extension table.
_BASIC: Final = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(_BASIC) == 128
_EXTENSION: Final = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

GSM7_ALPHABET: Final = _BASIC.replace("\x1b", "")
"""Every character of the GSM default alphabet, one septet each (for a browser's count)."""
GSM7_EXTENSION: Final = "".join(_EXTENSION.values())
"""The extension table's characters, two septets each (ESC and the code)."""
PART_SIZES: Final = {GSM7: (_GSM_SINGLE, _GSM_PART), UCS2: (_UCS2_SINGLE, _UCS2_PART)}
"""Per alphabet, what one part holds alone and what each part of a longer message holds."""

_ENCODE: Final[dict[int, str]] = {
    ord(char): chr(code) for code, char in enumerate(_BASIC) if code != _ESC
} | {ord(char): f"\x1b{chr(code)}" for code, char in _EXTENSION.items()}
_GSM_CHARS: Final = frozenset(chr(point) for point in _ENCODE)
_EXTENSION_CHARS: Final = frozenset(_EXTENSION.values())
# Septets 0x80-0xFF cannot occur in unpacked GSM text; they decode to U+FFFD rather than fail.
# A lone escape decodes to nothing.
_DECODE: Final[dict[int, str]] = (
    dict(enumerate(_BASIC)) | dict.fromkeys(range(0x80, 0x100), _REPLACEMENT) | {_ESC: ""}
)


def is_gsm7(text: str) -> bool:
    """Whether every character is in the GSM default alphabet or its extension table."""
    return _GSM_CHARS.issuperset(text)


def encode_gsm7(text: str) -> bytes:
    """Unpacked septets, one per octet; extension characters as ESC + code.

    Raises ValueError naming the first character outside the alphabet.
    """
    if not is_gsm7(text):
        bad = next(char for char in text if char not in _GSM_CHARS)
        raise ValueError(f"{bad!r} (U+{ord(bad):04X}) is not in the GSM 7-bit alphabet")
    return text.translate(_ENCODE).encode("latin-1")


def decode_gsm7(data: bytes) -> str:
    """Unpacked septets to text; never raises.

    An escape followed by a code the extension table lacks shows the basic character for that
    code, as TS 23.038 asks of receivers; a trailing escape is dropped.
    """
    if _ESC not in data:
        return data.decode("latin-1").translate(_DECODE)
    out: list[str] = []
    escaped = False
    for code in data:
        if escaped:
            escaped = False
            out.append(_EXTENSION.get(code) or _DECODE[code])
        elif code == _ESC:
            escaped = True
        else:
            out.append(_DECODE[code])
    return "".join(out)


def encode_text(text: str) -> tuple[int, bytes]:
    """``(data_coding, short_message bytes)``: GSM 7-bit when it fits the alphabet, else UCS-2.

    Lone surrogates (text that came from a bad decode) pass through rather than fail the send.
    """
    if is_gsm7(text):
        return GSM7, text.translate(_ENCODE).encode("latin-1")
    return UCS2, text.encode("utf-16-be", "surrogatepass")


_CODECS: Final = {
    0x01: "ascii",
    0x03: "latin-1",
    0x05: "shift_jis",  # JIS X 0208
    0x06: "iso8859-5",
    0x07: "iso8859-8",
    0x0A: "iso2022_jp",
    0x0D: "euc_jis_2004",  # JIS X 0212 extended Kanji
    0x0E: "euc_kr",  # KS C 5601
}


def decode_text(data_coding: int, data: bytes) -> str:
    """Text of a short message in any data_coding; never raises.

    SMPP v3.4 §5.2.19 values, plus the TS 23.038 §4 coding groups above 0x0F mapped to their
    alphabet. Binary, compressed or unknown codings decode as Latin-1 so nothing is dropped.
    """
    alphabet = _alphabet(data_coding)
    if alphabet == GSM7:
        return decode_gsm7(data)
    if alphabet == UCS2:
        return data.decode("utf-16-be", "replace")
    codec = _CODECS.get(data_coding, "latin-1")
    return data.decode(codec, "replace")


def _alphabet(data_coding: int) -> int:
    """GSM7, UCS2 or another value meaning "use the codec table"."""
    if data_coding in (GSM7, UCS2):
        return data_coding
    if data_coding < 0x10:
        # SMPP's own values (§5.2.19) take precedence over TS 23.038 in this range.
        return data_coding if data_coding in _CODECS else LATIN1
    group = data_coding & 0xF0
    if group < 0x80 and not data_coding & 0x20:
        # TS 23.038 general data coding, uncompressed: bits 3-2 select the alphabet.
        return {0: GSM7, 2: UCS2}.get((data_coding >> 2) & 0x03, LATIN1)
    if group in (0xC0, 0xD0):  # message waiting indication, GSM 7-bit
        return GSM7
    if group == 0xE0:  # message waiting indication, UCS-2
        return UCS2
    if group == 0xF0:  # message class: bit 2 picks 8-bit data over GSM 7-bit
        return LATIN1 if data_coding & 0x04 else GSM7
    return LATIN1


# --- segmentation ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """One part of a message, ready for submit_sm.

    ``short_message`` holds the UDH (from :func:`split`, when ``total`` > 1) followed by the
    payload; ``esm_class`` is 0x40 exactly when a UDH is present. For :func:`split_sar` parts,
    ``reference``/``total``/``seqnum`` go into the sar_* TLVs instead.
    """

    data_coding: int
    esm_class: int
    short_message: bytes
    seqnum: int
    total: int
    reference: int

    def __post_init__(self) -> None:
        if not 1 <= self.seqnum <= self.total <= MAX_PARTS:
            raise ValueError(f"seqnum {self.seqnum} of {self.total} is not a valid part number")
        if len(self.short_message) > 254:
            raise ValueError("short_message must be at most 254 bytes")

    @property
    def air_octets(self) -> int:
        """Octets of TP-User-Data on the air interface, the figure the 140-octet limit is on.

        GSM 7-bit septets are packed there (7 bits each, after fill bits that align them to a
        septet boundary past the UDH); UCS-2 is sent as is.
        """
        if self.data_coding != GSM7:
            return len(self.short_message)
        udh = 0
        if self.esm_class & UDHI and self.short_message:
            udh = 1 + self.short_message[0]
        septets = len(self.short_message) - udh
        return math.ceil((udh * 8 + (-udh * 8) % 7 + septets * 7) / 8)


def _chunks(text: str) -> tuple[int, list[str]]:
    """The data_coding and the text of each part, cut between characters."""
    if is_gsm7(text):
        single, part = _GSM_SINGLE, _GSM_PART
        wide = _EXTENSION_CHARS
        coding = GSM7
    else:
        single, part = _UCS2_SINGLE, _UCS2_PART
        wide = None
        coding = UCS2
    if wide is not None:
        narrow = wide.isdisjoint(text)
    else:
        narrow = len(text.encode("utf-16-le", "surrogatepass")) == 2 * len(text)
    if narrow:
        if len(text) <= single:
            return coding, [text]
        return coding, [text[i : i + part] for i in range(0, len(text), part)]
    if wide is not None:
        weights = [2 if char in wide else 1 for char in text]
    else:
        weights = [2 if ord(char) > 0xFFFF else 1 for char in text]
    if sum(weights) <= single:
        return coding, [text]
    chunks: list[str] = []
    start = used = 0
    for index, weight in enumerate(weights):
        if used + weight > part:
            chunks.append(text[start:index])
            start, used = index, 0
        used += weight
    chunks.append(text[start:])
    return coding, chunks


def segment_count(text: str) -> int:
    """How many parts ``text`` goes out in (the figure an operator bills)."""
    return len(_chunks(text)[1])


Encoding = Literal["gsm7", "ucs2"]


@dataclass(frozen=True, slots=True)
class Measure:
    """What a text costs as one SMS, in the figures a sender is shown before sending."""

    coding: int
    """``GSM7`` or ``UCS2``: one character outside the GSM alphabet makes the whole text UCS-2,
    which holds 70 characters a part instead of 160."""
    characters: int
    """Characters as typed (code points)."""
    units: int
    """What the part limits count: GSM septets (an extension character such as ``€`` is
    two) or UTF-16 code units (a character beyond the BMP, an emoji, is two)."""
    parts: int
    outside: tuple[str, ...]
    """The characters that made a text UCS-2, each once in order of appearance, when there
    are few of them (a curly quote pasted into English doubles its cost); empty otherwise."""

    @property
    def encoding(self) -> Encoding:
        """``gsm7`` or ``ucs2``, as the API names them."""
        return "gsm7" if self.coding == GSM7 else "ucs2"


SHOW_OUTSIDE = 5
"""More characters than this outside the GSM alphabet means a text in another script, not a
stray character: ``Measure.outside`` is then left empty."""


def units(text: str, coding: int | None = None) -> int:
    """Code units ``text`` takes in ``coding`` (the alphabet it needs when None)."""
    if coding is None:
        coding = GSM7 if is_gsm7(text) else UCS2
    if coding == GSM7:
        return len(text) + sum(map(text.count, _EXTENSION_CHARS))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def measure(text: str, *, outside: bool = True) -> Measure:
    """The encoding, length and parts of ``text`` as Seva would send it. ``outside``: also
    name the few characters that make it UCS-2 (``Measure.outside``), a scan of the whole
    text that a send of 10,000 personalised texts does without."""
    coding, chunks = _chunks(text)
    found: tuple[str, ...] = ()
    if coding == UCS2 and outside:
        stray = set(text) - _GSM_CHARS
        if len(stray) <= SHOW_OUTSIDE:
            found = tuple(sorted(stray, key=text.index))
    return Measure(
        coding=coding,
        characters=len(text),
        units=units(text, coding),
        parts=len(chunks),
        outside=found,
    )


def _encode_chunk(coding: int, chunk: str) -> bytes:
    if coding == GSM7:
        return chunk.translate(_ENCODE).encode("latin-1")
    return chunk.encode("utf-16-be", "surrogatepass")


def _plan(text: str) -> tuple[int, list[bytes]]:
    coding, chunks = _chunks(text)
    if len(chunks) > MAX_PARTS:
        raise ValueError(
            f"text needs {len(chunks)} parts; a concatenated message has at most {MAX_PARTS}"
        )
    return coding, [_encode_chunk(coding, chunk) for chunk in chunks]


def split(text: str, *, reference: int) -> list[Segment]:
    """The parts of ``text`` with an 8-bit-reference concatenation UDH (05 00 03 ref total seq).

    A text that fits one part comes back as one segment without a UDH. ``reference`` (0..255)
    must differ between the long messages in flight to the same handset.
    """
    if not 0 <= reference <= 0xFF:
        raise ValueError(f"an 8-bit concatenation reference is 0..255, not {reference}")
    coding, payloads = _plan(text)
    total = len(payloads)
    if total == 1:
        return [
            Segment(
                data_coding=coding,
                esm_class=0,
                short_message=payloads[0],
                seqnum=1,
                total=1,
                reference=reference,
            )
        ]
    return [
        Segment(
            data_coding=coding,
            esm_class=UDHI,
            short_message=bytes((0x05, 0x00, 0x03, reference, total, seqnum)) + payload,
            seqnum=seqnum,
            total=total,
            reference=reference,
        )
        for seqnum, payload in enumerate(payloads, start=1)
    ]


def split_sar(text: str, *, reference: int) -> list[Segment]:
    """The parts of ``text`` without a UDH, for the sar_* TLVs (16-bit ``reference``).

    Parts are as large as :func:`split`'s, because the SMSC adds the concatenation header on
    the air interface. Send ``sar_msg_ref_num=reference``, ``sar_total_segments=total`` and
    ``sar_segment_seqnum=seqnum`` with each part when ``total`` > 1.
    """
    if not 0 <= reference <= 0xFFFF:
        raise ValueError(f"sar_msg_ref_num is 0..65535, not {reference}")
    coding, payloads = _plan(text)
    total = len(payloads)
    return [
        Segment(
            data_coding=coding,
            esm_class=0,
            short_message=payload,
            seqnum=seqnum,
            total=total,
            reference=reference,
        )
        for seqnum, payload in enumerate(payloads, start=1)
    ]


def join(segments: Iterable[Segment]) -> str:
    """The text of a complete set of segments from :func:`split` or :func:`split_sar`."""
    parts = sorted(segments, key=lambda segment: segment.seqnum)
    if not parts:
        return ""
    return _decode_parts(
        [(part.data_coding, _strip_udh(part.esm_class, part.short_message)[1]) for part in parts]
    )


# --- reassembly -----------------------------------------------------------------------------

_U16: Final = struct.Struct(">H")


def _strip_udh(esm_class: int, short_message: bytes) -> tuple[tuple[int, int, int] | None, bytes]:
    """``((reference, total, seqnum) or None, payload)`` from a short_message.

    A UDH that claims more octets than there are is not a UDH the handset could have sent;
    the whole short_message is then kept as payload so no text is lost.
    """
    if not esm_class & UDHI or not short_message:
        return None, short_message
    length = short_message[0]
    if 1 + length > len(short_message):
        return None, short_message
    udh = short_message[1 : 1 + length]
    payload = short_message[1 + length :]
    concat = None
    pos = 0
    while pos + 2 <= len(udh):
        iei, iel = udh[pos], udh[pos + 1]
        value = udh[pos + 2 : pos + 2 + iel]
        if len(value) < iel:
            break
        if iei == 0x00 and iel == 3:
            concat = (value[0], value[1], value[2])
        elif iei == 0x08 and iel == 4:
            concat = (_U16.unpack_from(value)[0], value[2], value[3])
        pos += 2 + iel
    return concat, payload


def _decode_parts(parts: list[tuple[int, bytes]]) -> str:
    codings = {coding for coding, _ in parts}
    if len(codings) == 1:
        # Join the bytes before decoding: a sender may cut an ESC pair or a surrogate pair
        # across parts even though Seva never does.
        return decode_text(parts[0][0], b"".join(payload for _, payload in parts))
    return "".join(decode_text(coding, payload) for coding, payload in parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Incomplete:
    """A long message given up on: the parts that did arrive, so the text is not lost."""

    source: str
    reference: int
    total: int
    text: str
    missing: tuple[int, ...]


class _Pending:
    __slots__ = ("deadline", "parts")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.parts: dict[int, tuple[int, bytes]] = {}


class MessagePdu(Protocol):
    """What :meth:`Reassembler.add_pdu` reads of an SMPP deliver_sm, submit_sm or data_sm
    (``seva.channels.smpp.pdu``); all but data_sm also carry ``short_message``."""

    @property
    def source_addr(self) -> str: ...
    @property
    def data_coding(self) -> int: ...
    @property
    def esm_class(self) -> int: ...
    @property
    def message_payload(self) -> bytes | None: ...
    @property
    def sar_msg_ref_num(self) -> int | None: ...
    @property
    def sar_total_segments(self) -> int | None: ...
    @property
    def sar_segment_seqnum(self) -> int | None: ...


class Reassembler:
    """Puts the parts of mobile-originated long messages back together.

    Parts are matched by (source, reference, total), whether the concatenation came as a UDH
    (8- or 16-bit reference) or as sar_* TLVs. Memory is bounded: at most ``max_pending``
    messages wait for parts; the oldest is given up when a new one would exceed that, and any
    message still incomplete ``timeout`` seconds after its first part is given up. Given-up
    messages are returned by :meth:`expire` with the text that did arrive.
    """

    def __init__(self, *, max_pending: int = 1000, timeout: float = 300.0) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self._max_pending = max_pending
        self._timeout = timeout
        self._pending: OrderedDict[tuple[str, int, int], _Pending] = OrderedDict()
        self._given_up: list[Incomplete] = []
        self._given_up_at: float | None = None

    @property
    def pending(self) -> int:
        """Messages waiting for more parts."""
        return len(self._pending)

    def add(
        self,
        *,
        source: str,
        short_message: bytes,
        now: float,
        data_coding: int = GSM7,
        esm_class: int = 0,
        sar_msg_ref_num: int | None = None,
        sar_total_segments: int | None = None,
        sar_segment_seqnum: int | None = None,
    ) -> str | None:
        """The whole text once the last part is in, the text of a single-part message, or None.

        A part whose numbering makes no sense (seqnum 0 or above total) is returned as a
        message of its own rather than dropped.
        """
        concat, payload = _strip_udh(esm_class, short_message)
        if (
            concat is None
            and sar_msg_ref_num is not None
            and sar_total_segments is not None
            and sar_segment_seqnum is not None
        ):
            concat = (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum)
        if concat is None:
            return decode_text(data_coding, payload)
        reference, total, seqnum = concat
        if total < 2 or not 1 <= seqnum <= total:
            return decode_text(data_coding, payload)
        self._expire_due(now)
        key = (source, reference, total)
        entry = self._pending.get(key)
        if entry is None:
            while len(self._pending) >= self._max_pending:
                self._give_up(*self._pending.popitem(last=False))
                self._given_up_at = now
            entry = self._pending[key] = _Pending(now + self._timeout)
        entry.parts[seqnum] = (data_coding, payload)
        if len(entry.parts) < total:
            return None
        del self._pending[key]
        return _decode_parts([entry.parts[index] for index in range(1, total + 1)])

    def add_pdu(self, pdu: MessagePdu, now: float) -> str | None:
        """:meth:`add` for an incoming message PDU (``message_payload`` wins when present)."""
        body: bytes
        if pdu.message_payload is not None:
            body = pdu.message_payload
        else:
            body = getattr(pdu, "short_message", b"")  # data_sm has none
        return self.add(
            source=pdu.source_addr,
            short_message=body,
            now=now,
            data_coding=pdu.data_coding,
            esm_class=pdu.esm_class,
            sar_msg_ref_num=pdu.sar_msg_ref_num,
            sar_total_segments=pdu.sar_total_segments,
            sar_segment_seqnum=pdu.sar_segment_seqnum,
        )

    def next_deadline(self) -> float | None:
        """When the oldest waiting message times out, or None when none waits."""
        if self._given_up_at is not None:
            return self._given_up_at
        for entry in self._pending.values():
            return entry.deadline
        return None

    def expire(self, now: float) -> list[Incomplete]:
        """Messages given up on since the last call: timed out, or pushed out by newer ones."""
        self._expire_due(now)
        given_up, self._given_up = self._given_up, []
        self._given_up_at = None
        return given_up

    def _expire_due(self, now: float) -> None:
        while self._pending:
            key, entry = next(iter(self._pending.items()))
            if entry.deadline > now:
                break
            del self._pending[key]
            self._give_up(key, entry)

    def _give_up(self, key: tuple[str, int, int], entry: _Pending) -> None:
        source, reference, total = key
        arrived = sorted(entry.parts)
        self._given_up.append(
            Incomplete(
                source=source,
                reference=reference,
                total=total,
                text=_decode_parts([entry.parts[index] for index in arrived]),
                missing=tuple(index for index in range(1, total + 1) if index not in entry.parts),
            )
        )
