"""Applications in the department API: a department's backend lists, reads and moves along
the applications citizens filed with it on any channel.

Every query is scoped to the department the API key belongs to; another department's
reference answers 404, exactly like one that does not exist. A status change goes through
``applications.service.change_status``, which queues the citizen's SMS in the same
transaction. Its ``note`` goes to the citizen; its ``internal_note`` is returned here and
nowhere a citizen looks (``ApplicationOut``, the citizen's own view, has no such field).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from seva.applications import service as applications
from seva.applications.models import Application, ApplicationEvent
from seva.bodies import CappedRoute
from seva.citizens import service as citizens
from seva.deps import SessionDep
from seva.errors import ApiError
from seva.tenancy import service as tenancy
from seva.tenancy.api_auth import DepartmentDep
from seva.tenancy.models import Department

router = APIRouter(
    prefix="/api/v1/dept/applications", tags=["department API"], route_class=CappedRoute
)

Ref = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$")]


class TimelineEntry(BaseModel):
    status: str
    status_code: str | None = None
    """A suggested status's stable code (``approved``); null for one in the department's own
    words."""
    note: str
    """To the citizen: sent with the status SMS, shown by status lookups."""
    at: datetime


class DepartmentTimelineEntry(TimelineEntry):
    status_translations: dict[str, str] = {}
    note_translations: dict[str, str] = {}
    internal_note: str
    """The officials' own note: never sent or shown to the citizen."""


class ApplicationOut(BaseModel):
    ref: str
    department: str
    department_name: dict[str, str]
    service: str
    kind: str
    status: str
    """In the citizen's language on the citizen's own view; as the department's records
    name it (English for a suggested status) on the department's."""
    status_code: str | None = None
    """A suggested status's stable code (``approved``); null for one in the department's own
    words."""
    channel: str
    """Where the citizen filed it: ``sms``, ``ussd``, ``web``, ``kiosk``, ``app`` …"""
    data: dict[str, Any]
    created: datetime
    updated: datetime
    timeline: list[TimelineEntry]
    """Every status the application has had, oldest first."""


class DepartmentApplicationOut(ApplicationOut):
    citizen_phone: str | None
    status_translations: dict[str, str] = {}
    """The department's own translations of a status in its own words, by language."""
    timeline: list[DepartmentTimelineEntry]  # type: ignore[assignment]
    """Every status the application has had, oldest first, with the internal notes."""


class ApplicationPage(BaseModel):
    items: list[DepartmentApplicationOut]
    total: int
    limit: int
    offset: int


Translations = Annotated[dict[str, str], Field(max_length=len(applications.TRANSLATABLE))]


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str = Field(
        min_length=1,
        max_length=64,
        examples=["Approved"],
        description="A suggested status (Received, Under review, Documents required, Verified, "
        "Approved, Rejected, Ready for collection, Closed) reaches each citizen in their "
        "language by itself; any other is sent as written, or as translated in "
        "status_translations.",
    )
    status_translations: Translations = Field(
        default_factory=dict,
        description="A status in your own words in other languages, by language code; a "
        "citizen of that language reads it instead. Ignored for a suggested status.",
    )
    note: str = Field(
        default="",
        max_length=applications.MAX_NOTE,
        description="To the citizen: sent with the SMS and shown when the status is looked up.",
        examples=["Collect your card at FPS 112."],
    )
    internal_note: str = Field(
        default="",
        max_length=applications.MAX_NOTE,
        description="For the department only: never sent or shown to the citizen.",
        examples=["Address proof checked against the 2011 electoral roll."],
    )
    note_translations: Translations = Field(
        default_factory=dict,
        description="The note to the citizen in other languages, by language code; a citizen "
        "of that language reads it instead of note.",
    )


def application_out(
    session: Session, application: Application, lang: str | None = None
) -> ApplicationOut:
    """The application as its citizen sees it, statuses and notes in ``lang``; with no
    ``lang``, as the department's records keep them."""
    department = tenancy.department_by_id(session, application.department_id)

    def status(row: Application | ApplicationEvent) -> str:
        return row.status if lang is None else applications.shown_status(row, lang)

    return ApplicationOut(
        ref=application.ref,
        department=department.code if department else "",
        department_name=dict(department.name) if department else {},
        service=application.service,
        kind=application.kind,
        status=status(application),
        status_code=application.status_code,
        channel=application.channel,
        data=dict(application.data or {}),
        created=application.created_at,
        updated=application.updated_at,
        timeline=[
            TimelineEntry(
                status=status(event),
                status_code=event.status_code,
                note=event.note if lang is None else applications.shown_note(event, lang),
                at=event.created_at,
            )
            for event in application.events
        ],
    )


def _department_view(session: Session, application: Application) -> DepartmentApplicationOut:
    citizen = citizens.by_id(session, application.citizen_id)
    return DepartmentApplicationOut(
        **application_out(session, application).model_dump(exclude={"timeline"}),
        citizen_phone=citizen.phone if citizen else None,
        status_translations=dict(application.status_texts or {}),
        timeline=[
            DepartmentTimelineEntry(
                status=event.status,
                status_code=event.status_code,
                status_translations=dict(event.status_texts or {}),
                note=event.note,
                note_translations=dict(event.note_texts or {}),
                internal_note=event.internal_note,
                at=event.created_at,
            )
            for event in application.events
        ],
    )


def _own(session: Session, department: Department, ref: str) -> Application:
    application = applications.find_in(session, ref, department.id)
    if application is None:
        raise ApiError(404, "not_found", f"no application {ref.upper()} in your department", "ref")
    return application


@router.get("", response_model=ApplicationPage, summary="List your department's applications")
def list_applications(
    session: SessionDep,
    department: DepartmentDep,
    status: Annotated[str | None, Query(max_length=64)] = None,
    service: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ApplicationPage:
    """Newest first; ``status`` and ``service`` filter exactly."""
    which = applications.ApplicationFilter(
        department_id=department.id, status=status or "", service=service or ""
    )
    total = applications.count(session, which)
    rows = applications.listing(session, which, newest="updated", limit=limit, offset=offset)
    return ApplicationPage(
        items=[_department_view(session, row) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/{ref}", response_model=DepartmentApplicationOut, summary="One application and its timeline"
)
def get_application(
    session: SessionDep, department: DepartmentDep, ref: Ref
) -> DepartmentApplicationOut:
    return _department_view(session, _own(session, department, ref))


@router.post(
    "/{ref}/status",
    response_model=DepartmentApplicationOut,
    summary="Move an application to a new status (the citizen gets an SMS)",
)
def change_status(
    session: SessionDep, department: DepartmentDep, ref: Ref, change: StatusChange
) -> DepartmentApplicationOut:
    application = _own(session, department, ref)
    try:
        applications.change_status(
            session,
            application,
            status=change.status,
            note=change.note.strip(),
            internal_note=change.internal_note.strip(),
            status_texts=change.status_translations,
            note_texts=change.note_translations,
        )
    except applications.ApplicationError as exc:
        raise ApiError(400, "invalid_status", str(exc), exc.field) from None
    citizen = citizens.by_id(session, application.citizen_id)
    tenancy.audit(
        session,
        "application.status",
        department_id=department.id,
        citizen_phone=citizen.phone if citizen else None,
        ref=application.ref,
        status=application.status,
        via="api",
    )
    session.flush()
    session.refresh(application)
    return _department_view(session, application)
