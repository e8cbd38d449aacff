"""Request-body caps for the JSON APIs, answered in the one JSON error shape.

FastAPI reads a JSON body whole before validating it, so a client could otherwise send any
amount. ``CappedRoute`` reads it first, refusing it with ``413 too_large`` as soon as it is
longer than the route's cap (from ``Content-Length`` before reading anything, or while
reading a chunked body). Starlette's own ``max_body_size`` is not used: it answers in plain
text, and the API promises JSON errors. Routes that take a raw file (service definitions,
CSV datasets) declare no JSON body and read it themselves with ``read_capped``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import Receive

from seva.errors import error_body


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {describe_size(limit)}")
        self.limit = limit


def describe_size(limit: int) -> str:
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit >= mib else f"{limit // 1024} KiB"


def declared_too_large(declared: str | bytes, limit: int) -> bool:
    """Whether a ``Content-Length`` says more than ``limit`` bytes (18 digits and more are
    refused before being read as a number)."""
    return (
        declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit)
    )


@dataclass(frozen=True, slots=True)
class Received:
    """What ``receive_capped`` read."""

    body: bytes
    whole: bool
    """The request's whole body; else reading stopped at the cap or the client left."""
    too_large: bool = False


async def receive_capped(receive: Receive, declared: bytes, limit: int) -> Received:
    """A body from an ASGI ``receive``, for the lean layers in front of the routes
    (``channels.front``, ``messaging.send_front``): read until it ends, or until it is
    longer than ``limit`` (kept, so a layer can hand what it read on)."""
    if declared_too_large(declared, limit):
        return Received(b"", whole=False, too_large=True)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return Received(b"".join(chunks), whole=False)
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if size > limit:
            return Received(b"".join(chunks), whole=False, too_large=True)
        if not message.get("more_body", False):
            return Received(b"".join(chunks), whole=True)


async def read_capped(request: Request, limit: int) -> bytes:
    """The whole body, or ``BodyTooLarge`` before more than ``limit`` bytes are held."""
    if declared_too_large(request.headers.get("content-length", ""), limit):
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int, what: str = "the request body") -> JSONResponse:
    return JSONResponse(
        error_body("too_large", f"{what} is larger than {describe_size(limit)}"), status_code=413
    )


class CappedRoute(APIRoute):
    """A route whose JSON body may be at most ``body_limit`` bytes (subclass to change it)."""

    body_limit = 64 * 1024

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler
        limit = self.body_limit

        async def capped(request: Request) -> Response:
            try:
                body = await read_capped(request, limit)
            except BodyTooLarge:
                return too_large(limit)
            # Starlette's Request caches the body here; FastAPI then parses it from the cache.
            request._body = body
            return await handler(request)

        return capped


class SmallBodyRoute(CappedRoute):
    """For APIs whose bodies are a few short fields."""

    body_limit = 16 * 1024
