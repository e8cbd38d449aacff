"""The outbox: a notification is committed here with the change that caused it.

The SMPP dispatcher drains it; until then the phone simulator shows its rows as the handset's
inbox.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from seva.db.base import Base, created, intpk


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"

    id: Mapped[intpk]
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    to_phone: Mapped[str] = mapped_column(String(20), index=True)
    sender: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    """``otp``, ``transactional`` or ``reply``: priority order for the dispatcher."""
    status: Mapped[str] = mapped_column(String(16), default="queued")
    created_at: Mapped[created]
    sent_at: Mapped[datetime | None]
