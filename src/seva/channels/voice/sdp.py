"""SDP for the voice channel: read an offer, choose G.711 and DTMF, write the answer.

Follows RFC 4566 (SDP: ``<type>=<value>`` lines, ``v=`` first, session-level lines before the
first ``m=``, ``c=`` at session level or in every media description, ``a=rtpmap``/``a=ptime``
and the direction attributes §6) and RFC 3264 (offer/answer: §5.1 direction, §6 the answer has
exactly as many ``m=`` lines as the offer, in the same order, a refused stream has port 0, §6.1
the answerer uses the offerer's payload type numbers and keeps the offerer's preference order,
§8.4 ``c=0.0.0.0`` as the old form of "on hold"). Telephone events are RFC 4733 §7.1.1
(``telephone-event/8000`` with a dynamic payload type).

Only what an IVR needs is understood: one audio stream over ``RTP/AVP`` carrying PCMU (payload
type 0) or PCMA (8), optionally with telephone-event. Every other stream is refused in the
answer rather than failing the call. Unknown line types and attributes are ignored, as
implementations do in practice; what cannot be SDP at all is an :class:`SdpError`, and an offer
with no usable audio is :class:`NoCommonCodec` (a UAS answers 488 Not Acceptable Here).

Written by hand because the subset is small and the parsers on PyPI either accept anything or
bring a dependency tree larger than this module.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass
from typing import Final

from seva.channels.voice.rtp import CLOCK_RATE, Codec

__all__ = [
    "DEFAULT_DTMF_PAYLOAD_TYPE",
    "PTIME_MS",
    "Connection",
    "Direction",
    "MediaChoice",
    "MediaDescription",
    "NoCommonCodec",
    "RtpMap",
    "SdpError",
    "SessionDescription",
    "build_answer",
    "build_offer",
    "negotiate",
    "parse",
]

PTIME_MS: Final = 20
DEFAULT_DTMF_PAYLOAD_TYPE: Final = 101
_AUDIO_PROTO: Final = "RTP/AVP"
_LINE: Final = re.compile(r"([a-z])=(.*)")
_HOSTNAME: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})")
_TOKEN: Final = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`{|}~-]+")
# RFC 3264 §8.4: c=0.0.0.0 means "do not send to me" (these are peer addresses, not binds).
_UNSPECIFIED: Final = frozenset({"0.0.0.0", "::"})  # noqa: S104


class SdpError(ValueError):
    """A body that is not a session description this module can read."""


class NoCommonCodec(SdpError):
    """The offer is valid SDP but has no audio stream in PCMU or PCMA over RTP/AVP."""


class HostAddress(SdpError):
    """The chosen stream's ``c=`` names a host rather than an IP address. RFC 4566 allows it,
    but media goes only to addresses: a name would cost a DNS lookup per packet on the event
    loop and could never match the source of the caller's packets."""


class Direction(enum.StrEnum):
    """RFC 4566 §6 / RFC 3264 §5.1 stream direction, from the point of view of its writer."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    def reversed(self) -> Direction:
        """The direction the other side writes for the same stream (RFC 3264 §6.1)."""
        if self is Direction.SENDONLY:
            return Direction.RECVONLY
        if self is Direction.RECVONLY:
            return Direction.SENDONLY
        return self

    @property
    def sends(self) -> bool:
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self in (Direction.SENDRECV, Direction.RECVONLY)


_DIRECTIONS: Final = {d.value: d for d in Direction}


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    """``c=IN <IP4|IP6> <address>``; a multicast TTL or address count is dropped."""

    address_type: str
    address: str

    @property
    def unspecified(self) -> bool:
        """``0.0.0.0`` (or ``::``): the offerer does not want media now (RFC 3264 §8.4)."""
        return self.address in _UNSPECIFIED


@dataclass(frozen=True, slots=True, kw_only=True)
class RtpMap:
    """``a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]``."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaDescription:
    """One ``m=`` line with the lines that follow it."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    connection: Connection | None = None
    direction: Direction | None = None
    rtpmaps: tuple[RtpMap, ...] = ()
    ptime: int | None = None

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        for entry in self.rtpmaps:
            if entry.payload_type == payload_type:
                return entry
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionDescription:
    """A parsed SDP body: the session-level ``c=`` and direction, and the media descriptions."""

    origin: str = ""
    connection: Connection | None = None
    direction: Direction | None = None
    media: tuple[MediaDescription, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaChoice:
    """The audio stream agreed from a description: what to send where, and how.

    ``index`` is the position of its ``m=`` line; ``direction`` is the offerer's (as written
    in the description read), ``local_direction`` what we write back and do.
    """

    index: int
    codec: Codec
    payload_type: int
    dtmf_payload_type: int | None
    remote_address: str
    remote_port: int
    direction: Direction
    ptime: int | None = None

    @property
    def local_direction(self) -> Direction:
        local = self.direction.reversed()
        if self.remote_address in _UNSPECIFIED:
            # Old-style hold: nowhere to send to, whatever the attribute says.
            return Direction.RECVONLY if local.receives else Direction.INACTIVE
        return local


# --- parsing ----------------------------------------------------------------------------------


def _connection(value: str) -> Connection:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError(f"c= must be 'IN IP4|IP6 <address>', not {value!r}")
    address = parts[2].split("/", 1)[0]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        if not _HOSTNAME.fullmatch(address):
            raise SdpError(
                f"c= address {address!r} is neither an IP address nor a host name"
            ) from None
    else:
        if (ip.version == 4) != (parts[1] == "IP4"):
            raise SdpError(f"c= says {parts[1]} but the address is {address}")
    return Connection(address_type=parts[1], address=address)


def _media_line(value: str) -> tuple[str, int, str, tuple[str, ...]]:
    parts = value.split()
    if len(parts) < 4:
        raise SdpError(f"m= must be '<media> <port> <proto> <fmt> ...', not {value!r}")
    media, port_text, proto, *formats = parts
    port_text = port_text.split("/", 1)[0]  # "<port>/<number of ports>": the base port is used
    if not (port_text.isascii() and port_text.isdigit() and int(port_text) <= 65535):
        raise SdpError(f"m= port must be 0..65535, not {port_text!r}")
    if not all(_TOKEN.fullmatch(p) for p in (media, *proto.split("/"), *formats)):
        raise SdpError(f"m= line has characters SDP does not allow: {value!r}")
    port = int(port_text)
    if proto == _AUDIO_PROTO and port and not all(_payload_type(f) is not None for f in formats):
        raise SdpError(f"RTP/AVP formats must be payload types 0..127, not {formats!r}")
    return media, port, proto, tuple(formats)


def _payload_type(text: str) -> int | None:
    if text.isascii() and text.isdigit() and len(text) <= 3 and int(text) <= 127:
        return int(text)
    return None


def _rtpmap(value: str) -> RtpMap | None:
    # "<pt> <encoding>/<clock>[/<channels>]"; an unreadable rtpmap is ignored rather than
    # failing the offer, since it may well belong to a format we would not pick anyway.
    pt_text, _, rest = value.partition(" ")
    pt = _payload_type(pt_text)
    fields = rest.strip().split("/")
    if pt is None or len(fields) not in (2, 3) or not fields[0]:
        return None
    if not all(f.isascii() and f.isdigit() and len(f) <= 9 for f in fields[1:]):
        return None
    channels = int(fields[2]) if len(fields) == 3 else None
    return RtpMap(payload_type=pt, encoding=fields[0], clock_rate=int(fields[1]), channels=channels)


class _MediaBuilder:
    def __init__(self, media: str, port: int, proto: str, formats: tuple[str, ...]) -> None:
        self.media, self.port, self.proto, self.formats = media, port, proto, formats
        self.connection: Connection | None = None
        self.direction: Direction | None = None
        self.rtpmaps: list[RtpMap] = []
        self.ptime: int | None = None

    def build(self) -> MediaDescription:
        return MediaDescription(
            media=self.media,
            port=self.port,
            proto=self.proto,
            formats=self.formats,
            connection=self.connection,
            direction=self.direction,
            rtpmaps=tuple(self.rtpmaps),
            ptime=self.ptime,
        )


def parse(body: bytes | str) -> SessionDescription:
    """Read an SDP body (RFC 4566); :class:`SdpError` when it is not SDP."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SdpError(f"SDP is not UTF-8: {exc}") from None
    else:
        text = body
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or lines[0].strip() != "v=0":
        raise SdpError("SDP must start with v=0")
    origin = ""
    session_connection: Connection | None = None
    session_direction: Direction | None = None
    media: list[_MediaBuilder] = []
    for number, line in enumerate(lines[1:], start=2):
        match = _LINE.fullmatch(line)
        if match is None:
            raise SdpError(f"SDP line {number} is not '<letter>=<value>': {line[:80]!r}")
        kind, value = match.group(1), match.group(2).strip()
        current = media[-1] if media else None
        if kind == "m":
            media.append(_MediaBuilder(*_media_line(value)))
        elif kind == "o" and current is None:
            origin = value
        elif kind == "c":
            if current is None:
                session_connection = _connection(value)
            else:
                current.connection = _connection(value)
        elif kind == "a":
            name, _, attr = value.partition(":")
            if name in _DIRECTIONS:
                if current is None:
                    session_direction = _DIRECTIONS[name]
                else:
                    current.direction = _DIRECTIONS[name]
            elif name == "rtpmap" and current is not None:
                entry = _rtpmap(attr)
                if entry is not None:
                    current.rtpmaps.append(entry)
            elif name == "ptime" and current is not None:
                ptime = attr.strip()
                if ptime.isascii() and ptime.isdigit() and 0 < int(ptime) <= 1000:
                    current.ptime = int(ptime)
        # Other line types (s, t, b, k, i, u, e, p, z, r) carry nothing an IVR acts on.
    return SessionDescription(
        origin=origin,
        connection=session_connection,
        direction=session_direction,
        media=tuple(m.build() for m in media),
    )


# --- negotiation ------------------------------------------------------------------------------


def _codec_for(media: MediaDescription, payload_type: int) -> Codec | None:
    entry = media.rtpmap(payload_type)
    if entry is None:
        # Static payload types need no rtpmap (RFC 3551 §6); dynamic ones without one are unknown.
        return Codec(payload_type) if payload_type in (Codec.PCMU, Codec.PCMA) else None
    for codec in Codec:
        if (
            entry.encoding.upper() == codec.encoding_name
            and entry.clock_rate == CLOCK_RATE
            and entry.channels in (None, 1)
        ):
            return codec
    return None


def _dtmf_payload_type(media: MediaDescription) -> int | None:
    for text in media.formats:
        pt = _payload_type(text)
        entry = media.rtpmap(pt) if pt is not None else None
        if (
            entry is not None
            and entry.encoding.lower() == "telephone-event"
            and entry.clock_rate == CLOCK_RATE
        ):
            return entry.payload_type
    return None


def negotiate(description: SessionDescription) -> MediaChoice:
    """The first audio stream with a codec we speak, in the writer's order of preference.

    Works on an offer (we answer with the choice) and on an answer to our offer (the choice is
    what the answerer picked). Raises :class:`NoCommonCodec` when no stream fits,
    :class:`HostAddress` when the chosen stream is at a host name, and :class:`SdpError` when
    it has no ``c=`` anywhere.
    """
    for index, media in enumerate(description.media):
        if media.media != "audio" or media.proto != _AUDIO_PROTO or media.port == 0:
            continue
        for text in media.formats:
            pt = _payload_type(text)
            codec = _codec_for(media, pt) if pt is not None else None
            if codec is None or pt is None:
                continue
            connection = media.connection or description.connection
            if connection is None:
                raise SdpError(f"audio stream {index} has no c= line and neither has the session")
            if not _is_ip(connection.address):
                raise HostAddress(f"audio stream {index} is at a host name, not an IP address")
            return MediaChoice(
                index=index,
                codec=codec,
                payload_type=pt,
                dtmf_payload_type=_dtmf_payload_type(media),
                remote_address=connection.address,
                remote_port=media.port,
                direction=media.direction or description.direction or Direction.SENDRECV,
                ptime=media.ptime,
            )
    raise NoCommonCodec("no audio stream offers PCMU or PCMA over RTP/AVP")


# --- writing ----------------------------------------------------------------------------------


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _address_type(address: str) -> str:
    try:
        return "IP6" if ipaddress.ip_address(address).version == 6 else "IP4"
    except ValueError:
        raise ValueError(f"local address must be an IP address, not {address!r}") from None


def _session_lines(address: str, session_id: int, session_version: int) -> list[str]:
    address_type = _address_type(address)
    return [
        "v=0",
        f"o=seva {session_id} {session_version} IN {address_type} {address}",
        "s=Seva",
        f"c=IN {address_type} {address}",
        "t=0 0",
    ]


def _audio_lines(
    port: int, formats: list[tuple[int, str]], dtmf: int | None, direction: Direction
) -> list[str]:
    numbers = [str(pt) for pt, _ in formats]
    if dtmf is not None:
        numbers.append(str(dtmf))
    lines = [f"m=audio {port} {_AUDIO_PROTO} {' '.join(numbers)}"]
    lines += [f"a=rtpmap:{pt} {name}/{CLOCK_RATE}" for pt, name in formats]
    if dtmf is not None:
        lines += [f"a=rtpmap:{dtmf} telephone-event/{CLOCK_RATE}", f"a=fmtp:{dtmf} 0-15"]
    lines += [f"a=ptime:{PTIME_MS}", f"a={direction.value}"]
    return lines


def _join(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def build_answer(
    offer: SessionDescription,
    choice: MediaChoice,
    *,
    address: str,
    port: int,
    session_id: int,
    session_version: int,
) -> bytes:
    """RFC 3264 §6 answer: the chosen stream at ``address:port``, every other one refused."""
    if not 0 < port <= 65535:
        raise ValueError(f"RTP port must be 1..65535, not {port}")
    lines = _session_lines(address, session_id, session_version)
    for index, media in enumerate(offer.media):
        if index == choice.index:
            lines += _audio_lines(
                port,
                [(choice.payload_type, choice.codec.encoding_name)],
                choice.dtmf_payload_type,
                choice.local_direction,
            )
        else:
            # A refused stream keeps its media, transport and formats with port 0 (§6).
            lines.append(f"m={media.media} 0 {media.proto} {' '.join(media.formats)}")
    return _join(lines)


def build_offer(
    *,
    address: str,
    port: int,
    session_id: int,
    session_version: int,
    dtmf_payload_type: int = DEFAULT_DTMF_PAYLOAD_TYPE,
) -> bytes:
    """Our offer, for an INVITE that came without one: PCMU, PCMA and telephone-event."""
    if not 0 < port <= 65535:
        raise ValueError(f"RTP port must be 1..65535, not {port}")
    lines = _session_lines(address, session_id, session_version)
    lines += _audio_lines(
        port,
        [(int(c), c.encoding_name) for c in (Codec.PCMU, Codec.PCMA)],
        dtmf_payload_type,
        Direction.SENDRECV,
    )
    return _join(lines)
