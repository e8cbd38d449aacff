"""The CSC kiosk: an operator at a Common Service Centre runs services for a walk-in citizen.

The citizen proves the phone is theirs with a one-time code sent to it, which they read out to
the operator; only then is the counter bound to them. Services run on channel ``kiosk`` with the
citizen's phone and the operator's id, so an application filed here belongs to the citizen and
records who filed it. Every step lands in the audit log: code sent, code verified (or refused),
service started and finished, citizen released. "Next citizen" ends the binding.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from seva.channels.web import (
    KIOSK,
    OTP_PURPOSE_KIOSK,
    ServicePage,
    WebForms,
    check_code,
    new_key,
    send_code,
)
from seva.citizens import service as citizens
from seva.citizens.service import GuessesRefused, OtpRefused
from seva.deps import SessionDep
from seva.gateway import GatewayDep
from seva.i18n import text as ui
from seva.numbers import msisdn
from seva.ratelimit import client_address
from seva.templating import check_csrf, page_lang, render
from seva.tenancy import service as tenancy
from seva.tenancy.login import require_official
from seva.tenancy.models import Official, Role
from seva.web import service_form
from seva.web.portal import guesses_refusal, otp_refusal
from seva.web.service_form import FormPlace, ServiceView

router = APIRouter(include_in_schema=False)

SESSION_KIOSK = "kiosk"
KIOSK_PLACE = FormPlace(base="/kiosk/services", home="/kiosk", template_extra={"kiosk": True})
Operator = Annotated[Official, Depends(require_official(Role.CSC_OPERATOR))]


def _state(request: Request) -> dict[str, Any]:
    raw = request.session.get(SESSION_KIOSK)
    return dict(raw) if isinstance(raw, dict) else {}


def _bound(request: Request) -> str | None:
    """The citizen this counter serves; a binding made by another operator does not count."""
    state = _state(request)
    phone = state.get("citizen")
    return str(phone) if phone else None


def _check_owner(request: Request, official: Official) -> None:
    state = _state(request)
    if state and state.get("operator") != official.id:
        request.session.pop(SESSION_KIOSK, None)


@router.get("/kiosk")
def kiosk_home(
    request: Request, session: SessionDep, gateway: GatewayDep, official: Operator
) -> Response:
    _check_owner(request, official)
    return _kiosk_page(request, session, gateway, official)


def _kiosk_page(
    request: Request,
    session: Session,
    gateway: GatewayDep,
    official: Official,
    *,
    error: str = "",
    status: int = 200,
) -> Response:
    lang = page_lang(request)
    state = _state(request)
    citizen_phone = _bound(request)
    apps: list[dict[str, str]] = []
    if citizen_phone:
        citizen = citizens.find(session, citizen_phone)
        if citizen is not None:
            apps = service_form.application_rows(session, citizen, lang, limit=10)
    return render(
        request,
        "kiosk.html",
        {
            "operator": official,
            "pending": None if citizen_phone else state.get("pending"),
            "citizen_phone": citizen_phone,
            "groups": service_form.live_by_department(session, lang) if citizen_phone else [],
            "base": KIOSK_PLACE.base,
            "applications": apps,
            "error": error,
            "released": bool(request.query_params.get("released")),
        },
        status,
    )


@router.post("/kiosk/citizen")
def kiosk_send_code(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    official: Operator,
    phone: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    _check_owner(request, official)
    lang = page_lang(request)
    if not check_csrf(request, csrf):
        return _kiosk_page(
            request, session, gateway, official, error=ui("form_expired", lang), status=400
        )
    if _bound(request):
        return RedirectResponse("/kiosk", status_code=303)
    number = msisdn(phone[:40], gateway.settings.default_region)
    if number is None:
        return _kiosk_page(
            request, session, gateway, official, error=ui("bad_phone", lang), status=400
        )
    result = send_code(
        session,
        gateway.limiter,
        gateway.settings,
        number,
        purpose=OTP_PURPOSE_KIOSK,
        client=client_address(request),
        lang=lang,
        operator=official.name,
    )
    request.session[SESSION_KIOSK] = {"operator": official.id, "pending": number}
    if isinstance(result, OtpRefused):
        message = otp_refusal(result, lang)
        tenancy.audit(
            session,
            "otp_refused",
            official=official,
            citizen_phone=number,
            channel=KIOSK,
            reason=result.reason,
        )
        return _kiosk_page(request, session, gateway, official, error=message, status=429)
    tenancy.audit(session, "otp_sent", official=official, citizen_phone=number, channel=KIOSK)
    return RedirectResponse("/kiosk", status_code=303)


@router.post("/kiosk/verify")
def kiosk_verify(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    official: Operator,
    code: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    _check_owner(request, official)
    lang = page_lang(request)
    if not check_csrf(request, csrf):
        return _kiosk_page(
            request, session, gateway, official, error=ui("form_expired", lang), status=400
        )
    pending = _state(request).get("pending")
    if not pending or _bound(request):
        return RedirectResponse("/kiosk", status_code=303)
    phone = str(pending)
    checked = check_code(
        session,
        gateway.limiter,
        gateway.settings,
        phone,
        code[:40],
        purpose=OTP_PURPOSE_KIOSK,
        client=client_address(request),
    )
    if isinstance(checked, GuessesRefused):
        tenancy.audit(
            session,
            "otp_refused",
            official=official,
            citizen_phone=phone,
            channel=KIOSK,
            reason="guesses",
        )
        return _kiosk_page(
            request, session, gateway, official, error=guesses_refusal(checked, lang), status=429
        )
    if not checked:
        tenancy.audit(session, "otp_failed", official=official, citizen_phone=phone, channel=KIOSK)
        return _kiosk_page(
            request, session, gateway, official, error=ui("bad_code", lang), status=400
        )
    citizens.get_or_create(session, phone, channel=KIOSK)
    request.session[SESSION_KIOSK] = {"operator": official.id, "citizen": phone, "key": new_key()}
    tenancy.audit(session, "otp_verified", official=official, citizen_phone=phone, channel=KIOSK)
    return RedirectResponse("/kiosk", status_code=303)


@router.post("/kiosk/release")
def kiosk_release(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    official: Operator,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if not check_csrf(request, csrf):
        lang = page_lang(request)
        return _kiosk_page(
            request, session, gateway, official, error=ui("form_expired", lang), status=400
        )
    state = _state(request)
    phone = state.get("citizen") or state.get("pending")
    if state.get("key") and state.get("operator") == official.id:
        forms = WebForms(gateway.runtime, KIOSK)
        dialogue = gateway.runtime.open(session, KIOSK, str(state["key"]))
        forms.forget(session, dialogue)
    request.session.pop(SESSION_KIOSK, None)
    if phone:
        tenancy.audit(
            session, "citizen_released", official=official, citizen_phone=str(phone), channel=KIOSK
        )
    return RedirectResponse("/kiosk?released=1", status_code=303)


def _service_context(
    request: Request, session: Session, official: Official, department_code: str, slug: str
) -> tuple[ServiceView | None, str | None, str]:
    _check_owner(request, official)
    view = service_form.find_view(session, department_code, slug, page_lang(request))
    state = _state(request)
    return view, _bound(request), str(state.get("key") or "")


@router.get("/kiosk/services/{department_code}/{slug}")
def kiosk_service(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    official: Operator,
    department_code: str,
    slug: str,
    done: str = "",
) -> Response:
    view, phone, key = _service_context(request, session, official, department_code, slug)
    if view is None:
        return service_form.not_found(request)
    if phone is None or not key:
        lang = page_lang(request)
        return _kiosk_page(
            request, session, gateway, official, error=ui("kiosk_not_bound", lang), status=409
        )
    forms = WebForms(gateway.runtime, KIOSK)
    page, started, response = service_form.show(
        request,
        session,
        gateway.settings,
        forms,
        key,
        view,
        KIOSK_PLACE,
        phone=phone,
        operator_id=official.id,
        done=bool(done),
        extra={"citizen_phone": phone},
    )
    if started:
        tenancy.audit(
            session,
            "service_started",
            official=official,
            citizen_phone=phone,
            channel=KIOSK,
            service=view.path,
        )
        _audit_finished(session, official, phone, view, page)
    return response


@router.post("/kiosk/services/{department_code}/{slug}")
def kiosk_service_answer(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    official: Operator,
    department_code: str,
    slug: str,
    csrf: Annotated[str, Form()] = "",
    answer: Annotated[str, Form()] = "",
    typed: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "answer",
    seq: Annotated[str, Form()] = "",
) -> Response:
    view, phone, key = _service_context(request, session, official, department_code, slug)
    if view is None:
        return service_form.not_found(request)
    if phone is None or not key:
        return RedirectResponse("/kiosk", status_code=303)
    forms = WebForms(gateway.runtime, KIOSK)
    page, response = service_form.submit(
        request,
        session,
        forms,
        key,
        view,
        KIOSK_PLACE,
        csrf=csrf,
        answer=typed.strip() or answer,
        action=action,
        seq=seq,
        phone=phone,
        operator_id=official.id,
    )
    if page is not None:
        _audit_finished(session, official, phone, view, page)
    return response


def _audit_finished(
    session: Session, official: Official, phone: str, view: ServiceView, page: ServicePage
) -> None:
    if not page.finished:
        return
    tenancy.audit(
        session,
        "service_finished",
        official=official,
        citizen_phone=phone,
        channel=KIOSK,
        service=view.path,
        outcome=page.outcome or "",
        application=page.application_ref or "",
    )
