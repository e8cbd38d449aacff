"""The durable outbound SMS queue, DLT registrations, opt-outs and quotas.

A send is one ``SmsBatch`` (the text, sender, template and kind, stored once) and one
``SmsMessage`` row per recipient, so a 1,000,000-recipient campaign costs one short row per
number. Rows are committed before the API acknowledges; dispatchers claim due rows in priority
order, submit them over SMPP, and record each part's SMSC message id in ``SmsPart`` so a
delivery receipt finds its message.

Hot-path times on ``SmsMessage`` are Unix seconds (floats): the dispatcher reads and writes
tens of thousands per second and a float needs no timezone conversion per row.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel

from seva.db.base import Base, created, intpk

# Priorities: lower goes first. OTPs expire in minutes; bulk can wait.
PRIORITY = {"otp": 0, "reply": 1, "transactional": 1, "bulk": 2}
KINDS = tuple(PRIORITY)

# Message states. ``queued`` rows wait for ``due_at``; ``sending`` rows are leased to a
# dispatcher until ``lease_until`` (an expired lease is claimed again: at-least-once).
QUEUED = "queued"
SENDING = "sending"
SUBMITTED = "submitted"
DELIVERED = "delivered"
FAILED = "failed"
"""Final: refused by the SMSC or the handset, retries exhausted, or expired."""
UNKNOWN = "unknown"
"""Submitted, but no delivery receipt came within ``SEVA_SMS_RECEIPT_TIMEOUT_HOURS`` (an
operator's validity period is 48 hours at most): the outcome will likely never be known. A
receipt that still comes settles it as delivered or failed."""
STATES = (QUEUED, SENDING, SUBMITTED, DELIVERED, FAILED, UNKNOWN)

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit and the rowid."""


class SmsAccount(Base):
    """A department's SMS settings: DLT entity, limits, MSDG credentials, status callbacks."""

    __tablename__ = "sms_accounts"

    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(19))
    """TRAI DLT principal entity ID (19 digits)."""
    daily_quota: Mapped[int] = mapped_column(Integer, default=100_000)
    rate_per_second: Mapped[int] = mapped_column(Integer, default=200)
    """Dispatch cap, so one department's campaign cannot take the whole SMSC link."""
    msdg_username: Mapped[str | None] = mapped_column(String(64), unique=True)
    msdg_password_hash: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the SHA-1 hex digest MSDG clients send as ``password``."""
    msdg_secure_key: Mapped[str | None] = mapped_column(String(128))
    """Shared secret of MSDG's request ``key`` (SHA-512); kept because the check needs it."""
    callback_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[created]


class DltHeader(Base):
    """A sender ID registered on DLT by a department."""

    __tablename__ = "dlt_headers"

    id: Mapped[intpk]
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    header: Mapped[str] = mapped_column(String(11), unique=True)
    category: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[created]


class DltTemplate(Base):
    """A DLT content template: fixed text with ``{#var#}`` placeholders, tied to a header."""

    __tablename__ = "dlt_templates"

    id: Mapped[intpk]
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    template_id: Mapped[str] = mapped_column(String(30), unique=True)
    header: Mapped[str] = mapped_column(String(11), index=True)
    category: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[created]


class SmsBatch(Base):
    """One accepted send request: what every recipient row shares."""

    __tablename__ = "sms_batches"
    __table_args__ = (UniqueConstraint("department_id", "idempotency_key"),)

    id: Mapped[intpk]
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    sender: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    template_id: Mapped[str | None] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(16), default="api")
    """``api``, ``msdg``, ``csv``, ``system`` (OTPs, notifications) or ``reply`` (SMS pull)."""
    total: Mapped[int] = mapped_column(Integer, default=0)
    parts: Mapped[int] = mapped_column(SmallInteger, default=1)
    due_at: Mapped[float] = mapped_column(Float)
    callback_url: Mapped[str | None] = mapped_column(String(500))
    client_ref: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[created]
    _sentinel: Mapped[int | None] = orm_insert_sentinel()
    """What lets a group's rows be inserted in one statement with their ids in order: SQLite
    has no other way to tie a multi-row INSERT's RETURNING to its rows, and SQLAlchemy would
    insert them one statement each (PostgreSQL writes it too, needing it less). Written only
    by those inserts (each row's place in its statement; NULL otherwise), read by nothing."""


class SmsMessage(Base):
    """One recipient of a batch and where its delivery stands."""

    __tablename__ = "sms_messages"
    __table_args__ = (
        # The dispatcher's claim: due queued rows, best priority first.
        Index(
            "ix_sms_messages_due",
            "priority",
            "due_at",
            "id",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
        Index(
            "ix_sms_messages_leased",
            "lease_until",
            postgresql_where=text("status = 'sending'"),
            sqlite_where=text("status = 'sending'"),
        ),
        Index("ix_sms_messages_to_phone_id", "to_phone", "id"),
        # The receipt timeout's sweep: submitted rows, oldest first.
        Index(
            "ix_sms_messages_awaiting_receipt",
            "submitted_at",
            postgresql_where=text("status = 'submitted'"),
            sqlite_where=text("status = 'submitted'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("sms_batches.id"), index=True)
    to_phone: Mapped[str] = mapped_column(String(20))
    text: Mapped[str | None] = mapped_column(Text)
    """Only when this recipient's text differs from the batch's (CSV with variables)."""
    priority: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    due_at: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    resent_after_lease: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    """Times this message went back to the queue because the dispatcher holding it stopped
    renewing its lease (killed, or cut off from the database) while it may already have been
    submitted: each is a possible duplicate on the citizen's phone."""
    lease_until: Mapped[float | None] = mapped_column(Float)
    parts_done: Mapped[int] = mapped_column(SmallInteger, default=0)
    submitted_at: Mapped[float | None] = mapped_column(Float)
    done_at: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(120))
    _sentinel: Mapped[int | None] = orm_insert_sentinel()
    """As ``SmsBatch._sentinel``: a group's messages in one INSERT, their ids in order."""


class SmsPart(Base):
    """A submitted part: the SMSC's message id, which its delivery receipt quotes."""

    __tablename__ = "sms_parts"

    route: Mapped[str] = mapped_column(String(32), primary_key=True)
    smsc_id: Mapped[str] = mapped_column(String(65), primary_key=True)
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("sms_messages.id"), index=True)
    seq: Mapped[int] = mapped_column(SmallInteger)
    total: Mapped[int] = mapped_column(SmallInteger, default=1)
    """Parts of its message, so a receipt for a one-part message needs no count."""
    state: Mapped[str | None] = mapped_column(String(10))


class SmsOptOut(Base):
    """A number that sent STOP: no bulk from ``scope`` (a department code, or ``*`` for all)."""

    __tablename__ = "sms_optouts"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[created]


class SmsDailyUsage(Base):
    """Messages accepted per department per day (UTC), checked against the daily quota."""

    __tablename__ = "sms_daily_usage"

    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class SmsCallback(Base):
    """A status callback owed to a department's URL, retried until it is answered 2xx."""

    __tablename__ = "sms_callbacks"

    id: Mapped[intpk]
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    message_id: Mapped[int] = mapped_column(BigId)
    url: Mapped[str] = mapped_column(String(500))
    payload: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_at: Mapped[float] = mapped_column(Float, index=True)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[created]
