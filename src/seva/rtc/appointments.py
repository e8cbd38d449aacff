"""Appointments: a call booked at a time, its SMS with the join link, moves and cancellations,
reminders, and whether it took place.

A booking goes to the least-booked official free at that time (``availability``); the SMS
and the pages write the time in India time (``ist_label``). A citizen may open the call from
``JOIN_EARLY`` before it starts until half an hour after it ends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from seva import i18n
from seva.citizens.models import Citizen
from seva.messaging import service as messaging
from seva.rtc import slots
from seva.rtc.availability import busy_times, schedule_of
from seva.rtc.models import BOOKED, CANCELLED, COMPLETED, MISSED, Appointment, Availability
from seva.rtc.rooms import CallRefused, new_room
from seva.rtc.signalling import CALL, Seat
from seva.tenancy.models import Department, Official

REMINDER_LEAD = timedelta(minutes=15)
INDIA = ZoneInfo("Asia/Kolkata")
"""Times in SMS are Indian Standard Time, the zone of every citizen the SMS reaches."""
JOIN_EARLY = timedelta(minutes=15)
"""A citizen may open the call this long before the appointment starts."""
FARTHEST_SLOT = timedelta(days=366)
"""Further from now than any booking horizon (``slots.Schedule``: at most 90 days)."""


def book(
    session: Session,
    *,
    department: Department,
    citizen: Citizen,
    starts_at: datetime,
    now: datetime,
    channel: str = "web",
    topic: str = "",
    base_url: str = "",
    notify: bool = True,
) -> Appointment:
    """Book ``starts_at`` with the least-booked official free then, and SMS the join link."""
    if starts_at.tzinfo is None:
        raise CallRefused("invalid_time", "the slot time needs a time zone")
    if abs(starts_at - now) > FARTHEST_SLOT:
        # Never offered; and a time at the edge of the calendar would overflow below.
        raise CallRefused("invalid_time", "choose one of the offered times")
    starts_at = starts_at.astimezone(UTC)
    rows = list(
        session.scalars(select(Availability).where(Availability.department_id == department.id))
    )
    if not rows:
        raise CallRefused("no_officials", f"{department.code} has not published call hours yet")
    free = [
        row
        for row in rows
        if slots.fits(
            schedule_of(row), busy_times(session, row.official_id, now), starts_at, now=now
        )
    ]
    if not free:
        raise CallRefused("slot_taken", "that time is no longer free; choose another", status=409)
    load = {
        row[0]: int(row[1])
        for row in session.execute(
            select(Appointment.official_id, func.count())
            .where(
                Appointment.official_id.in_([r.official_id for r in free]),
                Appointment.status == BOOKED,
                Appointment.starts_at >= starts_at - timedelta(hours=12),
                Appointment.starts_at < starts_at + timedelta(hours=12),
            )
            .group_by(Appointment.official_id)
        )
    }
    chosen = min(free, key=lambda r: (load.get(r.official_id, 0), r.official_id))
    appointment = Appointment(
        department_id=department.id,
        official_id=chosen.official_id,
        citizen_id=citizen.id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=chosen.slot_minutes),
        status=BOOKED,
        slot_key=f"{chosen.official_id}@{int(starts_at.timestamp())}",
        room=new_room("a"),
        channel=channel,
        topic=topic.strip()[:200],
    )
    session.add(appointment)
    session.flush()
    if notify:  # an SMS booking answers with the same text as its reply instead
        messaging.queue_sms(
            session,
            to_phone=citizen.phone,
            text=booked_text(department, appointment, citizen.language or "en", base_url),
            kind="transactional",
        )
    return appointment


def join_link(base_url: str, room: str) -> str:
    return f"{base_url.rstrip('/')}/call/a/{room}"


def ist_label(moment: datetime) -> str:
    """How SMS and pages write a call time: ``30-11 10:00`` in India time."""
    return moment.astimezone(INDIA).strftime("%d-%m %H:%M")


def _call_text(
    key: str, department: Department, appointment: Appointment, lang: str, base_url: str
) -> str:
    """An SMS about a booked call, in the citizen's language, with its time and join link."""
    lang = i18n.served(lang)
    return i18n.text(
        key,
        lang,
        department=department.display_name(lang),
        when=ist_label(appointment.starts_at),
        link=join_link(base_url, appointment.room),
    )


def booked_text(department: Department, appointment: Appointment, lang: str, base_url: str) -> str:
    return _call_text("rtc_booked", department, appointment, lang, base_url)


def reminder_text(
    department: Department, appointment: Appointment, lang: str, base_url: str
) -> str:
    return _call_text("rtc_reminder", department, appointment, lang, base_url)


def cancel(session: Session, appointment: Appointment, *, now: datetime) -> None:
    if appointment.status != BOOKED:
        raise CallRefused("not_booked", "this appointment is not booked any more", status=409)
    appointment.status = CANCELLED
    appointment.slot_key = None
    appointment.cancelled_at = now


def moved_text(department: Department, appointment: Appointment, lang: str, base_url: str) -> str:
    return _call_text("rtc_moved", department, appointment, lang, base_url)


def reschedule(
    session: Session,
    appointment: Appointment,
    *,
    starts_at: datetime,
    now: datetime,
    channel: str,
    base_url: str = "",
    notify: bool = True,
) -> Appointment:
    """Move a booked call to ``starts_at``: the old slot is freed only if the new one is
    booked, so a refused move leaves the citizen with the call they had."""
    department = session.get(Department, appointment.department_id)
    citizen = session.get(Citizen, appointment.citizen_id)
    if department is None or citizen is None:
        raise CallRefused("not_booked", "this appointment is not booked any more", status=409)
    old_key = appointment.slot_key
    cancel(session, appointment, now=now)
    session.flush()  # the old slot is free while the new one is checked (it may overlap)
    try:
        moved = book(
            session,
            department=department,
            citizen=citizen,
            starts_at=starts_at,
            now=now,
            channel=channel,
            topic=appointment.topic,
            notify=False,
        )
    except CallRefused:
        appointment.status = BOOKED
        appointment.slot_key = old_key
        appointment.cancelled_at = None
        session.flush()
        raise
    if notify:
        messaging.queue_sms(
            session,
            to_phone=citizen.phone,
            text=moved_text(department, moved, citizen.language or "en", base_url),
            kind="transactional",
        )
    return moved


def own_appointment(session: Session, citizen: Citizen | None, room: str) -> Appointment | None:
    """The appointment with this room, if it is this citizen's (another's is not found)."""
    appointment = session.scalar(select(Appointment).where(Appointment.room == room))
    if citizen is None or appointment is None or appointment.citizen_id != citizen.id:
        return None
    return appointment


def upcoming(session: Session, citizen: Citizen, *, now: datetime) -> list[Appointment]:
    return list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.citizen_id == citizen.id,
                Appointment.status == BOOKED,
                Appointment.ends_at > now,
            )
            .order_by(Appointment.starts_at)
        )
    )


def has_upcoming(
    session: Session, phone: str, department_id: int | None = None, *, now: datetime
) -> bool:
    """The citizen with this phone has a booked call still to come (with the department,
    when one is given): one query, for menus that ask it on every screen."""
    query = _UPCOMING if department_id is None else _UPCOMING_WITH
    found = session.connection().execute(
        query, {"phone": phone, "now": now, "department": department_id}
    )
    return found.first() is not None


_UPCOMING = (
    select(Appointment.id)
    .join(Citizen, Citizen.id == Appointment.citizen_id)
    .where(
        Citizen.phone == bindparam("phone"),
        Appointment.status == BOOKED,
        Appointment.ends_at > bindparam("now"),
    )
    .limit(1)
)
_UPCOMING_WITH = _UPCOMING.where(Appointment.department_id == bindparam("department"))
"""``has_upcoming``'s statements, built once: menus ask on every screen."""


def send_due_reminders(session: Session, *, now: datetime, base_url: str) -> int:
    """SMS the join link to everyone whose call starts within ``REMINDER_LEAD``.

    Each row is claimed with a conditional UPDATE, so several nodes running this sweep
    send each reminder once.
    """
    due = session.scalars(
        select(Appointment).where(
            Appointment.status == BOOKED,
            Appointment.reminder_sent_at.is_(None),
            Appointment.starts_at <= now + REMINDER_LEAD,
            Appointment.starts_at > now - timedelta(minutes=5),
        )
    ).all()
    sent = 0
    for appointment in due:
        claimed = session.execute(
            update(Appointment)
            .where(Appointment.id == appointment.id, Appointment.reminder_sent_at.is_(None))
            .values(reminder_sent_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            continue
        citizen = session.get(Citizen, appointment.citizen_id)
        department = session.get(Department, appointment.department_id)
        if citizen is None or department is None:
            continue
        messaging.queue_sms(
            session,
            to_phone=citizen.phone,
            text=reminder_text(department, appointment, citizen.language or "en", base_url),
            kind="transactional",
        )
        sent += 1
    return sent


def appointment_seat(session: Session, room: str, *, now: datetime) -> tuple[Appointment, Seat]:
    """The citizen's seat for an appointment link, while the appointment is current."""
    appointment = session.scalar(select(Appointment).where(Appointment.room == room))
    if appointment is None:
        raise CallRefused("not_found", "no call has this link", status=404)
    if appointment.status == CANCELLED:
        raise CallRefused("cancelled", "this appointment was cancelled", status=410)
    if now < appointment.starts_at - JOIN_EARLY:
        raise CallRefused(
            "too_early",
            f"the call opens 15 minutes before {ist_label(appointment.starts_at)} (IST)",
            status=425,
        )
    if now > appointment.ends_at + timedelta(minutes=30):
        raise CallRefused("over", "this appointment is over", status=410)
    citizen = session.get(Citizen, appointment.citizen_id)
    name = citizen.phone[-4:] if citizen is not None else "citizen"
    seat = Seat(
        room=appointment.room,
        identity=f"citizen:{appointment.citizen_id}",
        name=f"Citizen …{name}",
        role="citizen",
        kind=CALL,
    )
    return appointment, seat


def official_seat(official: Official, room: str) -> Seat:
    return Seat(
        room=room,
        identity=f"official:{official.id}",
        name=official.name,
        role="official",
        kind=CALL,
    )


def mark_held(session: Session, room: str) -> None:
    """Both sides of an appointment met: it took place."""
    appointment = session.scalar(select(Appointment).where(Appointment.room == room))
    if appointment is not None and appointment.status == BOOKED:
        appointment.status = COMPLETED
        appointment.slot_key = None


def mark_missed(session: Session, *, now: datetime) -> int:
    """Appointments whose time passed with nobody meeting are recorded as missed."""
    stale = session.scalars(
        select(Appointment).where(
            Appointment.status == BOOKED, Appointment.ends_at < now - timedelta(minutes=30)
        )
    ).all()
    for appointment in stale:
        appointment.status = MISSED
        appointment.slot_key = None
    return len(stale)


def appointments_of(session: Session, official: Official, *, now: datetime) -> list[Appointment]:
    return list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.official_id == official.id,
                Appointment.status == BOOKED,
                Appointment.ends_at > now - timedelta(minutes=30),
            )
            .order_by(Appointment.starts_at)
            .limit(50)
        )
    )
