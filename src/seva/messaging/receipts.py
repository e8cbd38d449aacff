# ruff: noqa: S608 - the hot path's SQL is built from constants and DBAPI placeholders only
"""Delivery receipts: the SMSC's word on each submitted part, and ``unknown`` for the messages
whose receipt never came.

Receipts follow SMPP v3.4 Appendix B (the ``stat:`` of a deliver_sm): a message is delivered
when every part is, failed as soon as one part is undeliverable. Settling a message owes its
sender a status callback (``callbacks``) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from seva.messaging.callbacks import owe_callbacks
from seva.messaging.models import DELIVERED, FAILED, SENDING, SUBMITTED, UNKNOWN, SmsMessage
from seva.messaging.queue import placeholder

FINAL_RECEIPT_STATES = frozenset({"DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "REJECTD"})


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
    p = placeholder(session)
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
    owe_callbacks(session, done, now=now)
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
    owe_callbacks(session, ids, now=now)
    return ids
