"""Tenancy tables. A department owns its services, datasets, offices and applications."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from seva.db.base import Base, created, intpk


class Role(enum.StrEnum):
    GATEWAY_ADMIN = "gateway_admin"
    DEPARTMENT_ADMIN = "department_admin"
    OFFICER = "officer"
    CSC_OPERATOR = "csc_operator"


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[dict[str, str]] = mapped_column(JSON)
    """Display name per language code, at least ``en``."""
    languages: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["en", "hi"])
    sender_id: Mapped[str] = mapped_column(String(11))
    webhook_secret: Mapped[str] = mapped_column(String(128))
    """Shared secret for HMAC-SHA256 signatures on calls to the department's backend."""
    ussd_order: Mapped[int] = mapped_column(default=100)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created]

    officials: Mapped[list[Official]] = relationship(back_populates="department")

    def display_name(self, lang: str) -> str:
        return self.name.get(lang) or self.name.get("en") or self.code


class Official(Base):
    __tablename__ = "officials"

    id: Mapped[intpk]
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=32))
    password_hash: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created]

    department: Mapped[Department | None] = relationship(back_populates="officials")


class OfficialSession(Base):
    """One login of an official (console or kiosk). The browser's signed cookie carries a
    random token and this table its hash: the cookie alone proves nothing, so logging out, a
    new password or deactivation ends the login on every node, copied cookies included."""

    __tablename__ = "official_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    official_id: Mapped[int] = mapped_column(
        ForeignKey("officials.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[created]
    expires_at: Mapped[datetime]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[intpk]
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    """Public part of the key, used to find the row; the secret part is only stored hashed."""
    key_hash: Mapped[str] = mapped_column(String(128))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[created]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Who did what on behalf of whom: every kiosk and console action lands here."""

    __tablename__ = "audit_events"

    id: Mapped[intpk]
    official_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    citizen_phone: Mapped[str | None] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[created]
