"""One JSON error shape for every API: ``{"error": {"code", "message", "field"}}``.

FastAPI's own 422 body is replaced so a client handles one shape everywhere, and no input a
client can send reaches a 500 with a traceback. A browser's request to a page that fails
validation gets a page instead, in the language it reads the site in.

A database that does not answer (restarting, failing over, unreachable) is a 503 naming it:
the request may be sent again, which an aggregator or a department's client can act on; a
500 would say only that something broke.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from seva.i18n import text as ui
from seva.templating import page_lang, render

log = structlog.get_logger("seva.errors")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def _wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/channels/", "/esms/")):
        return True
    return "application/json" in request.headers.get("accept", "")


def _wants_page(request: Request) -> bool:
    """A browser opening an address: it asks for HTML. API clients and operators' callbacks
    keep the JSON or plain-text answers they parse, whatever they send as Accept."""
    if _wants_json(request) or request.url.path.startswith("/demo/backend/"):
        return False
    return "text/html" in request.headers.get("accept", "")


def _not_found_page(request: Request, headers: dict[str, str] | None) -> Response:
    """A browser's answer to an address nothing answers: the site's page saying so, in its
    language, with the way back to the services; drawn without the logged-in official, as
    ``_invalid_page`` is."""
    context = {"message": ui("no_such_page", page_lang(request)), "official": None}
    response = render(request, "portal_not_found.html", context, 404)
    response.headers.update(headers or {})
    return response


def _invalid_page(request: Request, *, in_path: bool) -> Response:
    """A browser's answer to a request that fails validation: a 400 page in its language, not
    the APIs' JSON. The page is drawn without the logged-in official: the login dependency's
    database session is closed by now, so their row could not be read."""
    key = "invalid_address" if in_path else "invalid_request"
    context = {"message": ui(key, page_lang(request)), "back": "/", "official": None}
    return render(request, "portal_message.html", context, 400)


HTTP_CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


def http_error_json(exc: StarletteHTTPException) -> JSONResponse:
    """An ``HTTPException`` as the APIs answer it: the JSON error shape, its headers kept."""
    return JSONResponse(
        error_body(HTTP_CODES.get(exc.status_code, "http_error"), str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def install(app: FastAPI) -> None:

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        if not _wants_json(request):
            return _invalid_page(request, in_path=first.get("loc", ("",))[0] == "path")
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "form", "path")]
        field = ".".join(loc) or None
        message = str(first.get("msg", "invalid request"))
        if first.get("type") == "missing" and field:
            message = f"{field} is required"
        return JSONResponse(error_body("invalid_request", message, field), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if _wants_json(request):
            return http_error_json(exc)
        if exc.status_code == 404 and _wants_page(request):
            return _not_found_page(request, headers)
        return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=headers)

    async def _answer(request: Request, exc: Exception) -> Response:
        status, body = error_answer(exc, request.url.path)
        return JSONResponse(body, status_code=status)

    for kind in (ApiError, DataError, OperationalError, PoolTimeoutError, Exception):
        app.add_exception_handler(kind, _answer)


def error_answer(exc: Exception, path: str) -> tuple[int, dict[str, Any]]:
    """The status and body of an error raised while answering a request to ``path``: the
    app's handlers' and the operators' lean path's (``channels.front``) alike.

    - ``ApiError``: as raised.
    - The database refused a value a client sent (a NUL byte in text on PostgreSQL, a number
      beyond a column): the request's fault, so a 400, logged to find the field.
    - No connection to the database, or it went away mid-request (a restart, a failover),
      or every connection is busy: a 503. The request's transaction is rolled back, and the
      client may send it again (an SMS send safely with its Idempotency-Key: a commit the
      server made just as the connection dropped cannot be told apart). The pool replaces
      the connections the server dropped (``seva.db.session``), so requests succeed again
      as soon as the database is back.
    - Anything else is a bug: a 500, logged with its traceback.
    """
    if isinstance(exc, ApiError):
        return exc.status, error_body(exc.code, exc.message, exc.field)
    if isinstance(exc, DataError):
        log.warning("data_refused", path=path, error=str(exc.orig)[:200])
        return 400, error_body("invalid_request", "a value in the request cannot be stored")
    if isinstance(exc, OperationalError | PoolTimeoutError):
        # The connection's (refused, closed, the server shutting down) or the server's state
        # (a statement cancelled, a deadlock, SQLite locked): not the request's fault. The
        # message is logged: a missing table or migration shows here too.
        reason = getattr(exc, "orig", None) or exc
        log.warning(
            "database_unavailable", path=path, error=type(reason).__name__, detail=str(reason)[:200]
        )
        return 503, error_body("database_unavailable", "the database cannot be reached; retry")
    log.error("unhandled", path=path, exc_info=exc)
    return 500, error_body("internal", "something went wrong on our side; it has been logged")
