# ruff: noqa: S608 - the hot path's SQL is built from constants and DBAPI placeholders only
"""The dispatchers' side of the queue: claim due messages, keep or give back their leases,
and record what the SMSC said to each submit.

Dispatchers (``messaging.dispatcher``) call these in their own short transactions. Claims are
leases: a dispatcher that dies holding messages loses them to ``recover_leases``, which puts
them back (at-least-once delivery). Statements on ``sms_messages`` are Core statements, some
sent as plain SQL to ``executemany``: the dispatcher updates tens of thousands of rows per
second, where ORM bookkeeping would cost more than the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from seva.messaging.callbacks import owe_callbacks
from seva.messaging.models import (
    FAILED,
    QUEUED,
    SENDING,
    SUBMITTED,
    SmsAccount,
    SmsBatch,
    SmsMessage,
)

MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    batch_id: int
    to_phone: str
    text: str | None
    priority: int
    attempts: int


@dataclass(frozen=True, slots=True)
class BatchInfo:
    id: int
    department_id: int | None
    sender: str
    text: str
    kind: str


_m = SmsMessage.__table__.c
_DUE: Final = (
    select(_m.id)
    .where(_m.status == QUEUED, _m.due_at <= bindparam("now"))
    .order_by(_m.priority, _m.due_at, _m.id)
    .limit(bindparam("limit"))
)
_ANY_DUE: Final = _DUE.limit(1)


def _claim_statement(due: Any) -> Any:
    return (
        update(SmsMessage.__table__)  # type: ignore[arg-type]
        .where(_m.id.in_(due.scalar_subquery()))
        .values(status=SENDING, lease_until=bindparam("until"), attempts=_m.attempts + 1)
        .returning(_m.id, _m.batch_id, _m.to_phone, _m.text, _m.priority, _m.attempts)
    )


# Built once, as every claim runs them: building a statement and its cache key cost more
# than the database's work for a small claim.
_CLAIM: Final = {
    "sqlite": _claim_statement(_DUE),
    # Several dispatchers claim side by side without waiting on each other.
    "postgresql": _claim_statement(_DUE.with_for_update(skip_locked=True)),
}
_BATCHES: Final = select(
    SmsBatch.id, SmsBatch.department_id, SmsBatch.sender, SmsBatch.text, SmsBatch.kind
).where(SmsBatch.id.in_(bindparam("ids", expanding=True)))


def claim(session: Session, *, limit: int, now: float, lease: float = 60.0) -> list[Claimed]:
    """Lease up to ``limit`` due messages, best priority first.

    On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several dispatchers claim side by side
    without waiting on each other; SQLite serialises writers, so the same statement is safe
    there too.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect != "postgresql" and connection.execute(_ANY_DUE, {"now": now}).first() is None:
        # An empty queue, the usual case between sends, is seen by a read: an UPDATE that
        # changes nothing still takes SQLite's one writer turn (``db.session``), several
        # times a second, from the citizens' hops.
        return []
    # A Core statement: the ORM's bookkeeping for a bulk UPDATE costs more than the UPDATE.
    given = {"now": now, "limit": limit, "until": now + lease}
    statement = _CLAIM.get(dialect, _CLAIM["sqlite"])
    claimed = [Claimed(*row) for row in connection.execute(statement, given)]
    claimed.sort(key=lambda c: (c.priority, c.id))
    return claimed


def batches(session: Session, batch_ids: Iterable[int]) -> dict[int, BatchInfo]:
    ids = list(set(batch_ids))
    found: dict[int, BatchInfo] = {}
    connection = session.connection()
    for start in range(0, len(ids), 500):
        for row in connection.execute(_BATCHES, {"ids": ids[start : start + 500]}):
            found[row[0]] = BatchInfo(*row)
    return found


def dispatch_rates(session: Session) -> dict[int, int]:
    """Messages per second each department may send (departments without a cap are absent)."""
    return {
        dept: rate
        for dept, rate in session.execute(
            select(SmsAccount.department_id, SmsAccount.rate_per_second)
        )
        if rate and rate > 0
    }


def renew_leases(session: Session, message_ids: Sequence[int], *, until: float) -> None:
    """Keep the messages a live dispatcher still holds (queued behind a slow or throttled link)
    from being taken back as if it had died."""
    t = SmsMessage.__table__.c
    ids = list(message_ids)
    for start in range(0, len(ids), 500):
        session.connection().execute(
            update(SmsMessage.__table__)  # type: ignore[arg-type]
            .where(t.id.in_(ids[start : start + 500]), t.status == SENDING)
            .values(lease_until=until)
        )


def recover_leases(session: Session, *, now: float) -> int:
    """Put back messages whose dispatcher died holding them (at-least-once delivery).

    Each may have reached the SMSC before the dispatcher died, so sending it again may send it
    twice: ``resent_after_lease`` counts these, for the message's sender and the operator."""
    result = session.execute(
        update(SmsMessage)
        .where(SmsMessage.status == SENDING, SmsMessage.lease_until < now)
        .values(
            status=QUEUED,
            lease_until=None,
            resent_after_lease=SmsMessage.resent_after_lease + 1,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class Submitted:
    message_id: int
    route: str
    smsc_ids: Sequence[str]


def placeholder(session: Session) -> str:
    """The DBAPI placeholder: the hot path sends plain SQL to ``executemany`` because
    SQLAlchemy's per-row parameter processing cost more than the database's own work."""
    return "?" if session.get_bind().dialect.paramstyle == "qmark" else "%s"


def record_submitted(session: Session, items: Sequence[Submitted], *, now: float) -> None:
    """The SMSC took every part: remember their ids for the receipts."""
    if not items:
        return
    p = placeholder(session)
    parts = [
        (s.route, sid, s.message_id, seq, len(s.smsc_ids))
        for s in items
        for seq, sid in enumerate(s.smsc_ids, start=1)
    ]
    conn = session.connection()
    conn.exec_driver_sql(
        f"INSERT INTO sms_parts (route, smsc_id, message_id, seq, total) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}) ON CONFLICT DO NOTHING",
        parts,
    )
    conn.exec_driver_sql(
        f"UPDATE sms_messages SET status = '{SUBMITTED}', submitted_at = {p}, lease_until = NULL "
        f"WHERE id = {p} AND status = '{SENDING}'",
        [(now, s.message_id) for s in items],
    )


@dataclass(frozen=True, slots=True)
class Failure:
    message_id: int
    reason: str
    permanent: bool


def retry_delay(attempts: int) -> float:
    """Seconds before the next try: 5 s, 20 s, 80 s, 320 s (capped at 10 minutes)."""
    return float(min(600, 5 * 4 ** max(0, attempts - 1)))


def record_failures(
    session: Session, items: Sequence[Failure], *, now: float, attempts: dict[int, int]
) -> list[int]:
    """Retry later, or fail for good after ``MAX_ATTEMPTS`` or a permanent error.

    Returns the ids that reached the final failed state (for status callbacks).
    """
    final: list[dict[str, object]] = []
    retry: list[dict[str, object]] = []
    for item in items:
        tries = attempts.get(item.message_id, MAX_ATTEMPTS)
        if item.permanent or tries >= MAX_ATTEMPTS:
            reason = (
                item.reason if item.permanent else f"gave up after {tries} tries: {item.reason}"
            )
            final.append({"mid": item.message_id, "error": reason[:120]})
        else:
            retry.append(
                {
                    "mid": item.message_id,
                    "error": item.reason[:120],
                    "due": now + retry_delay(tries),
                }
            )
    table = SmsMessage.__table__
    conn = session.connection()
    if final:
        conn.execute(
            update(table)  # type: ignore[arg-type]
            .where(table.c.id == bindparam("mid"), table.c.status == SENDING)
            .values(status=FAILED, done_at=now, lease_until=None, error=bindparam("error")),
            final,
        )
    if retry:
        conn.execute(
            update(table)  # type: ignore[arg-type]
            .where(table.c.id == bindparam("mid"), table.c.status == SENDING)
            .values(
                status=QUEUED, due_at=bindparam("due"), lease_until=None, error=bindparam("error")
            ),
            retry,
        )
    ids = [int(f["mid"]) for f in final]  # type: ignore[call-overload]
    owe_callbacks(session, ids, now=now)
    return ids


def requeue(session: Session, message_ids: Sequence[int], *, now: float, delay: float) -> None:
    """Hand claimed messages back untried (throttled link, dispatcher stopping)."""
    if not message_ids:
        return
    table = SmsMessage.__table__
    session.connection().execute(
        update(table)  # type: ignore[arg-type]
        .where(table.c.id == bindparam("mid"), table.c.status == SENDING)
        .values(
            status=QUEUED,
            due_at=now + delay,
            lease_until=None,
            attempts=table.c.attempts - 1,
        ),
        [{"mid": m} for m in message_ids],
    )
