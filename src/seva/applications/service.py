"""Creating applications, moving their status, and telling the citizen about it.

A status change and the SMS that tells the citizen are written in one transaction, so a change
the official saw succeed is never left without its notification. A change carries two notes:
``note``, to the citizen (in the SMS and in status lookups), and ``internal_note``, which only
the department's officials ever read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from seva import references
from seva.applications.models import Application, ApplicationEvent
from seva.citizens import service as citizens
from seva.citizens.models import Citizen
from seva.clock import ist_date
from seva.db.base import utcnow
from seva.messaging.service import queue_sms
from seva.tenancy import service as tenancy
from seva.tenancy.models import Department


class ApplicationError(ValueError):
    pass


MAX_NOTE = 1000
"""Characters in either note of a status change."""
MAX_DRAWS = 8
"""Random references tried before giving up; each repeats an existing one with a chance of
about applications / 2**40, so more than one draw is already rare."""


def new_reference(session: Session, prefix: str) -> str:
    """``prefix`` and a random part no application has (``FOOD-4F7K2M9Q``): a reference
    tells nothing about any other, so holding one is what a public lookup asks for."""
    for _ in range(MAX_DRAWS):
        ref = references.compose(prefix)
        if session.scalar(select(Application.id).where(Application.ref == ref)) is None:
            return ref
    raise ApplicationError(f"no free reference for {prefix} after {MAX_DRAWS} draws")


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
    """A new application; ``ref`` gives it a chosen reference (demo data), which, not being
    random, is shown by a lookup to the application's citizen only."""
    application = Application(
        ref=ref or new_reference(session, department.code),
        guessable_ref=ref is not None,
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
    """The application under ``ref`` as a citizen typed it (any case, spaces, O for 0 …)."""
    forms = references.forms_of(ref)
    found = {
        row.ref: row
        for row in session.scalars(select(Application).where(Application.ref.in_(forms)))
    }
    return next((found[form] for form in forms if form in found), None)


def find_for_caller(session: Session, ref: str, *, phone: str | None) -> Application | None:
    """The application a status lookup by reference may show this caller, else None.

    A random reference is itself what only the citizen has: whoever holds it sees the public
    status. A guessable one (``guessable_ref``) is shown only when ``phone`` is the
    application's own citizen's, as the channel vouches for it: the caller's number the
    operator gives on SMS, USSD and calls, the OTP login on the web, the kiosk and the app;
    None for a caller nobody vouched for. Anyone else is answered exactly as for a reference
    that does not exist, so counting through old references finds nothing.
    """
    application = find(session, ref)
    if application is None or not application.guessable_ref:
        return application
    citizen = citizens.by_id(session, application.citizen_id) if phone else None
    return application if citizen is not None and citizen.phone == phone else None


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
    internal_note: str = "",
    official_id: int | None = None,
) -> ApplicationEvent:
    status = " ".join(status.split())
    if not status or len(status) > 64:
        raise ApplicationError("status must be 1-64 characters")
    application.status = status
    application.updated_at = utcnow()
    event = ApplicationEvent(
        application_id=application.id,
        status=status,
        note=note[:MAX_NOTE],
        internal_note=internal_note[:MAX_NOTE],
        official_id=official_id,
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
    """What a STATUS lookup shows (the same fields on every channel): the public status and
    the latest note to the citizen, which they were sent by SMS anyway; never an internal
    note."""
    department = tenancy.department_by_id(session, application.department_id)
    return {
        "ref": application.ref,
        "status": application.status,
        "service": application.service,
        "department": department.code if department else "",
        "department_name": department.name if department else {},
        "updated": ist_date(application.updated_at),
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
