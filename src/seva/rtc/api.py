"""Calls for the citizen app (``/api/v1``, bearer token from the app login).

The app books, moves and cancels calls with the same rules as the portal, SMS and USSD
(``rtc.service``): the same free times, the same SMS with the join link, the same refusals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from seva.bodies import SmallBodyRoute
from seva.citizens import service as citizens
from seva.citizens.api_auth import CitizenPhone
from seva.citizens.models import Citizen
from seva.core import CoreDep
from seva.db.base import utcnow
from seva.deps import SessionDep
from seva.errors import ApiError
from seva.i18n import shipped
from seva.rtc import service as rtc
from seva.rtc.models import Appointment
from seva.rtc.service import CallRefused
from seva.tenancy import service as tenancy
from seva.tenancy.models import Department

CHANNEL = "app"

router = APIRouter(prefix="/api/v1", tags=["app"], route_class=SmallBodyRoute)

Code = Annotated[str, Path(min_length=2, max_length=16, pattern=r"^[A-Za-z0-9]+$")]
Room = Annotated[str, Path(min_length=10, max_length=40, pattern=r"^a[A-Za-z0-9_-]+$")]


class SlotOut(BaseModel):
    starts_at: datetime
    label: str = Field(description="The time as SMS and USSD write it, in India time.")


class CallDepartmentOut(BaseModel):
    code: str
    name: dict[str, str]


class AppointmentOut(BaseModel):
    id: str = Field(description="The call's room, also the last part of its join link.")
    department: str
    starts_at: datetime
    ends_at: datetime
    label: str
    status: str
    join_url: str


class BookRequest(BaseModel):
    starts_at: datetime = Field(description="One of the offered slots, with its time zone.")


def _refused(exc: CallRefused) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message)


def _citizen(session: Session, phone: str) -> Citizen:
    return citizens.get_or_create(session, phone, channel=CHANNEL)


def _department(session: Session, code: str) -> Department:
    department = tenancy.department_by_code(session, code.upper())
    if department is None or not department.active:
        raise ApiError(404, "not_found", f"no department {code.upper()}", "code")
    return department


def _appointment_out(session: Session, appointment: Appointment, base_url: str) -> AppointmentOut:
    department = session.get(Department, appointment.department_id)
    return AppointmentOut(
        id=appointment.room,
        department=department.code if department else "",
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        label=rtc.ist_label(appointment.starts_at),
        status=appointment.status,
        join_url=rtc.join_link(base_url, appointment.room),
    )


def _own(session: Session, phone: str, room: str) -> Appointment:
    appointment = rtc.own_appointment(session, citizens.find(session, phone), room)
    if appointment is None:
        raise ApiError(404, "not_found", "no such call of yours", "id")
    return appointment


@router.get(
    "/calls/departments",
    response_model=list[CallDepartmentOut],
    summary="Departments whose officials take calls",
)
def call_departments(session: SessionDep) -> list[CallDepartmentOut]:
    return [
        CallDepartmentOut(code=d.code, name={lang: d.display_name(lang) for lang in shipped()})
        for d in rtc.departments_taking_calls(session)
    ]


@router.get(
    "/calls/{code}/slots",
    response_model=list[SlotOut],
    summary="Free times to talk to the department's officials in the next 7 days",
)
def call_slots(session: SessionDep, phone: CitizenPhone, code: Code) -> list[SlotOut]:
    department = _department(session, code)
    free = rtc.free_slots(session, department.id, now=utcnow(), days=7)
    return [SlotOut(starts_at=start, label=rtc.ist_label(start)) for start, _ in free[:200]]


@router.post(
    "/calls/{code}/appointments",
    status_code=201,
    response_model=AppointmentOut,
    summary="Book a call (the join link is also sent by SMS)",
)
def book_call(
    session: SessionDep, gateway: CoreDep, phone: CitizenPhone, code: Code, body: BookRequest
) -> AppointmentOut:
    department = _department(session, code)
    base_url = gateway.settings.base_url
    try:
        appointment = rtc.book(
            session,
            department=department,
            citizen=_citizen(session, phone),
            starts_at=body.starts_at,
            now=utcnow(),
            channel=CHANNEL,
            base_url=base_url,
        )
    except CallRefused as exc:
        raise _refused(exc) from None
    return _appointment_out(session, appointment, base_url)


@router.get("/me/calls", response_model=list[AppointmentOut], summary="The citizen's booked calls")
def my_calls(session: SessionDep, gateway: CoreDep, phone: CitizenPhone) -> list[AppointmentOut]:
    citizen = citizens.find(session, phone)
    if citizen is None:
        return []
    base_url = gateway.settings.base_url
    return [
        _appointment_out(session, a, base_url) for a in rtc.upcoming(session, citizen, now=utcnow())
    ]


@router.get(
    "/me/calls/{room}/slots",
    response_model=list[SlotOut],
    summary="Times a booked call can move to",
)
def move_slots(session: SessionDep, phone: CitizenPhone, room: Room) -> list[SlotOut]:
    appointment = _own(session, phone, room)
    free = rtc.free_slots(
        session, appointment.department_id, now=utcnow(), days=7, moving=appointment
    )
    return [SlotOut(starts_at=start, label=rtc.ist_label(start)) for start, _ in free[:200]]


@router.post(
    "/me/calls/{room}/move",
    response_model=AppointmentOut,
    summary="Move a booked call (the old time is kept if the new one cannot be booked)",
)
def move_call(
    session: SessionDep, gateway: CoreDep, phone: CitizenPhone, room: Room, body: BookRequest
) -> AppointmentOut:
    appointment = _own(session, phone, room)
    try:
        moved = rtc.reschedule(
            session,
            appointment,
            starts_at=body.starts_at,
            now=utcnow(),
            channel=CHANNEL,
            base_url=gateway.settings.base_url,
        )
    except CallRefused as exc:
        raise _refused(exc) from None
    return _appointment_out(session, moved, gateway.settings.base_url)


@router.delete("/me/calls/{room}", response_model=AppointmentOut, summary="Cancel a booked call")
def cancel_call(
    session: SessionDep, gateway: CoreDep, phone: CitizenPhone, room: Room
) -> AppointmentOut:
    appointment = _own(session, phone, room)
    try:
        rtc.cancel(session, appointment, now=utcnow())
    except CallRefused as exc:
        raise _refused(exc) from None
    return _appointment_out(session, appointment, gateway.settings.base_url)
