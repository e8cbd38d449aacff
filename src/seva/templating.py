"""The Jinja2 environment every domain's pages render with.

Templates live next to their domain (``seva/<domain>/templates``) and extend
``base.html`` from ``seva/web/templates``; autoescaping is on for every file, so a citizen's
answer or a department's text can never inject markup.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from seva.clock import ist_text
from seva.i18n import served, shipped
from seva.i18n import text as ui
from seva.i18n.languages import NAMES, direction

ROOT = Path(__file__).resolve().parent
TEMPLATE_DIRS = [
    ROOT / "web" / "templates",
    ROOT / "dashboard" / "templates",
    ROOT / "applications" / "templates",
    ROOT / "tenancy" / "templates",
    ROOT / "messaging" / "templates",
    ROOT / "locker" / "templates",
    ROOT / "rtc" / "templates",
]
LANG_COOKIE = "seva_lang"
SESSION_LOGIN = "official_login"
"""The cookie key holding an official's login token (``tenancy.start_session``)."""

_env = Environment(
    loader=ChoiceLoader([FileSystemLoader(str(d)) for d in TEMPLATE_DIRS if d.exists()]),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=_env)


def page_lang(request: Request) -> str:
    """The page language: ``?lang=``, then the cookie, then English; a language Seva does not
    ship reads as English."""
    wanted = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "en"
    return served(wanted)


def language_choices() -> list[tuple[str, str, str]]:
    """Every shipped language as (code, own name, direction), in the table's order: what a
    switcher lists, each name in its own script so every reader finds theirs."""
    return [(code, name, direction(code)) for code, name in NAMES.items() if code in shipped()]


def csrf_token(request: Request) -> str:
    """A per-browser-session token every POST form carries (checked by ``check_csrf``)."""
    token: str | None = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, token: str | None) -> bool:
    expected = request.session.get("csrf")
    if not expected or not token:
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters, which a form may carry.
    given = str(token).encode("utf-8", "replace")
    return secrets.compare_digest(str(expected).encode("utf-8", "replace"), given)


def pop_flash(request: Request) -> dict[str, str] | None:
    """The one-time notice (``{"kind", "text"}``) a redirect after a POST left for this page."""
    value = request.session.pop("flash", None)
    return value if isinstance(value, dict) else None


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    lang = page_lang(request)
    official = getattr(request.state, "official", None)
    data: dict[str, Any] = {
        "request": request,
        "lang": lang,
        "dir": direction(lang),
        "t": lambda key: ui(key, lang),
        "csrf": csrf_token(request),
        "official": official,
        # Pages that never look the login up (the portal's) still know this browser is an
        # official's, so its menu offers staff pages and a log-out rather than a citizen's
        # login; a login that has ended drops out of the cookie on the next staff page.
        "staff_login": official is not None or bool(request.session.get(SESSION_LOGIN)),
        "simulator": request.app.state.gateway.settings.serves_demo_routes,
        "when": ist_text,
    }
    data.update(context or {})
    response = templates.TemplateResponse(request, template, data, status_code=status_code)
    if request.query_params.get("lang") in shipped():
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def not_found(request: Request, message_key: str) -> HTMLResponse:
    """The console's "not found" page (404) with the catalog message ``message_key``: what
    any department's or the gateway's console page answers for a thing the official may not
    see, so another department's existence is not told either."""
    return render(request, "console_missing.html", {"message": message_key}, 404)
