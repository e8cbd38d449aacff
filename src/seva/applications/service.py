"""Creating applications, moving their status, and telling the citizen about it.

A status change and the SMS that tells the citizen are written in one transaction, so a change
the official saw succeed is never left without its notification.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from seva.applications.models import Application, ApplicationEvent, ReferenceCounter
from seva.citizens.models import Citizen
from seva.db.base import utcnow
from seva.messaging.service import queue_sms
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
    citizen = session.get(Citizen, application.citizen_id) if application.citizen_id else None
    department = session.get(Department, application.department_id)
    if citizen is not None and department is not None:
        text = status_text(application, note, citizen.language or "en")
        queue_sms(
            session,
            to_phone=citizen.phone,
            text=text,
            kind="transactional",
            sender=department.sender_id,
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
    department = session.get(Department, application.department_id)
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
