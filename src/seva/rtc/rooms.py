"""A call's room: its unguessable name, which kind of call a name belongs to, and the refusal
every step of a call answers with.

A room name is an unguessable random string: it is the capability in the SMS join link a
citizen receives, so the link needs no login and stays short enough for one SMS part. The
page turns it into a short-lived join token (``rtc.tokens``) only while the appointment or
queue turn is current; officials get their token from the console after logging in. Its
first letter says what the room is for: ``a`` an appointment, ``q`` a queue turn, ``m`` an
officials' meeting.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from seva.rtc.models import Appointment, QueueEntry


class CallRefused(Exception):
    def __init__(self, code: str, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def new_room(prefix: str) -> str:
    return f"{prefix}{secrets.token_urlsafe(12)}"


def room_parties(session: Session, room: str) -> tuple[int, int] | None:
    """The department and citizen of a citizen's call (queue or appointment)."""
    model: type[QueueEntry] | type[Appointment] = (
        QueueEntry if room.startswith("q") else Appointment
    )
    row = session.execute(
        select(model.department_id, model.citizen_id).where(model.room == room)
    ).first()
    return (int(row[0]), int(row[1])) if row is not None else None
