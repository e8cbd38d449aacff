"""The officials' console for SMS: a department's outbound messages, where each one's delivery
stands, and the department's TRAI DLT registrations.

A message moves queued → sending → submitted → delivered / failed as the dispatcher submits it
(SMPP v3.4 §4.4.1 submit_sm) and delivery receipts arrive (SMPP v3.4 Appendix B receipts in
deliver_sm); these pages read the same rows, so a receipt shows on the next page load. DLT
registrations follow TRAI TCCCPR 2018 as amended in 2025 (the rules live in
``messaging.dlt``).

Scope is the applications console's: officers and department admins see their own
department only, and another department's message answers 404 exactly like a missing one;
gateway admins see every department, Seva's own messages (OTPs, SMS replies) included, and
may narrow to one. Only department admins (and gateway admins) change DLT registrations;
officers read them. Every change writes an audit record in the same transaction.

OTP texts are shown with their digits masked: reading the console must never be enough to
log in as the citizen a code was sent to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from seva import i18n
from seva.clock import ist_text
from seva.core import CoreDep
from seva.dashboard.service import ist_day
from seva.deps import SessionDep
from seva.i18n import text as ui
from seva.messaging import console, dlt
from seva.messaging import service as messaging
from seva.messaging.forms import SmsListQuery, row_id
from seva.messaging.models import STATES, DltTemplate
from seva.messaging.service import MessageView, SendRefused
from seva.sms_text import (
    GSM7,
    GSM7_ALPHABET,
    GSM7_EXTENSION,
    PART_SIZES,
    SHOW_OUTSIDE,
    UCS2,
    measure,
)
from seva.templating import check_csrf, not_found, page_lang, pop_flash, render
from seva.tenancy import service as tenancy
from seva.tenancy.login import require_official
from seva.tenancy.models import Department, Official, Role

router = APIRouter(include_in_schema=False)


PAGE_SIZE = 25
PREVIEW = 60
MAX_NAME = 200
MAX_BODY = 2000
"""A bound on the form field, well above the longest text Seva sends (``MAX_TEXT``, 1,600)."""
CATEGORIES = (
    dlt.Category.GOVERNMENT.value,
    dlt.Category.TRANSACTIONAL.value,
    dlt.Category.SERVICE_IMPLICIT.value,
    dlt.Category.PROMOTIONAL.value,
)
"""What a new registration may choose, the usual one for a department first. TCCCPR 2025
retired "service explicit", so it is shown on old rows but not offered."""

ConsoleOfficial = Annotated[
    Official, Depends(require_official(Role.OFFICER, Role.DEPARTMENT_ADMIN))
]
DltAdmin = Annotated[Official, Depends(require_official(Role.DEPARTMENT_ADMIN))]


# -- shared -------------------------------------------------------------------------------------

_DIGITS = re.compile(r"[0-9०-९]")


def shown_text(view: MessageView) -> str:
    """The text as the console may show it: an OTP's digits masked."""
    return _DIGITS.sub("•", view.text) if view.kind == "otp" else view.text


def preview(text: str) -> str:
    return text if len(text) <= PREVIEW else text[:PREVIEW] + "…"


def _department_codes(departments: list[Department]) -> dict[int, str]:
    return {d.id: d.code for d in departments}


# -- messages -----------------------------------------------------------------------------------


@router.get("/console/sms")
def sms_list(
    request: Request,
    session: SessionDep,
    gateway: CoreDep,
    official: ConsoleOfficial,
    query: Annotated[SmsListQuery, Query()],
) -> Response:
    lang = page_lang(request)
    listing = console.sms_listing(
        session,
        official,
        query,
        region=gateway.settings.default_region,
        since=ist_day().start,
        page_size=PAGE_SIZE,
    )
    admin = official.role is Role.GATEWAY_ADMIN
    rows, current = listing.rows, listing.page
    own = tenancy.department_by_id(session, official.department_id)
    return render(
        request,
        "console_sms.html",
        {
            "rows": rows,
            "texts": {m.id: preview(shown_text(m)) for m in rows},
            "states": STATES,
            "today": listing.today,
            "overall": listing.overall,
            "own_department": own if not admin else listing.chosen,
            "all_departments": listing.departments if admin else [],
            "codes": _department_codes(listing.departments),
            "show_department": admin and listing.chosen is None,
            "filters": listing.filters,
            "problems": [ui(key, lang) for key in listing.problems],
            "total": listing.total,
            "page": current,
            "pages": listing.pages,
            "first": (current - 1) * PAGE_SIZE + 1 if rows else 0,
            "last": (current - 1) * PAGE_SIZE + len(rows),
            "previous_url": _page_url(listing, current - 1) if current > 1 else None,
            "next_url": _page_url(listing, current + 1) if current < listing.pages else None,
            "when": ist_text,
            "flash": pop_flash(request),
        },
    )


def _page_url(listing: console.SmsListing, target: int) -> str:
    params = {k: v for k, v in listing.filters.items() if v}
    params["page"] = str(target)
    return "/console/sms?" + urlencode(params)


# -- DLT registrations ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failure:
    """A refused DLT form: which section shows it, and the reason in the page's language."""

    section: str
    message: str


@dataclass(frozen=True, slots=True)
class TemplateRow:
    """A registered template with what an official needs to write texts that match it."""

    row: DltTemplate
    variables: list[tuple[str, int]]
    example: str | None


_EXAMPLES: dict[str, tuple[str, ...]] = {
    "var": ("Sunita Devi", "FPS 112", "12-05-2026", "Shakarpur"),
    "numeric": ("4521", "1200"),
    "number": ("4521", "1200"),
    "alphanumeric": ("TEST-0001", "AB12CD"),
    "url": ("https://seva.gov.in/s/12",),
    "urlott": ("https://seva.gov.in/s/12",),
    "cbn": ("1800110001",),
    "email": ("help@seva.gov.in",),
}


def example_text(compiled: dlt.CompiledTemplate) -> str | None:
    """A text the template accepts, with plausible values in its variables (None if the
    values chosen do not fit, which the registered limits make unlikely)."""
    used: dict[str, int] = {}
    values: list[str] = []
    for kind, limit in zip(compiled.variable_kinds, compiled.variable_limits, strict=True):
        choices = _EXAMPLES.get(kind, ("x",))
        value = choices[used.get(kind, 0) % len(choices)][:limit]
        used[kind] = used.get(kind, 0) + 1
        values.append(value)
    parts = [compiled.segments[0]]
    remaining = iter(values)
    for size, segment in zip(compiled.gap_sizes, compiled.segments[1:], strict=True):
        parts.extend(next(remaining) for _ in range(size))
        parts.append(segment)
    text = "".join(parts)
    return text if compiled.match(text) else None


def _template_row(row: DltTemplate) -> TemplateRow:
    try:
        compiled = dlt.compile_template(row.body)
    except ValueError:
        return TemplateRow(row=row, variables=[], example=None)
    variables = [
        (f"{{#{kind}#}}", limit)
        for kind, limit in zip(compiled.variable_kinds, compiled.variable_limits, strict=True)
    ]
    return TemplateRow(row=row, variables=variables, example=example_text(compiled))


def _dlt_url(official: Official, department: Department, anchor: str = "") -> str:
    url = "/console/sms/dlt"
    if official.role is Role.GATEWAY_ADMIN:
        url += f"?dept={department.code}"
    return url + (f"#{anchor}" if anchor else "")


def _dlt_department(session: Session, official: Official, dept: str) -> Department | None:
    """The department whose registrations this official works on: their own, or for a
    gateway admin the one named by ``dept``."""
    if official.role is Role.GATEWAY_ADMIN:
        code = dept.strip().upper()
        return tenancy.department_by_code(session, code) if 0 < len(code) <= 16 else None
    return tenancy.department_by_id(session, official.department_id)


def _dlt_page(
    request: Request,
    session: Session,
    official: Official,
    department: Department | None,
    *,
    failure: Failure | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "department": department,
        "can_edit": official.role in (Role.DEPARTMENT_ADMIN, Role.GATEWAY_ADMIN),
        "categories": CATEGORIES,
        "failure": failure,
        "form": form or {},
        "flash": pop_flash(request),
        "when": ist_text,
    }
    if department is None:
        context["all_departments"] = tenancy.all_departments(session)
    else:
        account = messaging.account(session, department.id)
        headers = messaging.department_headers(session, department.id)
        context.update(
            {
                "account": account,
                "used": messaging.sent_today(session, department.id),
                "headers": headers,
                "shown_as": {h.id: _display(h.header, h.category) for h in headers},
                "templates": [
                    _template_row(t) for t in messaging.department_templates(session, department.id)
                ],
            }
        )
    return render(request, "console_dlt.html", context, status_code)


def _display(header: str, category: str) -> str:
    try:
        return dlt.display_sender(header, category)
    except ValueError:
        return header


@router.get("/console/sms/dlt")
def dlt_page(
    request: Request, session: SessionDep, official: ConsoleOfficial, dept: str = ""
) -> Response:
    return _dlt_page(request, session, official, _dlt_department(session, official, dept))


def _sentence(text: str) -> str:
    """A validator's reason (written to follow "invalid header: ") as a sentence on its own."""
    return text[:1].upper() + text[1:]


def _say(lang: str, key: str, **values: str) -> str:
    """A validator's refusal in the page's language, from the catalog."""
    return i18n.text(key, lang, **values)


def _category_label(category: str, lang: str) -> str:
    return ui(f"dlt_cat_{category}", lang)


def _header_problem(exc: ValueError, header: str, category: str, lang: str) -> str:
    """Why ``dlt.validate_header`` refused, in the page's language."""
    value = header.strip()[:40]
    if category not in (c.value for c in dlt.Category):
        return _say(lang, "dlt_err_category")
    if category == dlt.Category.PROMOTIONAL:
        alpha = len(value) == 6 and value.isascii() and value.isalpha()
        key = "dlt_err_promo_alpha" if alpha else "dlt_err_promo_digits"
        return _say(lang, key, value=value)
    numeric = len(value) == 6 and value.isascii() and value.isdigit()
    key = "dlt_err_alpha_numeric" if numeric else "dlt_err_alpha_letters"
    return _say(lang, key, value=value, category=_category_label(category, lang))


def _refused(exc: SendRefused, value: str, lang: str) -> str:
    key = f"dlt_err_{exc.code}"
    if ui(key, lang) == key:  # a refusal with no translation yet: the service's own words
        return _sentence(exc.message)
    return _say(lang, key, value=value)


def _forbidden_department(request: Request) -> Response:
    return not_found(request, "adm_not_found")


@router.post("/console/sms/dlt/entity")
def dlt_set_entity(
    request: Request,
    session: SessionDep,
    official: DltAdmin,
    entity_id: Annotated[str, Form()] = "",
    dept: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    department = _dlt_department(session, official, dept)
    if department is None:
        return _forbidden_department(request)
    lang = page_lang(request)
    form = {"entity_id": entity_id[:40]}
    if not check_csrf(request, csrf):
        return _dlt_page(
            request,
            session,
            official,
            department,
            failure=Failure("entity", ui("con_form_expired", lang)),
            form=form,
            status_code=400,
        )
    try:
        value = dlt.validate_entity_id(entity_id[:100])
    except ValueError:
        message = _say(lang, "dlt_err_entity", value=entity_id.strip()[:40])
        return _dlt_page(
            request,
            session,
            official,
            department,
            failure=Failure("entity", message),
            form=form,
            status_code=400,
        )
    account = messaging.ensure_account(session, department.id)
    previous = account.entity_id
    account.entity_id = value
    return _saved(
        request,
        session,
        official,
        department,
        "entity",
        ui("dlt_entity_saved", lang),
        entity_id=value,
        previous=previous or "",
    )


@router.post("/console/sms/dlt/headers")
def dlt_add_header(
    request: Request,
    session: SessionDep,
    official: DltAdmin,
    header: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    dept: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    department = _dlt_department(session, official, dept)
    if department is None:
        return _forbidden_department(request)
    lang = page_lang(request)
    header = header[:40]
    category = category.strip()[:32]
    form = {"header": header, "header_category": category}
    message: str | None = None
    if not check_csrf(request, csrf):
        message = ui("con_form_expired", lang)
    elif category not in CATEGORIES:
        message = ui("dlt_err_category", lang)
    else:
        try:
            normalised = dlt.validate_header(header, category)
        except ValueError as exc:
            message = _header_problem(exc, header, category, lang)
        else:
            try:
                row = messaging.register_header(session, department.id, normalised, category)
            except SendRefused as exc:
                session.rollback()
                message = _refused(exc, normalised, lang)
    if message is not None:
        return _dlt_page(
            request,
            session,
            official,
            department,
            failure=Failure("headers", message),
            form=form,
            status_code=400,
        )
    return _saved(
        request,
        session,
        official,
        department,
        "headers",
        f"{ui('dlt_header_saved', lang)} {row.header} ({_display(row.header, category)})",
        header=row.header,
        category=row.category,
    )


@router.post("/console/sms/dlt/templates")
def dlt_add_template(
    request: Request,
    session: SessionDep,
    official: DltAdmin,
    template_id: Annotated[str, Form()] = "",
    header: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    dept: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    department = _dlt_department(session, official, dept)
    if department is None:
        return _forbidden_department(request)
    lang = page_lang(request)
    name = " ".join(name.split())
    category = category.strip()[:32]
    header = header.strip().upper()[:16]
    form = {
        "template_id": template_id[:40],
        "template_header": header,
        "template_category": category,
        "name": name[: MAX_NAME + 50],
        "body": body[: MAX_BODY + 200],
    }
    message: str | None = None
    registered = None
    if not check_csrf(request, csrf):
        message = ui("con_form_expired", lang)
    elif category not in CATEGORIES:
        message = ui("dlt_err_category", lang)
    elif len(name) > MAX_NAME:
        message = ui("dlt_err_name_long", lang)
    elif not body.strip():
        message = ui("dlt_err_body_empty", lang)
    elif len(body) > MAX_BODY:
        message = ui("dlt_err_body_long", lang)
    else:
        try:
            wanted_id = dlt.validate_template_id(template_id[:100])
        except ValueError:
            message = _say(lang, "dlt_err_template_id", value=template_id.strip()[:40])
        else:
            message = _template_problem(header, category, body, lang)
            if message is None:
                try:
                    registered = messaging.register_template(
                        session,
                        department.id,
                        template_id=wanted_id,
                        header=header,
                        body=body,
                        category=category,
                        name=name,
                    )
                except SendRefused as exc:
                    session.rollback()
                    value = wanted_id if exc.code == "template_taken" else header
                    message = _refused(exc, value, lang)
    if message is not None or registered is None:
        return _dlt_page(
            request,
            session,
            official,
            department,
            failure=Failure("templates", message or ""),
            form=form,
            status_code=400,
        )
    return _saved(
        request,
        session,
        official,
        department,
        "templates",
        f"{ui('dlt_template_saved', lang)} {registered.template_id}",
        template_id=registered.template_id,
        header=registered.header,
        category=registered.category,
    )


_AUDIT_ACTIONS = {
    "entity": "sms.dlt_entity",
    "headers": "sms.dlt_header",
    "templates": "sms.dlt_template",
}


def _saved(
    request: Request,
    session: Session,
    official: Official,
    department: Department,
    section: str,
    flash: str,
    **details: str,
) -> Response:
    """Every DLT change: an audit record, a flash message, back to the changed section."""
    tenancy.audit(
        session,
        _AUDIT_ACTIONS[section],
        official=official,
        department_id=department.id,
        **details,
    )
    request.session["flash"] = {"kind": "ok", "text": flash}
    return RedirectResponse(_dlt_url(official, department, section), status_code=303)


def _template_problem(header: str, category: str, body: str, lang: str) -> str | None:
    """Why DLT would refuse this template under this header, or None.

    The header's type must suit the template's category (a promotional template goes out
    only from a numeric header), which ``register_template`` does not check by itself.
    """
    if not header:
        return ui("dlt_header_first", lang)
    try:
        dlt.validate_header(header, category)
    except ValueError as exc:
        return _header_problem(exc, header, category, lang)
    try:
        dlt.compile_template(body)
    except ValueError as exc:
        return _sentence(str(exc)) if lang == "en" else f"{ui('dlt_err_body', lang)} {exc}"
    return None


# -- what a message costs -------------------------------------------------------------------------

MAX_RECIPIENTS_SHOWN = messaging.MAX_RECIPIENTS
ENCODING_NAMES = {"gsm7": "GSM-7", "ucs2": "UCS-2"}
"""The alphabets by the names operators and handsets use, the same in every language."""


def _recipients(raw: str) -> int:
    """The recipients typed, from 1 to the most one send takes (1 when it is not a number)."""
    value = row_id(raw.strip())
    return max(1, min(value or 1, MAX_RECIPIENTS_SHOWN))


def _cost_page(request: Request, text: str, recipients: int, *, counted: bool) -> Response:
    """The page with the form and, once a text is given, what it costs. The figures are
    ``sms_text.measure``'s; the page's script counts the same way as the official types
    (``static/sms_cost.js``), from the alphabet and sizes handed to it here."""
    lang = page_lang(request)
    measured = measure(text)
    alphabets = {
        name: ui("cost_alphabet", lang).format(name=ENCODING_NAMES[name], single=single, part=part)
        for name, (single, part) in (("gsm7", PART_SIZES[GSM7]), ("ucs2", PART_SIZES[UCS2]))
    }
    figures = {
        "encoding": ENCODING_NAMES[measured.encoding],
        "characters": measured.characters,
        "parts": measured.parts,
        "recipients": recipients,
        "total": measured.parts * recipients,
    }
    return render(
        request,
        "console_sms_cost.html",
        {
            "form": {"text": text, "recipients": recipients},
            "counted": counted,
            "m": measured,
            "figures": figures,
            "alphabet": alphabets[measured.encoding],
            "alphabets": alphabets,
            "summary": ui("cost_summary", lang).format(**figures),
            "names": ENCODING_NAMES,
            "gsm": GSM7_ALPHABET,
            "gsm_extension": GSM7_EXTENSION,
            "sizes": {"gsm7": PART_SIZES[GSM7], "ucs2": PART_SIZES[UCS2]},
            "max_text": messaging.MAX_TEXT,
            "max_recipients": MAX_RECIPIENTS_SHOWN,
            "show_outside": SHOW_OUTSIDE,
        },
    )


@router.get("/console/sms/cost")
def sms_cost(request: Request, official: ConsoleOfficial) -> Response:
    """What a message would cost, before a department sends it: its encoding, characters and
    SMS parts, and the parts for all its recipients."""
    return _cost_page(request, "", 1, counted=False)


@router.post("/console/sms/cost")
def sms_cost_count(
    request: Request,
    official: ConsoleOfficial,
    text: Annotated[str, Form()] = "",
    recipients: Annotated[str, Form()] = "1",
) -> Response:
    """The figures for the text sent, for browsers without the page's script. Counting
    changes nothing, so the form carries no CSRF token to check: a forged request learns
    nothing and does nothing. A browser sends the text's line breaks as CR LF; a message's
    are LF (``\n``), so they are counted as such."""
    text = text[:MAX_BODY].replace("\r\n", "\n")
    return _cost_page(request, text, _recipients(recipients[:20]), counted=True)


# -- one message (after the fixed /console/sms/dlt paths, which it would otherwise shadow) ------


@router.get("/console/sms/{message_id}")
def sms_detail(
    request: Request, session: SessionDep, official: ConsoleOfficial, message_id: str
) -> Response:
    wanted = row_id(message_id)
    view = messaging.message(session, wanted) if wanted is not None else None
    if view is None or (
        official.role is not Role.GATEWAY_ADMIN
        and (official.department_id is None or view.department_id != official.department_id)
    ):
        return not_found(request, "sms_not_found")
    batch = messaging.batch(session, view.batch_id)
    department = tenancy.department_by_id(session, view.department_id)
    return render(
        request,
        "console_sms_message.html",
        {
            "m": view,
            "text": shown_text(view),
            "masked": view.kind == "otp",
            "department": department,
            "batch": batch,
            "batch_counts": messaging.batch_counts(session, view.batch_id),
            "states": STATES,
            "parts": messaging.message_parts(session, view.id),
            "when": ist_text,
        },
    )
