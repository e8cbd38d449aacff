"""The citizen portal: the list of services, each service as a sequence of forms, login by
a one-time code to the citizen's phone, and the citizen's own page (language, profile,
applications).

Works without an account: an anonymous visitor runs any service (no registry, no profile).
A citizen who logs in runs services with their phone, so their language, the profile they
gave once and their applications follow them across SMS, USSD, the app and this portal.
"""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from seva.channels.web import (
    OTP_PURPOSE_PORTAL,
    WEB,
    WebForms,
    check_code,
    new_key,
    send_code,
)
from seva.citizens import service as citizens
from seva.citizens.service import GuessesRefused, OtpRefused
from seva.citizens.web_login import SESSION_CITIZEN, citizen_phone
from seva.deps import SessionDep
from seva.gateway import GatewayDep
from seva.i18n import shipped
from seva.i18n import text as ui
from seva.numbers import msisdn
from seva.ratelimit import client_address
from seva.templating import LANG_COOKIE, check_csrf, language_choices, page_lang, render
from seva.web import service_form
from seva.web.service_form import FormPlace

router = APIRouter(include_in_schema=False)

SESSION_DIALOGUE = "web_key"
SESSION_PENDING = "otp_phone"
PORTAL = FormPlace(
    base="/services", home="/", template_extra={"kiosk": False}, login="/citizen/login"
)


def otp_refusal(refused: OtpRefused, lang: str) -> str:
    """Why no code was sent, for the portal and the kiosk."""
    if refused.reason == "phone":
        return ui("otp_wait", lang).format(seconds=refused.wait_seconds)
    key = {"phone_hour": "otp_phone_hour", "client": "otp_client_limit"}.get(
        refused.reason, "otp_unavailable"
    )
    return ui(key, lang).format(minutes=math.ceil(refused.wait_seconds / 60))


def guesses_refusal(refused: GuessesRefused, lang: str) -> str:
    """Why a code was not checked, for the portal and the kiosk."""
    return ui("otp_guesses", lang).format(minutes=math.ceil(refused.wait_seconds / 60))


def _dialogue_key(request: Request) -> str:
    key = request.session.get(SESSION_DIALOGUE)
    if not key:
        key = new_key()
        request.session[SESSION_DIALOGUE] = key
    return str(key)


# -- services -------------------------------------------------------------------------------


@router.get("/")
def home(request: Request, session: SessionDep, gateway: GatewayDep) -> Response:
    lang = page_lang(request)
    settings = gateway.settings
    return render(
        request,
        "portal_home.html",
        {
            "groups": service_form.live_by_department(session, lang),
            "base": PORTAL.base,
            "sms_code": settings.shortcode,
            "ussd_code": settings.ussd_code,
        },
    )


@router.get("/services/{department_code}/{slug}")
def service_page(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    department_code: str,
    slug: str,
    done: str = "",
) -> Response:
    view = service_form.find_view(session, department_code, slug, page_lang(request))
    if view is None:
        return service_form.not_found(request)
    forms = WebForms(gateway.runtime, WEB)
    _, _, response = service_form.show(
        request,
        session,
        gateway.settings,
        forms,
        _dialogue_key(request),
        view,
        PORTAL,
        phone=citizen_phone(request),
        done=bool(done),
    )
    return response


@router.post("/services/{department_code}/{slug}")
def service_answer(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    department_code: str,
    slug: str,
    csrf: Annotated[str, Form()] = "",
    answer: Annotated[str, Form()] = "",
    typed: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "answer",
    seq: Annotated[str, Form()] = "",
) -> Response:
    view = service_form.find_view(session, department_code, slug, page_lang(request))
    if view is None:
        return service_form.not_found(request)
    forms = WebForms(gateway.runtime, WEB)
    _, response = service_form.submit(
        request,
        session,
        forms,
        _dialogue_key(request),
        view,
        PORTAL,
        csrf=csrf,
        answer=typed.strip() or answer,
        action=action,
        seq=seq,
        phone=citizen_phone(request),
    )
    return response


# -- citizen login --------------------------------------------------------------------------


def _login_page(request: Request, *, error: str = "", status: int = 200) -> Response:
    pending = request.session.get(SESSION_PENDING)
    return render(
        request,
        "portal_login.html",
        {
            "pending": pending,
            "error": error,
            "next": _safe_next(request.query_params.get("next", "/me")),
        },
        status,
    )


def _safe_next(value: str) -> str:
    """Only paths on this site: a login never sends the citizen to another host. Browsers
    drop tabs and line breaks from a link before reading it (``/<tab>/evil.example`` becomes
    ``//evil.example``, another host), so a path with any control character or space is
    refused too."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/me"
    if any(ch <= " " or ch == "\x7f" for ch in value):
        return "/me"
    return value


@router.get("/language")
def language(request: Request, next: str = "") -> Response:
    """Every language Seva speaks, each named in its own script: choosing one sets the
    ``seva_lang`` cookie (``?lang=`` on the page it leads back to) for every later page.
    It leads back to ``next``, else to the page the link was on (the same-origin referrer
    every page sends), else home."""
    back = next or _same_site_path(request) or "/"
    if back.startswith("/language"):
        back = "/"
    return render(
        request,
        "portal_language.html",
        {"languages": language_choices(), "next": _safe_next(back).partition("?")[0]},
    )


def _same_site_path(request: Request) -> str:
    """The path of the page that linked here, when it is a page of this site."""
    parts = urlsplit(request.headers.get("referer", ""))
    return parts.path if parts.netloc and parts.netloc == request.url.netloc else ""


@router.get("/citizen/login")
def login_page(request: Request, change: str = "") -> Response:
    if change:
        request.session.pop(SESSION_PENDING, None)
    if citizen_phone(request):
        return RedirectResponse("/me", status_code=303)
    return _login_page(request)


@router.post("/citizen/login")
def login_send(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    phone: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/me",
) -> Response:
    lang = page_lang(request)
    if not check_csrf(request, csrf):
        return _login_page(request, error=ui("form_expired", lang), status=400)
    number = msisdn(phone[:40], gateway.settings.default_region)
    if number is None:
        request.session.pop(SESSION_PENDING, None)
        return _login_page(request, error=ui("bad_phone", lang), status=400)
    result = send_code(
        session,
        gateway.limiter,
        gateway.settings,
        number,
        purpose=OTP_PURPOSE_PORTAL,
        client=client_address(request),
        lang=lang,
    )
    request.session[SESSION_PENDING] = number
    if isinstance(result, OtpRefused):
        return _login_page(request, error=otp_refusal(result, lang), status=429)
    return RedirectResponse(f"/citizen/login?next={_quoted(_safe_next(next))}", status_code=303)


@router.post("/citizen/verify")
def login_verify(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    code: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/me",
) -> Response:
    lang = page_lang(request)
    pending = request.session.get(SESSION_PENDING)
    if not check_csrf(request, csrf):
        return _login_page(request, error=ui("form_expired", lang), status=400)
    if not pending:
        return RedirectResponse("/citizen/login", status_code=303)
    phone = str(pending)
    checked = check_code(
        session,
        gateway.limiter,
        gateway.settings,
        phone,
        code[:40],
        purpose=OTP_PURPOSE_PORTAL,
        client=client_address(request),
    )
    if isinstance(checked, GuessesRefused):
        return _login_page(request, error=guesses_refusal(checked, lang), status=429)
    if not checked:
        return _login_page(request, error=ui("bad_code", lang), status=400)
    citizen = citizens.get_or_create(session, phone, channel=WEB)
    _end_dialogue(request, session, gateway)
    request.session.pop(SESSION_PENDING, None)
    request.session[SESSION_CITIZEN] = phone
    response = RedirectResponse(_safe_next(next), status_code=303)
    if citizen.language in shipped():
        response.set_cookie(LANG_COOKIE, citizen.language, max_age=365 * 86400, samesite="lax")
    return response


@router.post("/citizen/logout")
def logout(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if check_csrf(request, csrf):
        _end_dialogue(request, session, gateway)
        request.session.pop(SESSION_CITIZEN, None)
        request.session.pop(SESSION_PENDING, None)
    return RedirectResponse("/", status_code=303)


def _end_dialogue(request: Request, session: Session, gateway: GatewayDep) -> None:
    """Answers given before a login or logout stay with whoever gave them."""
    key = request.session.pop(SESSION_DIALOGUE, None)
    if key:
        forms = WebForms(gateway.runtime, WEB)
        dialogue = gateway.runtime.open(session, WEB, str(key))
        forms.forget(session, dialogue)


def _quoted(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


# -- the citizen's page ---------------------------------------------------------------------


@router.get("/me")
def me(request: Request, session: SessionDep, saved: str = "") -> Response:
    phone = citizen_phone(request)
    if phone is None:
        return RedirectResponse("/citizen/login?next=/me", status_code=303)
    lang = page_lang(request)
    citizen = citizens.get_or_create(session, phone)
    return render(
        request,
        "portal_me.html",
        {
            "phone": phone,
            "citizen_lang": citizen.language or lang,
            "languages": language_choices(),
            "profile": sorted(citizens.profile_of(session, citizen).items()),
            "applications": service_form.application_rows(session, citizen, lang),
            "saved": bool(saved),
        },
    )


@router.post("/me/language")
def me_language(
    request: Request,
    session: SessionDep,
    language: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    phone = citizen_phone(request)
    if phone is None:
        return RedirectResponse("/citizen/login?next=/me", status_code=303)
    if not check_csrf(request, csrf) or language not in shipped():
        message = ui("form_expired", page_lang(request))
        return render(request, "portal_message.html", {"message": message, "back": "/me"}, 400)
    citizen = citizens.get_or_create(session, phone)
    citizens.set_language(session, citizen, language)
    response = RedirectResponse("/me?saved=1", status_code=303)
    response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, samesite="lax")
    return response
