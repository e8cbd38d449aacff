"""SIP messages for the voice channel: parse, build, encode (a RFC 3261 subset over UDP).

Follows RFC 3261 §7 (message format: start line, headers, empty line, body; §7.3.1 header rows
may be folded and comma-joined; §7.3.3 compact header names; §7.5 leading empty lines are
ignored), §8.1.1 (the headers every request carries), §8.2.6 (how a UAS builds a response:
Via, From, Call-ID and CSeq copied, a To tag added to all but 100 Trying), §18.3 (over UDP a
Content-Length shorter than the datagram truncates the body, a longer one is an error), §19.1
(SIP URIs), §20.10/§20.20 (name-addr and addr-spec in Contact/From/To), §20.42 (Via and its
branch, with the ``z9hG4bK`` magic cookie of §8.1.1.7) and RFC 3581 (``rport``).

Parsing is lenient where deployed user agents stray (bare LF line ends, a missing final empty
line, no Max-Forwards) and strict where a wrong guess would misroute a response or a dialog:
the start line, Via, From, To, Call-ID and CSeq must be readable, there must be one of each
singleton, CSeq must name the request's method, and Content-Length must fit the datagram.
Anything else is a :class:`SipError`; when the message is a request whose headers were read far
enough to answer it, the error carries the status to answer with and the request itself, so a
UAS can reply ``400 Bad Request`` instead of dropping it. Messages are capped at
:data:`MAX_MESSAGE_SIZE` bytes and :data:`MAX_HEADERS` header fields.

Hand-written because the SIP stacks on PyPI are either unmaintained or full user agents with
their own event loops; an IVR needs a few hundred lines of message handling it can test.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, TypeAlias
from urllib.parse import unquote

__all__ = [
    "ALLOWED_METHODS",
    "KNOWN_METHODS",
    "MAGIC_COOKIE",
    "MAX_HEADERS",
    "MAX_MESSAGE_SIZE",
    "REASONS",
    "CSeq",
    "Message",
    "NameAddr",
    "Request",
    "Response",
    "SipError",
    "SipUri",
    "Via",
    "canonical_name",
    "make_response",
    "new_branch",
    "new_call_id",
    "new_tag",
    "parse",
    "parse_cseq",
    "parse_name_addr",
    "parse_uri",
    "parse_via",
    "split_header_values",
    "stamp_via",
]

MAX_MESSAGE_SIZE: Final = 65536
MAX_HEADERS: Final = 100
MAGIC_COOKIE: Final = "z9hG4bK"
# What this UAS implements, for Allow headers and 405 responses (§20.5, §21.4.6).
ALLOWED_METHODS: Final = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS")
# Methods defined by RFC 3261 and its extensions; a UAS answers these 405 rather than 501.
KNOWN_METHODS: Final = frozenset(
    {
        *ALLOWED_METHODS,
        "REGISTER",
        "PRACK",
        "SUBSCRIBE",
        "NOTIFY",
        "PUBLISH",
        "INFO",
        "REFER",
        "MESSAGE",
        "UPDATE",
    }
)

REASONS: Final = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "Version Not Supported",
    513: "Message Too Large",
    603: "Decline",
}

# §7.3.3 compact forms, and the canonical spelling of the headers this package reads or writes.
_COMPACT: Final = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}
_CANONICAL: Final = {
    name.lower(): name
    for name in (
        *_COMPACT.values(),
        "Accept",
        "Allow",
        "Call-ID",
        "Contact",
        "Content-Length",
        "CSeq",
        "Max-Forwards",
        "P-Asserted-Identity",
        "Record-Route",
        "Require",
        "Retry-After",
        "Route",
        "Server",
        "Timestamp",
        "Unsupported",
        "User-Agent",
        "Warning",
        "WWW-Authenticate",
    )
}
_SINGLETONS: Final = ("From", "To", "Call-ID", "CSeq")
_TOKEN_CHARS: Final = r"A-Za-z0-9.!%*_+`'~-"  # noqa: S105 - the RFC 3261 §25.1 token set
_TOKEN: Final = re.compile(f"[{_TOKEN_CHARS}]+")
_VERSION: Final = re.compile(r"SIP/(\d+)\.(\d+)", re.IGNORECASE)
_HOST: Final = re.compile(r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+")
_SENT_BY: Final = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?")
_VIA: Final = re.compile(
    rf"SIP\s*/\s*2\.0\s*/\s*([{_TOKEN_CHARS}]+)\s+([^;\s]+)\s*(;.*)?", re.IGNORECASE | re.DOTALL
)
_HEAD_END: Final = re.compile(rb"\r?\n\r?\n")
_RPORT_FLAG: Final = re.compile(r";\s*rport(?=\s*(?:;|$))", re.IGNORECASE)

Params: TypeAlias = tuple[tuple[str, str | None], ...]
Headers: TypeAlias = tuple[tuple[str, str], ...]


class SipError(Exception):
    """A SIP message that cannot be read or used.

    ``status`` is the response a UAS should send (400 Bad Request, 505 Version Not Supported…)
    and ``request`` the request as far as it was read, with the headers a response copies; both
    are None when the message cannot be answered (a response, or no readable headers).
    """

    def __init__(
        self, message: str, *, status: int | None = None, request: Request | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status if request is not None else None
        self.request = request
        # The status the failed check asked for, kept until parse() knows if it can answer.
        self._wanted = status

    def __repr__(self) -> str:
        return f"SipError({self.message!r}, status={self.status})"


# --- small grammar pieces ----------------------------------------------------------------------


def canonical_name(name: str) -> str:
    """``Call-ID`` for ``call-id`` or ``i``; other names are kept as written."""
    lower = name.lower()
    return _COMPACT.get(lower) or _CANONICAL.get(lower, name)


def split_header_values(value: str) -> list[str]:
    """Split a comma-joined header row (§7.3.1), minding quoted strings and ``<...>``."""
    parts: list[str] = []
    start = 0
    quoted = escaped = False
    angle = 0
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            if char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "<":
            angle += 1
        elif char == ">":
            angle = max(0, angle - 1)
        elif char == "," and angle == 0:
            parts.append(value[start:index].strip())
            start = index + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def _parse_params(text: str) -> Params:
    """``;name=value;flag`` (the text from the first ``;``) to ``(name, value)`` pairs.

    Names are case-insensitive and come back lower-cased; values are kept as written.
    """
    text = text.strip()
    if not text:
        return ()
    if not text.startswith(";"):
        raise SipError(f"expected ';' before parameters, got {text[:40]!r}")
    params: list[tuple[str, str | None]] = []
    for raw in _split_params(text[1:]):
        name, eq, value = raw.partition("=")
        name = name.strip()
        if not name:
            continue
        if not _TOKEN.fullmatch(name):
            raise SipError(f"bad parameter name {name[:40]!r}")
        params.append((name.lower(), value.strip() if eq else None))
    return tuple(params)


def _split_params(text: str) -> list[str]:
    """Split on ``;`` outside quoted strings."""
    parts: list[str] = []
    start = 0
    quoted = escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif quoted:
            if char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == ";":
            parts.append(text[start:index])
            start = index + 1
    if quoted:
        raise SipError("unterminated quoted string in parameters")
    parts.append(text[start:])
    return parts


def _param(params: Params, name: str) -> str | None:
    for key, value in params:
        if key == name:
            return value
    return None


def _port(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and int(text) <= 65535):
        raise SipError(f"{what} port must be 0..65535, not {text[:20]!r}")
    return int(text)


@dataclass(frozen=True, slots=True, kw_only=True)
class SipUri:
    """A ``sip:``/``sips:`` URI (§19.1) or a ``tel:`` URI (RFC 3966; ``host`` is empty)."""

    scheme: str
    user: str | None
    host: str
    port: int | None = None
    params: Params = ()

    @property
    def hostport(self) -> tuple[str, int]:
        """Where to send a request for this URI, with the scheme's default port."""
        host = self.host[1:-1] if self.host.startswith("[") else self.host
        return host, self.port or (5061 if self.scheme == "sips" else 5060)


def parse_uri(text: str) -> SipUri:
    """Read a SIP, SIPS or tel URI; :class:`SipError` for any other scheme or bad syntax."""
    scheme, colon, rest = text.strip().partition(":")
    scheme = scheme.lower()
    if not colon or not rest:
        raise SipError(f"not a URI: {text[:80]!r}")
    if scheme == "tel":
        number, _, param_text = rest.partition(";")
        if not number:
            raise SipError(f"tel URI without a number: {text[:80]!r}")
        return SipUri(
            scheme="tel",
            user=unquote(number),
            host="",
            params=_parse_params(";" + param_text) if param_text else (),
        )
    if scheme not in ("sip", "sips"):
        raise SipError(f"unsupported URI scheme {scheme[:20]!r}")
    user: str | None = None
    at = rest.find("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        user = unquote(userinfo.partition(":")[0])
        if not user:
            raise SipError(f"empty user part in {text[:80]!r}")
    hostport, _, param_text = rest.partition(";")
    hostport = hostport.partition("?")[0]
    match = _SENT_BY.fullmatch(hostport)
    if match is None:
        raise SipError(f"bad host in URI {text[:80]!r}")
    return SipUri(
        scheme=scheme,
        user=user,
        host=match.group(1),
        port=_port(match.group(2), "URI"),
        params=_parse_params(";" + param_text.partition("?")[0]) if param_text else (),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class NameAddr:
    """A From/To/Contact/Route value: optional display name, URI, and header parameters."""

    display_name: str
    uri: str
    params: Params = ()

    @property
    def tag(self) -> str | None:
        return _param(self.params, "tag")

    @property
    def parsed_uri(self) -> SipUri:
        return parse_uri(self.uri)

    @property
    def user(self) -> str | None:
        """The user part of the URI: the number, for a caller on a telephone trunk."""
        return self.parsed_uri.user


def _read_quoted(text: str) -> tuple[str, str]:
    """``"..."`` at the start of ``text`` unescaped, and what follows it."""
    out: list[str] = []
    index = 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            out.append(text[index + 1])
            index += 2
            continue
        if char == '"':
            return "".join(out), text[index + 1 :]
        out.append(char)
        index += 1
    raise SipError("unterminated quoted display name")


def parse_name_addr(value: str) -> NameAddr:
    """Read ``"Name" <uri>;params``, ``Name <uri>;params`` or ``uri;params`` (§20.10)."""
    text = value.strip()
    display = ""
    if text.startswith('"'):
        display, text = _read_quoted(text)
        text = text.lstrip()
        if not text.startswith("<"):
            raise SipError(f"quoted display name must be followed by <uri>: {value[:80]!r}")
    if "<" in text:
        lt = text.index("<")
        if lt:
            display = " ".join(text[:lt].split())
        gt = text.find(">", lt)
        if gt < 0:
            raise SipError(f"'<' without '>' in {value[:80]!r}")
        uri = text[lt + 1 : gt].strip()
        params = _parse_params(text[gt + 1 :])
    else:
        # Without angle brackets, everything after the first ';' belongs to the header (§20.10).
        uri, semicolon, param_text = text.partition(";")
        uri = uri.strip()
        params = _parse_params(";" + param_text) if semicolon else ()
    if ":" not in uri or any(c.isspace() for c in uri):
        raise SipError(f"not a URI: {uri[:80]!r}")
    return NameAddr(display_name=display, uri=uri, params=params)


@dataclass(frozen=True, slots=True, kw_only=True)
class Via:
    """One Via value (§20.42): transport, sent-by and parameters."""

    transport: str
    host: str
    port: int | None = None
    params: Params = ()

    @property
    def branch(self) -> str | None:
        return _param(self.params, "branch")

    @property
    def sent_by(self) -> str:
        return f"{self.host}:{self.port}" if self.port is not None else self.host


def parse_via(value: str) -> Via:
    match = _VIA.fullmatch(value.strip())
    if match is None:
        raise SipError(f"bad Via {value[:80]!r}")
    sent_by = _SENT_BY.fullmatch(match.group(2))
    if sent_by is None:
        raise SipError(f"bad Via sent-by {match.group(2)[:80]!r}")
    return Via(
        transport=match.group(1).upper(),
        host=sent_by.group(1),
        port=_port(sent_by.group(2), "Via"),
        params=_parse_params(match.group(3) or ""),
    )


@dataclass(frozen=True, slots=True)
class CSeq:
    """§20.16: a sequence number below 2**31 and the request's method."""

    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def parse_cseq(value: str) -> CSeq:
    parts = value.split()
    if (
        len(parts) != 2
        or not (parts[0].isascii() and parts[0].isdigit() and len(parts[0]) <= 10)
        or int(parts[0]) >= 2**31
        or not _TOKEN.fullmatch(parts[1])
    ):
        raise SipError(f"CSeq must be '<number below 2**31> <method>', not {value[:80]!r}")
    return CSeq(int(parts[0]), parts[1])


# --- messages ---------------------------------------------------------------------------------


def _check_headers(headers: Headers) -> None:
    if not isinstance(headers, tuple):
        raise TypeError("headers must be a tuple of (name, value) pairs")
    for item in headers:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise ValueError(f"headers must be (name, value) pairs, not {item!r}")
        name, value = item
        if not (isinstance(name, str) and _TOKEN.fullmatch(name)):
            raise ValueError(f"bad header name {name!r}")
        if not isinstance(value, str) or "\r" in value or "\n" in value:
            # A CR or LF in a value would let the value smuggle in headers of its own.
            raise ValueError(f"header {name} value must be a str without CR or LF: {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """What requests and responses share: headers in order and a body.

    Header names are stored canonically (compact forms expanded); look-ups ignore case.
    Comma-joined Via rows are split into one entry per Via, so their order is the hop order.
    """

    headers: Headers = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of a header, or None."""
        key = canonical_name(name).lower()
        for have, value in self.headers:
            if have.lower() == key:
                return value
        return None

    def header_all(self, name: str) -> tuple[str, ...]:
        key = canonical_name(name).lower()
        return tuple(value for have, value in self.headers if have.lower() == key)

    def _required(self, name: str) -> str:
        value = self.header(name)
        if value is None:
            raise SipError(f"missing {name} header")
        return value

    @property
    def call_id(self) -> str:
        return self._required("Call-ID")

    @property
    def cseq(self) -> CSeq:
        return parse_cseq(self._required("CSeq"))

    @property
    def from_(self) -> NameAddr:
        return parse_name_addr(self._required("From"))

    @property
    def to(self) -> NameAddr:
        return parse_name_addr(self._required("To"))

    @property
    def vias(self) -> tuple[Via, ...]:
        return tuple(parse_via(v) for v in self.header_all("Via"))

    @property
    def top_via(self) -> Via:
        return parse_via(self._required("Via"))

    def _encode(self, start_line: str) -> bytes:
        lines = [start_line]
        lines += [f"{n}: {v}" for n, v in self.headers if n.lower() != "content-length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


@dataclass(frozen=True, slots=True, kw_only=True)
class Request(Message):
    """A SIP request; :meth:`encode` writes Content-Length from the body."""

    method: str
    uri: str

    def __post_init__(self) -> None:
        if not _TOKEN.fullmatch(self.method):
            raise ValueError(f"bad method {self.method!r}")
        if not self.uri or any(c.isspace() for c in self.uri):
            raise ValueError(f"bad Request-URI {self.uri!r}")
        _check_headers(self.headers)

    def encode(self) -> bytes:
        return self._encode(f"{self.method} {self.uri} SIP/2.0")


@dataclass(frozen=True, slots=True, kw_only=True)
class Response(Message):
    """A SIP response; :meth:`encode` writes Content-Length from the body."""

    status: int
    reason: str = ""

    def __post_init__(self) -> None:
        if not (isinstance(self.status, int) and 100 <= self.status <= 699):
            raise ValueError(f"status must be an int 100..699, not {self.status!r}")
        if "\r" in self.reason or "\n" in self.reason:
            raise ValueError(f"reason must not contain CR or LF: {self.reason!r}")
        _check_headers(self.headers)

    def encode(self) -> bytes:
        reason = self.reason or REASONS.get(self.status, "")
        return self._encode(f"SIP/2.0 {self.status} {reason}")


# --- parsing ----------------------------------------------------------------------------------


def _header_lines(head: str) -> tuple[list[str], list[str]]:
    """Unfold header rows (§7.3.1); returns the rows and any problems found on the way."""
    rows: list[str] = []
    problems: list[str] = []
    for line in head.split("\n"):
        line = line.removesuffix("\r")
        if line[:1] in (" ", "\t"):
            if rows:
                rows[-1] += " " + line.strip()
            else:
                problems.append("continuation line before any header")
        elif line:
            rows.append(line)
    return rows, problems


def _read_headers(rows: list[str], problems: list[str]) -> Headers:
    headers: list[tuple[str, str]] = []
    for row in rows:
        if len(headers) >= MAX_HEADERS:
            problems.append(f"more than {MAX_HEADERS} header fields")
            break
        name, colon, value = row.partition(":")
        name = name.strip()
        if not colon or not _TOKEN.fullmatch(name):
            problems.append(f"bad header line {row[:60]!r}")
            continue
        name = canonical_name(name)
        value = value.strip()
        if name == "Via":
            headers.extend(("Via", v) for v in split_header_values(value))
        else:
            headers.append((name, value))
    return tuple(headers)


def _check_version(text: str, status: int | None) -> None:
    match = _VERSION.fullmatch(text)
    if match is None:
        raise SipError(f"bad SIP version {text[:20]!r}")
    if (int(match.group(1)), int(match.group(2))) != (2, 0):
        raise SipError(f"SIP version {text} is not supported", status=status)


def _validate(message: Request | Response) -> None:
    """The checks every message must pass; raises SipError (status filled in by the caller)."""
    for name in _SINGLETONS:
        count = len(message.header_all(name))
        if count != 1:
            raise SipError(f"{'missing' if count == 0 else 'repeated'} {name} header")
    if not message.header_all("Via"):
        raise SipError("missing Via header")
    # Reading them is the check: each raises SipError when it cannot be parsed.
    _ = message.top_via, message.from_, message.to
    if not message.call_id:
        raise SipError("empty Call-ID")
    cseq = message.cseq
    if isinstance(message, Request) and cseq.method != message.method:
        raise SipError(f"CSeq method {cseq.method} does not match {message.method}")


def _body(message_body: bytes, lengths: tuple[str, ...]) -> bytes:
    if not lengths:
        return message_body  # §18.3: over UDP the body is the rest of the datagram
    if len(set(lengths)) > 1:
        raise SipError("conflicting Content-Length headers")
    text = lengths[0]
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise SipError(f"bad Content-Length {text[:20]!r}")
    length = int(text)
    if length > len(message_body):
        raise SipError(f"Content-Length {length} but only {len(message_body)} body bytes")
    return message_body[:length]


def parse(data: bytes) -> Request | Response:
    """Read one SIP message from one UDP datagram."""
    if len(data) > MAX_MESSAGE_SIZE:
        raise SipError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_SIZE}")
    data = data.lstrip(b"\r\n")
    if not data:
        raise SipError("empty message")
    end = _HEAD_END.search(data)
    head_bytes, body = (data[: end.start()], data[end.end() :]) if end else (data, b"")
    try:
        head = head_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise SipError("header section is not UTF-8") from None
    first, _, rest = head.partition("\n")
    first = first.removesuffix("\r")
    parts = first.split(" ", 2)
    if len(parts) == 2 and parts[0].upper().startswith("SIP/"):
        parts.append("")  # a response with an empty reason phrase and no space before it
    if len(parts) != 3:
        raise SipError(f"bad start line {first[:80]!r}")
    rows, problems = _header_lines(rest)
    headers = _read_headers(rows, problems)
    is_response = parts[0].upper().startswith("SIP/")
    message: Request | Response
    try:
        if is_response:
            _check_version(parts[0], None)
            code = parts[1]
            if not (code.isascii() and code.isdigit() and len(code) == 3 and code[0] in "123456"):
                raise SipError(f"bad status code {code[:20]!r}")
            if any(c in parts[2] for c in "\r\n"):
                raise SipError("bad reason phrase")
            message = Response(status=int(code), reason=parts[2], headers=headers, body=body)
        else:
            method, uri = parts[0], parts[1]
            if not _TOKEN.fullmatch(method) or not uri or any(c.isspace() for c in uri):
                raise SipError(f"bad request line {first[:80]!r}")
            if ":" not in uri:
                raise SipError(f"Request-URI {uri[:80]!r} has no scheme")
            message = Request(method=method, uri=uri, headers=headers, body=body)
    except ValueError as exc:
        raise SipError(f"bad message: {exc}") from None
    request = message if isinstance(message, Request) else None
    try:
        if request is not None:
            _check_version(parts[2].strip(), 505)
        _validate(message)
        if problems:
            raise SipError(problems[0])
        message_body = _body(body, message.header_all("Content-Length"))
    except SipError as exc:
        # Answerable only when the headers a response copies are there and readable.
        answerable = request is not None and _answerable(request)
        status = exc._wanted if exc._wanted is not None else 400
        raise SipError(
            exc.message, status=status, request=request if answerable else None
        ) from None
    if message_body is not body:
        message = (
            Request(method=message.method, uri=message.uri, headers=headers, body=message_body)
            if isinstance(message, Request)
            else Response(
                status=message.status, reason=message.reason, headers=headers, body=message_body
            )
        )
    return message


def _answerable(request: Request) -> bool:
    if not all(len(request.header_all(n)) == 1 for n in _SINGLETONS):
        return False
    try:
        _ = request.top_via, request.to
    except SipError:
        return False
    return True


# --- building ---------------------------------------------------------------------------------


def new_tag() -> str:
    """A From/To tag with 64 random bits (§19.3 asks for at least 32)."""
    return secrets.token_hex(8)


def new_branch() -> str:
    """A Via branch with the RFC 3261 magic cookie and 80 random bits (§8.1.1.7)."""
    return MAGIC_COOKIE + secrets.token_hex(10)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(12)}@{host}"


def make_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> Response:
    """Build the response to ``request`` as §8.2.6 says a UAS must.

    Via rows, From, Call-ID and CSeq are copied unchanged and in order; To is copied and, unless
    it has a tag already or this is a 100 Trying, gets ``to_tag`` (a fresh one if None). 100
    Trying echoes Timestamp (§8.2.6.1); responses to INVITE other than 100 echo Record-Route
    (§12.1.1) so the caller can build its route set.
    """
    copied: list[tuple[str, str]] = [("Via", v) for v in request.header_all("Via")]
    copied.append(("From", request._required("From")))
    to_value = request._required("To")
    if status != 100 and parse_name_addr(to_value).tag is None:
        to_value = f"{to_value};tag={to_tag or new_tag()}"
    copied.append(("To", to_value))
    copied.append(("Call-ID", request._required("Call-ID")))
    copied.append(("CSeq", request._required("CSeq")))
    if status == 100:
        copied += [("Timestamp", t) for t in request.header_all("Timestamp")]
    elif request.method == "INVITE" and status < 300:
        copied += [("Record-Route", r) for r in request.header_all("Record-Route")]
    copied += headers
    return Response(
        status=status,
        reason=reason if reason is not None else REASONS.get(status, ""),
        headers=tuple(copied),
        body=body,
    )


def stamp_via(request: Request, source: tuple[str, int]) -> Request:
    """Record where the request really came from in its top Via (§18.2.1, RFC 3581 §4).

    Adds ``received`` when the sent-by host is not the source IP, and fills in an empty
    ``rport`` with the source port; the responses built from it then carry both.
    """
    vias = request.header_all("Via")
    if not vias:
        return request
    top = vias[0]
    via = parse_via(top)
    ip, port = source
    stamped = top
    if _RPORT_FLAG.search(stamped) and _param(via.params, "rport") is None:
        stamped = _RPORT_FLAG.sub(f";rport={port}", stamped, count=1)
    if via.host.strip("[]") != ip and _param(via.params, "received") is None:
        stamped += f";received={ip}"
    if stamped == top:
        return request
    headers = list(request.headers)
    index = next(i for i, (name, _) in enumerate(headers) if name == "Via")
    headers[index] = ("Via", stamped)
    return Request(
        method=request.method, uri=request.uri, headers=tuple(headers), body=request.body
    )


# --- shared by the user agent server and client ------------------------------------------------


def media_type(value: str | None) -> str:
    """``application/sdp`` from ``Application/SDP; charset=x`` (§20.15), lower-cased."""
    return (value or "").partition(";")[0].strip().lower()


def transaction_key(request: Request) -> str:
    """What identifies the server transaction a request belongs to (§17.2.3): the RFC 3261
    branch and sent-by, or for RFC 2543 peers the request's identifying fields."""
    via = request.top_via
    branch = via.branch or ""
    sent_by = via.sent_by.lower()
    if branch.startswith(MAGIC_COOKIE):
        return f"{branch}|{sent_by}"
    cseq = request.cseq.number
    return f"2543|{request.uri}|{request.call_id}|{request.from_.tag}|{cseq}|{sent_by}|{branch}"


def warning_header(host: str, text: str) -> tuple[str, str]:
    """A ``Warning: 399`` (§20.43) whose text is a quoted-string: printable, free of quotes."""
    clean = "".join(c if c.isprintable() and c not in '"\\' else "'" for c in text)
    return ("Warning", f'399 {host} "{clean[:120]}"')


def stateless_response(
    request: Request,
    status: int,
    *,
    server: str,
    host: str,
    warning: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> bytes | None:
    """A response held nowhere (§8.2.7: strangers, unreadable requests); None when the
    request is too broken to answer."""
    extra = [*headers, ("Server", server)]
    if warning is not None:
        extra.append(warning_header(host, warning))
    try:
        return make_response(request, status, headers=extra).encode()
    except SipError:
        return None
