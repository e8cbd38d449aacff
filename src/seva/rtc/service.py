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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from seva.citizens.models import Citizen
from seva.locker import service as locker_service
from seva.locker.service import Locker
from seva.rtc import waiting
from seva.rtc.appointments import (
    FARTHEST_SLOT,
    INDIA,
    JOIN_EARLY,
    REMINDER_LEAD,
    appointment_seat,
    appointments_of,
    book,
    booked_text,
    cancel,
    ist_label,
    join_link,
    mark_held,
    mark_missed,
    moved_text,
    official_seat,
    own_appointment,
    reminder_text,
    reschedule,
    send_due_reminders,
    upcoming,
)
from seva.rtc.availability import (
    departments_taking_calls,
    free_slots,
    schedule_of,
    set_availability,
)
from seva.rtc.models import (
    ABANDONED,
    CONNECTED,
    DONE,
    OFFERED,
    WAITING,
    Availability,
    CallRecording,
    Meeting,
    MeetingInvite,
    QueueEntry,
)
from seva.rtc.rooms import CallRefused, new_room, room_parties
from seva.rtc.signalling import CALL, MEETING, RoomEvent, Seat
from seva.tenancy.models import Department, Official, Role

__all__ = [
    "ABANDON_SECONDS",
    "DUTY_SECONDS",
    "FARTHEST_SLOT",
    "INDIA",
    "JOIN_EARLY",
    "MAX_INVITEES",
    "OFFER_SECONDS",
    "REMINDER_LEAD",
    "CallRefused",
    "QueueView",
    "accept",
    "appointment_seat",
    "appointments_of",
    "average_handle_time",
    "book",
    "booked_text",
    "cancel",
    "create_meeting",
    "departments_taking_calls",
    "finish",
    "free_slots",
    "invite",
    "invitees",
    "ist_label",
    "join_link",
    "join_queue",
    "leave_queue",
    "mark_held",
    "mark_missed",
    "may_attend",
    "meeting_seat",
    "meetings_of",
    "moved_text",
    "new_room",
    "offer_for",
    "official_seat",
    "open_meeting",
    "own_appointment",
    "queue_of",
    "queue_seat",
    "queue_view",
    "record_room_events",
    "recordings_of",
    "reminder_text",
    "reschedule",
    "room_parties",
    "save_recording",
    "schedule_of",
    "send_due_reminders",
    "set_availability",
    "set_on_duty",
    "tidy_queue",
    "upcoming",
]


OFFER_SECONDS = 30
ABANDON_SECONDS = 60
DUTY_SECONDS = 60
"""An official whose console has not asked for calls this long is treated as away."""


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
