"""Queueing messages to citizens. A row is committed with the change that caused it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from seva.messaging.models import OutboxMessage

KINDS = ("otp", "transactional", "reply")


def queue_sms(
    session: Session,
    *,
    to_phone: str,
    text: str,
    kind: str,
    sender: str = "SEVA",
    department_id: int | None = None,
) -> OutboxMessage:
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    message = OutboxMessage(
        to_phone=to_phone, text=text, kind=kind, sender=sender, department_id=department_id
    )
    session.add(message)
    session.flush()
    return message


def inbox(
    session: Session, phone: str, *, after_id: int = 0, limit: int = 50
) -> list[OutboxMessage]:
    """Messages queued to ``phone`` (what the phone simulator shows as received SMS)."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.to_phone == phone, OutboxMessage.id > after_id)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )
