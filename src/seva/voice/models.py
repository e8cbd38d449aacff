"""Voice notifications: a department's spoken message to a list of citizens, one row per call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from seva.db.base import Base, UTCDateTime, created, intpk

# Call states
QUEUED = "queued"
"""Waiting for its (next) attempt."""
CALLING = "calling"
HEARD = "heard"
"""Answered and the whole message played."""
PARTLY = "partly"
"""Answered, but the citizen hung up before the end."""
UNREACHED = "unreached"
"""Every attempt was busy, unanswered or failed."""
FINAL = (HEARD, PARTLY, UNREACHED)


class VoiceNotice(Base):
    __tablename__ = "voice_notices"

    id: Mapped[intpk]
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(8), default="en")
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    retry_seconds: Mapped[int] = mapped_column(Integer, default=600)
    created_at: Mapped[created]


class VoiceNoticeCall(Base):
    __tablename__ = "voice_notice_calls"

    id: Mapped[intpk]
    notice_id: Mapped[int] = mapped_column(ForeignKey("voice_notices.id"), index=True)
    phone: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default=QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_outcome: Mapped[str | None] = mapped_column(String(20))
    """What the last attempt met: busy, no-answer, rejected, failed, hung-up, heard."""
    heard_seconds: Mapped[float | None] = mapped_column(Float)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """A dialer holds the call while it rings; one that dies lets another retry after this."""


class VoiceRecording(Base):
    """A caller's spoken answer to a ``message`` question.

    Holds no phone number: the application (or whatever the service did with the answer)
    says who it came from, so a service that keeps its callers anonymous stays so here."""

    __tablename__ = "voice_recordings"

    id: Mapped[intpk]
    token: Mapped[str] = mapped_column(String(32), unique=True)
    """Unguessable: the ``voice:<token>`` value the service sees and the API's address."""
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    channel: Mapped[str] = mapped_column(String(12))
    """``sip`` (Seva holds the audio) or ``twiml`` (the provider does, at ``source_url``)."""
    storage_key: Mapped[str | None] = mapped_column(String(80))
    source_url: Mapped[str | None] = mapped_column(String(500))
    seconds: Mapped[float] = mapped_column(Float)
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[created]
