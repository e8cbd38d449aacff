"""Call recordings: who agreed to one, and the file the official's page hands in.

Consent is kept from the room's own events (``note_recording``), before any file arrives,
and the upload is checked against it rather than against what a page says: a recording is
kept only if both the citizen and the official agreed in that room. It goes to the citizen's
locker and is listed in the department's call records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from seva import i18n
from seva.citizens.models import Citizen
from seva.locker import service as locker_service
from seva.locker.service import Locker
from seva.rtc.appointments import ist_label
from seva.rtc.models import CallRecording
from seva.rtc.rooms import CallRefused, room_parties
from seva.rtc.signalling import RoomEvent
from seva.tenancy.models import Department


def note_recording(session: Session, event: RoomEvent, *, now: datetime) -> None:
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
    lang = i18n.served(citizen.language or "en")
    code = department.code if department is not None else i18n.text("rtc_an_official", lang)
    when = ist_label(recording.consented_at)
    document = locker_service.add_recording(
        session,
        locker,
        citizen,
        filename=f"call-{code}-{recording.consented_at:%Y%m%d-%H%M}.webm",
        data=data,
        audio_only=audio_only,
        title=i18n.text("rtc_recording_title", lang, code=code, when=when),
        source=i18n.text("rtc_recording_source", lang, code=code),
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
