"""Officials' login for the kiosk and the console: a signed session cookie, roles checked
per page, CSRF tokens on every form.

A login is a row in the database (``tenancy.start_session``) whose random token the cookie
carries; the cookie is signed but stateless, so it is the row that makes logging out, a new
password or deactivation end the login on every node, copies of the cookie included.

Guessing is limited (``ratelimit.FailedLogins``): a few wrong passwords for one username, or
more from one client address, and that username or address is refused for a while, with a
message saying how long. Each try takes its place in the counts before the password is
checked, so concurrent requests get no more tries than sequential ones. Every wrong
password and every lock-out is in the audit log.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from seva.core import CoreDep
from seva.deps import SessionDep
from seva.i18n import text as ui
from seva.ratelimit import FailedLogins, client_address
from seva.templating import SESSION_LOGIN, check_csrf, page_lang, render
from seva.tenancy import service as tenancy
from seva.tenancy.models import Official, Role

router = APIRouter(include_in_schema=False)
log = structlog.get_logger("seva.tenancy.login")


class LoginRequired(Exception):
    """Raised by ``require_official``; the app turns it into a redirect to ``/login``."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class RoleForbidden(Exception):
    pass


def current_official(request: Request, session: Session) -> Official | None:
    """The official whose login this browser holds, checked against the database on every
    request: a login that was ended (logout, new password, deactivation) is gone on every
    node at once, even for a copy of the cookie."""
    token = request.session.get(SESSION_LOGIN)
    if not isinstance(token, str):
        return None
    official = tenancy.official_for_session(session, token)
    if official is None:
        request.session.pop(SESSION_LOGIN, None)
        return None
    request.state.official = official
    return official


def require_official(*roles: Role) -> Callable[[Request, Session], Official]:
    """A dependency body: the logged-in official, if their role is one of ``roles``."""

    def dependency(request: Request, session: SessionDep) -> Official:
        official = current_official(request, session)
        if official is None:
            raise LoginRequired(request.url.path)
        if roles and official.role not in roles and official.role is not Role.GATEWAY_ADMIN:
            raise RoleForbidden()
        return official

    return dependency


def _safe_next(value: str) -> str:
    """Only same-site paths: never redirect a login to another host."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/console"
    return value


@router.get("/login")
def login_page(request: Request, session: SessionDep, next: str = "/console") -> Response:
    current_official(request, session)
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    gateway: CoreDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/console",
) -> Response:
    target = _safe_next(next)
    if not check_csrf(request, csrf):
        return render(
            request, "login.html", {"next": target, "error": "Form expired, try again."}, 400
        )
    account = username.strip().lower()
    client = client_address(request)
    guard = FailedLogins.from_settings(gateway.limiter, gateway.settings, "official")
    # The try is counted before the password is hashed, so requests sent together cannot
    # all pass a check made before any of them failed.
    wait = guard.attempt(account, client)
    if wait:
        log.warning("login.refused_locked", username=account, client=client)
        minutes = max(1, math.ceil(wait / 60))
        error = ui("login_locked", page_lang(request)).format(minutes=minutes)
        return render(request, "login.html", {"next": target, "error": error}, 429)
    official = tenancy.authenticate_official(session, account, password)
    if official is None:
        known = tenancy.official_by_username(session, account)
        tenancy.audit(session, "login_failed", official=known, username=account, client=client)
        if guard.locked(account, client):
            tenancy.audit(session, "login_locked", official=known, username=account, client=client)
        error = ui("bad_login", page_lang(request))
        return render(request, "login.html", {"next": target, "error": error}, 401)
    guard.succeeded(account, client)
    ended = request.session.get(SESSION_LOGIN)
    if isinstance(ended, str):
        tenancy.end_session(session, ended)
    request.session.clear()
    request.session[SESSION_LOGIN] = tenancy.start_session(session, official)
    tenancy.audit(session, "login", official=official, client=client)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(
    request: Request, session: SessionDep, csrf: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    if check_csrf(request, csrf):
        token = request.session.get(SESSION_LOGIN)
        if isinstance(token, str):
            official = tenancy.official_for_session(session, token)
            tenancy.end_session(session, token)
            if official is not None:
                tenancy.audit(session, "logout", official=official)
        request.session.clear()
    return RedirectResponse("/", status_code=303)


def install(app: object) -> None:
    """Turn auth exceptions into a redirect to the login page or a 403 page."""
    from fastapi import FastAPI

    assert isinstance(app, FastAPI)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)

    @app.exception_handler(RoleForbidden)
    async def _forbidden(request: Request, exc: RoleForbidden) -> Response:
        # The request's transaction has ended: its Official row can no longer be read.
        request.state.official = None
        return render(
            request,
            "login.html",
            {"next": "/", "error": ui("not_allowed", page_lang(request))},
            403,
        )
