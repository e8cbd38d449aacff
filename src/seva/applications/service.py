"""Creating applications, moving their status, and telling the citizen about it.

A status change and the SMS that tells the citizen are written in one transaction, so a change
the official saw succeed is never left without its notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from seva.applications.models import Application, ApplicationEvent, ReferenceCounter
from seva.citizens import service as citizens
from seva.citizens.models import Citizen
from seva.db.base import utcnow
from seva.messaging.service import queue_sms
from seva.tenancy import service as tenancy
from seva.tenancy.models import Department


class ApplicationError(ValueError):
    pass


def next_reference(session: Session, prefix: str) -> str:
    counter = session.get(ReferenceCounter, prefix, with_for_update=True)
    if counter is None:
        counter = ReferenceCounter(prefix=prefix, value=0)
        session.add(counter)
    counter.value += 1
    session.flush()
    return f"{prefix}-{counter.value:06d}"


def create(
    session: Session,
    *,
    department: Department,
    service: str,
    kind: str,
    status: str,
    data: dict[str, Any],
    channel: str,
    citizen: Citizen | None,
    operator_id: int | None = None,
    ref: str | None = None,
) -> Application:
    application = Application(
        ref=ref or next_reference(session, department.code),
        department_id=department.id,
        service=service,
        kind=kind,
        citizen_id=citizen.id if citizen else None,
        status=status,
        data=data,
        channel=channel,
        operator_id=operator_id,
    )
    session.add(application)
    session.flush()
    session.add(
        ApplicationEvent(application_id=application.id, status=status, official_id=operator_id)
    )
    session.flush()
    return application


def find(session: Session, ref: str) -> Application | None:
    return session.scalar(select(Application).where(Application.ref == ref.strip().upper()))


def find_in(session: Session, ref: str, department_id: int | None) -> Application | None:
    """The application if ``department_id`` owns it: another department's reference is
    answered exactly like one that does not exist."""
    application = find(session, ref)
    if application is None or application.department_id != department_id:
        return None
    return application


def change_status(
    session: Session,
    application: Application,
    *,
    status: str,
    note: str = "",
    official_id: int | None = None,
) -> ApplicationEvent:
    status = " ".join(status.split())
    if not status or len(status) > 64:
        raise ApplicationError("status must be 1-64 characters")
    application.status = status
    application.updated_at = utcnow()
    event = ApplicationEvent(
        application_id=application.id, status=status, note=note[:1000], official_id=official_id
    )
    session.add(event)
    citizen = citizens.by_id(session, application.citizen_id)
    department = tenancy.department_by_id(session, application.department_id)
    if citizen is not None and department is not None:
        text = status_text(application, note, citizen.language or "en")
        queue_sms(
            session,
            to_phone=citizen.phone,
            text=text,
            kind="transactional",
            department_id=department.id,
        )
    session.flush()
    return event


def status_text(application: Application, note: str, lang: str) -> str:
    if lang == "hi":
        text = f"आवेदन {application.ref}: {application.status}।"
    else:
        text = f"Application {application.ref}: {application.status}."
    return f"{text} {note}".strip() if note else text


def summary(session: Session, application: Application) -> dict[str, Any]:
    """What a STATUS lookup shows (the same fields on every channel)."""
    department = tenancy.department_by_id(session, application.department_id)
    return {
        "ref": application.ref,
        "status": application.status,
        "service": application.service,
        "department": department.code if department else "",
        "department_name": department.name if department else {},
        "updated": application.updated_at.date().strftime("%d-%m-%Y"),
        "note": application.events[-1].note if application.events else "",
    }


def of_citizen(session: Session, citizen: Citizen, *, limit: int = 50) -> list[Application]:
    """The citizen's applications, newest first (their portal page and the kiosk show them)."""
    return list(
        session.scalars(
            select(Application)
            .where(Application.citizen_id == citizen.id)
            .order_by(Application.id.desc())
            .limit(limit)
        )
    )


def refs_of(session: Session, citizen: Citizen, department_id: int) -> list[str]:
    """References of the citizen's applications to one department, oldest first."""
    return list(
        session.scalars(
            select(Application.ref)
            .where(Application.citizen_id == citizen.id, Application.department_id == department_id)
            .order_by(Application.id)
        )
    )


def timeline(session: Session, application: Application) -> list[ApplicationEvent]:
    """Every status change, newest first, read afresh (not the possibly stale relationship)."""
    return list(
        session.scalars(
            select(ApplicationEvent)
            .where(ApplicationEvent.application_id == application.id)
            .order_by(ApplicationEvent.id.desc())
        )
    )


@dataclass(frozen=True, slots=True)
class ApplicationFilter:
    """Which applications a list shows. An empty ``status``, ``service`` or ``ref_contains``
    matches every value; ``every_department`` (gateway admins only) lifts the department
    scope, otherwise only ``department_id``'s applications match."""

    department_id: int | None = None
    every_department: bool = False
    status: str = ""
    """Matched exactly after folding white space."""
    service: str = ""
    ref_contains: str = ""

    def query(self) -> Select[Any]:
        query = select(Application)
        if not self.every_department:
            query = query.where(Application.department_id == self.department_id)
        if self.status:
            query = query.where(Application.status == " ".join(self.status.split()))
        if self.service:
            query = query.where(Application.service == self.service)
        if self.ref_contains:
            query = query.where(Application.ref.contains(self.ref_contains, autoescape=True))
        return query


def count(session: Session, which: ApplicationFilter) -> int:
    return session.scalar(which.query().with_only_columns(func.count(Application.id))) or 0


def listing(
    session: Session,
    which: ApplicationFilter,
    *,
    newest: Literal["created", "updated"],
    limit: int,
    offset: int = 0,
) -> list[Application]:
    """One page of matching applications, newest first by filing time (the console's queue)
    or by last change (what a department's backend polls for)."""
    moment = Application.created_at if newest == "created" else Application.updated_at
    return list(
        session.scalars(
            which.query().order_by(moment.desc(), Application.id.desc()).limit(limit).offset(offset)
        )
    )


def statuses(session: Session, which: ApplicationFilter) -> list[str]:
    """The distinct statuses among matching applications, sorted (for status pickers)."""
    query = which.query().with_only_columns(Application.status).distinct()
    return list(session.scalars(query.order_by(Application.status)))
