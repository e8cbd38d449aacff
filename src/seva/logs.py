"""Structured logs (structlog): JSON lines in production, readable lines elsewhere, a request id
bound to every line a request produces (also returned as ``X-Request-ID``), and every line
redacted before it is written.

Logs travel to operators, log shippers and support tickets, so no line may carry what would
let its reader act as a citizen, a department or the gateway. Like RapidPro courier's
``ChannelLog``, which redacts a channel's secrets from each exchange it records, ``redact`` runs
on every line, structlog's own and the standard library's (uvicorn's access log, httpx) alike,
just before it is rendered:

* a value under a key that names a secret (``password``, ``token``, ``secret``, ``key``,
  ``authorization``, ``signature``, ``cookie``, as a word of the key) becomes ``[redacted]``;
* in every string, nested ones included: a URL's password (``smpp://seva:***@…``) and its query
  values (``?from=***&text=***``: Kannel's get-url and a webhook's query carry a citizen's
  number and answers), ``name=value`` pairs and ``Bearer`` credentials of those secret names,
  and phone numbers, which keep their country code and last three digits
  (``+91*******001``) so a line can still be matched to a complaint.

``exchanges`` is the one logger for exchanges with outside parties (an operator's callback, an
SMPP submit, a department's webhook): one line each, so an operator can follow a citizen's
traffic without the lines giving the citizen away.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
import secrets
import sys
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final, TextIO

import structlog
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

exchanges = structlog.get_logger("seva.exchanges")
"""Exchanges with operators, SMSCs and departments' backends: one line each."""
_debugging = False


def debugging() -> bool:
    """Whether DEBUG lines are written. A per-message line on a hot path (an SMPP submit)
    asks first: a filtered structlog call still costs microseconds to build."""
    return _debugging


REDACTED: Final = "[redacted]"
SECRET_WORDS: Final = frozenset(
    [
        "password",
        "passwd",
        "pwd",
        "token",
        "secret",
        "key",
        "authorization",
        "signature",
        "cookie",
        "credentials",
    ]
)
LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

_WORDS = re.compile(r"[^a-z]+")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@?#]*):[^/\s@?#]*@")
_QUERY = re.compile(r"(?i)((?:\b[a-z][a-z0-9+.-]*://|(?<![\w.])/)[^\s?#\"'<>]*)\?([^\s#\"'<>]+)")
_QUERY_VALUE = re.compile(r"=[^&;]*")
_SECRET_PAIR = re.compile(
    rf"(?i)\b([\w-]*(?:{'|'.join(sorted(SECRET_WORDS))}))"
    r"(\"?\s*[=:]\s*\"?)(?!\*\*\*|bearer\b|basic\b)([^\s&,;\"'<>]+)"
)
_SECRET_WORD = re.compile(f"(?i){'|'.join(sorted(SECRET_WORDS))}")
"""What ``_SECRET_PAIR`` needs in a text: searched first, as it is several times cheaper
(a ``host:port`` in every access line would otherwise run the pair's pattern)."""
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[a-z0-9._~+/=-]{6,}")
_PHONE = re.compile(r"(?<![\w+*])\+?\d{10,15}(?!\w)")
_KEEP_DIGITS = 3


def _country_code(digits: str) -> str:
    for length in (1, 2, 3):
        if int(digits[:length]) in COUNTRY_CODE_TO_REGION_CODE:
            return digits[:length]
    return ""


def mask_phone(number: str) -> str:
    """``+919811000321`` → ``+91*******321``; a 10-digit national number keeps its last three."""
    plus = number.startswith("+")
    digits = number.removeprefix("+")
    code = _country_code(digits) if plus or len(digits) > 10 else ""
    hidden = len(digits) - len(code) - _KEEP_DIGITS
    return ("+" if plus else "") + code + "*" * hidden + digits[-_KEEP_DIGITS:]


def _mask_query(match: re.Match[str]) -> str:
    return match.group(1) + "?" + _QUERY_VALUE.sub("=***", match.group(2))


_NUMBER = re.compile(r"\d{10}")
_CREDENTIAL = re.compile(r"(?i)bearer|basic")


def redact_text(text: str) -> str:
    """The string with URL passwords and query values, secret pairs, credentials and phone
    numbers masked. Each pattern runs only where what it needs is in the text (an ``@``, a
    ``?``, ten digits in a row…): most values of a line (an event's name, a session id, a
    masked number) have none of it, and a number needs only the last."""
    if "@" in text:
        text = _USERINFO.sub(r"\1:***@", text)
    if "?" in text:
        text = _QUERY.sub(_mask_query, text)
    if _CREDENTIAL.search(text):
        text = _BEARER.sub(r"\1 ***", text)
    if ("=" in text or ":" in text) and _SECRET_WORD.search(text):
        text = _SECRET_PAIR.sub(r"\1\2***", text)
    if _NUMBER.search(text):
        text = _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
    return text


@lru_cache(maxsize=4096)
def secret_name(name: str) -> bool:
    """Whether a field's name says it holds a secret (``api_key``, ``X-Seva-Signature``).
    Remembered: a line's field names are nearly always the same few, and each line asks."""
    return not SECRET_WORDS.isdisjoint(_WORDS.split(name.lower()))


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: REDACTED if isinstance(k, str) and secret_name(k) else _redacted(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact_text(str(value))


_OURS: Final = frozenset({"timestamp", "level"})
"""Fields the logging itself adds (the time, the level), which hold nothing to mask."""


def redact(
    logger: Any, method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """The structlog processor: every value of the line, redacted (see the module docstring)."""
    for name, value in list(event_dict.items()):
        if name.startswith("_") or name in _OURS:
            continue  # the standard library's record, kept for the formatter; our own stamps
        event_dict[name] = REDACTED if secret_name(name) else _redacted(value)
    return event_dict


class _RedactedOutput(logging.Handler):
    """Standard-library records rendered like structlog's lines. It writes to the stream it
    was given, else to ``sys.stderr`` as it is when the line is written (not when configured),
    so a replaced stderr (a test's capture, a daemon's log file) gets the line."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__()
        self.target = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = self.target or sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def configure(env: str, *, level: str = "info", stream: TextIO | None = None) -> None:
    """structlog for Seva's lines at ``level`` (to ``stream``, else stdout) and the standard
    library's root logger for everyone else's (to ``stream``, else stderr), both redacted.
    Other libraries speak from WARNING up (httpx would log every webhook's URL at INFO);
    uvicorn's own handlers are removed so its access and error logs, at the level uvicorn was
    given, come through here as well (run uvicorn with ``log_config=None`` so it does not put
    them back)."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if env == "production"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    global _debugging
    threshold = LEVELS.get(level, logging.INFO)
    _debugging = threshold <= logging.DEBUG
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.WriteLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    output = _RedactedOutput(stream)
    output.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                stamp,
                structlog.processors.format_exc_info,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                redact,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for ours in [h for h in root.handlers if isinstance(h, _RedactedOutput)]:
        root.removeHandler(ours)
    root.addHandler(output)
    root.setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_log = logging.getLogger(name)
        for handler in list(uvicorn_log.handlers):
            uvicorn_log.removeHandler(handler)
        uvicorn_log.propagate = True


def request_id_of(given: bytes) -> str:
    """A caller's ``X-Request-ID`` when it is well formed, else a new one."""
    text = given.decode("latin-1")
    return text if _REQUEST_ID.match(text) else _new_request_id()


_process_key = secrets.token_bytes(16)
_numbers = itertools.count()


def _new_request_id() -> str:
    """32 hex digits: this process's next number under a keyed hash (BLAKE2b, a key drawn
    once per process). Unique, and telling nothing: not how many requests a process has
    answered, which process answered, or what the next id will be. Drawing 16 random bytes
    from the kernel for each request cost several times more."""
    number = next(_numbers).to_bytes(8, "big")
    return hashlib.blake2b(number, key=_process_key, digest_size=16).hexdigest()


def _new_process() -> None:
    global _process_key, _numbers
    _process_key = secrets.token_bytes(16)
    _numbers = itertools.count()


os.register_at_fork(after_in_child=_new_process)  # a forked worker must not repeat the parent's


class _NotThese(logging.Filter):
    """Drops uvicorn's access line for requests to ``paths`` (they log their own)."""

    def __init__(self, paths: frozenset[str]) -> None:
        super().__init__()
        self.paths = paths

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            return args[2].partition("?")[0] not in self.paths
        return True


def without_access_lines(paths: frozenset[str]) -> None:
    """No access line for requests to ``paths``: routes that write their own line for each
    request (the operators' callbacks, ``exchanges``), where a second costs as much again."""
    access = logging.getLogger("uvicorn.access")
    for old in [f for f in access.filters if isinstance(f, _NotThese)]:
        access.removeFilter(old)
    access.addFilter(_NotThese(paths))


class RequestIdMiddleware:
    """Takes a caller's well-formed ``X-Request-ID`` or makes one, and binds it for logging."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(dict(scope.get("headers", [])).get(b"x-request-id", b""))
        structlog.contextvars.bind_contextvars(request_id=request_id, path=scope.get("path", ""))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.clear_contextvars()
