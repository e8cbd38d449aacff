"""Stored service definitions, their keywords, uploaded datasets and live conversations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from seva.db.base import Base, created, intpk


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("department_id", "slug"),)

    id: Mapped[intpk]
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(default=1)
    """Bumped on every load; a conversation keeps the revision it started with."""
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    """Read only when asked for: every menu lists services, and their definitions (every text
    in thirteen languages) are parsed once per process (``definition_of``), not decoded from
    JSON on every hop."""
    source: Mapped[str] = mapped_column(Text, default="")
    ussd_order: Mapped[int] = mapped_column(default=100)
    active: Mapped[bool] = mapped_column(default=True)
    builtin: Mapped[bool] = mapped_column(default=False)
    loaded_at: Mapped[created]


class ServiceRevision(Base):
    """Every definition ever loaded, so a conversation in progress can finish on its own."""

    __tablename__ = "service_revisions"
    __table_args__ = (UniqueConstraint("service_id", "revision"),)

    id: Mapped[intpk]
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    revision: Mapped[int]
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    loaded_at: Mapped[created]


class Keyword(Base):
    """An SMS keyword is unique across the gateway: one shortcode serves every department."""

    __tablename__ = "keywords"

    keyword: Mapped[str] = mapped_column(String(32), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))


class LocalKeyword(Base):
    """A service's keyword in an Indian script (``seva.flows.keywords``), folded as typed words
    are: unique across the gateway like a keyword. ``skeleton`` finds it leniently."""

    __tablename__ = "local_keywords"

    word: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    lang: Mapped[str] = mapped_column(String(8))
    derived: Mapped[bool] = mapped_column(default=False)
    """Transliterated from a given word: another service's given word takes it over."""
    skeleton: Mapped[str] = mapped_column(String(64), index=True, default="")


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("department_id", "name"),)

    id: Mapped[intpk]
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    name: Mapped[str] = mapped_column(String(64))
    key_column: Mapped[str] = mapped_column(String(64))
    columns: Mapped[list[str]] = mapped_column(JSON)
    row_count: Mapped[int] = mapped_column(default=0)
    uploaded_at: Mapped[created]


class DatasetRow(Base):
    __tablename__ = "dataset_rows"
    __table_args__ = (Index("ix_dataset_rows_lookup", "dataset_id", "key"),)

    id: Mapped[intpk]
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class Conversation(Base):
    """Serialised engine state of one conversation, keyed by channel and the channel's key."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "key"),)

    id: Mapped[intpk]
    channel: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(128))
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[created]
