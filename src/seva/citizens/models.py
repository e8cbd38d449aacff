"""Registry tables.

A profile field is stored once; each department that may use it holds a consent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from seva.db.base import Base, created, intpk


class Citizen(Base):
    __tablename__ = "citizens"

    id: Mapped[intpk]
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    """E.164, e.g. ``+919900000001``."""
    language: Mapped[str | None] = mapped_column(String(8))
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[created]
    last_seen_at: Mapped[datetime | None]


class ProfileField(Base):
    __tablename__ = "profile_fields"
    __table_args__ = (UniqueConstraint("citizen_id", "name"),)

    id: Mapped[intpk]
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    source_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    updated_at: Mapped[created]


class Consent(Base):
    """The citizen lets ``department`` read profile field ``field``."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("citizen_id", "department_id", "field"),)

    id: Mapped[intpk]
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    field: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[created]


class OtpChallenge(Base):
    __tablename__ = "otp_challenges"

    id: Mapped[intpk]
    phone: Mapped[str] = mapped_column(String(20), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[created]


class OtpSendClaim(Base):
    """When a code was last sent to each phone: every sender claims this row with one
    conditional write before sending, so two requests at once cannot both send a code (a
    read of ``otp_challenges`` followed by an insert let five of ten through)."""

    __tablename__ = "otp_send_claims"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_sent_at: Mapped[datetime]


class CitizenToken(Base):
    """An app login. The bearer token is random and says nothing about its holder; only its
    hash is kept, with the phone it stands for and its expiry, so that logging out revokes
    it on every node and a copy of this table lets no one in."""

    __tablename__ = "citizen_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[created]
    expires_at: Mapped[datetime]
