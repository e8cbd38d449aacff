"""Talk to an official: the citizen's pages, the officials' call console, the call page and
its WebSocket.

* ``/call`` lists departments taking calls; ``/call/{DEPT}`` offers *connect now* (the queue)
  and the free appointment slots; ``/call/q/{room}`` is the citizen's place in the queue.
* ``/call/a/{room}`` is the link an appointment SMS carries (the room name is the
  capability); ``/call/room/{room}`` is the call itself for whoever holds the seat.
* ``/console/calls`` is where officials go on duty, take the next caller, and see their
  appointments.
* ``/console/meetings`` and ``/meet/{room}`` are officials' meetings: internal to the
  department of the official who created one; officials of other departments (and CSC
  operators) join only when its host invited them (``rtc.service.may_attend``).
* ``/rtc/ws?token=…`` is the signalling socket (``rtc.signalling``); ``POST
  /call/room/{room}/received`` puts a file received during the call into the citizen's locker
  once its checksum matches what the sender announced.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile, WebSocket
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from seva.citizens.models import Citizen
from seva.citizens.web_login import current_citizen
from seva.core import Core, CoreDep
from seva.deps import SessionDep
from seva.errors import error_body
from seva.i18n import text
from seva.i18n import text as ui
from seva.i18n.dates import day_label as date_label
from seva.locker import service as locker
from seva.locker.models import RECEIVED, Document
from seva.locker.service import MAX_BYTES, MAX_RECORDING_BYTES, LockerRefused
from seva.params import RowId
from seva.rtc import service as rtc
from seva.rtc import waiting
from seva.rtc.models import (
    CONNECTED,
    OFFERED,
    WAITING,
    Appointment,
    Availability,
    CallRecording,
    QueueEntry,
)
from seva.rtc.service import CallRefused
from seva.rtc.signalling import MEETING, Seat
from seva.rtc.tokens import TokenRefused
from seva.rtc.turn import ice_servers, split_urls
from seva.settings import revealed
from seva.templating import check_csrf, page_lang, render
from seva.tenancy import service as tenancy
from seva.tenancy.login import current_official, require_official
from seva.tenancy.models import Department, Official, Role

router = APIRouter(include_in_schema=False)

Room = Annotated[str, Path(min_length=10, max_length=40, pattern=r"^[aqm][A-Za-z0-9_-]+$")]
AnyOfficial = Annotated[
    Official,
    Depends(require_official(Role.OFFICER, Role.DEPARTMENT_ADMIN, Role.CSC_OPERATOR)),
]
Officer = Annotated[Official, Depends(require_official(Role.OFFICER, Role.DEPARTMENT_ADMIN))]


def _gateway(request: Request) -> Core:
    gateway: Core = request.app.state.gateway
    return gateway


def _now() -> datetime:
    return datetime.now(UTC)


def _login(next_url: str) -> RedirectResponse:
    return RedirectResponse(f"/citizen/login?next={next_url}", status_code=303)


def _message(request: Request, message: str, status: int, back: str = "/call") -> Response:
    return render(request, "portal_message.html", {"message": message, "back": back}, status)


# -- the citizen's side -----------------------------------------------------------------------


@router.get("/call")
def call_home(request: Request, session: SessionDep) -> Response:
    taking = rtc.departments_taking_calls(session)
    return render(request, "call_home.html", {"departments": taking})


def _department(session: Session, code: str) -> Department | None:
    found = tenancy.department_by_code(session, code.upper()[:16])
    return found if found is not None and found.active else None


BOOKING_DAYS = 7
"""How far ahead the web page offers times (the SMS and USSD menus offer the next few)."""


@router.get("/call/{code}")
def call_department(
    request: Request,
    session: SessionDep,
    code: str,
    booked: str = "",
    move: str = "",
    day: str = "",
) -> Response:
    department = _department(session, code)
    if department is None:
        return _message(request, ui("call_none", page_lang(request)), 404)
    citizen = current_citizen(request, session)
    if citizen is None:
        return _login(f"/call/{department.code}")
    now = _now()
    lang = page_lang(request)
    upcoming = [
        a for a in rtc.upcoming(session, citizen, now=now) if a.department_id == department.id
    ]
    moving = next((a for a in upcoming if a.room == move), None)
    free = rtc.free_slots(session, department.id, now=now, days=BOOKING_DAYS, moving=moving)
    by_day: dict[date, list[dict[str, str]]] = {}
    for start, _officials in free:
        local = start.astimezone(rtc.INDIA)
        by_day.setdefault(local.date(), []).append(
            {"iso": start.isoformat(), "label": local.strftime("%H:%M")}
        )
    days = sorted(by_day)
    shown = _shown_day(day, days)
    return render(
        request,
        "call_department.html",
        {
            "department": department,
            "day": _day_view(shown, days, by_day, lang, moving) if shown else None,
            "upcoming": upcoming,
            "moving": moving,
            "booked": booked,
            "ist": rtc.INDIA,
        },
    )


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _shown_day(wanted: str, days: list[date]) -> date | None:
    """The day whose times the page lists: ``?day=YYYY-MM-DD`` when it is one with free
    times; a day without any shows the next one that has some (a Sunday, or a day that
    filled up since its link was made), a date past the window the last, and anything else
    (no date, a malformed one, a date already gone) the first."""
    if not days:
        return None
    try:
        asked = date.fromisoformat(wanted) if _ISO_DAY.fullmatch(wanted) else None
    except ValueError:  # 2026-02-30 and the like
        asked = None
    if asked is None or asked < days[0]:
        return days[0]
    return next((d for d in days if d >= asked), days[-1])


def _day_view(
    shown: date,
    days: list[date],
    by_day: dict[date, list[dict[str, str]]],
    lang: str,
    moving: Appointment | None,
) -> dict[str, Any]:
    """One day of free times, with links to every day that has some and to the days either
    side: plain links, so paging needs no script. A link keeps the call being moved."""
    keep = f"move={moving.room}&" if moving else ""

    def link(d: date) -> str:
        return f"?{keep}day={d.isoformat()}#book-h"

    at = days.index(shown)
    return {
        "label": date_label(shown, lang),
        "slots": by_day[shown],
        "days": [
            {"href": link(d), "label": date_label(d, lang, short=True), "current": d == shown}
            for d in days
        ],
        "earlier": link(days[at - 1]) if at > 0 else None,
        "later": link(days[at + 1]) if at + 1 < len(days) else None,
    }


def _department_form(
    request: Request, session: Session, code: str, csrf: str
) -> tuple[Department, Citizen] | Response:
    """The department and the logged-in citizen posting one of its call forms, or the
    answer when either is missing or the form is stale."""
    department = _department(session, code)
    citizen = current_citizen(request, session)
    if department is None:
        return _message(request, ui("call_none", page_lang(request)), 404)
    if citizen is None:
        return _login(f"/call/{department.code}")
    if not check_csrf(request, csrf):
        return _message(request, ui("form_expired", page_lang(request)), 400)
    return department, citizen


@router.post("/call/{code}/queue")
def call_queue(
    request: Request, session: SessionDep, code: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    found = _department_form(request, session, code, csrf)
    if isinstance(found, Response):
        return found
    department, citizen = found
    entry = rtc.join_queue(session, department, citizen, now=_now())
    return RedirectResponse(f"/call/q/{entry.room}", status_code=303)


@router.post("/call/{code}/book")
def call_book(
    request: Request,
    session: SessionDep,
    code: str,
    starts_at: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    found = _department_form(request, session, code, csrf)
    if isinstance(found, Response):
        return found
    department, citizen = found
    try:
        when = datetime.fromisoformat(starts_at)
        appointment = rtc.book(
            session,
            department=department,
            citizen=citizen,
            starts_at=when,
            now=_now(),
            base_url=_gateway(request).settings.base_url,
        )
    except ValueError:
        return _message(request, "choose one of the offered times", 422, f"/call/{department.code}")
    except CallRefused as exc:
        session.rollback()
        return _message(request, exc.message, exc.status, f"/call/{department.code}")
    label = rtc.ist_label(appointment.starts_at)
    return RedirectResponse(f"/call/{department.code}?booked={label}", status_code=303)


def _appointment_form(
    request: Request, session: Session, room: str, csrf: str
) -> tuple[Appointment, str] | Response:
    """The logged-in citizen's appointment a form is about, with the department page to go
    back to, or the answer when it is not theirs or the form is stale."""
    appointment = rtc.own_appointment(session, current_citizen(request, session), room)
    if appointment is None:
        return _message(request, "no such appointment", 404)
    if not check_csrf(request, csrf):
        return _message(request, ui("form_expired", page_lang(request)), 400)
    department = session.get(Department, appointment.department_id)
    return appointment, f"/call/{department.code if department else ''}"


@router.post("/call/a/{room}/move")
def call_move(
    request: Request,
    session: SessionDep,
    room: Room,
    starts_at: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    found = _appointment_form(request, session, room, csrf)
    if isinstance(found, Response):
        return found
    appointment, back = found
    try:
        moved = rtc.reschedule(
            session,
            appointment,
            starts_at=datetime.fromisoformat(starts_at),
            now=_now(),
            channel="web",
            base_url=_gateway(request).settings.base_url,
        )
    except ValueError:
        return _message(request, "choose one of the offered times", 422, back)
    except CallRefused as exc:
        return _message(request, exc.message, exc.status, back)
    return RedirectResponse(f"{back}?booked={rtc.ist_label(moved.starts_at)}", status_code=303)


@router.post("/call/a/{room}/cancel")
def call_cancel(
    request: Request, session: SessionDep, room: Room, csrf: Annotated[str, Form()] = ""
) -> Response:
    found = _appointment_form(request, session, room, csrf)
    if isinstance(found, Response):
        return found
    appointment, back = found
    try:
        rtc.cancel(session, appointment, now=_now())
    except CallRefused as exc:
        return _message(request, exc.message, exc.status)
    return RedirectResponse(back, status_code=303)


def _own_entry(request: Request, session: Session, room: str) -> QueueEntry | None:
    citizen = current_citizen(request, session)
    entry = session.scalar(select(QueueEntry).where(QueueEntry.room == room))
    if citizen is None or entry is None or entry.citizen_id != citizen.id:
        return None
    return entry


@router.get("/call/q/{room}")
def queue_page(request: Request, session: SessionDep, room: Room) -> Response:
    entry = _own_entry(request, session, room)
    if entry is None:
        return _message(request, "no such place in a queue", 404)
    view = rtc.queue_view(session, entry, now=_now())
    return render(
        request, "call_queue.html", {"view": view, **_queue_texts(view, page_lang(request))}
    )


def _queue_texts(view: rtc.QueueView, lang: str) -> dict[str, Any]:
    return {
        "status": view.entry.status,
        "position_text": ui("call_position", lang).format(n=view.position) if view.position else "",
        "wait_text": ui("call_wait", lang).format(
            wait=waiting.describe_wait(view.wait_seconds, lang)
        )
        if view.entry.status in (WAITING, OFFERED)
        else "",
        "join": f"/call/room/{view.entry.room}" if view.entry.status == CONNECTED else None,
    }


@router.get("/call/q/{room}/status.json")
def queue_status(request: Request, session: SessionDep, room: Room) -> JSONResponse:
    entry = _own_entry(request, session, room)
    if entry is None:
        return JSONResponse(error_body("not_found", "no such place in a queue"), 404)
    view = rtc.queue_view(session, entry, now=_now())
    texts = _queue_texts(view, page_lang(request))
    return JSONResponse({"position": view.position, "wait_seconds": view.wait_seconds, **texts})


@router.post("/call/q/{room}/leave")
def queue_leave(
    request: Request, session: SessionDep, room: Room, csrf: Annotated[str, Form()] = ""
) -> Response:
    entry = _own_entry(request, session, room)
    if entry is None:
        return _message(request, "no such place in a queue", 404)
    if check_csrf(request, csrf):
        rtc.leave_queue(session, entry, now=_now())
    department = session.get(Department, entry.department_id)
    return RedirectResponse(f"/call/{department.code if department else ''}", status_code=303)


# -- the call page ----------------------------------------------------------------------------


def _seat_for(request: Request, session: Session, room: str) -> tuple[Seat, str]:
    """Who the visitor is in this room, and where 'back' goes; CallRefused when nobody."""
    now = _now()
    official = current_official(request, session)
    if room.startswith("q"):
        entry = session.scalar(select(QueueEntry).where(QueueEntry.room == room))
        if entry is None:
            raise CallRefused("not_found", "no call has this link", status=404)
        if official is not None and entry.official_id == official.id:
            return rtc.official_seat(official, room), "/console/calls"
        citizen = current_citizen(request, session)
        if citizen is None or citizen.id != entry.citizen_id:
            raise CallRefused("not_yours", "this call belongs to someone else", status=403)
        if entry.status != CONNECTED:
            raise CallRefused("not_connected", ui("call_ended", page_lang(request)), status=410)
        return rtc.queue_seat(session, entry), "/call"
    appointment = session.scalar(select(Appointment).where(Appointment.room == room))
    if official is not None and appointment is not None and appointment.official_id == official.id:
        return rtc.official_seat(official, room), "/console/calls"
    _, seat = rtc.appointment_seat(session, room, now=now)
    return seat, "/call"


CALL_PAGE_WORDS: tuple[str, ...] = (
    *("room_admit", "room_closed", "room_closed_expired", "room_closed_full"),
    *("room_closed_lost", "room_closed_not_invited", "room_closed_removed"),
    *("room_closed_replaced", "room_connected", "room_connected_sfu", "room_connected_with"),
    *("room_connecting", "room_file_corrupt", "room_file_delivered", "room_file_in_locker"),
    *("room_file_not_kept", "room_file_received", "room_file_receiving", "room_file_refused"),
    *("room_file_saved", "room_file_sending", "room_file_too_big", "room_file_types"),
    *("room_joined", "room_left", "room_mute", "room_muted_by", "room_no_devices"),
    *("room_no_sfu", "room_other_left", "room_problem", "room_record", "room_record_cancel"),
    *("room_record_failed", "room_record_on", "room_record_saved", "room_record_saving"),
    *("room_record_stop", "room_record_waiting", "room_refused", "room_refused_gone"),
    *("room_refused_lobby", "room_refused_not_allowed", "room_remove", "room_screen_of"),
    *("room_screen_refused", "room_sfu_closed", "room_sfu_refused", "room_sfu_removed"),
    *("room_sfu_unreachable", "room_waiting_host", "room_waiting_other"),
)
"""The catalog entries the call page's scripts (call.js, sfu.js) write: statuses, the record
and file messages, the buttons they make. The page hands them over in the reader's language,
placeholders (``{name}``) left for the script to fill, so no word of the call lives in a
script."""


def call_page_words(lang: str) -> dict[str, str]:
    """The call page's words in ``lang``, as templates: the script fills in a name or a size
    when it writes one, which the server cannot know when it renders the page."""
    return {key: text(key, lang) for key in CALL_PAGE_WORDS}


def _call_context(request: Request, seat: Seat, back: str) -> dict[str, Any]:
    gateway = _gateway(request)
    settings = gateway.settings
    now = time.time()
    token = gateway.rtc_tokens.issue(seat, now=now, ttl=4 * 3600)
    servers = ice_servers(
        stun=split_urls(settings.stun_urls),
        turn=split_urls(settings.turn_urls),
        secret=revealed(settings.turn_secret) or None,
        user=seat.identity,
        now=now,
        ttl=settings.turn_ttl_seconds,
    )
    return {
        "seat": seat,
        "back": back,
        "config": json.dumps(
            {
                "token": token,
                "room": seat.room,
                "role": seat.role,
                "kind": seat.kind,
                "name": seat.name,
                "iceServers": servers,
                "receivedUrl": f"/call/room/{seat.room}/received",
                "recordingUrl": f"/call/room/{seat.room}/recording",
                "maxFileBytes": MAX_BYTES,
                "words": call_page_words(page_lang(request)),
            }
        ),
    }


@router.get("/call/a/{room}")
@router.get("/call/room/{room}")
def call_page(request: Request, session: SessionDep, room: Room) -> Response:
    try:
        seat, back = _seat_for(request, session, room)
    except CallRefused as exc:
        return _message(request, exc.message, exc.status)
    return render(request, "call.html", _call_context(request, seat, back))


@router.post("/call/room/{room}/received")
def call_received(
    request: Request,
    session: SessionDep,
    gateway: CoreDep,
    room: Room,
    token: Annotated[str, Form(max_length=2048)],
    sha256: Annotated[str, Form(min_length=64, max_length=64)],
    sender: Annotated[str, Form(max_length=200)] = "",
    file: UploadFile = File(),
) -> JSONResponse:
    """A file the citizen's page received over the data channel, kept once its hash matches.

    A plain def, run in a worker thread: hashing and re-encoding the file would otherwise
    stall the event loop (and with it the call's signalling)."""
    try:
        seat = gateway.rtc_tokens.check(token, now=time.time(), room=room)
    except TokenRefused as exc:
        return JSONResponse(error_body("invalid_token", str(exc)), 403)
    if seat.role != "citizen" or not seat.identity.startswith("citizen:"):
        return JSONResponse(error_body("not_allowed", "only the citizen keeps received files"), 403)
    data = file.file.read(MAX_BYTES + 1)
    if hashlib.sha256(data).hexdigest() != sha256.lower():
        return JSONResponse(
            error_body("checksum_mismatch", "the file changed on the way; ask for it again"), 422
        )
    citizen = session.get(Citizen, int(seat.identity.split(":", 1)[1]))
    if citizen is None:
        return JSONResponse(error_body("not_found", "no such citizen"), 404)
    department = _room_department(session, room)
    source = f"call with {department.code if department else 'an official'}"
    if sender:
        source += f" ({sender[:60]})"
    try:
        document = locker.add_file(
            session,
            gateway.locker,
            citizen,
            filename=file.filename or "received",
            data=data,
            kind=RECEIVED,
            source=source,
        )
    except LockerRefused as exc:
        return JSONResponse(error_body(exc.code, exc.message), exc.status)
    return JSONResponse(
        {"document": document.id, "sha256": document.sha256, "filename": document.filename}, 201
    )


@router.post("/call/room/{room}/recording")
def call_recording(
    session: SessionDep,
    gateway: CoreDep,
    room: Room,
    token: Annotated[str, Form(max_length=2048)],
    audio_only: Annotated[bool, Form()] = False,
    file: UploadFile = File(),
) -> JSONResponse:
    """The official's page hands in a recording both sides agreed to (the signalling kept
    who agreed); it goes to the citizen's locker and the department's call records. A plain
    def, run in a worker thread: hashing and storing up to 100 MB is no work for the loop."""
    try:
        seat = gateway.rtc_tokens.check(token, now=time.time(), room=room)
    except TokenRefused as exc:
        return JSONResponse(error_body("invalid_token", str(exc)), 403)
    if not seat.identity.startswith("official:"):
        return JSONResponse(error_body("not_allowed", "the official's page keeps recordings"), 403)
    data = file.file.read(MAX_RECORDING_BYTES + 1)
    try:
        recording = rtc.save_recording(
            session,
            gateway.locker,
            room,
            official_id=int(seat.identity.split(":", 1)[1]),
            data=data,
            audio_only=audio_only,
            now=_now(),
        )
    except CallRefused as exc:
        return JSONResponse(error_body(exc.code, exc.message), exc.status)
    except LockerRefused as exc:
        return JSONResponse(error_body(exc.code, exc.message), exc.status)
    return JSONResponse(
        {"recording": recording.id, "sha256": recording.sha256, "size": recording.size}, 201
    )


def _room_department(session: Session, room: str) -> Department | None:
    model: type[QueueEntry] | type[Appointment] = (
        QueueEntry if room.startswith("q") else Appointment
    )
    department_id = session.scalar(select(model.department_id).where(model.room == room))
    return session.get(Department, department_id) if department_id is not None else None


def _still_admitted(gateway: Core, seat: Seat) -> bool:
    """A meeting's token is weighed again against the meeting when its socket opens: a
    meeting that has ended, or an official who is no longer one of its department or its
    invitees, is not let in on a token from earlier. Calls need no look-up: their token
    names the one room its page decided on."""
    if seat.kind != MEETING:
        return True
    kind, _, number = seat.identity.partition(":")
    if kind != "official" or not number.isdigit():
        return False
    with gateway.session() as session:
        official = session.get(Official, int(number))
        if official is None:
            return False
        try:
            rtc.open_meeting(session, official, seat.room)
        except CallRefused:
            return False
    return True


@router.websocket("/rtc/ws")
async def signalling_socket(websocket: WebSocket) -> None:
    gateway: Core = websocket.app.state.gateway
    token = websocket.query_params.get("token", "")
    try:
        seat = gateway.rtc_tokens.check(token, now=time.time())
    except TokenRefused as exc:
        await websocket.close(code=4401, reason=str(exc)[:120])
        return
    if not await asyncio.to_thread(_still_admitted, gateway, seat):
        await websocket.close(code=4403, reason="you are not one of this meeting's officials")
        return
    await websocket.accept()
    await gateway.rtc.serve(websocket, seat)


# -- the officials' console -------------------------------------------------------------------


@router.get("/console/calls")
def console_calls(request: Request, session: SessionDep, official: Officer) -> Response:
    if official.department_id is None:
        return _message(request, "only a department's officials take calls", 403, "/console")
    now = _now()
    duty = session.get(Availability, official.id)
    rtc.tidy_queue(session, official.department_id, now=now)
    return render(
        request,
        "console_calls.html",
        {
            "on_duty": duty is not None and duty.on_duty_since is not None,
            "queue": _queue_rows(session, official.department_id, now, page_lang(request)),
            "appointments": rtc.appointments_of(session, official, now=now),
            "availability": duty,
            "recordings": rtc.recordings_of(session, official.department_id),
            "ist": rtc.INDIA,
        },
    )


@router.get("/console/recordings/{recording_id}")
def console_recording(
    request: Request,
    session: SessionDep,
    gateway: CoreDep,
    official: Officer,
    recording_id: RowId,
) -> Response:
    """A department's copy of a recorded call: its officials only."""
    recording = session.get(CallRecording, recording_id)
    if (
        recording is None
        or recording.document_id is None
        or recording.department_id != official.department_id
    ):
        return _message(request, "no such recording", 404, "/console/calls")
    document = session.get(Document, recording.document_id)
    if document is None:
        return _message(request, "no such recording", 404, "/console/calls")
    data = gateway.locker.storage.get(document.storage_key)
    return Response(
        data,
        media_type=document.mime,
        headers={
            "Content-Disposition": f'attachment; filename="{document.filename}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _queue_rows(
    session: Session, department_id: int, now: datetime, lang: str
) -> list[dict[str, Any]]:
    """The department's queue as the console shows it, its words in the official's language
    (the console's script writes the same texts when it refreshes the table)."""
    rows = []
    for entry in rtc.queue_of(session, department_id):
        citizen = session.get(Citizen, entry.citizen_id)
        waited = int((now - entry.joined_at).total_seconds())
        rows.append(
            {
                "id": entry.id,
                "who": f"…{citizen.phone[-4:]}" if citizen else "?",
                "status": entry.status,
                "status_text": text(f"room_queue_{entry.status}", lang),
                "waited": waited,
                "waited_text": text("room_waited", lang, seconds=waited),
            }
        )
    return rows


@router.post("/console/calls/duty")
def console_duty(
    request: Request,
    session: SessionDep,
    official: Officer,
    on: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if check_csrf(request, csrf):
        try:
            rtc.set_on_duty(session, official, on == "1", now=_now())
        except CallRefused as exc:
            return _message(request, exc.message, exc.status, "/console")
    return RedirectResponse("/console/calls", status_code=303)


@router.get("/console/calls/offer.json")
def console_offer(request: Request, session: SessionDep, official: Officer) -> JSONResponse:
    """Polled by the console: the call offered to this official now, and the queue."""
    now = _now()
    lang = page_lang(request)
    entry = rtc.offer_for(session, official, now=now)
    offer = None
    if entry is not None:
        citizen = session.get(Citizen, entry.citizen_id)
        waited = int((now - entry.joined_at).total_seconds())
        offer = {
            "id": entry.id,
            "who": f"…{citizen.phone[-4:]}" if citizen else "?",
            "waited": waited,
            "waited_text": text("room_waited", lang, seconds=waited),
        }
    department = official.department_id
    queue = _queue_rows(session, department, now, lang) if department else []
    return JSONResponse({"offer": offer, "queue": queue})


@router.post("/console/calls/{entry_id}/accept")
def console_accept(
    request: Request,
    session: SessionDep,
    official: Officer,
    entry_id: RowId,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if not check_csrf(request, csrf):
        return _message(request, ui("form_expired", page_lang(request)), 400, "/console/calls")
    try:
        entry = rtc.accept(session, official, entry_id, now=_now())
    except CallRefused as exc:
        return _message(request, exc.message, exc.status, "/console/calls")
    return RedirectResponse(f"/call/room/{entry.room}", status_code=303)


# -- officials' meetings ----------------------------------------------------------------------


@router.get("/console/meetings")
def meetings_page(request: Request, session: SessionDep, official: AnyOfficial) -> Response:
    meetings = rtc.meetings_of(session, official)
    return render(
        request,
        "console_meetings.html",
        {
            "meetings": meetings,
            "invited": rtc.invitees(session, [m for m in meetings if m.created_by == official.id]),
            "limit": _gateway(request).rtc.hub.meeting_capacity,
            "through_sfu": _gateway(request).rtc.sfu is not None,
        },
    )


@router.post("/console/meetings")
def meetings_create(
    request: Request,
    session: SessionDep,
    official: AnyOfficial,
    title: Annotated[str, Form(max_length=200)] = "",
    lobby: Annotated[str, Form()] = "",
    invitees: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if not check_csrf(request, csrf):
        return _message(request, ui("form_expired", page_lang(request)), 400, "/console/meetings")
    try:
        meeting = rtc.create_meeting(session, official, title=title, lobby=lobby == "1")
        if invitees.strip():
            rtc.invite(session, official, meeting.room, invitees)
    except CallRefused as exc:
        session.rollback()
        return _message(request, exc.message, exc.status, "/console/meetings")
    return RedirectResponse(f"/meet/{meeting.room}", status_code=303)


@router.post("/console/meetings/{room}/invite")
def meetings_invite(
    request: Request,
    session: SessionDep,
    official: AnyOfficial,
    room: Room,
    usernames: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The host asks officials of other departments to the meeting (its link alone lets only
    the department's own officials in)."""
    if not check_csrf(request, csrf):
        return _message(request, ui("form_expired", page_lang(request)), 400, "/console/meetings")
    try:
        rtc.invite(session, official, room, usernames)
    except CallRefused as exc:
        session.rollback()
        return _message(request, exc.message, exc.status, "/console/meetings")
    return RedirectResponse("/console/meetings", status_code=303)


@router.get("/meet/{room}")
def meeting_room(
    request: Request, session: SessionDep, official: AnyOfficial, room: Room
) -> Response:
    try:
        seat = rtc.meeting_seat(session, official, room)
    except CallRefused as exc:
        return _message(request, exc.message, exc.status, "/console/meetings")
    context = _call_context(request, seat, "/console/meetings")
    context["invite"] = _gateway(request).settings.absolute_url(f"/meet/{room}")
    return render(request, "call.html", context)
