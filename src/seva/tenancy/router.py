"""The department API (``/api/v1/dept``): what a department's own systems automate.

Authenticated by the department's API key (``seva.tenancy.api_auth``); every query below is
scoped to that department, and another department's service, dataset, office, key or citizen
answers 404 exactly like one that does not exist, so a key cannot even learn what others have.

Service definitions and datasets are sent as the files a developer already has (YAML/JSON,
CSV) rather than wrapped in JSON, so ``curl --data-binary @ration.yaml`` works; their bodies
are capped (512 KiB, 50 MiB) and checked before anything is written.
"""

from __future__ import annotations

import csv
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from seva.applications import service as applications
from seva.bodies import BodyTooLarge, CappedRoute, describe_size, read_capped
from seva.citizens import service as citizens
from seva.core import CoreDep
from seva.deps import SessionDep
from seva.directory import service as directory
from seva.directory.models import Office
from seva.errors import ApiError, error_body
from seva.flows import datasets
from seva.flows import service as services
from seva.flows.loader import MAX_SOURCE_BYTES, DefinitionError, parse_definition
from seva.flows.models import Dataset, Service
from seva.flows.schema import SLUG_RE
from seva.flows.service import (
    RESERVED_KEYWORDS,
    CallRefused,
    ServiceLoadError,
    WordTaken,
    definition_of,
    load_service,
)
from seva.numbers import msisdn
from seva.tenancy import service as tenancy
from seva.tenancy.api_auth import DepartmentDep
from seva.tenancy.api_schemas import (
    CitizenOut,
    DatasetOut,
    DefinitionErrorBody,
    KeyIn,
    KeyOut,
    NewKeyOut,
    OfficeIn,
    OfficeOut,
    Problem,
    ServiceDetail,
    ServiceOut,
)
from seva.tenancy.models import ApiKey, Department

CSV_BODY_LIMIT = datasets.MAX_BYTES
DEFINITION_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "application/json")
CSV_TYPES = ("text/csv", "application/csv")

router = APIRouter(prefix="/api/v1/dept", tags=["department API"], route_class=CappedRoute)

Slug = Annotated[str, Path(pattern=SLUG_RE, description="The service's `service:` slug.")]
DatasetName = Annotated[str, Path(pattern=datasets.NAME_RE.pattern)]


class RawBody:
    """The request body as text, refused early when its type or size is wrong.

    A dependency (not ``await request.body()`` in the handler) so the handler stays a plain
    function run in the thread pool, and so the size is checked before the body is read.
    """

    def __init__(self, what: str, media_types: tuple[str, ...], limit: int) -> None:
        self.what = what
        self.media_types = media_types
        self.limit = limit

    async def __call__(self, request: Request) -> str:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in self.media_types:
            raise ApiError(
                415,
                "unsupported_media_type",
                f"send the {self.what} with Content-Type {' or '.join(self.media_types)}",
                "content-type",
            )
        try:
            raw = await read_capped(request, self.limit)
        except BodyTooLarge:
            raise ApiError(
                413, "too_large", f"the {self.what} is larger than {describe_size(self.limit)}"
            ) from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise ApiError(
                400, "invalid_encoding", f"line {line}: the {self.what} is not UTF-8 text"
            ) from None


DefinitionText = Annotated[
    str, Depends(RawBody("service definition", DEFINITION_TYPES, MAX_SOURCE_BYTES))
]
CsvText = Annotated[str, Depends(RawBody("dataset", CSV_TYPES, CSV_BODY_LIMIT))]


def _raw_body_doc(media_types: tuple[str, ...], description: str) -> dict[str, object]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {media: {"schema": {"type": "string"}} for media in media_types},
        }
    }


# -- services -------------------------------------------------------------------------------


def _service_out(service: Service) -> ServiceOut:
    definition = definition_of(service)
    return ServiceOut(
        slug=service.slug,
        title=dict(definition.title),
        description=dict(definition.description) if definition.description else None,
        keywords=list(definition.keywords),
        languages=list(definition.languages),
        ussd_order=definition.ussd.order,
        ussd_hidden=definition.ussd.hidden,
        active=service.active,
        builtin=service.builtin,
        revision=service.revision,
        loaded_at=service.loaded_at,
    )


def _own_service(session: Session, department: Department, slug: str) -> Service:
    service = services.department_service(session, department.id, slug)
    if service is None:
        raise ApiError(404, "not_found", f"your department has no service {slug}", "slug")
    return service


@router.get("/services", response_model=list[ServiceOut], summary="Your department's services")
def list_services(session: SessionDep, department: DepartmentDep) -> list[ServiceOut]:
    return [_service_out(row) for row in services.department_services(session, department.id)]


@router.get(
    "/services/{slug}",
    response_model=ServiceDetail,
    summary="One service: its definition and the source it was loaded from",
)
def get_service(session: SessionDep, department: DepartmentDep, slug: Slug) -> ServiceDetail:
    service = _own_service(session, department, slug)
    return ServiceDetail(
        **_service_out(service).model_dump(),
        definition=dict(service.definition),
        source=service.source,
    )


@router.put(
    "/services/{slug}",
    response_model=ServiceOut,
    summary="Create or update a service from its YAML or JSON definition",
    openapi_extra=_raw_body_doc(
        DEFINITION_TYPES, "The service definition file (format: docs/service-format.md)."
    ),
    responses={
        201: {"model": ServiceOut, "description": "The service was created."},
        400: {"model": DefinitionErrorBody, "description": "Every problem, with its line."},
        403: {"description": "The definition names another department."},
        409: {"description": "A keyword, or one in an Indian script, is held by another service."},
    },
)
def put_service(
    response: Response,
    gateway: CoreDep,
    session: SessionDep,
    department: DepartmentDep,
    slug: Slug,
    text: DefinitionText,
) -> ServiceOut | JSONResponse:
    try:
        definition = parse_definition(text, source=slug)
    except DefinitionError as exc:
        return _definition_error(exc)
    if definition.service != slug:
        raise ApiError(
            400,
            "slug_mismatch",
            f"the URL names service {slug} but the definition says service: {definition.service}",
            "service",
        )
    if definition.department != department.code:
        raise ApiError(
            403,
            "wrong_department",
            f"this key belongs to {department.code}; the definition names department "
            f"{definition.department}",
            "department",
        )
    if definition.service in services.GATEWAY_SERVICES:
        raise ApiError(
            400,
            "reserved_service",
            f"the service name {slug} is the gateway's own (calls with officials)",
            "service",
        )
    reserved = [k for k in definition.keywords if k in RESERVED_KEYWORDS]
    if reserved:
        raise ApiError(
            400, "reserved_keyword", f"keyword {reserved[0]} is reserved by the gateway", "keywords"
        )
    existed = services.department_service(session, department.id, slug) is not None
    try:
        service = load_service(
            session,
            definition,
            source=text,
            department=department,
            urls=gateway.runtime.outbound.policy,
        )
    except CallRefused as exc:
        raise ApiError(422, "call_url_refused", str(exc), "steps") from None
    except ServiceLoadError as exc:
        field = "local_keywords" if isinstance(exc, WordTaken) else "keywords"
        raise ApiError(409, "keyword_taken", str(exc), field) from None
    tenancy.audit(session, "service.load", department_id=department.id, service=slug, via="api")
    if not existed:
        response.status_code = 201
    return _service_out(service)


def _definition_error(exc: DefinitionError) -> JSONResponse:
    problems = [Problem(path=p.path, line=p.line, message=p.message) for p in exc.problems]
    first = problems[0]
    where = f"line {first.line}: " if first.line else ""
    count = f" ({len(problems)} problems)" if len(problems) > 1 else ""
    body = error_body(
        "invalid_definition",
        f"not a valid service definition{count}: {where}{first.path or '(top)'}: {first.message}",
        first.path or None,
    )
    body["error"]["problems"] = [p.model_dump() for p in problems]
    return JSONResponse(body, status_code=400)


@router.delete(
    "/services/{slug}",
    response_model=ServiceOut,
    summary="Take a service off every channel (its keywords become free)",
)
def delete_service(session: SessionDep, department: DepartmentDep, slug: Slug) -> ServiceOut:
    service = _own_service(session, department, slug)
    services.deactivate_service(session, service)
    tenancy.audit(
        session, "service.deactivate", department_id=department.id, service=slug, via="api"
    )
    return _service_out(service)


# -- datasets -------------------------------------------------------------------------------


def _dataset_out(dataset: Dataset) -> DatasetOut:
    return DatasetOut(
        name=dataset.name,
        key_column=dataset.key_column,
        columns=list(dataset.columns),
        rows=dataset.row_count,
        uploaded_at=dataset.uploaded_at,
    )


@router.get("/datasets", response_model=list[DatasetOut], summary="Your department's datasets")
def list_datasets(session: SessionDep, department: DepartmentDep) -> list[DatasetOut]:
    return [_dataset_out(row) for row in datasets.department_datasets(session, department.id)]


@router.put(
    "/datasets/{name}",
    response_model=DatasetOut,
    summary="Replace a dataset with a CSV file (first column is the key unless `key` says)",
    openapi_extra=_raw_body_doc(CSV_TYPES, "UTF-8 CSV with a header row, at most 50 MiB."),
)
def put_dataset(
    session: SessionDep,
    department: DepartmentDep,
    name: DatasetName,
    text: CsvText,
    key: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> DatasetOut:
    try:
        dataset = datasets.upload_csv(session, department.id, name, text, key)
    except datasets.DatasetError as exc:
        raise ApiError(400, "invalid_dataset", str(exc)) from None
    except csv.Error as exc:
        raise ApiError(400, "invalid_dataset", f"not a valid CSV file: {exc}") from None
    tenancy.audit(
        session,
        "dataset.upload",
        department_id=department.id,
        dataset=name,
        rows=dataset.row_count,
        via="api",
    )
    return _dataset_out(dataset)


# -- offices --------------------------------------------------------------------------------


def _office_out(office: Office) -> OfficeOut:
    return OfficeOut(
        id=office.id,
        name=office.name,
        kind=office.kind,
        address=office.address,
        pincode=office.pincode,
        lat=office.lat,
        lon=office.lon,
        phone=office.phone,
        hours=office.hours,
    )


@router.get(
    "/offices", response_model=list[OfficeOut], summary="Your offices and CSCs (NEAR directory)"
)
def list_offices(session: SessionDep, department: DepartmentDep) -> list[OfficeOut]:
    return [_office_out(row) for row in directory.department_offices(session, department.id)]


@router.post(
    "/offices",
    response_model=OfficeOut,
    status_code=201,
    summary="Add an office or CSC; NEAR lists it from now on",
)
def add_office(
    gateway: CoreDep, session: SessionDep, department: DepartmentDep, office: OfficeIn
) -> OfficeOut:
    phone = None
    if office.phone and office.phone.strip():
        phone = msisdn(office.phone, gateway.settings.default_region)
        if phone is None:
            raise ApiError(400, "invalid_phone", "phone is not a valid phone number", "phone")
    row = directory.add_office(
        session,
        department_id=department.id,
        name=office.name,
        kind=office.kind,
        address=office.address,
        pincode=office.pincode,
        lat=office.lat,
        lon=office.lon,
        phone=phone,
        hours=office.hours,
    )
    tenancy.audit(session, "office.add", department_id=department.id, office=row.name, via="api")
    return _office_out(row)


# -- citizens -------------------------------------------------------------------------------


@router.get(
    "/citizens/{phone}",
    response_model=CitizenOut,
    summary="A citizen who used your department, with the profile fields you may use",
)
def get_citizen(
    gateway: CoreDep,
    session: SessionDep,
    department: DepartmentDep,
    phone: Annotated[str, Path(min_length=1, max_length=32)],
) -> CitizenOut:
    e164 = msisdn(phone, gateway.settings.default_region)
    if e164 is None:
        raise ApiError(400, "invalid_phone", "not a valid phone number", "phone")
    citizen = citizens.find(session, e164)
    missing = ApiError(404, "not_found", f"{e164} has not used your department's services")
    if citizen is None:
        raise missing
    refs = applications.refs_of(session, citizen, department.id)
    if not refs and not citizens.has_consented(session, citizen, department.id):
        raise missing
    tenancy.audit(session, "citizen.lookup", department_id=department.id, citizen_phone=e164)
    return CitizenOut(
        phone=citizen.phone,
        language=citizen.language,
        profile=citizens.consented_profile(session, citizen.id, department.id),
        applications=refs,
    )


# -- API keys -------------------------------------------------------------------------------


def _key_out(key: ApiKey) -> KeyOut:
    return KeyOut(
        prefix=key.prefix,
        label=key.label,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
    )


@router.get("/keys", response_model=list[KeyOut], summary="Your department's API keys")
def list_keys(session: SessionDep, department: DepartmentDep) -> list[KeyOut]:
    rows = session.scalars(
        select(ApiKey).where(ApiKey.department_id == department.id).order_by(ApiKey.id)
    )
    return [_key_out(row) for row in rows]


@router.post(
    "/keys",
    response_model=NewKeyOut,
    status_code=201,
    summary="Issue a new API key (shown once)",
)
def issue_key(session: SessionDep, department: DepartmentDep, body: KeyIn) -> NewKeyOut:
    issued = tenancy.issue_api_key(session, department, label=body.label)
    tenancy.audit(session, "api_key.issue", department_id=department.id, prefix=issued.key.prefix)
    return NewKeyOut(**_key_out(issued.key).model_dump(), key=issued.secret)


@router.delete(
    "/keys/{prefix}",
    response_model=KeyOut,
    summary="Revoke an API key; requests with it are refused from now on",
)
def revoke_key(
    session: SessionDep,
    department: DepartmentDep,
    prefix: Annotated[str, Path(pattern=r"^sk_[0-9a-f]{1,13}$")],
) -> KeyOut:
    key = session.scalar(
        select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.department_id == department.id)
    )
    if key is None:
        raise ApiError(404, "not_found", f"your department has no key {prefix}", "prefix")
    if key.revoked_at is None:
        tenancy.revoke_api_key(session, department, prefix)
        tenancy.audit(session, "api_key.revoke", department_id=department.id, prefix=prefix)
        session.flush()
    return _key_out(key)
