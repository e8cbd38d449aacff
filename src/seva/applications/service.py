"""Creating applications, moving their status, and telling the citizen about it.

A status change and the SMS that tells the citizen are written in one transaction, so a change
the official saw succeed is never left without its notification. A change carries two notes:
``note``, to the citizen (in the SMS and in status lookups), and ``internal_note``, which only
the department's officials ever read.

A citizen reads a status in their own language. The suggested statuses (``STATUS_CODES``) are
catalog entries (``appl_status_approved``): a name an official types or a service gives is
matched against them in every shipped language, and the application keeps the code beside
the English name, so a lookup in Hindi reads "स्वीकृत" and the department's records and API
still read "Approved". A status in an official's own words is kept as written, with whatever
translations the official gave (``status_texts``); so is the note (``note_texts``). A citizen
whose language has no translation of those words reads them as written, inside a sentence in
their own language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from seva import i18n, references
from seva.applications.models import Application, ApplicationEvent
from seva.citizens import service as citizens
from seva.citizens.models import Citizen
from seva.clock import ist_date
from seva.db.base import utcnow
from seva.flows.schema import LANGUAGES
from seva.messaging.service import queue_sms
from seva.tenancy import service as tenancy
from seva.tenancy.models import Department


class ApplicationError(ValueError):
    def __init__(self, message: str, field: str = "status") -> None:
        super().__init__(message)
        self.field = field


MAX_NOTE = 1000
"""Characters in either note of a status change."""
MAX_STATUS = 64
"""Characters in a status name, and in each of its translations."""
STATUS_CODES = (
    "received",
    "under_review",
    "documents_required",
    "verified",
    "approved",
    "rejected",
    "ready_for_collection",
    "closed",
)
"""The suggested statuses, in the order an application usually goes through them; each is
the catalog entry ``appl_status_<code>``."""
TRANSLATABLE = frozenset(LANGUAGES) - {i18n.SOURCE}
"""Languages an official's words may be given in besides the English (or other) original."""
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
    status_texts: Mapping[str, str] | None = None,
) -> Application:
    """A new application; ``ref`` gives it a chosen reference (demo data), which, not being
    random, is shown by a lookup to the application's citizen only. ``status_texts``
    translates a status of the service's own words (``{"hi": "पंजीकृत"}``)."""
    name, code, texts = _status(status, status_texts)
    application = Application(
        ref=ref or new_reference(session, department.code),
        guessable_ref=ref is not None,
        department_id=department.id,
        service=service,
        kind=kind,
        citizen_id=citizen.id if citizen else None,
        status=name,
        status_code=code,
        status_texts=texts,
        data=data,
        channel=channel,
        operator_id=operator_id,
    )
    session.add(application)
    session.flush()
    session.add(
        ApplicationEvent(
            application_id=application.id,
            status=name,
            status_code=code,
            status_texts=texts,
            official_id=operator_id,
        )
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


def _fold(name: str) -> str:
    return " ".join(name.split())


@cache
def _suggested_by_name() -> dict[str, str]:
    """Every shipped language's name of each suggested status, case-folded → its code."""
    return {
        _fold(i18n.text(status_key(code), lang)).casefold(): code
        for code in STATUS_CODES
        for lang in i18n.shipped()
    }


def status_key(code: str) -> str:
    return f"appl_status_{code}"


def code_of(name: str) -> str | None:
    """The suggested status ``name`` is, in any shipped language and any case (``approved``,
    ``स्वीकृत``); None for a status in an official's own words."""
    return _suggested_by_name().get(_fold(name).casefold())


def suggested_names(lang: str) -> list[str]:
    """The suggested statuses in ``lang``, in their usual order (the console's suggestions)."""
    return [i18n.text(status_key(code), lang) for code in STATUS_CODES]


def translations(
    texts: Mapping[str, str] | None, *, limit: int, what: str, fold: bool = False
) -> dict[str, str]:
    """An official's translations, checked: known languages other than English, blank ones
    left out, each at most ``limit`` characters (white space folded when ``fold``)."""
    found: dict[str, str] = {}
    for lang, raw in (texts or {}).items():
        field = f"{what}_translations"
        if lang not in TRANSLATABLE:
            known = ", ".join(sorted(TRANSLATABLE))
            raise ApplicationError(f"{field} are in one of {known}, not {lang!r}", field)
        value = _fold(raw) if fold else raw.strip()
        if len(value) > limit:
            raise ApplicationError(f"the {lang} {what} must be at most {limit} characters", field)
        if value:
            found[lang] = value
    return found


def _status(status: str, texts: Mapping[str, str] | None) -> tuple[str, str | None, dict[str, str]]:
    """The name kept, the code of a suggested status, and the translations of one in an
    official's own words (a suggested status's come from the catalog, so any given are left
    out)."""
    name = _fold(status)
    if not name or len(name) > MAX_STATUS:
        raise ApplicationError(f"status must be 1-{MAX_STATUS} characters")
    checked = translations(texts, limit=MAX_STATUS, what="status", fold=True)
    code = code_of(name)
    if code is not None:
        return i18n.text(status_key(code), i18n.SOURCE), code, {}
    return name, None, checked


def change_status(
    session: Session,
    application: Application,
    *,
    status: str,
    note: str = "",
    internal_note: str = "",
    official_id: int | None = None,
    status_texts: Mapping[str, str] | None = None,
    note_texts: Mapping[str, str] | None = None,
) -> ApplicationEvent:
    """Move the application to ``status`` and queue the citizen's SMS in their language.
    ``status_texts`` and ``note_texts`` are the official's translations by language
    (``{"hi": …}``); a suggested status needs none, and the same words again without any
    keep those they had."""
    name, code, texts = _status(status, status_texts)
    if code is None and not texts and name == application.status:
        texts = dict(application.status_texts or {})  # the same words, translated as before
    notes = translations(note_texts, limit=MAX_NOTE, what="note")
    application.status = name
    application.status_code = code
    application.status_texts = texts
    application.updated_at = utcnow()
    event = ApplicationEvent(
        application_id=application.id,
        status=name,
        status_code=code,
        status_texts=texts,
        note=note[:MAX_NOTE],
        note_texts=notes,
        internal_note=internal_note[:MAX_NOTE],
        official_id=official_id,
    )
    session.add(event)
    citizen = citizens.by_id(session, application.citizen_id)
    department = tenancy.department_by_id(session, application.department_id)
    if citizen is not None and department is not None:
        text = status_text(application, event, i18n.served(citizen.language or ""))
        queue_sms(
            session,
            to_phone=citizen.phone,
            text=text,
            kind="transactional",
            department_id=department.id,
        )
    session.flush()
    return event


def shown_status(row: Application | ApplicationEvent, lang: str) -> str:
    """The status as a reader of ``lang`` sees it: a suggested one from the catalog, one in an
    official's own words in their translation for ``lang`` if they gave one, else as
    written."""
    if row.status_code is not None and i18n.has(status_key(row.status_code)):
        return i18n.text(status_key(row.status_code), lang)
    return (row.status_texts or {}).get(lang) or row.status


def shown_note(event: ApplicationEvent | None, lang: str) -> str:
    """The note to the citizen in ``lang`` when the official wrote it in that language too,
    else as written."""
    if event is None:
        return ""
    return (event.note_texts or {}).get(lang) or event.note


def status_text(application: Application, event: ApplicationEvent | None, lang: str) -> str:
    """The SMS a status change sends, all in ``lang`` but for an official's untranslated
    words."""
    status = shown_status(application, lang)
    text = i18n.text("appl_sms_status", lang, ref=application.ref, status=status)
    note = shown_note(event, lang)
    return f"{text} {note}" if note else text


def summary(session: Session, application: Application, lang: str = "en") -> dict[str, Any]:
    """What a STATUS lookup shows (the same fields on every channel), for a reader of
    ``lang``: the public status and the latest note to the citizen, which they were sent by
    SMS anyway; never an internal note."""
    department = tenancy.department_by_id(session, application.department_id)
    latest = application.events[-1] if application.events else None
    return {
        "ref": application.ref,
        "status": shown_status(application, lang),
        "status_code": application.status_code or "",
        "service": application.service,
        "department": department.code if department else "",
        "department_name": department.name if department else {},
        "updated": ist_date(application.updated_at),
        "note": shown_note(latest, lang),
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
