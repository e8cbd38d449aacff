"""One row per finished conversation: the transactions the live status page counts."""

from __future__ import annotations

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from seva.db.base import Base, created, intpk


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (Index("ix_transactions_created_at", "created_at"),)

    id: Mapped[intpk]
    channel: Mapped[str] = mapped_column(String(16))
    department: Mapped[str] = mapped_column(String(16))
    service: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    """``completed``, ``failed``, ``timeout`` or ``cancelled``."""
    created_at: Mapped[created]
