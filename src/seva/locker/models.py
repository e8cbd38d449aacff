"""The citizen's digital locker: documents, consent-based shares, and who opened what.

Modelled on DigiLocker's roles: an *issuer* (a department) issues a signed document to a
citizen, the citizen (the *requester*) keeps it and shares it, and a *verifier* (anyone
holding the file) checks it against ``/verify/<uri>``. Files the citizen uploads and files
received during a call are kept apart from issued ones and are never presented as verified.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from seva.db.base import Base, UTCDateTime, created, intpk

ISSUED = "issued"
UPLOADED = "uploaded"
RECEIVED = "received"
"""Received during a call with an official (``rtc``), after its checksum matched."""
KINDS = (ISSUED, UPLOADED, RECEIVED)


class Document(Base):
    __tablename__ = "locker_documents"

    id: Mapped[intpk]
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(200))
    doctype: Mapped[str | None] = mapped_column(String(16))
    """Issued documents: DigiLocker-style type code, e.g. ``RATCR`` (ration card)."""
    uri: Mapped[str | None] = mapped_column(String(80), unique=True)
    """Issued documents: ``<issuer-code>-<DOCTYPE>-<8 random characters>`` (``seva.references``;
    older ones end in the row id), what ``/verify/<uri>`` takes."""
    verify_code: Mapped[str | None] = mapped_column(String(12), unique=True)
    """Issued documents: a short code a citizen can read out or text (``DOCS`` lists them)."""
    issuer_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    filename: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    signature: Mapped[str | None] = mapped_column(String(128))
    """Issued documents: Ed25519 signature (hex) over the file's bytes."""
    source: Mapped[str | None] = mapped_column(String(80))
    """Where a received file came from, e.g. ``call:42 from FOOD``."""
    created_at: Mapped[created]
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """A citizen removed an uploaded file: kept for the access log, no longer served."""


class Share(Base):
    """A citizen's consent for one document to be opened through a link until it expires."""

    __tablename__ = "locker_shares"

    id: Mapped[intpk]
    document_id: Mapped[int] = mapped_column(ForeignKey("locker_documents.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the link's secret: a copy of the table opens nothing."""
    shared_with: Mapped[str] = mapped_column(String(120))
    purpose: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[created]
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Access(Base):
    """Every time a document was opened, downloaded, verified or shared, and by whom."""

    __tablename__ = "locker_access"

    id: Mapped[intpk]
    document_id: Mapped[int] = mapped_column(ForeignKey("locker_documents.id"), index=True)
    share_id: Mapped[int | None] = mapped_column(ForeignKey("locker_shares.id"))
    actor: Mapped[str] = mapped_column(String(120))
    """``citizen``, ``share:<shared_with>``, ``verifier``, ``department:<code>``."""
    action: Mapped[str] = mapped_column(String(16))
    at: Mapped[created]
