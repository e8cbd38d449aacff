"""Onboarding pages: a department, its officials, API keys, service definitions and datasets.

"A department onboards in minutes": the gateway admin creates the department and hands over
its first API key (shown once, never stored in clear); the department's admin then adds
officials, loads service definitions (line-numbered validation errors) and uploads the CSV
datasets their lookups read. Department admins reach only their own department's page; any
other department answers 404. Uploads are bounded before the body is read: the request's
``Content-Length`` must fit, so an oversized file is refused without being stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from seva.clock import ist_text
from seva.deps import SessionDep
from seva.flows import datasets
from seva.flows import service as services
from seva.flows.loader import DefinitionError, Problem, parse_definition
from seva.flows.schema import LANGUAGES
from seva.flows.service import ServiceLoadError, load_service
from seva.i18n import text as ui
from seva.templating import check_csrf, not_found, page_lang, pop_flash, render
from seva.tenancy import service as tenancy
from seva.tenancy.login import require_official
from seva.tenancy.models import ApiKey, Department, Official, Role

router = APIRouter(include_in_schema=False)

MAX_DEFINITION_BYTES = 512 * 1024
MAX_CSV_BYTES = 20 * 1024 * 1024
FORM_OVERHEAD = 64 * 1024
"""Room for the multipart boundaries and the small fields next to the file."""
OFFICIAL_ROLES = (Role.OFFICER, Role.DEPARTMENT_ADMIN, Role.CSC_OPERATOR)
NO_STORE = {"Cache-Control": "no-store"}

Admin = Annotated[Official, Depends(require_official(Role.DEPARTMENT_ADMIN))]
GatewayAdmin = Annotated[Official, Depends(require_official(Role.GATEWAY_ADMIN))]


@dataclass(frozen=True, slots=True)
class Failure:
    """What a rejected form shows: where on the page, the message, and the problems list."""

    section: str
    message: str
    problems: tuple[Problem, ...] = ()


def _not_found(request: Request) -> Response:
    return not_found(request, "adm_not_found")


def _managed(session: Session, official: Official, code: str) -> Department | None:
    """The department if this official may manage it; None hides the rest alike."""
    if not code or len(code) > 16:
        return None
    department = tenancy.department_by_code(session, code)
    if department is None:
        return None
    if official.role is Role.GATEWAY_ADMIN or official.department_id == department.id:
        return department
    return None


def _page_url(department: Department, anchor: str = "") -> str:
    return f"/admin/departments/{department.code}" + (f"#{anchor}" if anchor else "")


def _home(
    request: Request,
    session: Session,
    *,
    failure: Failure | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    departments = tenancy.all_departments(session)
    officials: dict[int, int] = {}
    for member in session.scalars(select(Official).where(Official.active.is_(True))):
        if member.department_id is not None:
            officials[member.department_id] = officials.get(member.department_id, 0) + 1
    return render(
        request,
        "admin_home.html",
        {
            "departments": departments,
            "services": services.active_service_counts(session),
            "officials": officials,
            "languages": LANGUAGES,
            "failure": failure,
            "form": form or {"languages": ["en", "hi"]},
            "flash": pop_flash(request),
        },
        status_code,
    )


def _department_page(
    request: Request,
    session: Session,
    department: Department,
    *,
    failure: Failure | None = None,
    form: dict[str, Any] | None = None,
    new_key: str | None = None,
    created: bool = False,
    status_code: int = 200,
) -> Response:
    lang = page_lang(request)
    listed = services.department_services(session, department.id)
    titles = {}
    for service in listed:
        title = services.stored_title(service.definition) or {}
        titles[service.id] = title.get(lang) or title.get("en") or service.slug
    response = render(
        request,
        "admin_department.html",
        {
            "department": department,
            "officials": list(
                session.scalars(
                    select(Official)
                    .where(Official.department_id == department.id)
                    .order_by(Official.username)
                )
            ),
            "keys": list(
                session.scalars(
                    select(ApiKey)
                    .where(ApiKey.department_id == department.id)
                    .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
                )
            ),
            "services": listed,
            "keywords": services.keywords_by_service(session, [s.id for s in listed]),
            "titles": titles,
            "datasets": datasets.department_datasets(session, department.id),
            "roles": OFFICIAL_ROLES,
            "failure": failure,
            "form": form or {},
            "new_key": new_key,
            "created": created,
            "when": ist_text,
            "flash": pop_flash(request),
            "max_definition_kib": MAX_DEFINITION_BYTES // 1024,
        },
        status_code,
    )
    if new_key is not None:
        response.headers.update(NO_STORE)
    return response


@router.get("/admin")
def admin_home(request: Request, session: SessionDep, official: Admin) -> Response:
    if official.role is not Role.GATEWAY_ADMIN:
        department = tenancy.department_by_id(session, official.department_id)
        if department is None:
            return _not_found(request)
        return RedirectResponse(_page_url(department), status_code=303)
    return _home(request, session)


@router.post("/admin/departments")
def create_department(
    request: Request,
    session: SessionDep,
    official: GatewayAdmin,
    code: Annotated[str, Form()] = "",
    name_en: Annotated[str, Form()] = "",
    name_hi: Annotated[str, Form()] = "",
    sender_id: Annotated[str, Form()] = "",
    languages: Annotated[list[str] | None, Form()] = None,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    lang = page_lang(request)
    wanted = {"en", *(languages or [])}
    chosen = [lang_code for lang_code in LANGUAGES if lang_code in wanted]
    form = {
        "code": code[:16],
        "name_en": name_en[:200],
        "name_hi": name_hi[:200],
        "sender_id": sender_id[:11],
        "languages": chosen,
    }
    message: str | None = None
    if not check_csrf(request, csrf):
        message = ui("con_form_expired", lang)
    elif not " ".join(name_hi.split()):
        message = ui("adm_hindi_required", lang)
    elif len(name_en) > 200 or len(name_hi) > 200 or len(code) > 64 or len(sender_id) > 64:
        message = "name, code or sender ID is too long"
    if message is None:
        try:
            department = tenancy.create_department(
                session,
                code=code,
                name={"en": " ".join(name_en.split()), "hi": " ".join(name_hi.split())},
                sender_id=sender_id,
                languages=chosen,
            )
        except tenancy.TenancyError as exc:
            session.rollback()
            message = str(exc)
    if message is not None:
        return _home(
            request, session, failure=Failure("department", message), form=form, status_code=400
        )
    issued = tenancy.issue_api_key(session, department, label="first key")
    tenancy.audit(session, "department.create", official=official, department_id=department.id)
    tenancy.audit(
        session,
        "api_key.issue",
        official=official,
        department_id=department.id,
        prefix=issued.key.prefix,
    )
    return _department_page(
        request, session, department, new_key=issued.secret, created=True, status_code=201
    )


@router.get("/admin/departments/{code}")
def department_page(request: Request, session: SessionDep, official: Admin, code: str) -> Response:
    department = _managed(session, official, code)
    if department is None:
        return _not_found(request)
    return _department_page(request, session, department)


@router.post("/admin/departments/{code}/officials")
def add_official(
    request: Request,
    session: SessionDep,
    official: Admin,
    code: str,
    username: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    department = _managed(session, official, code)
    if department is None:
        return _not_found(request)
    lang = page_lang(request)
    name = " ".join(name.split())
    form = {"username": username[:64], "name": name[:200], "role": role[:32]}
    chosen = next((r for r in OFFICIAL_ROLES if r.value == role), None)
    message: str | None = None
    if not check_csrf(request, csrf):
        message = ui("con_form_expired", lang)
    elif not name or len(name) > 200:
        message = ui("adm_name_required", lang)
    elif chosen is None:
        message = ui("adm_bad_role", lang)
    elif len(password) > 200 or len(username) > 64:
        message = "username or password is too long"
    if message is None and chosen is not None:
        try:
            added = tenancy.create_official(
                session,
                username=username,
                name=name,
                role=chosen,
                password=password,
                department=department,
            )
        except tenancy.TenancyError as exc:
            session.rollback()
            message = str(exc)
        else:
            tenancy.audit(
                session,
                "official.create",
                official=official,
                department_id=department.id,
                username=added.username,
                role=added.role.value,
            )
            request.session["flash"] = {
                "kind": "ok",
                "text": f"{ui('adm_official_added', lang)} {added.username}",
            }
            return RedirectResponse(_page_url(department, "officials"), status_code=303)
    return _department_page(
        request,
        session,
        department,
        failure=Failure("officials", message or ""),
        form=form,
        status_code=400,
    )


@router.post("/admin/departments/{code}/keys")
def issue_key(
    request: Request,
    session: SessionDep,
    official: Admin,
    code: str,
    label: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    department = _managed(session, official, code)
    if department is None:
        return _not_found(request)
    if not check_csrf(request, csrf):
        failure = Failure("keys", ui("con_form_expired", page_lang(request)))
        return _department_page(request, session, department, failure=failure, status_code=400)
    issued = tenancy.issue_api_key(session, department, label=" ".join(label.split())[:200])
    tenancy.audit(
        session,
        "api_key.issue",
        official=official,
        department_id=department.id,
        prefix=issued.key.prefix,
    )
    return _department_page(request, session, department, new_key=issued.secret, status_code=201)


@router.post("/admin/departments/{code}/keys/{prefix}/revoke")
def revoke_key(
    request: Request,
    session: SessionDep,
    official: Admin,
    code: str,
    prefix: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    department = _managed(session, official, code)
    if department is None:
        return _not_found(request)
    lang = page_lang(request)
    if not check_csrf(request, csrf):
        failure = Failure("keys", ui("con_form_expired", lang))
        return _department_page(request, session, department, failure=failure, status_code=400)
    if not tenancy.revoke_api_key(session, department, prefix[:16]):
        failure = Failure("keys", ui("adm_key_unknown", lang))
        return _department_page(request, session, department, failure=failure, status_code=400)
    tenancy.audit(
        session, "api_key.revoke", official=official, department_id=department.id, prefix=prefix
    )
    request.session["flash"] = {"kind": "ok", "text": f"{ui('adm_key_revoked', lang)} {prefix}"}
    return RedirectResponse(_page_url(department, "keys"), status_code=303)


class UploadRefused(Exception):
    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


async def _bounded_form(request: Request, limit: int) -> FormData:
    """The form, if its declared size fits ``limit`` (plus room for the other fields)."""
    lang = page_lang(request)
    declared = request.headers.get("content-length", "")
    if not (declared.isascii() and declared.isdigit() and len(declared) <= 20):
        raise UploadRefused(ui("adm_too_large", lang), 411)
    if int(declared) > limit + FORM_OVERHEAD:
        raise UploadRefused(ui("adm_too_large", lang), 413)
    try:
        return await request.form(max_files=2, max_fields=10, max_part_size=limit + 1024)
    except HTTPException as exc:
        raise UploadRefused(str(exc.detail), 400) from None


async def _file_bytes(value: object, limit: int) -> bytes | None:
    """The uploaded file's bytes, or None when the file field was left empty."""
    if not isinstance(value, UploadFile) or not value.filename:
        return None
    data = await value.read(limit + 1)
    if len(data) > limit:
        raise UploadRefused("", 413)
    return data or None


def _text_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@router.post("/admin/departments/{code}/services")
async def upload_service(
    request: Request, session: SessionDep, official: Admin, code: str
) -> Response:
    try:
        return await _receive_definition(request, session, official, code)
    finally:
        await request.close()  # the uploaded file's spool


async def _receive_definition(
    request: Request, session: Session, official: Official, code: str
) -> Response:
    department = await run_in_threadpool(_managed, session, official, code)
    if department is None:
        return _not_found(request)
    lang = page_lang(request)
    pasted = filename = ""
    try:
        form = await _bounded_form(request, MAX_DEFINITION_BYTES)
        pasted = _text_field(form, "source")
        if not check_csrf(request, _text_field(form, "csrf")):
            raise UploadRefused(ui("con_form_expired", lang), 400)
        upload = form.get("definition")
        raw = await _file_bytes(upload, MAX_DEFINITION_BYTES)
        filename = (upload.filename or "") if isinstance(upload, UploadFile) and raw else ""
        if raw is not None:
            try:
                pasted = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise UploadRefused(ui("adm_not_text", lang), 400) from None
        if not pasted.strip():
            raise UploadRefused(ui("adm_definition_missing", lang), 400)
    except UploadRefused as refused:
        message = refused.message or ui("adm_too_large", lang)
        return await run_in_threadpool(
            _department_page,
            request,
            session,
            department,
            failure=Failure("services", message),
            form={"source": pasted if len(pasted) <= MAX_DEFINITION_BYTES else ""},
            status_code=refused.status_code,
        )
    return await run_in_threadpool(
        _load_definition, request, session, official, department, pasted, filename or "pasted"
    )


def _load_definition(
    request: Request,
    session: Session,
    official: Official,
    department: Department,
    source: str,
    filename: str,
) -> Response:
    lang = page_lang(request)
    form = {"source": source}
    try:
        definition = parse_definition(source, filename[:200])
    except DefinitionError as exc:
        failure = Failure("services", ui("adm_definition_invalid", lang), tuple(exc.problems))
        return _department_page(
            request, session, department, failure=failure, form=form, status_code=400
        )
    try:
        service = load_service(
            session,
            definition,
            source=source,
            department=department,
            urls=request.app.state.gateway.runtime.outbound.policy,
        )
    except ServiceLoadError as exc:
        session.rollback()
        failure = Failure("services", str(exc))
        return _department_page(
            request, session, department, failure=failure, form=form, status_code=400
        )
    tenancy.audit(
        session,
        "service.load",
        official=official,
        department_id=department.id,
        service=service.slug,
        revision=service.revision,
    )
    keywords = ", ".join(definition.keywords)
    text = f"{ui('adm_service_loaded', lang)} {service.slug} (r{service.revision})"
    request.session["flash"] = {"kind": "ok", "text": f"{text} {keywords}".strip()}
    return RedirectResponse(_page_url(department, "services"), status_code=303)


@router.post("/admin/departments/{code}/datasets")
async def upload_dataset(
    request: Request, session: SessionDep, official: Admin, code: str
) -> Response:
    try:
        return await _receive_dataset(request, session, official, code)
    finally:
        await request.close()  # the uploaded file's spool


async def _receive_dataset(
    request: Request, session: Session, official: Official, code: str
) -> Response:
    department = await run_in_threadpool(_managed, session, official, code)
    if department is None:
        return _not_found(request)
    lang = page_lang(request)
    form_values: dict[str, str] = {}
    try:
        form = await _bounded_form(request, MAX_CSV_BYTES)
        form_values = {
            "dataset_name": _text_field(form, "name")[:64],
            "key_column": _text_field(form, "key_column")[:64],
        }
        if not check_csrf(request, _text_field(form, "csrf")):
            raise UploadRefused(ui("con_form_expired", lang), 400)
        raw = await _file_bytes(form.get("file"), MAX_CSV_BYTES)
        if raw is None:
            raise UploadRefused(ui("adm_csv_missing", lang), 400)
        try:
            csv_text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UploadRefused(ui("adm_not_text", lang), 400) from None
    except UploadRefused as refused:
        return await run_in_threadpool(
            _department_page,
            request,
            session,
            department,
            failure=Failure("datasets", refused.message or ui("adm_too_large", lang)),
            form=form_values,
            status_code=refused.status_code,
        )
    return await run_in_threadpool(
        _store_dataset, request, session, official, department, form_values, csv_text
    )


def _store_dataset(
    request: Request,
    session: Session,
    official: Official,
    department: Department,
    form: dict[str, str],
    csv_text: str,
) -> Response:
    lang = page_lang(request)
    name = form.get("dataset_name", "").strip()
    key_column = form.get("key_column", "").strip() or None
    try:
        dataset = datasets.upload_csv(session, department.id, name, csv_text, key_column)
    except datasets.DatasetError as exc:
        session.rollback()
        return _department_page(
            request,
            session,
            department,
            failure=Failure("datasets", str(exc)),
            form=form,
            status_code=400,
        )
    tenancy.audit(
        session,
        "dataset.upload",
        official=official,
        department_id=department.id,
        dataset=dataset.name,
        rows=dataset.row_count,
    )
    request.session["flash"] = {
        "kind": "ok",
        "text": f"{ui('adm_dataset_loaded', lang)} {dataset.name} ({dataset.row_count})",
    }
    return RedirectResponse(_page_url(department, "datasets"), status_code=303)
