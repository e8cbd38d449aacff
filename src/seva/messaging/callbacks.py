"""Status callbacks: each final message's status POSTed to the URL its batch or account names.

A message that reaches a final state (delivered, failed, unknown) is owed a callback in the
same transaction that records the state (``owe_callbacks``), so none is lost to a crash
between the two. Dispatchers take due callbacks in batches, each under a short lease so two
dispatchers do not post the same one, and retry with growing delays up to
``CALLBACK_ATTEMPTS`` times.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from seva.db.session import read_through
from seva.messaging.models import SmsAccount, SmsBatch, SmsCallback, SmsMessage
from seva.tenancy import service as tenancy

CALLBACK_ATTEMPTS = 8
CALLBACK_LEASE = 120.0


_FINAL: Final = (
    select(
        SmsMessage.id,
        SmsMessage.status,
        SmsMessage.error,
        SmsMessage.to_phone,
        SmsBatch.department_id,
        SmsBatch.client_ref,
        func.coalesce(SmsBatch.callback_url, SmsAccount.callback_url),
    )
    .join(SmsBatch, SmsBatch.id == SmsMessage.batch_id)
    .outerjoin(SmsAccount, SmsAccount.department_id == SmsBatch.department_id)
    .where(SmsMessage.id.in_(bindparam("ids", expanding=True)))
)
"""The final messages and where their status goes: built once, as every batch of receipts
the dispatcher records reads it."""


def owe_callbacks(session: Session, message_ids: Sequence[int], *, now: float) -> None:
    """Owe the sender a status callback for each final message whose batch or account asks."""
    if not message_ids:
        return
    connection = read_through(session)
    rows = connection.execute(_FINAL, {"ids": list(message_ids)})
    owed = [
        {
            "department_id": dept,
            "message_id": mid,
            "url": url,
            "payload": json.dumps(
                {
                    "id": mid,
                    "to": phone,
                    "status": status,
                    "error": error,
                    "client_ref": ref,
                    "at": datetime.fromtimestamp(now, UTC).isoformat(),
                }
            ),
            "attempts": 0,
            "next_at": now,
            "done": False,
        }
        for mid, status, error, phone, dept, ref, url in rows
        if url and dept is not None
    ]
    if owed:
        connection.execute(insert(SmsCallback), owed)  # Core: no ORM bookkeeping per row


@dataclass(frozen=True, slots=True)
class CallbackDue:
    id: int
    url: str
    payload: str
    secret: str = field(repr=False)
    """The department's webhook secret: the callback is signed like every call to its backend."""
    department: str = ""
    """The department's code: its callbacks share its outbound limits (``seva.outbound``)."""
    department_id: int = 0


def callbacks_due(session: Session, *, now: float, limit: int = 100) -> list[CallbackDue]:
    query = (
        select(SmsCallback)
        .where(SmsCallback.done.is_(False), SmsCallback.next_at <= now)
        .order_by(SmsCallback.next_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.scalars(query).all()
    for row in rows:
        # Taken for a while, so another dispatcher does not post the same callback meanwhile.
        row.next_at = now + CALLBACK_LEASE
    departments = {
        d.id: d for d in tenancy.departments_by_id(session, {r.department_id for r in rows})
    }
    return [
        CallbackDue(
            r.id,
            r.url,
            r.payload,
            d.webhook_secret if d else "",
            d.code if d else "",
            r.department_id,
        )
        for r in rows
        for d in [departments.get(r.department_id)]
    ]


def callback_result(
    session: Session, callback_id: int, *, ok: bool, error: str | None, now: float
) -> None:
    row = session.get(SmsCallback, callback_id)
    if row is None:
        return
    row.attempts += 1
    if ok or row.attempts >= CALLBACK_ATTEMPTS:
        row.done = True
    else:
        row.next_at = now + min(3600.0, 10.0 * 3**row.attempts)
    row.last_error = None if ok else (error or "")[:200]


def callbacks_deferred(
    session: Session, *, department_id: int, ids: Iterable[int], until: float
) -> int:
    """Not tried (the department's callback slots are full or its circuit is open): the given
    callbacks and every other of the department's due before ``until`` wait until then, in
    one write and without spending an attempt, so a backlog is not rewritten callback by
    callback while the department cannot be called. Returns how many were put aside."""
    result = session.execute(
        update(SmsCallback)
        .where(
            SmsCallback.done.is_(False),
            SmsCallback.department_id == department_id,
            or_(SmsCallback.id.in_(list(ids)), SmsCallback.next_at < until),
        )
        .values(next_at=until)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
