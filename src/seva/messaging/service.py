# ruff: noqa: S608 - the hot path's SQL is built from constants and DBAPI placeholders only
"""The outbound SMS queue: accept (durably), claim, record outcomes, apply delivery receipts.

Every function works in the caller's transaction, so a message is committed together with the
change that caused it (an OTP with its code, a status SMS with the new status) and the API
acknowledges only after the commit. Dispatchers (``messaging.dispatcher``) call ``claim`` and
the ``record_*`` functions in their own short transactions.

Statements on ``sms_messages`` are Core statements run with executemany: a bulk send inserts
100,000 rows in one request and the dispatcher updates tens of thousands per second, where
ORM unit-of-work bookkeeping would cost more than the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from seva.messaging.accept import queue_sms, send, send_many, sent_today
from seva.messaging.authorise import GATEWAY_SENDER, sender_of
from seva.messaging.models import (
    DELIVERED,
    FAILED,
    QUEUED,
    SENDING,
    SUBMITTED,
    UNKNOWN,
    SmsAccount,
    SmsBatch,
    SmsCallback,
    SmsMessage,
    SmsPart,
)
from seva.messaging.optouts import ALL_DEPARTMENTS, opt_in, opt_out, opted_out
from seva.messaging.registrations import (
    account,
    department_headers,
    department_templates,
    ensure_account,
    register_header,
    register_template,
    stored_password_hash,
)
from seva.messaging.sends import (
    MAX_RECIPIENTS,
    MAX_SCHEDULE_AHEAD,
    MAX_TEXT,
    RETURN_IDS_UP_TO,
    Accepted,
    Send,
    SendRefused,
)
from seva.tenancy import service as tenancy

__all__ = [
    "ALL_DEPARTMENTS",
    "CALLBACK_ATTEMPTS",
    "CALLBACK_LEASE",
    "FINAL_RECEIPT_STATES",
    "GATEWAY_SENDER",
    "MAX_ATTEMPTS",
    "MAX_RECIPIENTS",
    "MAX_SCHEDULE_AHEAD",
    "MAX_TEXT",
    "RETURN_IDS_UP_TO",
    "Accepted",
    "BatchInfo",
    "CallbackDue",
    "Claimed",
    "Failure",
    "MessageFilter",
    "MessageView",
    "PartView",
    "Receipt",
    "Resent",
    "Send",
    "SendRefused",
    "StatusCounts",
    "Submitted",
    "account",
    "apply_receipts",
    "batch",
    "batch_counts",
    "batches",
    "callback_result",
    "callbacks_deferred",
    "callbacks_due",
    "claim",
    "console_count",
    "console_messages",
    "console_status_counts",
    "department_headers",
    "department_templates",
    "dispatch_rates",
    "ensure_account",
    "expire_receipts",
    "inbox",
    "latest_to",
    "message",
    "message_parts",
    "messages_of_department",
    "opt_in",
    "opt_out",
    "opted_out",
    "queue_sms",
    "record_failures",
    "record_submitted",
    "recover_leases",
    "register_header",
    "register_template",
    "renew_leases",
    "requeue",
    "resent_after_lease",
    "retry_delay",
    "send",
    "send_many",
    "sender_of",
    "sent_today",
    "status_counts",
    "stored_password_hash",
]


MAX_ATTEMPTS = 5

FINAL_RECEIPT_STATES = frozenset({"DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "REJECTD"})


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageView:
    """A message as its sender and the citizen's handset see it."""

    id: int
    batch_id: int
    department_id: int | None
    to_phone: str
    sender: str
    text: str
    kind: str
    status: str
    parts: int
    attempts: int
    error: str | None
    created_at: datetime
    submitted_at: datetime | None
    done_at: datetime | None
    client_ref: str | None
    template_id: str | None
    resent_after_lease: int


def _ts(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


_VIEW_COLUMNS = (
    SmsMessage.id,
    SmsMessage.batch_id,
    SmsBatch.department_id,
    SmsMessage.to_phone,
    SmsBatch.sender,
    func.coalesce(SmsMessage.text, SmsBatch.text),
    SmsBatch.kind,
    SmsMessage.status,
    SmsBatch.parts,
    SmsMessage.attempts,
    SmsMessage.error,
    SmsBatch.created_at,
    SmsMessage.submitted_at,
    SmsMessage.done_at,
    SmsBatch.client_ref,
    SmsBatch.template_id,
    SmsMessage.resent_after_lease,
)


def _view(row: Any) -> MessageView:
    return MessageView(
        id=int(row[0]),
        batch_id=int(row[1]),
        department_id=row[2],
        to_phone=row[3],
        sender=row[4],
        text=row[5],
        kind=row[6],
        status=row[7],
        parts=int(row[8]),
        attempts=int(row[9]),
        error=row[10],
        created_at=row[11],
        submitted_at=_ts(row[12]),
        done_at=_ts(row[13]),
        client_ref=row[14],
        template_id=row[15],
        resent_after_lease=int(row[16]),
    )


def message(session: Session, message_id: int) -> MessageView | None:
    row = session.execute(
        select(*_VIEW_COLUMNS)
        .join(SmsBatch, SmsBatch.id == SmsMessage.batch_id)
        .where(SmsMessage.id == message_id)
    ).first()
    return _view(row) if row is not None else None


def messages_of_department(
    session: Session, department_id: int, *, limit: int = 50, batch_id: int | None = None
) -> list[MessageView]:
    query = (
        select(*_VIEW_COLUMNS)
        .join(SmsBatch, SmsBatch.id == SmsMessage.batch_id)
        .where(SmsBatch.department_id == department_id)
        .order_by(SmsMessage.id.desc())
        .limit(limit)
    )
    if batch_id is not None:
        query = query.where(SmsMessage.batch_id == batch_id)
    return [_view(r) for r in session.execute(query)]


def batch_counts(session: Session, batch_id: int) -> dict[str, int]:
    rows = session.execute(
        select(SmsMessage.status, func.count())
        .where(SmsMessage.batch_id == batch_id)
        .group_by(SmsMessage.status)
    )
    return {str(status): int(n) for status, n in rows}


def batch(session: Session, batch_id: int) -> SmsBatch | None:
    return session.get(SmsBatch, batch_id)


def inbox(session: Session, phone: str, *, after_id: int = 0, limit: int = 50) -> list[MessageView]:
    """Messages to ``phone`` (what the phone simulator shows as received SMS), oldest first."""
    return [
        _view(r)
        for r in session.execute(
            select(*_VIEW_COLUMNS)
            .join(SmsBatch, SmsBatch.id == SmsMessage.batch_id)
            .where(SmsMessage.to_phone == phone, SmsMessage.id > after_id)
            .order_by(SmsMessage.id)
            .limit(limit)
        )
    ]


def latest_to(
    session: Session, phone: str, *, limit: int, leave_out_kind: str | None = None
) -> list[MessageView]:
    """The newest ``limit`` messages to ``phone`` (but those of ``leave_out_kind``), oldest
    first, each with its status now: the phone simulator lists these and shows each one's
    delivery status change as receipts arrive, so it reads them afresh every time."""
    query = (
        select(*_VIEW_COLUMNS)
        .join(SmsBatch, SmsBatch.id == SmsMessage.batch_id)
        .where(SmsMessage.to_phone == phone)
        .order_by(SmsMessage.id.desc())
        .limit(limit)
    )
    if leave_out_kind is not None:
        query = query.where(SmsBatch.kind != leave_out_kind)
    return [_view(r) for r in reversed(session.execute(query).all())]


# -- dispatching --------------------------------------------------------------------------------


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


def claim(session: Session, *, limit: int, now: float, lease: float = 60.0) -> list[Claimed]:
    """Lease up to ``limit`` due messages, best priority first.

    On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several dispatchers claim side by side
    without waiting on each other; SQLite serialises writers, so the same statement is safe
    there too.
    """
    t = SmsMessage.__table__.c
    due = (
        select(t.id)
        .where(t.status == QUEUED, t.due_at <= now)
        .order_by(t.priority, t.due_at, t.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    # A Core statement: the ORM's bookkeeping for a bulk UPDATE costs more than the UPDATE.
    stmt = (
        update(SmsMessage.__table__)  # type: ignore[arg-type]
        .where(t.id.in_(due.scalar_subquery()))
        .values(status=SENDING, lease_until=now + lease, attempts=t.attempts + 1)
        .returning(t.id, t.batch_id, t.to_phone, t.text, t.priority, t.attempts)
    )
    claimed = [Claimed(*row) for row in session.connection().execute(stmt)]
    claimed.sort(key=lambda c: (c.priority, c.id))
    return claimed


def batches(session: Session, batch_ids: Iterable[int]) -> dict[int, BatchInfo]:
    ids = list(set(batch_ids))
    found: dict[int, BatchInfo] = {}
    for start in range(0, len(ids), 500):
        for row in session.execute(
            select(
                SmsBatch.id, SmsBatch.department_id, SmsBatch.sender, SmsBatch.text, SmsBatch.kind
            ).where(SmsBatch.id.in_(ids[start : start + 500]))
        ):
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


def _mark(session: Session) -> str:
    """The DBAPI placeholder: the hot path sends plain SQL to ``executemany`` because
    SQLAlchemy's per-row parameter processing cost more than the database's own work."""
    return "?" if session.get_bind().dialect.paramstyle == "qmark" else "%s"


def record_submitted(session: Session, items: Sequence[Submitted], *, now: float) -> None:
    """The SMSC took every part: remember their ids for the receipts."""
    if not items:
        return
    p = _mark(session)
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
    _queue_callbacks(session, ids, now=now)
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


@dataclass(frozen=True, slots=True)
class Receipt:
    route: str
    smsc_id: str
    state: str
    error: str = ""


def apply_receipts(session: Session, receipts: Sequence[Receipt], *, now: float) -> list[Receipt]:
    """Record delivery receipts; returns the ones whose part is not known (yet).

    A message is delivered when every part is, and failed as soon as one part is undeliverable.
    Single-part messages (most traffic) go straight to their final state; only long messages
    keep per-part state. Duplicate and intermediate (ENROUTE, ACCEPTD) receipts change nothing.
    A receipt that comes after the receipt timeout still settles its ``unknown`` message.
    """
    if not receipts:
        return []
    p = _mark(session)
    conn = session.connection()
    by_route: dict[str, dict[str, Receipt]] = {}
    for r in receipts:
        by_route.setdefault(r.route, {})[r.smsc_id] = r
    unknown: list[Receipt] = []
    delivered_single: list[tuple[float, int]] = []
    failed: dict[int, str] = {}
    multi_delivered: dict[int, int] = {}
    part_states: list[tuple[str, str, str]] = []
    for route, wanted in by_route.items():
        ids = list(wanted)
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = conn.exec_driver_sql(
                f"SELECT p.smsc_id, p.message_id, p.total, p.state, m.status "
                f"FROM sms_parts p JOIN sms_messages m ON m.id = p.message_id "
                f"WHERE p.route = {p} AND p.smsc_id IN ({', '.join([p] * len(chunk))})",
                (route, *chunk),
            )
            for smsc_id, message_id, total, old_state, status in rows:
                found.add(smsc_id)
                receipt = wanted[smsc_id]
                if (
                    old_state in FINAL_RECEIPT_STATES
                    or status in (DELIVERED, FAILED)
                    or receipt.state not in FINAL_RECEIPT_STATES
                ):
                    continue  # a repeat, a message already settled, or an intermediate state
                if receipt.state != "DELIVRD":
                    failed[message_id] = f"{receipt.state} (err {receipt.error or '000'})"
                elif total == 1:
                    delivered_single.append((now, message_id))
                    continue  # the message's own status records it
                else:
                    multi_delivered[message_id] = multi_delivered.get(message_id, 0) + 1
                part_states.append((receipt.state, route, smsc_id))
        unknown.extend(r for sid, r in wanted.items() if sid not in found)
    if part_states:
        conn.exec_driver_sql(
            f"UPDATE sms_parts SET state = {p} WHERE route = {p} AND smsc_id = {p}",
            part_states,
        )
    done: list[int] = []
    if delivered_single:
        conn.exec_driver_sql(
            f"UPDATE sms_messages SET status = '{DELIVERED}', done_at = {p} "
            f"WHERE id = {p} AND status IN ('{SUBMITTED}', '{UNKNOWN}')",
            delivered_single,
        )
        done.extend(mid for _, mid in delivered_single)
    increments = [(n, mid) for mid, n in multi_delivered.items() if mid not in failed]
    if increments:
        conn.exec_driver_sql(
            f"UPDATE sms_messages SET parts_done = parts_done + {p} "
            f"WHERE id = {p} AND status IN ('{SUBMITTED}', '{UNKNOWN}')",
            increments,
        )
        waiting = [m for m in multi_delivered if m not in failed]
        for start in range(0, len(waiting), 500):
            many = waiting[start : start + 500]
            marks = ", ".join([p] * len(many))
            ready = [
                (now, mid)
                for mid, parts_done, total in conn.exec_driver_sql(
                    f"SELECT m.id, m.parts_done, MAX(sp.total) FROM sms_messages m "
                    f"JOIN sms_parts sp ON sp.message_id = m.id "
                    f"WHERE m.id IN ({marks}) AND m.status IN ('{SUBMITTED}', '{UNKNOWN}') "
                    f"GROUP BY m.id, m.parts_done",
                    tuple(many),
                )
                if parts_done >= total
            ]
            if ready:
                conn.exec_driver_sql(
                    f"UPDATE sms_messages SET status = '{DELIVERED}', done_at = {p} WHERE id = {p}",
                    ready,
                )
                done.extend(mid for _, mid in ready)
    if failed:
        conn.exec_driver_sql(
            f"UPDATE sms_messages SET status = '{FAILED}', done_at = {p}, error = {p} "
            f"WHERE id = {p} AND status IN ('{SUBMITTED}', '{SENDING}', '{UNKNOWN}')",
            [(now, e[:120], m) for m, e in failed.items()],
        )
        done.extend(failed)
    _queue_callbacks(session, done, now=now)
    return unknown


def expire_receipts(
    session: Session, *, now: float, timeout: float, limit: int = 5000
) -> list[int]:
    """Mark ``unknown`` up to ``limit`` messages submitted more than ``timeout`` seconds ago
    whose delivery receipt never came, oldest first; returns their ids.

    Safe on several dispatchers at once: on PostgreSQL each takes rows the others have not
    locked (``SKIP LOCKED``) and the update sees only rows still submitted, so a message is
    marked, and its status callback owed, once; SQLite serialises writers.
    """
    t = SmsMessage.__table__.c
    stale = (
        select(t.id)
        .where(t.status == SUBMITTED, t.submitted_at < now - timeout)
        .order_by(t.submitted_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stale = stale.with_for_update(skip_locked=True)
    stmt = (
        update(SmsMessage.__table__)  # type: ignore[arg-type]
        .where(t.id.in_(stale.scalar_subquery()), t.status == SUBMITTED)
        .values(status=UNKNOWN, done_at=now)
        .returning(t.id)
    )
    ids = [int(mid) for (mid,) in session.connection().execute(stmt)]
    _queue_callbacks(session, ids, now=now)
    return ids


# -- status callbacks ---------------------------------------------------------------------------


def _queue_callbacks(session: Session, message_ids: Sequence[int], *, now: float) -> None:
    """Owe the sender a status callback for each final message whose batch or account asks."""
    if not message_ids:
        return
    rows = session.execute(
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
        .where(SmsMessage.id.in_(list(message_ids)))
    )
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
        session.execute(insert(SmsCallback), owed)


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


CALLBACK_ATTEMPTS = 8
CALLBACK_LEASE = 120.0


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


def status_counts(session: Session, department_id: int | None = None) -> dict[str, int]:
    query = select(SmsMessage.status, func.count()).group_by(SmsMessage.status)
    if department_id is not None:
        query = query.join(SmsBatch, SmsBatch.id == SmsMessage.batch_id).where(
            SmsBatch.department_id == department_id
        )
    return {str(s): int(n) for s, n in session.execute(query)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Resent:
    """Messages possibly sent twice: what an operator checks after a dispatcher crashed."""

    messages: int
    """Messages sent again after the dispatcher holding them stopped."""
    times: int
    """How many times in all (a message can be caught by more than one crash)."""


def resent_after_lease(session: Session) -> Resent:
    messages, times = session.execute(
        select(func.count(), func.coalesce(func.sum(SmsMessage.resent_after_lease), 0)).where(
            SmsMessage.resent_after_lease > 0
        )
    ).one()
    return Resent(messages=int(messages), times=int(times))


# -- console queries ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageFilter:
    """Which messages an officials' console page lists.

    ``department_id`` None with ``every_department`` False matches nothing, so a scope built
    for an official who lost their department never widens to Seva's own messages.
    """

    department_id: int | None = None
    every_department: bool = False
    status: str = ""
    phone: str = ""
    """E.164, already normalised by the caller; matched exactly (the index is on it)."""
    batch_id: int | None = None


def _console_scope(query: Any, which: MessageFilter) -> Any:
    from sqlalchemy import false

    query = query.join(SmsBatch, SmsBatch.id == SmsMessage.batch_id)
    if not which.every_department:
        if which.department_id is None:
            return query.where(false())
        query = query.where(SmsBatch.department_id == which.department_id)
    if which.status:
        query = query.where(SmsMessage.status == which.status)
    if which.phone:
        query = query.where(SmsMessage.to_phone == which.phone)
    if which.batch_id is not None:
        query = query.where(SmsMessage.batch_id == which.batch_id)
    return query


def console_messages(
    session: Session, which: MessageFilter, *, limit: int, offset: int = 0
) -> list[MessageView]:
    """One page of messages, newest first."""
    query = _console_scope(select(*_VIEW_COLUMNS), which)
    query = query.order_by(SmsMessage.id.desc()).limit(limit).offset(offset)
    return [_view(r) for r in session.execute(query)]


def console_count(session: Session, which: MessageFilter) -> int:
    query = _console_scope(select(func.count()).select_from(SmsMessage), which)
    return int(session.scalar(query) or 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusCounts:
    today: dict[str, int]
    """Messages accepted since the start of the day the caller passed."""
    overall: dict[str, int]


def console_status_counts(
    session: Session, which: MessageFilter, *, since: datetime
) -> StatusCounts:
    """Messages per status, all time and accepted at or after ``since``, in one scan."""
    from sqlalchemy import case

    recent = func.sum(case((SmsBatch.created_at >= since, 1), else_=0))
    query = _console_scope(
        select(SmsMessage.status, func.count(), recent).select_from(SmsMessage), which
    ).group_by(SmsMessage.status)
    today: dict[str, int] = {}
    overall: dict[str, int] = {}
    for status, total, fresh in session.execute(query):
        overall[str(status)] = int(total)
        if fresh:
            today[str(status)] = int(fresh)
    return StatusCounts(today=today, overall=overall)


@dataclass(frozen=True, slots=True, kw_only=True)
class PartView:
    """One submitted part of a message and the last delivery receipt state it got."""

    seq: int
    route: str
    smsc_id: str
    state: str | None


def message_parts(session: Session, message_id: int) -> list[PartView]:
    rows = session.execute(
        select(SmsPart.seq, SmsPart.route, SmsPart.smsc_id, SmsPart.state)
        .where(SmsPart.message_id == message_id)
        .order_by(SmsPart.seq, SmsPart.route)
    )
    return [
        PartView(seq=int(seq), route=route, smsc_id=smsc_id, state=state)
        for seq, route, smsc_id, state in rows
    ]
