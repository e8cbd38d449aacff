"""The Mobile Seva (MSDG) SMS push request format, so existing department clients switch as is.

Follows C-DAC's "Mobile Seva" push API as documented on the MSDG services portal (SMS Push
Service, endpoint ``/esms/sendsmsrequestDLT``) and in the MSDP integration document (v1.7
of 12 April 2018 and v1.8 of 21 December 2020) with its Java, .NET and PHP sample clients.

A department POSTs a form (``application/x-www-form-urlencoded``) with:

``username``, ``password``
    The account name and the SHA-1 hex digest of the password (the sample clients' method
    called ``MD5`` computes SHA-1 over the password's ISO-8859-1 bytes).
``senderid``
    The DLT header (6 characters).
``content``
    The message. Unicode messages arrive as HTML numeric entities, ``&#2357;`` (the Java
    sample writes one decimal entity per UTF-16 code unit, so characters beyond the BMP
    come as surrogate pairs); ``&#x935;`` is accepted as well.
``smsservicetype``
    ``singlemsg`` with ``mobileno``; ``bulkmsg`` and ``unicodemsg`` with ``bulkmobno``
    (comma-separated); ``otpmsg`` and ``unicodeotpmsg`` with ``mobileno`` (at most two
    numbers). A client that puts the numbers in the other field is understood too.
``key``
    SHA-512 hex of ``username + senderid + content + secureKey``, each trimmed.
``templateid``
    The DLT template ID; required on ``sendsmsrequestDLT``, optional on the legacy
    ``sendsmsrequest``. ``entityid`` (optional) is the 19-digit DLT entity ID.

Which ``content`` the key covers: the content exactly as sent, entities and all. Every
sample client hashes the string it posts: the Java ``sendUnicodeSMS`` builds the ``&#N;``
string and passes that same string to ``hashGenerator`` and to the ``content`` field; the
PHP and .NET samples hash ``trim($message)`` and post it. One sample departs from this: the
Java ``sendUnicodeOtpSMS`` hashes the entity form but posts the plain text, so for the
two Unicode service types a key over the Java entity form of the decoded text is accepted
as well. Both readings authenticate the same message, so accepting both weakens nothing.
"Trimmed" means Java's ``String.trim()`` (characters up to U+0020), which the samples use.

Replies are plain text. Success is ``402,MsgID = <id>msdgsms`` (spacing as in every sample:
no space after the comma, spaces around ``=``). Errors are ``<code>,<message>``: clients in
the field read the code as the text before the first comma, the first three characters, or
by searching for it, and all three work with that shape. Codes 401-416 and 418 and their
messages are the documented ones. The published list stops at 418; Seva gives 417 to
more than two numbers for an OTP and 423 to a missing or unknown template ID, and uses
419 and 420 for problems MSDG has no code for, and 421 for an account or client refused
for a while after too many wrong passwords (a 401 would tell a client whose password is
right that it is wrong). The documented 407 is "Network Error on
SMSC", which clients retry, so reusing it for empty content would make them resend a
message that can never go out.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from seva.messaging.dlt import validate_entity_id, validate_template_id

__all__ = [
    "MAX_CONTENT_LENGTH",
    "MAX_NUMBERS",
    "SERVICE_TYPES",
    "MsdgCode",
    "MsdgError",
    "MsdgRequest",
    "decode_entities",
    "error_reply",
    "expected_key",
    "parse_request",
    "sha1_hex",
    "success_reply",
    "verify_key",
]


class MsdgCode(IntEnum):
    """MSDG reply codes (see the module docstring for which are documented)."""

    CREDENTIALS_ERROR = 401
    SUBMITTED = 402
    CREDITS_NOT_AVAILABLE = 403
    INTERNAL_DATABASE_ERROR = 404
    INTERNAL_NETWORKING_ERROR = 405
    INVALID_NUMBERS = 406
    SMSC_NETWORK_ERROR = 407
    SMSC_NETWORK_ERROR_408 = 408
    SMSC_TIMEOUT = 409
    INTERNAL_LIMIT_EXCEEDED = 410
    SENDER_ID_NOT_APPROVED_411 = 411
    SENDER_ID_NOT_APPROVED = 412
    SUSPECT_SPAM = 413
    REJECTED_BY_OPERATOR = 414
    SECURE_KEY_NOT_AVAILABLE = 415
    HASH_MISMATCH = 416
    OTP_TOO_MANY_NUMBERS = 417
    DAILY_LIMIT_EXCEEDED = 418
    INVALID_CONTENT = 419
    INVALID_PARAMETER = 420
    LOGIN_PAUSED = 421
    TEMPLATE_MISMATCH = 423


_MESSAGES: Mapping[int, str] = {
    MsdgCode.CREDENTIALS_ERROR: "Credentials Error, may be invalid username or password",
    MsdgCode.SUBMITTED: "Message submitted successfully",
    MsdgCode.CREDITS_NOT_AVAILABLE: "Credits not available",
    MsdgCode.INTERNAL_DATABASE_ERROR: "Internal Database Error",
    MsdgCode.INTERNAL_NETWORKING_ERROR: "Internal Networking Error",
    MsdgCode.INVALID_NUMBERS: "Invalid or Duplicate numbers",
    MsdgCode.SMSC_NETWORK_ERROR: "Network Error on SMSC",
    MsdgCode.SMSC_NETWORK_ERROR_408: "Network Error on SMSC",
    MsdgCode.SMSC_TIMEOUT: "SMSC response timed out, message will be submitted",
    MsdgCode.INTERNAL_LIMIT_EXCEEDED: "Internal Limit Exceeded, Contact support",
    MsdgCode.SENDER_ID_NOT_APPROVED_411: "Sender ID not approved",
    MsdgCode.SENDER_ID_NOT_APPROVED: "Sender ID not approved",
    MsdgCode.SUSPECT_SPAM: "Suspect Spam, we do not accept these messages",
    MsdgCode.REJECTED_BY_OPERATOR: (
        "Rejected by various reasons by the operator such as DND, SPAM etc"
    ),
    MsdgCode.SECURE_KEY_NOT_AVAILABLE: "Secure Key not available",
    MsdgCode.HASH_MISMATCH: "Hash doesn't match",
    MsdgCode.OTP_TOO_MANY_NUMBERS: "OTP message can be sent to at most two numbers",
    MsdgCode.DAILY_LIMIT_EXCEEDED: "Daily Limit Exceeded",
    MsdgCode.INVALID_CONTENT: "Invalid or empty message content",
    MsdgCode.INVALID_PARAMETER: "Invalid or missing request parameter",
    MsdgCode.LOGIN_PAUSED: "Too many failed logins, try again later",
    MsdgCode.TEMPLATE_MISMATCH: "Template ID missing or not matching",
}

SERVICE_TYPES = ("singlemsg", "bulkmsg", "unicodemsg", "otpmsg", "unicodeotpmsg")
_BULK = frozenset({"bulkmsg", "unicodemsg"})
_OTP = frozenset({"otpmsg", "unicodeotpmsg"})
_UNICODE = frozenset({"unicodemsg", "unicodeotpmsg"})

MAX_NUMBERS = 100_000
"""Numbers one request may name: a department's largest bulk send against one template."""
MAX_CONTENT_LENGTH = 20_000
"""Characters of ``content`` as sent; about 2,800 Hindi characters once entity-encoded."""
MAX_OTP_NUMBERS = 2
_MAX_FIELD = 200
_MAX_NUMBER = 32

_JAVA_WHITESPACE = "".join(chr(code) for code in range(0x21))
_SHA1 = re.compile(r"[0-9a-f]{40}")
_SHA512 = re.compile(r"[0-9a-f]{128}")
_SENDER = re.compile(r"[A-Za-z0-9_]{1,11}")
_ENTITY = re.compile(r"&#(?:[xX]([0-9A-Fa-f]{1,8})|([0-9]{1,10}));")
_MESSAGE_ID = re.compile(r"[0-9A-Za-z-]{1,64}")


class MsdgError(Exception):
    """A request MSDG would refuse, carrying the reply code and a sentence for the developer."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def reply(self) -> str:
        """The plain-text reply MSDG clients expect for this error."""
        return error_reply(self.code)


@dataclass(frozen=True, slots=True, kw_only=True)
class MsdgRequest:
    """One parsed push request; ``numbers`` are as sent, to be validated by the caller."""

    username: str
    password_sha1: str
    senderid: str
    content: str
    service_type: str
    numbers: tuple[str, ...]
    key: str
    templateid: str | None
    entityid: str | None
    unicode: bool
    otp: bool
    bulk: bool

    def __post_init__(self) -> None:
        if self.service_type not in SERVICE_TYPES:
            raise ValueError(f"unknown smsservicetype {self.service_type!r}")
        if (self.unicode, self.otp, self.bulk) != _flags(self.service_type):
            raise ValueError(f"flags do not agree with smsservicetype {self.service_type!r}")
        if not self.numbers:
            raise ValueError("a request names at least one number")


def _flags(service_type: str) -> tuple[bool, bool, bool]:
    return (service_type in _UNICODE, service_type in _OTP, service_type in _BULK)


def _trim(value: str) -> str:
    """Java's ``String.trim()``: the key formula is defined by the Java sample client."""
    return value.strip(_JAVA_WHITESPACE)


def parse_request(form: Mapping[str, str], *, dlt: bool) -> MsdgRequest:
    """Read a push request's form fields; MsdgError (never another exception) if unusable.

    ``dlt`` is True for ``/esms/sendsmsrequestDLT``, where ``templateid`` is required.
    Field names are matched without regard to case, as the older documentation spelled
    them ``UserName`` and ``Password``. Checks run in the order a client most needs to hear
    about them: credentials, sender, service type, content, numbers, key, template.
    """
    fields: dict[str, str] = {}
    for name, value in form.items():
        fields[name.strip().lower()] = value

    username = _trim(fields.get("username", ""))
    if not username:
        raise MsdgError(MsdgCode.CREDENTIALS_ERROR, "username is missing")
    if len(username) > _MAX_FIELD:
        raise MsdgError(MsdgCode.CREDENTIALS_ERROR, "username is too long")
    password = _trim(fields.get("password", "")).lower()
    if not password:
        raise MsdgError(MsdgCode.CREDENTIALS_ERROR, "password is missing")
    if not _SHA1.fullmatch(password):
        raise MsdgError(
            MsdgCode.CREDENTIALS_ERROR,
            "password must be the SHA-1 hex digest of the account password (40 hex digits)",
        )

    senderid = _trim(fields.get("senderid", ""))
    if not senderid:
        raise MsdgError(MsdgCode.SENDER_ID_NOT_APPROVED, "senderid is missing")
    if not _SENDER.fullmatch(senderid):
        raise MsdgError(
            MsdgCode.SENDER_ID_NOT_APPROVED,
            "senderid must be the DLT header: 6 letters, or 6 digits for promotional messages",
        )

    service_type = _trim(fields.get("smsservicetype", "")).lower()
    if service_type not in SERVICE_TYPES:
        what = "is missing" if not service_type else "is not known"
        raise MsdgError(
            MsdgCode.INVALID_PARAMETER,
            f"smsservicetype {what}; use one of {', '.join(SERVICE_TYPES)}",
        )
    unicode, otp, bulk = _flags(service_type)

    raw_content = fields.get("content", "")
    if len(raw_content) > MAX_CONTENT_LENGTH:
        raise MsdgError(
            MsdgCode.INVALID_CONTENT,
            f"content is longer than {MAX_CONTENT_LENGTH} characters",
        )
    content = decode_entities(_trim(raw_content))
    if not _trim(content):
        raise MsdgError(MsdgCode.INVALID_CONTENT, "content is empty")

    numbers = _numbers(fields, bulk=bulk, otp=otp)

    key = _trim(fields.get("key", "")).lower()
    if not key:
        raise MsdgError(MsdgCode.HASH_MISMATCH, "key is missing")
    if not _SHA512.fullmatch(key):
        raise MsdgError(
            MsdgCode.HASH_MISMATCH,
            "key must be the SHA-512 hex digest of username, senderid, content and the "
            "secure key (128 hex digits)",
        )

    templateid: str | None = _trim(fields.get("templateid", "")) or None
    if templateid is None:
        if dlt:
            raise MsdgError(
                MsdgCode.TEMPLATE_MISMATCH, "templateid is required on sendsmsrequestDLT"
            )
    else:
        try:
            templateid = validate_template_id(templateid[:_MAX_FIELD])
        except ValueError as error:
            raise MsdgError(MsdgCode.TEMPLATE_MISMATCH, f"templateid: {error}") from None

    entityid: str | None = _trim(fields.get("entityid", "")) or None
    if entityid is not None:
        try:
            entityid = validate_entity_id(entityid[:_MAX_FIELD])
        except ValueError as error:
            raise MsdgError(MsdgCode.INVALID_PARAMETER, f"entityid: {error}") from None

    return MsdgRequest(
        username=username,
        password_sha1=password,
        senderid=senderid,
        content=content,
        service_type=service_type,
        numbers=numbers,
        key=key,
        templateid=templateid,
        entityid=entityid,
        unicode=unicode,
        otp=otp,
        bulk=bulk,
    )


def _numbers(fields: Mapping[str, str], *, bulk: bool, otp: bool) -> tuple[str, ...]:
    primary, other = ("bulkmobno", "mobileno") if bulk else ("mobileno", "bulkmobno")
    raw = fields.get(primary)
    if raw is None or not raw.strip():
        raw = fields.get(other)
    if raw is None or not raw.strip():
        raise MsdgError(MsdgCode.INVALID_NUMBERS, f"{primary} is missing")
    limit = MAX_OTP_NUMBERS if otp else MAX_NUMBERS
    # Refuse an oversized list before splitting it, so a huge field costs little.
    if raw.count(",") >= limit * 4 + 16:
        raise _too_many(primary, limit, otp)
    numbers = tuple(token for token in (part.strip() for part in raw.split(",")) if token)
    if not numbers:
        raise MsdgError(MsdgCode.INVALID_NUMBERS, f"{primary} has no numbers in it")
    if len(numbers) > limit:
        raise _too_many(primary, limit, otp)
    if any(len(number) > _MAX_NUMBER for number in numbers):
        raise MsdgError(
            MsdgCode.INVALID_NUMBERS,
            f"{primary} holds an entry longer than {_MAX_NUMBER} characters; "
            "separate numbers with commas",
        )
    return numbers


def _too_many(field_name: str, limit: int, otp: bool) -> MsdgError:
    if otp:
        return MsdgError(MsdgCode.OTP_TOO_MANY_NUMBERS, f"an OTP goes to at most {limit} numbers")
    return MsdgError(
        MsdgCode.INVALID_NUMBERS,
        f"{field_name} names more than {limit} numbers; split the send into several requests",
    )


def decode_entities(text: str) -> str:
    """Replace numeric character references (``&#2357;``, ``&#x935;``) by their characters.

    Only numeric references are decoded (MSDG clients send no named ones, and ``&amp;``
    may be meant literally). A reference that names no character (zero, a lone surrogate,
    beyond U+10FFFF, too many digits) is kept as written; a surrogate pair written as two
    references, as the Java sample does for emoji, becomes the one character.
    """
    if "&#" not in text:
        return text
    matches = list(_ENTITY.finditer(text))
    out: list[str] = []
    position = 0
    index = 0
    while index < len(matches):
        match = matches[index]
        out.append(text[position : match.start()])
        code = _code_point(match)
        position = match.end()
        index += 1
        if 0xD800 <= code <= 0xDBFF and index < len(matches):
            after = matches[index]
            low = _code_point(after)
            if after.start() == position and 0xDC00 <= low <= 0xDFFF:
                out.append(chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)))
                position = after.end()
                index += 1
                continue
        if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
            out.append(chr(code))
        else:
            out.append(match.group(0))
    out.append(text[position:])
    return "".join(out)


def _code_point(match: re.Match[str]) -> int:
    hexadecimal, decimal = match.groups()
    return int(hexadecimal, 16) if hexadecimal is not None else int(decimal)


def _java_entities(text: str) -> str:
    """The Java sample's encoding: one decimal reference per UTF-16 code unit."""
    units = text.encode("utf-16-be", "surrogatepass")
    return "".join(f"&#{int.from_bytes(units[i : i + 2], 'big')};" for i in range(0, len(units), 2))


def expected_key(username: str, senderid: str, content: str, secure_key: str) -> str:
    """SHA-512 hex of the trimmed fields and secure key, as MSDG's clients compute ``key``."""
    joined = _trim(username) + _trim(senderid) + _trim(content) + _trim(secure_key)
    return hashlib.sha512(joined.encode("utf-8", "surrogatepass")).hexdigest()


def verify_key(request: MsdgRequest, secure_key: str, raw_content: str) -> bool:
    """True if ``request.key`` was made with ``secure_key`` over this message.

    ``raw_content`` is the ``content`` field exactly as posted (before entity decoding).
    An account without a secure key verifies nothing.
    """
    if not _trim(secure_key):
        return False
    candidates = [expected_key(request.username, request.senderid, raw_content, secure_key)]
    if request.unicode:
        encoded = _java_entities(_trim(request.content))
        candidates.append(expected_key(request.username, request.senderid, encoded, secure_key))
    given = request.key.lower().encode("ascii", "replace")
    matched = False
    for candidate in candidates:
        # No short cut: every candidate is compared, in constant time.
        matched |= hmac.compare_digest(candidate.encode("ascii"), given)
    return matched


def sha1_hex(password: str) -> str:
    """The ``password`` field a client sends for this password.

    The Java and Python samples hash the ISO-8859-1 bytes; a password outside Latin-1
    (MSDG passwords are letters and digits) falls back to UTF-8, as PHP's ``sha1`` does.
    """
    try:
        data = password.encode("iso-8859-1")
    except UnicodeEncodeError:
        data = password.encode("utf-8", "surrogatepass")
    return hashlib.sha1(data).hexdigest()  # noqa: S324 - the wire format is SHA-1


def success_reply(message_id: str) -> str:
    """``402,MsgID = <id>msdgsms``: the reply every MSDG client parses for success."""
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError("an MSDG message ID is 1-64 letters, digits or hyphens")
    return "402,MsgID = " + message_id + "msdgsms"


def error_reply(code: int) -> str:
    """``<code>,<message>`` for an MSDG error code; ValueError for 402 or an unknown code."""
    if code == MsdgCode.SUBMITTED or code not in _MESSAGES:
        raise ValueError(f"{code} is not an MSDG error code")
    return f"{int(code)},{_MESSAGES[code]}"
