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
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from seva.errors import error_body


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {describe_size(limit)}")
        self.limit = limit


def describe_size(limit: int) -> str:
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit >= mib else f"{limit // 1024} KiB"


async def read_capped(request: Request, limit: int) -> bytes:
    """The whole body, or ``BodyTooLarge`` before more than ``limit`` bytes are held."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
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
