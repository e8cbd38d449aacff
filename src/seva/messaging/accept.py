"""Accepting a send into the queue: validation, DLT checks, idempotency, the daily quota and
the insert, all in the caller's transaction.

A message is committed together with the change that caused it (an OTP with its code, a
status SMS with the new status), and the API acknowledges only after the commit, so an
accepted send survives a crash. ``send_many`` is the group commit's core: the department API
(``messaging.intake``) hands it the requests that arrived together and each gets its own
outcome, a refusal writing nothing and costing the others nothing.

The inserts are Core statements run with executemany: a bulk send inserts 100,000 rows in
one request, where ORM unit-of-work bookkeeping would cost more than the database.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from seva.db.session import read_through
from seva.messaging.authorise import authorise, registrations_of
from seva.messaging.models import (
    KINDS,
    PRIORITY,
    QUEUED,
    SmsAccount,
    SmsBatch,
    SmsDailyUsage,
    SmsMessage,
)
from seva.messaging.optouts import opted_out
from seva.messaging.sends import (
    MAX_RECIPIENTS,
    MAX_SCHEDULE_AHEAD,
    MAX_TEXT,
    RETURN_IDS_UP_TO,
    Accepted,
    Cost,
    Preview,
    Send,
    SendRefused,
)
from seva.sms_text import segment_count

INSERT_CHUNK = 5000


def _day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def _charge_statement(dialect_insert: Any) -> Any:
    """Add ``added`` messages to a department's ``on_day`` and read back the day's total: one
    upsert, in the dialect's INSERT … ON CONFLICT (SQLite and PostgreSQL both have it)."""
    usage = SmsDailyUsage.__table__
    stmt = dialect_insert(usage).values(
        department_id=bindparam("department"), day=bindparam("on_day"), count=bindparam("added")
    )
    return stmt.on_conflict_do_update(
        index_elements=["department_id", "day"], set_={"count": usage.c.count + stmt.excluded.count}
    ).returning(usage.c.count)


# Built once: a group's quota charge is on every send's path, and building the statements
# (and SQLAlchemy's cache key for them) cost more than running them.
_CHARGE: Final = {
    "sqlite": _charge_statement(sqlite.insert),
    "postgresql": _charge_statement(postgresql.insert),
}
_QUOTAS: Final = select(SmsAccount.department_id, SmsAccount.daily_quota).where(
    SmsAccount.department_id.in_(bindparam("departments", expanding=True))
)
_GIVE_BACK: Final = (
    update(SmsDailyUsage)
    .where(
        SmsDailyUsage.department_id == bindparam("department"),
        SmsDailyUsage.day == bindparam("on_day"),
    )
    .values(count=SmsDailyUsage.count - bindparam("returned"))
)


@dataclass(slots=True)
class _Pending:
    """A request that passed validation, on its way into the group's insert statements."""

    index: int
    request: Send
    recipients: list[str]
    texts: list[str] | None
    template_id: str | None
    skipped: list[str]
    due: float
    cost: Cost


def send(session: Session, request: Send, *, now: float | None = None) -> Accepted:
    """Queue ``request`` in the caller's transaction; refuse it whole or accept it whole."""
    outcome = send_many(session, [request], now=now)[0]
    if isinstance(outcome, SendRefused):
        raise outcome
    return outcome


def send_many(
    session: Session, requests: Sequence[Send], *, now: float | None = None
) -> list[Accepted | SendRefused]:
    """Queue several independent requests in the caller's transaction, one outcome each.

    This is the queue's group commit: the department API gathers the single-message requests
    that arrive while the previous group is being written and queues them here together, so
    a group of a hundred costs about the statements of one send (one read of the DLT
    registrations, one quota update per department, one insert of batches and one of
    messages) and one commit. A refused request writes nothing and leaves the others alone.
    """
    now = time.time() if now is None else now
    outcomes: list[Accepted | SendRefused | None] = [None] * len(requests)
    for i, request in enumerate(requests):
        refusal = _invalid(request, now)
        if refusal is not None:
            outcomes[i] = refusal
    _replays(session, requests, outcomes)

    live = [i for i, outcome in enumerate(outcomes) if outcome is None]
    registrations = registrations_of(session, {requests[i].department_id for i in live})
    pending: list[_Pending] = []
    for i in live:
        asked = requests[i]
        texts = asked.texts if asked.texts is not None else (asked.text,)
        try:
            request = authorise(asked, texts, registrations)
        except SendRefused as exc:
            outcomes[i] = exc
            continue
        recipients, per_text, skipped = _without_opted_out(session, request)
        cost = _cost(texts, recipients, per_text)
        pending.append(
            _Pending(
                index=i,
                request=request,
                recipients=recipients,
                texts=per_text,
                template_id=request.template_id,
                skipped=skipped,
                due=max(now, request.due_at) if request.due_at is not None else now,
                cost=cost,
            )
        )
    for index, refusal in _charge_quotas(session, pending, now).items():
        outcomes[index] = refusal
    pending = [p for p in pending if outcomes[p.index] is None]
    if pending:
        for p, accepted in zip(pending, _insert(session, pending), strict=True):
            outcomes[p.index] = accepted
    return [outcome for outcome in outcomes if outcome is not None]


def preview(session: Session, request: Send, *, now: float | None = None) -> Preview:
    """What ``send`` would queue for ``request`` and what it would cost, writing nothing.

    The same checks as a send (the request's limits, the DLT registrations, STOP for bulk)
    but the daily quota and the idempotency key, which only a send spends; a refusal raises
    ``SendRefused`` as the send would."""
    refusal = _invalid(request, time.time() if now is None else now)
    if refusal is not None:
        raise refusal
    texts = request.texts if request.texts is not None else (request.text,)
    authorised = authorise(request, texts, registrations_of(session, {request.department_id}))
    recipients, per_text, skipped = _without_opted_out(session, authorised)
    return Preview(
        recipients=len(recipients),
        opted_out=skipped,
        sender=authorised.sender or "",
        template_id=authorised.template_id,
        cost=_cost(texts, recipients, per_text, outside=True),
    )


def _without_opted_out(
    session: Session, request: Send
) -> tuple[list[str], list[str] | None, list[str]]:
    """The recipients (and their texts) a send goes to, and the numbers left out because
    they sent STOP: only a bulk send leaves anyone out."""
    recipients = list(request.to)
    per_text = list(request.texts) if request.texts is not None else None
    if request.kind != "bulk":
        return recipients, per_text, []
    blocked = opted_out(session, recipients, request.department_code)
    if not blocked:
        return recipients, per_text, []
    keep = [k for k, p in enumerate(recipients) if p not in blocked]
    skipped = sorted({p for p in recipients if p in blocked})
    kept_texts = [per_text[k] for k in keep] if per_text is not None else None
    return [recipients[k] for k in keep], kept_texts, skipped


def _cost(
    texts: Sequence[str],
    recipients: list[str],
    per_text: list[str] | None,
    *,
    outside: bool = False,
) -> Cost:
    """The cost of a send as its sender sees it: encoding, length and parts of the texts
    asked for, the parts billed for the messages queued (opted-out numbers cost nothing);
    ``outside``: with the characters that make a text UCS-2 (``Cost.of``)."""
    if per_text is None:
        return Cost.of(texts, len(recipients), outside=outside)
    asked = Cost.of(texts, outside=outside)
    if len(per_text) == len(texts):
        return asked
    return replace(asked, total_parts=sum(segment_count(t) for t in per_text))


def _invalid(request: Send, now: float) -> SendRefused | None:
    if request.kind not in KINDS:
        return SendRefused("invalid_kind", f"kind must be one of {', '.join(KINDS)}", field="kind")
    if not request.to:
        return SendRefused("no_recipients", "give at least one recipient", field="to")
    if len(request.to) > MAX_RECIPIENTS:
        return SendRefused(
            "too_many_recipients", f"at most {MAX_RECIPIENTS} recipients per request", field="to"
        )
    if request.texts is not None and len(request.texts) != len(request.to):
        return SendRefused("texts_mismatch", "one text per recipient", field="texts")
    for text in request.texts if request.texts is not None else (request.text,):
        if not text.strip():
            return SendRefused("empty_text", "the text is empty", field="text")
        if len(text) > MAX_TEXT:
            return SendRefused(
                "text_too_long", f"the text is longer than {MAX_TEXT} characters", field="text"
            )
    if request.due_at is not None and request.due_at > now + MAX_SCHEDULE_AHEAD:
        # Also keeps the time within what a datetime holds (9999-12-31T23:59-14:00 is not).
        days = int(MAX_SCHEDULE_AHEAD // 86400)
        return SendRefused(
            "schedule_too_far", f"schedule at most {days} days ahead", field="scheduled_at"
        )
    return None


def _replays(
    session: Session, requests: Sequence[Send], outcomes: list[Accepted | SendRefused | None]
) -> None:
    """Answer requests whose idempotency key names an earlier batch (or a twin in this group).

    A key seen earlier replays that batch when the message is the same and is refused when
    it is not; two requests with one key in the same group are concurrent twins: the second
    gets ``idempotency_conflict`` and may retry, as it would against another process.
    """
    keyed: dict[tuple[int | None, str | None], int] = {
        (r.department_id, r.idempotency_key): i
        for i, r in reversed(list(enumerate(requests)))
        if r.idempotency_key and r.department_id is not None and outcomes[i] is None
    }
    if not keyed:
        return
    for i, r in enumerate(requests):
        pair = (r.department_id, r.idempotency_key)
        if r.idempotency_key and outcomes[i] is None and keyed.get(pair, i) != i:
            outcomes[i] = SendRefused(
                "idempotency_conflict",
                "another request with this Idempotency-Key is being processed; retry in a moment",
                field="Idempotency-Key",
            )
    earlier = session.scalars(
        select(SmsBatch).where(
            SmsBatch.department_id.in_({d for d, _ in keyed}),
            SmsBatch.idempotency_key.in_({k for _, k in keyed}),
        )
    )
    for batch in earlier:
        twin = keyed.get((batch.department_id, batch.idempotency_key))
        if twin is None:
            continue
        r = requests[twin]
        # No sender asked for: the batch went out from the default of the time.
        asked = batch.sender if r.sender is None else r.sender.strip().upper()
        if (batch.text, batch.kind, batch.sender) != (r.text, r.kind, asked):
            outcomes[twin] = SendRefused(
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different message "
                f"(batch {batch.id}); use a new key for a new message",
                field="Idempotency-Key",
            )
            continue
        messages = _messages_of(session, batch.id) if batch.total <= RETURN_IDS_UP_TO else []
        cost = Cost.of([batch.text])
        outcomes[twin] = Accepted(
            batch_id=batch.id,
            accepted=batch.total,
            parts=batch.parts,
            cost=replace(cost, parts=batch.parts, total_parts=batch.total * batch.parts),
            message_ids=[m[0] for m in messages],
            due_at=batch.due_at,
            replayed=True,
            replayed_messages=messages,
        )


def _charge_quotas(session: Session, pending: list[_Pending], now: float) -> dict[int, SendRefused]:
    """Count the group against each department's daily quota; the requests it refuses, by index.

    One upsert per department adds the whole group's count and reads back the day's total,
    which also serialises concurrent writers on PostgreSQL (the row is locked until commit).
    Over the quota, requests are refused from the group's end until the excess is covered
    and the count is lowered by what they asked: a request is refused whole or not at all.
    """
    by_department: dict[int, list[_Pending]] = {}
    for p in pending:
        if p.request.department_id is not None and p.recipients:
            by_department.setdefault(p.request.department_id, []).append(p)
    if not by_department:
        return {}
    connection = read_through(session)
    rows = connection.execute(_QUOTAS, {"departments": list(by_department)})
    quotas: dict[int, int] = {row[0]: row[1] for row in rows}
    day = _day(now)
    charge = _CHARGE.get(connection.dialect.name, _CHARGE["sqlite"])
    refused: dict[int, SendRefused] = {}
    for department_id, group in by_department.items():
        count = sum(len(p.recipients) for p in group)
        given = {"department": department_id, "on_day": day, "added": count}
        used = int(connection.execute(charge, given).scalar_one())
        quota = quotas.get(department_id)
        if quota is None or used <= quota:
            continue
        excess, returned = used - quota, 0
        for p in reversed(group):
            if returned >= excess:
                break
            asked = len(p.recipients)
            returned += asked
            refused[p.index] = SendRefused(
                "daily_limit",
                f"daily limit of {quota} messages reached ({used - count} sent today, "
                f"{asked} more asked)",
            )
        connection.execute(
            _GIVE_BACK, {"department": department_id, "on_day": day, "returned": returned}
        )
    return refused


def _insert(session: Session, pending: list[_Pending]) -> list[Accepted]:
    """Insert the group's batches and messages, a statement each for the whole group.

    Small requests get their message ids back through INSERT … RETURNING (in parameter
    order); campaigns are inserted in chunks without it, and are followed by batch id.
    Through Core on the session's connection: the ORM's bulk insert went over every row's
    dictionary again in Python, for rows no object is made of.
    """
    connection = session.connection()
    batch_ids = [
        int(row[0])
        for row in connection.execute(
            insert(SmsBatch).returning(SmsBatch.id, sort_by_parameter_order=True),
            [
                {
                    "department_id": p.request.department_id,
                    "sender": p.request.sender,
                    "text": p.request.text,
                    "kind": p.request.kind,
                    "template_id": p.template_id,
                    "source": p.request.source,
                    "total": len(p.recipients),
                    "parts": p.cost.parts,
                    "due_at": p.due,
                    "callback_url": p.request.callback_url,
                    "client_ref": p.request.client_ref,
                    "idempotency_key": p.request.idempotency_key,
                }
                for p in pending
            ],
        )
    ]

    def rows(p: _Pending, batch_id: int) -> list[dict[str, Any]]:
        priority = PRIORITY[p.request.kind]
        return [
            {
                "batch_id": batch_id,
                "to_phone": phone,
                "text": p.texts[k] if p.texts is not None else None,
                "priority": priority,
                "status": QUEUED,
                "due_at": p.due,
                "attempts": 0,
                "parts_done": 0,
            }
            for k, phone in enumerate(p.recipients)
        ]

    small: list[dict[str, Any]] = []
    for p, batch_id in zip(pending, batch_ids, strict=True):
        if len(p.recipients) <= RETURN_IDS_UP_TO:
            small.extend(rows(p, batch_id))
        else:
            every = rows(p, batch_id)
            for start in range(0, len(every), INSERT_CHUNK):
                connection.execute(insert(SmsMessage), every[start : start + INSERT_CHUNK])
    ids = iter(
        [
            int(row[0])
            for row in connection.execute(
                insert(SmsMessage).returning(SmsMessage.id, sort_by_parameter_order=True), small
            )
        ]
        if small
        else []
    )
    return [
        Accepted(
            batch_id=batch_id,
            accepted=len(p.recipients),
            parts=p.cost.parts,
            cost=p.cost,
            message_ids=[next(ids) for _ in p.recipients]
            if len(p.recipients) <= RETURN_IDS_UP_TO
            else [],
            opted_out=p.skipped,
            due_at=p.due,
        )
        for p, batch_id in zip(pending, batch_ids, strict=True)
    ]


def queue_sms(
    session: Session,
    *,
    to_phone: str,
    text: str,
    kind: str,
    sender: str | None = None,
    department_id: int | None = None,
) -> int:
    """One message from Seva itself (an OTP, a status notification, an SMS reply).

    ``sender`` None: the gateway's sender, or for a department's message its default
    (``authorise.Registrations.default_sender``)."""
    accepted = send(
        session,
        Send(
            to=[to_phone],
            text=text,
            kind=kind,
            sender=sender,
            department_id=department_id,
            source="reply" if kind == "reply" else "system",
        ),
    )
    return accepted.message_ids[0]


def _messages_of(session: Session, batch_id: int) -> list[tuple[int, str, str]]:
    return [
        (int(id_), phone, status)
        for id_, phone, status in session.execute(
            select(SmsMessage.id, SmsMessage.to_phone, SmsMessage.status)
            .where(SmsMessage.batch_id == batch_id)
            .order_by(SmsMessage.id)
        )
    ]


def sent_today(session: Session, department_id: int, *, now: float | None = None) -> int:
    """Messages charged to today's quota (the UTC day the quota counts in)."""
    day = _day(time.time() if now is None else now)
    used = session.scalar(
        select(SmsDailyUsage.count).where(
            SmsDailyUsage.department_id == department_id, SmsDailyUsage.day == day
        )
    )
    return int(used or 0)
