"""Appointments and the instant queue: who talks to whom, when, and in which room.

A room name is an unguessable random string: it is the capability in the SMS join link a
citizen receives, so the link needs no login and stays short enough for one SMS part. The
page turns it into a short-lived join token (``rtc.tokens``) only while the appointment or
queue turn is current; officials get their token from the console after logging in.

Queue rules ("connect now"): a citizen waits in their department's queue; an official on
duty whose console asks for work is offered the oldest waiting citizen; an offer not taken
within ``OFFER_SECONDS`` goes back to the queue (a *missed* offer, counted); a citizen whose
page stops asking for ``ABANDON_SECONDS`` has *abandoned*. Wait estimates use the average
handle time of the department's recent calls (``rtc.waiting``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from seva.citizens.models import Citizen
from seva.locker import service as locker_service
from seva.locker.service import Locker
from seva.messaging import service as messaging
from seva.rtc import slots, waiting
from seva.rtc.models import (
    ABANDONED,
    BOOKED,
    CANCELLED,
    COMPLETED,
    CONNECTED,
    DONE,
    MISSED,
    OFFERED,
    WAITING,
    Appointment,
    Availability,
    CallRecording,
    Meeting,
    MeetingInvite,
    QueueEntry,
)
from seva.rtc.signalling import CALL, MEETING, RoomEvent, Seat
from seva.tenancy.models import Department, Official, Role

OFFER_SECONDS = 30
ABANDON_SECONDS = 60
DUTY_SECONDS = 60
"""An official whose console has not asked for calls this long is treated as away."""
REMINDER_LEAD = timedelta(minutes=15)
INDIA = ZoneInfo("Asia/Kolkata")
"""Times in SMS are Indian Standard Time, the zone of every citizen the SMS reaches."""
JOIN_EARLY = timedelta(minutes=15)
"""A citizen may open the call this long before the appointment starts."""


FARTHEST_SLOT = timedelta(days=366)
"""Further from now than any booking horizon (``slots.Schedule``: at most 90 days)."""


class CallRefused(Exception):
    def __init__(self, code: str, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def new_room(prefix: str) -> str:
    return f"{prefix}{secrets.token_urlsafe(12)}"


# -- availability ---------------------------------------------------------------------------


def _times(pairs: Any) -> list[tuple[time, time]]:
    if not isinstance(pairs, list):
        raise ValueError("hours are a list of [start, end] pairs")
    out: list[tuple[time, time]] = []
    for pair in pairs:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError("hours are a list of [start, end] pairs")
        out.append((time.fromisoformat(str(pair[0])), time.fromisoformat(str(pair[1]))))
    return out


def schedule_of(row: Availability) -> slots.Schedule:
    return slots.Schedule(
        tz=row.tz,
        weekly={int(day): _times(hours) for day, hours in (row.weekly or {}).items()},
        overrides={
            date.fromisoformat(day): _times(hours) for day, hours in (row.overrides or {}).items()
        },
        slot_minutes=row.slot_minutes,
        buffer_before=row.buffer_before,
        buffer_after=row.buffer_after,
        min_notice_minutes=row.min_notice_minutes,
        horizon_days=row.horizon_days,
    )


def set_availability(
    session: Session,
    official: Official,
    *,
    tz: str,
    weekly: dict[str, Any],
    overrides: dict[str, Any] | None = None,
    slot_minutes: int = 15,
    buffer_before: int = 0,
    buffer_after: int = 5,
    min_notice_minutes: int = 60,
    horizon_days: int = 14,
) -> Availability:
    """Publish an official's hours; refused whole (ValueError) when anything is invalid."""
    if official.department_id is None:
        raise ValueError("only a department's officials take calls")
    row = session.get(Availability, official.id) or Availability(
        official_id=official.id, department_id=official.department_id
    )
    row.department_id = official.department_id
    row.tz = tz
    row.weekly = weekly
    row.overrides = overrides or {}
    row.slot_minutes = slot_minutes
    row.buffer_before = buffer_before
    row.buffer_after = buffer_after
    row.min_notice_minutes = min_notice_minutes
    row.horizon_days = horizon_days
    schedule_of(row)  # validates
    session.add(row)
    session.flush()
    return row


def _busy(
    session: Session, official_id: int, since: datetime, *, moving: int | None = None
) -> list[tuple[datetime, datetime]]:
    rows = session.execute(
        select(Appointment.starts_at, Appointment.ends_at).where(
            Appointment.official_id == official_id,
            Appointment.status == BOOKED,
            Appointment.ends_at > since - timedelta(days=1),
            Appointment.id != (moving or 0),
        )
    )
    return [(start, end) for start, end in rows]


def free_slots(
    session: Session,
    department_id: int,
    *,
    now: datetime,
    days: int | None = None,
    moving: Appointment | None = None,
) -> list[tuple[datetime, list[int]]]:
    """Bookable starts across the department's officials, each with who is free then.

    ``moving``: times for that call to move to, so the time it holds counts as free, except
    its own start (moving to where it is already is no move)."""
    per_official: dict[int, list[datetime]] = {}
    for row in session.scalars(
        select(Availability).where(Availability.department_id == department_id)
    ):
        schedule = schedule_of(row)
        busy = _busy(session, row.official_id, now, moving=moving.id if moving else None)
        per_official[row.official_id] = slots.free_slots(schedule, busy, now=now, days=days)
    free = slots.merge_free(per_official)
    if moving is not None:
        held = moving.starts_at.astimezone(UTC)
        free = [(start, who) for start, who in free if start.astimezone(UTC) != held]
    return free


# -- appointments ---------------------------------------------------------------------------


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
        if slots.fits(schedule_of(row), _busy(session, row.official_id, now), starts_at, now=now)
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


def departments_taking_calls(session: Session) -> list[Department]:
    return list(
        session.scalars(
            select(Department)
            .where(Department.id.in_(select(Availability.department_id)), Department.active)
            .order_by(Department.code)
        )
    )


def booked_text(department: Department, appointment: Appointment, lang: str, base_url: str) -> str:
    when = ist_label(appointment.starts_at)
    link = join_link(base_url, appointment.room)
    if lang == "hi":
        return f"{department.display_name('hi')} से आपकी कॉल {when} पर तय है। जुड़ें: {link}"
    return f"Your call with {department.display_name('en')} is booked for {when}. Join: {link}"


def reminder_text(
    department: Department, appointment: Appointment, lang: str, base_url: str
) -> str:
    when = ist_label(appointment.starts_at)
    link = join_link(base_url, appointment.room)
    if lang == "hi":
        return f"याद दिलाना: {department.display_name('hi')} से कॉल {when} पर। जुड़ें: {link}"
    return f"Reminder: your call with {department.display_name('en')} is at {when}. Join: {link}"


def cancel(session: Session, appointment: Appointment, *, now: datetime) -> None:
    if appointment.status != BOOKED:
        raise CallRefused("not_booked", "this appointment is not booked any more", status=409)
    appointment.status = CANCELLED
    appointment.slot_key = None
    appointment.cancelled_at = now


def moved_text(department: Department, appointment: Appointment, lang: str, base_url: str) -> str:
    when = ist_label(appointment.starts_at)
    link = join_link(base_url, appointment.room)
    if lang == "hi":
        return f"{department.display_name('hi')} से आपकी कॉल अब {when} पर है। जुड़ें: {link}"
    return f"Your call with {department.display_name('en')} is moved to {when}. Join: {link}"


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


# -- the instant queue ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueView:
    entry: QueueEntry
    position: int
    """1 = next; 0 once an official has taken the call."""
    wait_seconds: float | None
    officials_on_duty: int


def _on_duty(session: Session, department_id: int, now: datetime) -> list[Availability]:
    return list(
        session.scalars(
            select(Availability).where(
                Availability.department_id == department_id,
                Availability.on_duty_since.is_not(None),
                Availability.seen_at > now - timedelta(seconds=DUTY_SECONDS),
            )
        )
    )


def join_queue(
    session: Session,
    department: Department,
    citizen: Citizen,
    *,
    now: datetime,
    channel: str = "web",
) -> QueueEntry:
    """Queue the citizen for the next free official (again returns their open turn)."""
    existing = session.scalar(
        select(QueueEntry).where(
            QueueEntry.department_id == department.id,
            QueueEntry.citizen_id == citizen.id,
            QueueEntry.status.in_((WAITING, OFFERED, CONNECTED)),
        )
    )
    if existing is not None:
        return existing
    entry = QueueEntry(
        department_id=department.id,
        citizen_id=citizen.id,
        status=WAITING,
        channel=channel,
        room=new_room("q"),
        joined_at=now,
        seen_at=now,
    )
    session.add(entry)
    session.flush()
    return entry


def tidy_queue(session: Session, department_id: int, *, now: datetime) -> None:
    """Lapsed offers back to the queue (counted as missed); silent citizens abandoned."""
    for entry in session.scalars(
        select(QueueEntry).where(
            QueueEntry.department_id == department_id,
            QueueEntry.status == OFFERED,
            QueueEntry.offered_at < now - timedelta(seconds=OFFER_SECONDS),
        )
    ):
        entry.status = WAITING
        entry.official_id = None
        entry.offered_at = None
        entry.missed_offers += 1
    for entry in session.scalars(
        select(QueueEntry).where(
            QueueEntry.department_id == department_id,
            QueueEntry.status.in_((WAITING, OFFERED)),
            QueueEntry.seen_at < now - timedelta(seconds=ABANDON_SECONDS),
        )
    ):
        entry.status = ABANDONED
        entry.ended_at = now
    session.flush()


def average_handle_time(session: Session, department_id: int) -> float:
    rows = session.execute(
        select(QueueEntry.connected_at, QueueEntry.ended_at)
        .where(
            QueueEntry.department_id == department_id,
            QueueEntry.status == DONE,
            QueueEntry.connected_at.is_not(None),
            QueueEntry.ended_at.is_not(None),
        )
        .order_by(QueueEntry.id.desc())
        .limit(50)
    )
    durations = [(end - start).total_seconds() for start, end in rows if start and end]
    return waiting.average_handle_time(list(reversed(durations)))


def queue_view(session: Session, entry: QueueEntry, *, now: datetime) -> QueueView:
    """Where the citizen stands; asking also tells the queue their page is still open."""
    if entry.status in (WAITING, OFFERED):
        entry.seen_at = now
    tidy_queue(session, entry.department_id, now=now)
    duty = _on_duty(session, entry.department_id, now)
    if entry.status not in (WAITING, OFFERED):
        return QueueView(entry, 0, 0.0 if entry.status == CONNECTED else None, len(duty))
    position = 1 + int(
        session.scalar(
            select(func.count()).where(
                QueueEntry.department_id == entry.department_id,
                QueueEntry.status.in_((WAITING, OFFERED)),
                QueueEntry.id < entry.id,
            )
        )
        or 0
    )
    busy = int(
        session.scalar(
            select(func.count()).where(
                QueueEntry.department_id == entry.department_id,
                QueueEntry.status == CONNECTED,
                QueueEntry.official_id.in_([d.official_id for d in duty]),
            )
        )
        or 0
    )
    estimate = waiting.position_wait_seconds(
        position=position,
        available_officials=max(0, len(duty) - busy),
        busy_officials=busy,
        aht_seconds=average_handle_time(session, entry.department_id),
    )
    return QueueView(entry, position, estimate, len(duty))


def leave_queue(session: Session, entry: QueueEntry, *, now: datetime) -> None:
    if entry.status in (WAITING, OFFERED):
        entry.status = ABANDONED
        entry.ended_at = now


def set_on_duty(session: Session, official: Official, on: bool, *, now: datetime) -> Availability:
    if official.department_id is None:
        raise CallRefused("no_department", "only a department's officials take calls")
    row = session.get(Availability, official.id)
    if row is None:
        row = Availability(official_id=official.id, department_id=official.department_id)
        session.add(row)
    row.on_duty_since = now if on else None
    row.seen_at = now
    session.flush()
    return row


def offer_for(session: Session, official: Official, *, now: datetime) -> QueueEntry | None:
    """The call this official is being offered (the oldest waiting one), if on duty and free.

    Taking the entry is a conditional UPDATE (waiting → offered to this official), so two
    officials asking at the same moment are never offered the same citizen.
    """
    if official.department_id is None:
        return None
    row = session.get(Availability, official.id)
    if row is None or row.on_duty_since is None:
        return None
    row.seen_at = now
    tidy_queue(session, official.department_id, now=now)
    mine = session.scalar(
        select(QueueEntry).where(
            QueueEntry.official_id == official.id, QueueEntry.status.in_((OFFERED, CONNECTED))
        )
    )
    if mine is not None:
        return mine if mine.status == OFFERED else None
    for candidate in session.scalars(
        select(QueueEntry.id)
        .where(QueueEntry.department_id == official.department_id, QueueEntry.status == WAITING)
        .order_by(QueueEntry.id)
        .limit(5)
    ):
        taken = session.execute(
            update(QueueEntry)
            .where(QueueEntry.id == candidate, QueueEntry.status == WAITING)
            .values(status=OFFERED, official_id=official.id, offered_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(taken, "rowcount", 0) == 1:
            entry = session.get(QueueEntry, candidate, populate_existing=True)
            return entry
    return None


def accept(session: Session, official: Official, entry_id: int, *, now: datetime) -> QueueEntry:
    entry = session.get(QueueEntry, entry_id)
    if entry is None or entry.department_id != official.department_id:
        raise CallRefused("not_found", "no such call in your department's queue", status=404)
    if entry.status != OFFERED or entry.official_id != official.id:
        raise CallRefused("not_offered", "this call is no longer offered to you", status=409)
    entry.status = CONNECTED
    entry.connected_at = now
    return entry


def finish(session: Session, entry: QueueEntry, *, now: datetime) -> None:
    if entry.status == CONNECTED:
        entry.status = DONE
        entry.ended_at = now


def queue_of(session: Session, department_id: int) -> list[QueueEntry]:
    return list(
        session.scalars(
            select(QueueEntry)
            .where(
                QueueEntry.department_id == department_id,
                QueueEntry.status.in_((WAITING, OFFERED, CONNECTED)),
            )
            .order_by(QueueEntry.id)
        )
    )


def queue_seat(session: Session, entry: QueueEntry) -> Seat:
    citizen = session.get(Citizen, entry.citizen_id)
    tail = citizen.phone[-4:] if citizen is not None else "?"
    return Seat(
        room=entry.room,
        identity=f"citizen:{entry.citizen_id}",
        name=f"Citizen …{tail}",
        role="citizen",
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


def record_room_events(
    session: Session, events: Sequence[tuple[RoomEvent, bool]], *, now: datetime
) -> None:
    """Calls connected and ended, from the signalling hub into the queue's and diary's records.

    Each event comes with whether its room was empty right after it: a queue call ends when
    the last person leaves, not when one side reloads the page.
    """
    for event, empty in events:
        if event.room.startswith("q"):
            entry = session.scalar(select(QueueEntry).where(QueueEntry.room == event.room))
            if entry is None:
                continue
            if event.event == "connected" and entry.connected_at is None:
                entry.connected_at = now
            elif event.event == "left" and empty:
                finish(session, entry, now=now)
        elif event.event == "connected":
            mark_held(session, event.room)
        if event.event in ("recording", "recording-stopped"):
            _note_recording(session, event, now=now)


def room_parties(session: Session, room: str) -> tuple[int, int] | None:
    """The department and citizen of a citizen's call (queue or appointment)."""
    model: type[QueueEntry] | type[Appointment] = (
        QueueEntry if room.startswith("q") else Appointment
    )
    row = session.execute(
        select(model.department_id, model.citizen_id).where(model.room == room)
    ).first()
    return (int(row[0]), int(row[1])) if row is not None else None


def _note_recording(session: Session, event: RoomEvent, *, now: datetime) -> None:
    """Keep who agreed to a recording, before any file arrives: the upload is checked
    against this, not against what a page says."""
    open_one = session.scalar(
        select(CallRecording)
        .where(CallRecording.room == event.room, CallRecording.stopped_at.is_(None))
        .order_by(CallRecording.id.desc())
    )
    if event.event == "recording-stopped":
        if open_one is not None:
            open_one.stopped_at = now
        return
    if open_one is None:
        parties = room_parties(session, event.room)
        open_one = CallRecording(
            room=event.room,
            department_id=parties[0] if parties else None,
            citizen_id=parties[1] if parties else None,
            consent=[],
            consented_at=now,
        )
        session.add(open_one)
    if event.identity not in open_one.consent:
        open_one.consent = [*open_one.consent, event.identity]
    if event.identity.startswith("official:"):
        open_one.official_id = int(event.identity.split(":", 1)[1])
    session.flush()


def save_recording(
    session: Session,
    locker: Locker,
    room: str,
    *,
    official_id: int,
    data: bytes,
    audio_only: bool,
    now: datetime,
) -> CallRecording:
    """The official's page hands in the recording: kept in the citizen's locker and listed
    in the department's call records, if both sides agreed to it in this room."""
    recording = session.scalar(
        select(CallRecording)
        .where(
            CallRecording.room == room,
            CallRecording.official_id == official_id,
            CallRecording.document_id.is_(None),
        )
        .order_by(CallRecording.id.desc())
    )
    if (
        recording is None
        or recording.citizen_id is None
        or f"citizen:{recording.citizen_id}" not in recording.consent
        or f"official:{official_id}" not in recording.consent
    ):
        raise CallRefused(
            "no_consent", "both sides must agree before a call is recorded", status=403
        )
    citizen = session.get(Citizen, recording.citizen_id)
    department = (
        session.get(Department, recording.department_id) if recording.department_id else None
    )
    if citizen is None:
        raise CallRefused("not_found", "no such citizen", status=404)
    code = department.code if department is not None else "an official"
    when = ist_label(recording.consented_at)
    document = locker_service.add_recording(
        session,
        locker,
        citizen,
        filename=f"call-{code}-{recording.consented_at:%Y%m%d-%H%M}.webm",
        data=data,
        audio_only=audio_only,
        title=f"Recording of your call with {code}, {when} IST",
        source=f"call recording with {code}",
    )
    recording.document_id = document.id
    recording.size = document.size
    recording.sha256 = document.sha256
    recording.saved_at = now
    recording.stopped_at = recording.stopped_at or now
    session.flush()
    return recording


def recordings_of(session: Session, department_id: int, *, limit: int = 50) -> list[CallRecording]:
    return list(
        session.scalars(
            select(CallRecording)
            .where(
                CallRecording.department_id == department_id,
                CallRecording.document_id.is_not(None),
            )
            .order_by(CallRecording.id.desc())
            .limit(limit)
        )
    )


# -- officials' meetings ----------------------------------------------------------------------


def create_meeting(session: Session, official: Official, *, title: str, lobby: bool) -> Meeting:
    title = " ".join(title.split())
    if not title or len(title) > 200:
        raise CallRefused("invalid_title", "give the meeting a title (1-200 characters)")
    meeting = Meeting(
        department_id=official.department_id,
        title=title,
        room=new_room("m"),
        created_by=official.id,
        lobby=lobby,
    )
    session.add(meeting)
    session.flush()
    return meeting


def meetings_of(session: Session, official: Official) -> list[Meeting]:
    """The open meetings this official may join: their own, their department's, and those
    they were invited to, newest first."""
    invited = select(MeetingInvite.meeting_id).where(MeetingInvite.official_id == official.id)
    mine = (Meeting.created_by == official.id) | Meeting.id.in_(invited)
    if official.department_id is not None:
        mine = mine | (Meeting.department_id == official.department_id)
    return list(
        session.scalars(
            select(Meeting)
            .where(mine, Meeting.ended_at.is_(None))
            .order_by(Meeting.id.desc())
            .limit(20)
        )
    )


def may_attend(session: Session, official: Official, meeting: Meeting) -> bool:
    """A meeting is internal to its department: its creator, that department's officials,
    the officials invited to it and the gateway admin (who may open every console page) join;
    for anyone else — another department's official, a CSC operator — the link is not
    enough."""
    if not official.active:
        return False
    if official.id == meeting.created_by or official.role is Role.GATEWAY_ADMIN:
        return True
    if (
        meeting.department_id is not None
        and official.department_id == meeting.department_id
        and official.role is not Role.CSC_OPERATOR
    ):
        return True  # a CSC operator serves citizens at a counter; only an invitation admits
    invited = session.scalar(
        select(MeetingInvite.id).where(
            MeetingInvite.meeting_id == meeting.id, MeetingInvite.official_id == official.id
        )
    )
    return invited is not None


def open_meeting(session: Session, official: Official, room: str) -> Meeting:
    """The open meeting with this link, if this official may attend it; otherwise refused
    as not found, so the link of another department's meeting confirms nothing."""
    meeting = session.scalar(select(Meeting).where(Meeting.room == room))
    if (
        meeting is None
        or meeting.ended_at is not None
        or not may_attend(session, official, meeting)
    ):
        raise CallRefused("not_found", "no meeting has this link", status=404)
    return meeting


def meeting_seat(session: Session, official: Official, room: str) -> Seat:
    """The official's seat in a meeting they may attend (``may_attend``); its creator
    moderates (admits from the waiting room, mutes, removes)."""
    meeting = open_meeting(session, official, room)
    return Seat(
        room=room,
        identity=f"official:{official.id}",
        name=official.name,
        role="moderator" if meeting.created_by == official.id else "official",
        kind=MEETING,
        lobby=meeting.lobby,
    )


MAX_INVITEES = 50


def invite(session: Session, official: Official, room: str, usernames: str) -> list[Official]:
    """The meeting's creator asks officials (by username, comma- or space-separated) to it;
    the ones invited are returned. A name that is no active official's is passed over
    silently, so the answer never tells which usernames exist. Inviting someone twice is
    harmless."""
    meeting = open_meeting(session, official, room)
    if meeting.created_by != official.id:
        raise CallRefused("not_host", "only the meeting's host invites officials", status=403)
    names = list(dict.fromkeys(usernames.replace(",", " ").split()))
    if not names or len(names) > MAX_INVITEES:
        raise CallRefused(
            "invalid_invitees", f"name 1 to {MAX_INVITEES} officials by their usernames"
        )
    found = {
        o.username: o
        for o in session.scalars(
            select(Official).where(Official.username.in_(names), Official.active.is_(True))
        )
    }
    already = set(
        session.scalars(
            select(MeetingInvite.official_id).where(MeetingInvite.meeting_id == meeting.id)
        )
    )
    guests = [found[name] for name in names if name in found]
    for guest in guests:
        if guest.id not in already and guest.id != meeting.created_by:
            session.add(
                MeetingInvite(meeting_id=meeting.id, official_id=guest.id, invited_by=official.id)
            )
    session.flush()
    return guests


def invitees(session: Session, meetings: Sequence[Meeting]) -> dict[int, list[str]]:
    """Meeting id → the usernames invited to it, for the host's list."""
    if not meetings:
        return {}
    rows = session.execute(
        select(MeetingInvite.meeting_id, Official.username)
        .join(Official, Official.id == MeetingInvite.official_id)
        .where(MeetingInvite.meeting_id.in_([m.id for m in meetings]))
        .order_by(Official.username)
    )
    out: dict[int, list[str]] = {}
    for meeting_id, username in rows:
        out.setdefault(meeting_id, []).append(username)
    return out
