"""Applications: created by a flow's ``apply`` step, moved along by officials."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from seva.db.base import Base, created, intpk


class Application(Base):
    __tablename__ = "applications"

    id: Mapped[intpk]
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    """``<department code>-<8 random characters>`` (``seva.references``), or older forms."""
    guessable_ref: Mapped[bool] = mapped_column(default=True, server_default=true())
    """The reference was not drawn at random: counted (``FOOD-000042``, made before
    references were) or given (the demo's ``TEST-0001``). A lookup by such a reference shows
    the application to its own citizen only; rows default to it, the safe side."""
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    service: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    status: Mapped[str] = mapped_column(String(64))
    """The status as the department's records name it: a suggested status's English name
    (``Approved``) or an official's own words (``Slot requested``)."""
    status_code: Mapped[str | None] = mapped_column(String(32))
    """A suggested status's stable code (``approved``), which a citizen reads in their own
    language from the message catalog (``appl_status_approved``); None for an official's own
    words."""
    status_texts: Mapped[dict[str, str]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    """The official's own translations of a status of their words, by language (``hi``)."""
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    channel: Mapped[str] = mapped_column(String(16))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id"))
    """The CSC operator who filed it on the citizen's behalf, if any."""
    created_at: Mapped[created]
    updated_at: Mapped[created]

    events: Mapped[list[ApplicationEvent]] = relationship(
        order_by="ApplicationEvent.id", back_populates="application"
    )


class ApplicationEvent(Base):
    __tablename__ = "application_events"

    id: Mapped[intpk]
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    status: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[str | None] = mapped_column(String(32))
    """As ``Application.status_code``, at the time of this change."""
    status_texts: Mapped[dict[str, str]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    note: Mapped[str] = mapped_column(Text, default="")
    """To the citizen: sent with the status SMS and shown by a lookup of the reference."""
    note_texts: Mapped[dict[str, str]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    """The note in other languages, as the official wrote it (``hi``): a citizen of that
    language reads it instead of ``note``."""
    internal_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    """For the department's officials (console, department API) only: never sent, never shown
    by a lookup, never in the citizen's own list."""
    official_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id"))
    created_at: Mapped[created]

    application: Mapped[Application] = relationship(back_populates="events")


class ReferenceCounter(Base):
    """Per-department sequences of the references made before they were random
    (``TRN-000042``). Nothing advances them now; they stay so that going back to a release
    that counts carries on after the last number it gave rather than repeating one."""

    __tablename__ = "reference_counters"

    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)
