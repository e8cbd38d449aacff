"""``POST /api/v1/messages`` answered before FastAPI's routing, when the request is well formed.

A department's backend sends one SMS per request (an OTP, a receipt, a status change) at the
rate its own citizens act, so this route is most of the department API's traffic. Through
FastAPI 0.165 a send cost about twice its own work: its five dependencies (the app, the key
as a bearer token or a header, the body, the ``Idempotency-Key`` header) were solved anew for
every request, with the framework recomputing what each dependency is each time. This layer,
placed inside the request-id and browser-policy middlewares so those still apply, takes the
same request the route declares when every part of it is well formed: a JSON body that
``SendIn`` accepts, a key in ``Authorization: Bearer`` or ``X-API-Key`` and a valid
``Idempotency-Key`` if one is given. It then runs the route's own code
(``messaging.router.send``) and answers what the route would. Anything else (a malformed
body, a missing key, a body over the cap, another content type) goes on to the declared
route with the body as read, so every refusal is the route's own answer, and the route stays
the documented declaration (``/docs``).

The answers are the same either way; ``tests/api/test_send_front.py`` compares the two.
"""

from __future__ import annotations

import json
import re
from typing import Final

from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seva.bodies import Received, receive_capped
from seva.core import Core
from seva.errors import error_answer, http_error_json
from seva.messaging.router import CampaignRoute, send
from seva.messaging.schemas import SendIn
from seva.tenancy.api_auth import INVALID_KEY, MAX_KEY_LENGTH, unauthorized

PATH: Final = "/api/v1/messages"
_JSON: Final = "application/json"
LIMIT: Final = CampaignRoute.body_limit
_IDEMPOTENCY: Final = re.compile(rb"[\x21-\x7e]{1,128}")
"""The route's ``Idempotency-Key`` declaration: 1 to 128 printable ASCII characters."""


class SendFront:
    """Answers well-formed sends itself; passes everything else on unchanged."""

    def __init__(self, app: ASGIApp, gateway: Core) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send_: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send_)
            return
        headers = _first_of_each(scope["headers"])
        key = _key(headers)
        idempotency = headers.get(b"idempotency-key")
        content_type = headers.get(b"content-type", b"").partition(b";")[0].strip().lower()
        if (
            key is None
            or content_type != b"application/json"
            or (idempotency is not None and not _IDEMPOTENCY.fullmatch(idempotency))
        ):
            await self.app(scope, receive, send_)
            return
        received = await receive_capped(receive, headers.get(b"content-length", b""), LIMIT)
        body = _valid(received.body) if received.whole else None
        if body is None:  # the route answers it, from the same bytes
            await self.app(scope, _replay(received, receive), send_)
            return
        response = await self._answer(key, body, idempotency, scope)
        await response(scope, receive, send_)

    async def _answer(
        self, key: str, body: SendIn, idempotency: bytes | None, scope: Scope
    ) -> Response:
        try:
            sent = await send(
                self.gateway, key, body, idempotency.decode("ascii") if idempotency else None
            )
        except Exception as exc:  # as the app's handlers answer it (``seva.errors``)
            status, payload = error_answer(exc, scope["path"])
            return JSONResponse(payload, status_code=status)
        if sent is None:
            return http_error_json(unauthorized(INVALID_KEY))
        if isinstance(sent, Response):
            return sent
        status, answer = sent
        return Response(
            answer.model_dump_json(by_alias=True), status, media_type="application/json"
        )


def _first_of_each(raw: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """Each header's first value, as Starlette's ``Headers.get`` reads it."""
    headers: dict[bytes, bytes] = {}
    for name, value in raw:
        headers.setdefault(name, value)
    return headers


def _key(headers: dict[bytes, bytes]) -> str | None:
    """The key as ``tenancy.api_auth.api_key`` reads it, when it is there and not too long."""
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    scheme, credentials = get_authorization_scheme_param(authorization)  # HTTPBearer's own
    secret = credentials if scheme.lower() == "bearer" and credentials else None
    if secret is None:
        secret = headers.get(b"x-api-key", b"").decode("latin-1") or None
    if secret is None or len(secret) > MAX_KEY_LENGTH:
        return None
    return secret


def _valid(raw: bytes) -> SendIn | None:
    """The body as the route reads it (``json.loads``, then the model), or None."""
    try:
        return SendIn.model_validate(json.loads(raw))
    except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError too
        return None


def _replay(received: Received, receive: Receive) -> Receive:
    """``receive`` for the route: what was read, then the rest of the request as it comes."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": received.body, "more_body": not received.whole}
        return await receive()

    return replay
