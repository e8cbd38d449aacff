"""Calls between citizens and officials: availability, appointments, the instant queue, meetings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from seva.db.base import Base, UTCDateTime, created, intpk

# Appointment states
BOOKED = "booked"
CANCELLED = "cancelled"
COMPLETED = "completed"
MISSED = "missed"

# Queue states
WAITING = "waiting"
OFFERED = "offered"
CONNECTED = "connected"
ABANDONED = "abandoned"
"""The citizen gave up (cancelled, or their page stopped asking) before an official took it."""
DONE = "done"


class Availability(Base):
    """An official's published hours for appointments (Cal.com's availability model)."""

    __tablename__ = "rtc_availability"

    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    tz: Mapped[str] = mapped_column(String(64), default="Asia/Kolkata")
    weekly: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """``{"0": [["10:00", "13:00"], ["14:00", "17:00"]], …}``: weekday (0 = Monday) to hours."""
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """``{"2026-12-25": []}``: a date's own hours; an empty list is a day off."""
    slot_minutes: Mapped[int] = mapped_column(Integer, default=15)
    buffer_before: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after: Mapped[int] = mapped_column(Integer, default=5)
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=60)
    horizon_days: Mapped[int] = mapped_column(Integer, default=14)
    on_duty_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Set while the official takes "connect now" calls; None when they are away."""
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Last time the official's console asked for calls: a closed console goes off duty."""


class Appointment(Base):
    __tablename__ = "rtc_appointments"

    id: Mapped[intpk]
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), index=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12), default=BOOKED)
    slot_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    """``<official>@<start>`` while booked, NULL once cancelled: one booking per official slot,
    enforced by the database even when two citizens press the same slot at once."""
    room: Mapped[str] = mapped_column(String(40), unique=True)
    channel: Mapped[str] = mapped_column(String(12), default="web")
    topic: Mapped[str] = mapped_column(String(200), default="")
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[created]
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class QueueEntry(Base):
    """A citizen asking to talk now, from joining the queue to the end of the call."""

    __tablename__ = "rtc_queue"

    id: Mapped[intpk]
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default=WAITING, index=True)
    channel: Mapped[str] = mapped_column(String(12), default="web")
    room: Mapped[str] = mapped_column(String(40), unique=True)
    joined_at: Mapped[created]
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Last time the citizen's page asked for its position: a closed page abandons."""
    official_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id"))
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    missed_offers: Mapped[int] = mapped_column(Integer, default=0)
    """Times an official was offered this call and let the offer lapse."""


class Meeting(Base):
    """Officials' multi-party meetings (mesh for a few, Janus SFU when configured).

    A meeting is internal to its department: its link opens only for that department's
    officials, the officials its creator invited (``MeetingInvite``), and the gateway admin.
    """

    __tablename__ = "rtc_meetings"

    id: Mapped[intpk]
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    room: Mapped[str] = mapped_column(String(40), unique=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("officials.id"))
    lobby: Mapped[bool] = mapped_column(Boolean, default=True)
    janus_room: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[created]
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MeetingInvite(Base):
    """An official asked to a meeting by its creator: how someone from another department (or
    a CSC operator) gets in, since holding the link alone is not enough."""

    __tablename__ = "rtc_meeting_invites"
    __table_args__ = (UniqueConstraint("meeting_id", "official_id"),)

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("rtc_meetings.id"))
    """Indexed by the unique constraint, whose first column it is."""
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), index=True)
    invited_by: Mapped[int] = mapped_column(ForeignKey("officials.id"))
    created_at: Mapped[created]


class CallRecording(Base):
    """A call recorded with the consent of both sides: who agreed and when, and where the
    file went (the citizen's locker; the department reads it from its call records)."""

    __tablename__ = "rtc_recordings"

    id: Mapped[intpk]
    room: Mapped[str] = mapped_column(String(40), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    official_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id"))
    consent: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The identities (``citizen:7``, ``official:3``) that agreed, as the signalling saw them."""
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    document_id: Mapped[int | None] = mapped_column(ForeignKey("locker_documents.id"))
    size: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
