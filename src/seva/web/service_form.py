"""A running service as a page, shared by the portal (``/services/…``) and the kiosk
(``/kiosk/services/…``): GET shows the open question (starting the service when none is open),
POST answers it and redirects (303), so a refresh never answers twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from seva.applications import service as applications
from seva.channels.web import NothingToAnswer, ServicePage, WebForms
from seva.citizens.models import Citizen
from seva.clock import ist_date
from seva.flows import service as services
from seva.flows.answers import MAX_ANSWER
from seva.flows.messages import pick
from seva.flows.models import Service
from seva.flows.service import definition_of
from seva.i18n import text as ui
from seva.settings import Settings
from seva.templating import check_csrf, page_lang, render
from seva.tenancy import service as tenancy


@dataclass(frozen=True, slots=True)
class ServiceView:
    """A service as the pages list it: title and description in the page language."""

    service: Service
    department_code: str
    department_name: str
    title: str
    description: str
    keywords: tuple[str, ...]
    files_applications: bool = False
    """Its applications' updates come by SMS (``ServiceDefinition.files_applications``)."""

    @property
    def path(self) -> str:
        return f"{self.department_code}/{self.service.slug}"


def service_view(session: Session, service: Service, lang: str) -> ServiceView:
    definition = definition_of(service)
    department = tenancy.department_by_id(session, service.department_id)
    return ServiceView(
        service=service,
        department_code=department.code if department else definition.department,
        department_name=department.display_name(lang) if department else definition.department,
        title=pick(definition.title, lang),
        description=pick(definition.description, lang) if definition.description else "",
        keywords=tuple(definition.keywords),
        files_applications=definition.files_applications,
    )


def live_by_department(session: Session, lang: str) -> list[tuple[str, list[ServiceView]]]:
    """Departments in menu order, each with its live services (what ``/`` and the kiosk list)."""
    grouped: dict[str, list[ServiceView]] = {}
    for service in services.live_services(session):
        view = service_view(session, service, lang)
        grouped.setdefault(view.department_name, []).append(view)
    return list(grouped.items())


def application_rows(
    session: Session, citizen: Citizen, lang: str, *, limit: int = 50
) -> list[dict[str, str]]:
    """The citizen's applications as the portal and the kiosk list them, newest first."""
    rows = []
    for application in applications.of_citizen(session, citizen, limit=limit):
        department = tenancy.department_by_id(session, application.department_id)
        rows.append(
            {
                "ref": application.ref,
                "department": department.display_name(lang) if department else "",
                "service": application.service,
                "status": applications.shown_status(application, lang),
                "updated": ist_date(application.updated_at),
            }
        )
    return rows


def not_found(request: Request) -> Response:
    return render(request, "portal_not_found.html", {}, 404)


@dataclass(frozen=True, slots=True)
class FormPlace:
    """Where a service page lives and who runs it: the portal or the kiosk."""

    base: str
    """``/services`` or ``/kiosk/services``."""
    home: str
    template_extra: dict[str, Any]
    login: str = ""
    """Where a visitor logs in (the portal's citizen login); empty where the citizen is
    always known (the kiosk binds one before any service)."""

    def url(self, view: ServiceView, *, done: bool = False) -> str:
        return f"{self.base}/{view.path}" + ("?done=1" if done else "")


def show(
    request: Request,
    session: Session,
    settings: Settings,
    forms: WebForms,
    key: str,
    view: ServiceView,
    place: FormPlace,
    *,
    phone: str | None,
    operator_id: int | None = None,
    done: bool = False,
    extra: dict[str, Any] | None = None,
) -> tuple[ServicePage, bool, Response]:
    """The page for ``view``; returns it, whether this request started the service, and the
    response."""
    lang = page_lang(request)
    dialogue = forms.open(session, key, phone=phone, operator_id=operator_id)
    page = forms.page(dialogue)
    started = False
    notice = ""
    if done and page is not None and page.finished and page.service_id == view.service.id:
        pass
    elif forms.running(dialogue, view.service) and page is not None and not page.finished:
        if page.lang != lang:
            forms.follow_language(dialogue, lang)
            forms.runtime.save(session, dialogue)
    else:
        page = forms.start(session, dialogue, view.service, lang=lang)
        started = True
        if request.query_params.get("expired"):
            notice = ui("answer_timed_out", lang)
    # A visitor nobody knows, about to start a service whose updates come by SMS: the form
    # will ask for a number before it files; logging in instead keeps them with the citizen's
    # own number (and page). Offered only while leaving loses no answer, as a login starts the
    # service afresh.
    login_offer = ""
    if phone is None and place.login and view.files_applications and page.fresh:
        login_offer = f"{place.login}?next={quote(place.url(view), safe='/')}"
    context = {
        "view": view,
        "page": page,
        "action": place.url(view),
        "home": place.home,
        "notice": notice,
        "login_offer": login_offer,
        "sms_code": settings.shortcode,
        "ussd_code": settings.ussd_code,
        "max_answer": MAX_ANSWER,
        **place.template_extra,
        **(extra or {}),
    }
    return page, started, render(request, "portal_service.html", context)


def submit(
    request: Request,
    session: Session,
    forms: WebForms,
    key: str,
    view: ServiceView,
    place: FormPlace,
    *,
    csrf: str,
    answer: str,
    action: str,
    seq: str,
    phone: str | None,
    operator_id: int | None = None,
) -> tuple[ServicePage | None, Response]:
    """Answer or cancel, then redirect to the page to show; returns the new page (None when
    nothing was answered) for the caller to audit."""
    if not check_csrf(request, csrf):
        return None, render(
            request,
            "portal_message.html",
            {"message": ui("form_expired", page_lang(request)), "back": place.url(view)},
            400,
        )
    dialogue = forms.open(session, key, phone=phone, operator_id=operator_id)
    page = forms.page(dialogue)
    if not forms.running(dialogue, view.service) or page is None:
        if action == "cancel":
            return None, RedirectResponse(place.home, status_code=303)
        return None, RedirectResponse(place.url(view) + "?expired=1", status_code=303)
    try:
        if action == "cancel":
            page = forms.cancel(session, dialogue)
        elif seq.strip() != str(page.seq):
            # A form from an earlier page (back button, double click): show the open question.
            return None, RedirectResponse(place.url(view), status_code=303)
        else:
            page = forms.answer(session, dialogue, answer)
    except NothingToAnswer:
        return None, RedirectResponse(place.url(view) + "?expired=1", status_code=303)
    return page, RedirectResponse(place.url(view, done=page.finished), status_code=303)


def find_view(session: Session, department_code: str, slug: str, lang: str) -> ServiceView | None:
    code = department_code.strip().upper()
    if not code.isascii() or len(code) > 16 or len(slug) > 64:
        return None
    service = services.find_service(session, code, slug)
    if service is None:
        return None
    department = tenancy.department_by_id(session, service.department_id)
    if department is None or not department.active:
        return None
    return service_view(session, service, lang)
