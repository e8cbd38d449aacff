"""What the signalling hub reports about rooms, written into the records it concerns: a queue
turn connected or ended, an appointment held, a recording agreed to or stopped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from seva.rtc.appointments import mark_held
from seva.rtc.models import QueueEntry
from seva.rtc.queue import finish
from seva.rtc.recordings import note_recording
from seva.rtc.signalling import RoomEvent


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
            note_recording(session, event, now=now)
