"""The officials' console: a department's applications, their timelines, and status changes.

Officers and department admins see their own department's applications only; a reference
from another department answers 404 exactly like one that does not exist, so the console
never confirms another department's case numbers. Gateway admins see every department. A
status change, its SMS to the citizen and its audit record are one transaction. The form
keeps the note to the citizen (in the SMS, and shown to whoever looks the reference up) apart
from the internal note (officials only), and the timeline labels which is which.

A caller's recorded answer (a ``voice:<token>`` value in the data) plays on the detail page
from ``/console/recordings/<token>.wav``, which follows the same department rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from seva.applications import service as applications
from seva.applications.models import Application
from seva.citizens import service as citizens
from seva.clock import ist_text
from seva.core import CoreDep
from seva.deps import SessionDep
from seva.flows import service as services
from seva.i18n import text as ui
from seva.templating import check_csrf, not_found, page_lang, pop_flash, render
from seva.tenancy import service as tenancy
from seva.tenancy.login import require_official
from seva.tenancy.models import Department, Official, Role
from seva.voice import recordings
from seva.voice.models import VoiceRecording

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
MAX_NOTE = applications.MAX_NOTE
MAX_STATUS = applications.MAX_STATUS
TRANSLATED = "hi"
"""The language the form offers a translation of the official's own words in (besides the
status and note as typed): the one other language the gateway ships."""

ConsoleOfficial = Annotated[
    Official, Depends(require_official(Role.OFFICER, Role.DEPARTMENT_ADMIN))
]


def _scope(official: Official) -> applications.ApplicationFilter:
    """What this official may see: their department's applications (every one for gateway
    admins)."""
    if official.role is Role.GATEWAY_ADMIN:
        return applications.ApplicationFilter(every_department=True)
    return applications.ApplicationFilter(department_id=official.department_id)


def find_for(session: Session, official: Official, ref: str) -> Application | None:
    """The application if this official's department owns it (every one for gateway admins)."""
    if not ref or len(ref) > 32:
        return None
    if official.role is Role.GATEWAY_ADMIN:
        return applications.find(session, ref)
    return applications.find_in(session, ref, official.department_id)


def _titles(session: Session, rows: list[Application]) -> dict[tuple[int, str], dict[str, str]]:
    return services.service_titles(session, {(a.department_id, a.service) for a in rows})


def _page_number(raw: str) -> int:
    try:
        return max(1, min(int(raw), 100_000))
    except ValueError:
        return 1


@router.get("/console")
def console_list(
    request: Request,
    session: SessionDep,
    official: ConsoleOfficial,
    status: str = "",
    q: str = "",
    page: str = "1",
    dept: str = "",
) -> Response:
    status = " ".join(status.split())[:64]
    q = q.strip().upper()[:32]
    number = _page_number(page)
    departments = tenancy.all_departments(session)
    by_id = {d.id: d for d in departments}
    scope = _scope(official)
    department_filter: Department | None = None
    if official.role is Role.GATEWAY_ADMIN and dept:
        department_filter = next((d for d in departments if d.code == dept.upper()), None)
        if department_filter is not None:
            scope = applications.ApplicationFilter(department_id=department_filter.id)
    statuses = applications.statuses(session, scope)
    which = replace(scope, status=status, ref_contains=q)
    total = applications.count(session, which)
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(number, pages)
    rows = applications.listing(
        session, which, newest="created", limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
    )
    filters = {
        "status": status,
        "q": q,
        "dept": department_filter.code if department_filter else "",
    }

    def page_url(target: int) -> str:
        params = {k: v for k, v in filters.items() if v}
        params["page"] = str(target)
        return "/console?" + urlencode(params)

    own = by_id.get(official.department_id) if official.department_id else None
    return render(
        request,
        "console_list.html",
        {
            "rows": rows,
            "titles": _titles(session, rows),
            "departments": by_id,
            "own_department": own,
            "all_departments": departments if official.role is Role.GATEWAY_ADMIN else [],
            "statuses": statuses,
            "filters": filters,
            "total": total,
            "page": number,
            "pages": pages,
            "first": (number - 1) * PAGE_SIZE + 1 if total else 0,
            "last": (number - 1) * PAGE_SIZE + len(rows),
            "previous_url": page_url(number - 1) if number > 1 else None,
            "next_url": page_url(number + 1) if number < pages else None,
            "when": ist_text,
            "flash": pop_flash(request),
        },
    )


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    status: str
    note: str
    """To the citizen."""
    internal_note: str
    at: str
    by: str
    status_translated: str = ""
    """The official's Hindi for a status in their own words."""
    note_translated: str = ""


def _detail(
    request: Request,
    session: Session,
    application: Application,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    lang = page_lang(request)
    events = applications.timeline(session, application)
    officials = tenancy.officials_by_id(
        session, {e.official_id for e in events if e.official_id is not None}
    )
    timeline = []
    for event in events:
        who = officials.get(event.official_id) if event.official_id is not None else None
        timeline.append(
            TimelineEntry(
                status=event.status,
                note=event.note,
                internal_note=event.internal_note,
                at=ist_text(event.created_at),
                by=f"{who.name} ({who.username})" if who else ui("con_citizen_self", lang),
                status_translated=(event.status_texts or {}).get(TRANSLATED, ""),
                note_translated=(event.note_texts or {}).get(TRANSLATED, ""),
            )
        )
    citizen = citizens.by_id(session, application.citizen_id)
    operator = tenancy.official_by_id(session, application.operator_id)
    department = tenancy.department_by_id(session, application.department_id)
    # The suggested statuses in the page's language first, in their usual order; then the
    # department's own words already in use.
    own = applications.statuses(
        session, applications.ApplicationFilter(department_id=application.department_id)
    )
    suggested = applications.suggested_names(lang)
    suggested += [name for name in own if applications.code_of(name) is None]
    title = _titles(session, [application]).get((application.department_id, application.service))
    return render(
        request,
        "console_detail.html",
        {
            "app": application,
            "service_title": (title or {}).get(lang) or (title or {}).get("en") or "",
            "department": department,
            "citizen": citizen,
            "operator": operator,
            "fields": _fields(session, application),
            "timeline": timeline,
            "suggested": suggested,
            "translated": TRANSLATED,
            "when": ist_text,
            "error": error,
            "form": form
            or {"status": "", "note": "", "internal_note": "", "status_hi": "", "note_hi": ""},
            "flash": pop_flash(request),
        },
        status_code,
    )


def _field_text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class DataField:
    """One line of the application's data as the page shows it.

    ``voice`` says how a recorded answer is offered: ``audio`` plays from ``url`` (Seva keeps
    the WAV), ``provider`` links to ``url`` at the provider that keeps it, ``missing`` when the
    token names no recording of the application's department (the value is then never
    shown raw either: it is an address, not something the citizen said)."""

    name: str
    text: str
    voice: Literal["", "audio", "provider", "missing"] = ""
    url: str = ""
    seconds: str = ""


def recording_url(token: str) -> str:
    return f"/console/recordings/{token}.wav"


def _seconds_text(seconds: float) -> str:
    return f"{round(seconds, 1):g}"


def _fields(session: Session, application: Application) -> list[DataField]:
    fields = []
    for key, value in sorted((application.data or {}).items(), key=lambda item: str(item[0])):
        token = recordings.token_of(value) if isinstance(value, str) else None
        if token is None:
            fields.append(DataField(str(key), _field_text(value)))
            continue
        recording = recordings.find(session, token, application.department_id)
        if recording is None:
            fields.append(DataField(str(key), "", "missing"))
        elif recording.storage_key is not None:
            seconds = _seconds_text(recording.seconds)
            fields.append(DataField(str(key), "", "audio", recording_url(token), seconds))
        else:
            # Checked again on the way out: an href is where a stored javascript: URL would run.
            address = recordings.provider_url(recording.source_url)
            if address is None:
                fields.append(DataField(str(key), "", "missing"))
            else:
                seconds = _seconds_text(recording.seconds)
                fields.append(DataField(str(key), "", "provider", address, seconds))
    return fields


@router.get("/console/applications/{ref}")
def console_detail(
    request: Request, session: SessionDep, official: ConsoleOfficial, ref: str
) -> Response:
    application = find_for(session, official, ref)
    if application is None:
        return not_found(request, "con_not_found")
    return _detail(request, session, application)


@router.post("/console/applications/{ref}/status")
def console_change_status(
    request: Request,
    session: SessionDep,
    official: ConsoleOfficial,
    ref: str,
    status: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    internal_note: Annotated[str, Form()] = "",
    status_hi: Annotated[str, Form()] = "",
    note_hi: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    application = find_for(session, official, ref)
    if application is None:
        return not_found(request, "con_not_found")
    lang = page_lang(request)
    form = {
        "status": status[:200],
        "note": note[: MAX_NOTE + 100],
        "internal_note": internal_note[: MAX_NOTE + 100],
        "status_hi": status_hi[:200],
        "note_hi": note_hi[: MAX_NOTE + 100],
    }
    if not check_csrf(request, csrf):
        return _detail(
            request,
            session,
            application,
            error=ui("con_form_expired", lang),
            form=form,
            status_code=400,
        )
    new_status = " ".join(status.split())
    note = note.strip()
    internal_note = internal_note.strip()
    status_texts = {TRANSLATED: " ".join(status_hi.split())}
    note_texts = {TRANSLATED: note_hi.strip()}
    code = applications.code_of(new_status)
    if code is not None:
        same = code == application.status_code
    else:
        kept = (application.status_texts or {}).get(TRANSLATED, "")
        same = new_status == application.status and status_texts[TRANSLATED] in ("", kept)
    error = None
    if not new_status or len(new_status) > MAX_STATUS:
        error = "con_bad_status"
    elif len(status_texts[TRANSLATED]) > MAX_STATUS:
        error = "appl_long_status_hi"
    elif any(len(text) > MAX_NOTE for text in (note, internal_note, note_texts[TRANSLATED])):
        error = "con_long_note"
    elif same and not note and not internal_note:
        error = "con_same_status"
    if error:
        return _detail(
            request, session, application, error=ui(error, lang), form=form, status_code=400
        )
    previous = application.status
    applications.change_status(
        session,
        application,
        status=new_status,
        note=note,
        internal_note=internal_note,
        official_id=official.id,
        status_texts=status_texts,
        note_texts=note_texts,
    )
    citizen = citizens.by_id(session, application.citizen_id)
    tenancy.audit(
        session,
        "application.status",
        official=official,
        department_id=application.department_id,
        citizen_phone=citizen.phone if citizen else None,
        ref=application.ref,
        previous=previous,
        status=application.status,
    )
    message = ui("con_changed", lang).replace("{status}", application.status)
    if citizen is not None:
        message += " " + ui("con_will_notify", lang)
    request.session["flash"] = {"kind": "ok", "text": message}
    return RedirectResponse(f"/console/applications/{application.ref}", status_code=303)


def _recording_for(session: Session, official: Official, token: str) -> VoiceRecording | None:
    """The recording if this official's department owns it (any one for gateway admins)."""
    if official.role is Role.GATEWAY_ADMIN:
        return session.scalar(select(VoiceRecording).where(VoiceRecording.token == token))
    if official.department_id is None:
        return None
    return recordings.find(session, token, official.department_id)


_RANGE = re.compile(r"bytes=(\d{0,15})-(\d{0,15})")


def _byte_span(header: str | None, size: int) -> tuple[int, int] | None:
    """The single byte span a ``Range`` header asks for, both ends inclusive; None when there
    is no header or one this page does not honour (several spans, another unit), which the
    HTTP rules allow answering with the whole body. A span past the end comes back empty
    (start > end)."""
    found = _RANGE.fullmatch(header.strip()) if header else None
    if found is None or found.group(0) == "bytes=-":
        return None
    first, last = found.groups()
    if not first:
        return max(0, size - int(last)), size - 1
    start = int(first)
    if last and int(last) < start:
        return None
    return start, min(int(last), size - 1) if last else size - 1


@router.get("/console/recordings/{token}.wav")
def console_recording(
    request: Request,
    session: SessionDep,
    gateway: CoreDep,
    official: ConsoleOfficial,
    token: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
) -> Response:
    """Byte ranges are answered because Safari plays audio only from a server that does, and
    every browser seeks with them. Another department's recording is a 404 like a token that
    does not exist, so the console never confirms one."""
    recording = _recording_for(session, official, token)
    if recording is None or recording.storage_key is None:
        return not_found(request, "con_voice_not_found")
    try:
        audio = gateway.locker.storage.get(recording.storage_key)
    except KeyError:
        return not_found(request, "con_voice_not_found")
    headers = {
        "Cache-Control": "private, no-store",
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
    }
    span = _byte_span(request.headers.get("range"), len(audio))
    if span is None:
        return Response(audio, media_type="audio/wav", headers=headers)
    start, end = span
    if start > end:
        headers["Content-Range"] = f"bytes */{len(audio)}"
        return Response(status_code=416, headers=headers)
    headers["Content-Range"] = f"bytes {start}-{end}/{len(audio)}"
    return Response(audio[start : end + 1], 206, headers, media_type="audio/wav")
