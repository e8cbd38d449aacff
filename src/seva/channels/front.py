"""The operators' busiest callbacks on a lean path: USSD hops and SMS pull.

Every keypress of every citizen on USSD, and every SMS to the short code, is one of these
requests, so they are most of a national gateway's traffic. Through FastAPI each one cost
about twice the hop itself: the form went through python-multipart, the dependencies were
solved, the session dependency and the sync endpoint each took a thread hand-off, and four
middlewares written for browsers (sessions, CSP, pinned origin) wrapped a plain-text answer
to a machine. This ASGI layer, outermost on the app, answers a urlencoded POST (and
Kannel's GET) to those two routes itself: it reads the body with a size cap, parses it with
the standard library, checks the operator's guard (``channels.operators``) and each field the
way the routes declare them, and runs the hop (``routes.ussd_hop``, ``routes.sms_hop``) and
its commit. Anything else, a multipart body included, goes on to the FastAPI routes, which
stay the documented declarations and run the same hop functions.

Where the hop runs. On PostgreSQL, or with Redis, in a worker thread, one of the gate's few
(``flows.gate``). On the embedded SQLite database alone, here on the event loop: a hop is a
few hundred microseconds of Python and in-process SQLite, and handing it to a thread and back,
with the threads taking the GIL from each other, cost more than the hop itself (``seva demo``
under 16 concurrent USSD walks: 1.46-1.51 ms of CPU a hop through threads, 0.84-0.89 ms on
the loop). On the loop a hop may not wait (``db.session.without_waiting``): it reads and
writes through connections of the loop's own, so none held by a thread is waited for; its
first write takes the process's writer turn only if no thread holds it, else it rolls back,
a worker thread waits for the turn to be free (one for all the loop's hops), and it is tried
again, up to ``LOOP_TRIES`` times; and if another process is writing the database, or the
flow is about to call a department's backend, it stops before committing anything, rolls
back and runs again in a worker thread, where waiting is allowed. A hop that writes nothing
(most USSD menus) never waits for the writer. A hop started twice is counted and logged once
(the request is counted here, a started service once its hop commits, and the hop's lines
are written once its writes have gone through). SQLite copies its write-ahead log into the
database (a checkpoint) in the commit that fills it, which took 148 ms once a long read had
held it up; so the loop's connections never checkpoint, and a worker thread does, waiting
for no one, every ``db.session.CHECKPOINT_EVERY`` hops of the loop.

Errors are answered by ``seva.errors.error_answer``, as on every other route: 400 for a bad
field, 403 for a caller who is not the operator, 413 for a body over the cap, 503 when the
database cannot be reached (the aggregator retries; nothing was acknowledged), and 500,
logged, for a bug.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Final
from urllib.parse import parse_qsl

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from seva.bodies import receive_capped
from seva.channels import routes, sms, ussd
from seva.channels.operators import guard_refusal
from seva.db.session import WRITER_WAIT, WouldWait, WriterBusy, without_waiting, writer_turn
from seva.errors import ApiError, error_answer
from seva.gateway import Gateway
from seva.logs import request_id_of

MAX_BODY: Final = 16 * 1024
"""The longest form an operator's callback needs: a 2,000-character text percent-encoded in
UTF-8 (up to 9 bytes a character) is more, but no handset sends a 2,000-character text in an
Indian script: a USSD string is 182 characters and an SMS's parts are joined before this."""
MAX_FIELDS: Final = 32
LOOP_TRIES: Final = 2
"""Times a hop is tried on the event loop, waiting for the writer turn between tries, before
it goes to a worker thread (where threads keep writing, a third try mostly met them again)."""


@dataclass(frozen=True, slots=True)
class Field:
    """One form field as the FastAPI route declares it (``routes``): same name, same limits,
    same messages, so a client sees one answer whichever path took its request."""

    name: str
    max_length: int
    required: bool = False
    min_length: int = 0
    printable: bool = False

    def check(self, given: dict[str, str]) -> str | None:
        value = given.get(self.name, "")
        if value == "":  # FastAPI takes an empty form field for a missing one
            if self.required:
                raise ApiError(400, "invalid_request", f"{self.name} is required", self.name)
            return None
        if len(value) > self.max_length:
            message = f"String should have at most {self.max_length} characters"
            raise ApiError(400, "invalid_request", message, self.name)
        if len(value) < self.min_length:
            message = f"String should have at least {self.min_length} character"
            raise ApiError(400, "invalid_request", message, self.name)
        if self.printable and _CONTROL.search(value):
            message = f"String should match pattern '{routes.PRINTABLE}'"
            raise ApiError(400, "invalid_request", message, self.name)
        return value


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

USSD_FIELDS: Final = (
    Field("sessionId", 128, required=True, min_length=1, printable=True),
    Field("serviceCode", 64, required=True),
    Field("phoneNumber", 32, required=True),
    Field("text", routes.MAX_FIELD),
    Field("networkCode", 32),
)
SMS_FIELDS: Final = (
    Field("from", 32),
    Field("to", 32),
    Field("text", routes.MAX_FIELD),
)

Hop = Callable[[Gateway, dict[str, str | None]], str]


def _ussd(gateway: Gateway, fields: dict[str, str | None]) -> str:
    with gateway.session() as session:
        return routes.ussd_hop(
            gateway,
            session,
            session_id=fields["sessionId"] or "",
            service_code=fields["serviceCode"] or "",
            phone_number=fields["phoneNumber"] or "",
            text=fields["text"] or "",
        )


def _sms(gateway: Gateway, fields: dict[str, str | None]) -> str:
    with gateway.session() as session:
        return routes.sms_hop(gateway, session, fields["from"], fields["text"] or "")


def _gated(gateway: Gateway, hop: Hop, fields: dict[str, str | None]) -> str:
    """A hop in a worker thread, as one of the gate's few (``flows.gate``)."""
    with gateway.runtime.gate.hold():
        return hop(gateway, fields)


@dataclass(frozen=True, slots=True)
class Callback:
    fields: tuple[Field, ...]
    hop: Hop
    channel: str
    from_query: bool = False
    """Kannel's GET: the fields are in the query string."""


CALLBACKS: Final[dict[tuple[str, str], Callback]] = {
    ("POST", "/channels/ussd/africastalking"): Callback(USSD_FIELDS, _ussd, ussd.CHANNEL),
    ("POST", "/channels/sms/kannel"): Callback(SMS_FIELDS, _sms, sms.CHANNEL),
    ("GET", "/channels/sms/kannel"): Callback(SMS_FIELDS, _sms, sms.CHANNEL, from_query=True),
}

_FORM = b"application/x-www-form-urlencoded"
_ALWAYS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]


class OperatorFront:
    """Answers the callbacks in ``CALLBACKS`` before the rest of the app sees them."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        callback = (
            CALLBACKS.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        headers = dict(scope["headers"]) if callback is not None else {}
        if callback is None or not (
            callback.from_query or headers.get(b"content-type", b"").startswith(_FORM)
        ):
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(headers.get(b"x-request-id", b""))
        structlog.contextvars.bind_contextvars(request_id=request_id, path=scope["path"])
        try:
            status, content_type, body = await self._answer(scope, receive, callback, headers)
        finally:
            structlog.contextvars.clear_contextvars()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                    *_ALWAYS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _answer(
        self, scope: Scope, receive: Receive, callback: Callback, headers: dict[bytes, bytes]
    ) -> tuple[int, bytes, bytes]:
        path: str = scope["path"]
        try:
            request = Request(scope)
            why = await guard_refusal(path, request, self.gateway.settings)
            if why is not None:
                raise ApiError(403, "forbidden", "this route answers its operator only")
            if callback.from_query:
                raw = scope.get("query_string", b"")
            else:
                raw = await _body(receive, headers)
            given = _parse(raw)
            fields = {field.name: field.check(given) for field in callback.fields}
            with routes.counted(callback.channel):
                answer = await self._hop(callback.hop, fields)
            return 200, routes.PLAIN.encode(), answer.encode()
        except Exception as exc:
            status, body = error_answer(exc, path)
            return status, b"application/json", json.dumps(body).encode()

    async def _hop(self, hop: Hop, fields: dict[str, str | None]) -> str:
        """On the embedded database without Redis, the hop runs here on the event loop when it
        can do so without waiting; otherwise, and on PostgreSQL, in a worker thread."""
        gateway = self.gateway
        if gateway.db.loop_engine is not None and gateway.redis is None:
            for attempt in range(1, LOOP_TRIES + 1):
                try:
                    answer = without_waiting(partial(hop, gateway, fields))
                except WriterBusy:
                    if attempt < LOOP_TRIES:  # rolled back: again once the turn is free
                        await self._until_free()
                except WouldWait:
                    break  # rolled back: run again where it may wait
                else:
                    gateway.db.loop_committed()
                    return answer
        return await run_in_threadpool(_gated, gateway, hop, fields)

    async def _until_free(self) -> None:
        """Wait, off the loop, until no thread holds the writer turn. The loop's hops queue
        here and send one thread at a time to wait, not a thread each."""
        turn = writer_turn(self.gateway.db.engine)
        assert turn is not None  # SQLite: the loop's hops run on no other
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = asyncio.Lock()
        async with queue:
            if turn.locked():
                await run_in_threadpool(_wait_until_free, turn)


def _wait_until_free(turn: threading.Lock) -> None:
    if turn.acquire(timeout=WRITER_WAIT):
        turn.release()


async def _body(receive: Receive, headers: dict[bytes, bytes]) -> bytes:
    received = await receive_capped(receive, headers.get(b"content-length", b""), MAX_BODY)
    if received.too_large:
        raise ApiError(413, "too_large", f"the form is larger than {MAX_BODY} bytes")
    if not received.whole:
        raise ApiError(400, "invalid_request", "the client went away")
    return received.body


def _parse(raw: bytes) -> dict[str, str]:
    """The form's fields (the last of a repeated name, as Starlette's form does)."""
    try:
        pairs = parse_qsl(
            raw.decode("latin-1"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            encoding="utf-8",
            errors="replace",
        )
    except ValueError as exc:
        raise ApiError(400, "invalid_request", "too many form fields") from exc
    return dict(pairs)
