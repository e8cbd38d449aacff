"""Voice notifications: a department's spoken message called out to citizens, with retries
and a report of who heard it.

The SIP endpoint's dialer (``channels.voice.asyncio.endpoint``) claims due calls here, places them
through the trunk, and reports each attempt's outcome; everything about who is called when
lives in these functions and the two tables, so a dialer that dies mid-call loses nothing: its
lease runs out and the call is tried again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from seva.numbers import msisdn
from seva.tenancy.models import Department
from seva.voice.models import (
    CALLING,
    HEARD,
    PARTLY,
    QUEUED,
    UNREACHED,
    VoiceNotice,
    VoiceNoticeCall,
)

MAX_RECIPIENTS = 10_000
MAX_TEXT = 1000
LEASE = timedelta(minutes=10)
"""Longest a dialer holds a call: synthesis, ringing (45 s), a message of up to 1,000
characters (about 80 s), the hang-up, with room to spare; an outcome reported for an attempt
that is no longer the current one is ignored, so even a late one cannot undo a later call."""
RETRY_OUTCOMES = frozenset({"busy", "no-answer", "failed", "rejected"})


class NoticeRefused(Exception):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def create_notice(
    session: Session,
    department: Department,
    *,
    to: list[str],
    text: str,
    lang: str,
    max_attempts: int,
    retry_seconds: int,
    now: datetime,
    region: str = "IN",
) -> VoiceNotice:
    text = " ".join(text.split())
    if not text:
        raise NoticeRefused("empty_text", "text is empty", "text")
    if len(text) > MAX_TEXT:
        raise NoticeRefused("text_too_long", f"text is longer than {MAX_TEXT} characters", "text")
    if not to or len(to) > MAX_RECIPIENTS:
        raise NoticeRefused("bad_recipients", f"give 1 to {MAX_RECIPIENTS} numbers", "to")
    phones: list[str] = []
    for raw in to:
        phone = msisdn(raw, region)
        if phone is None:
            raise NoticeRefused("invalid_phone", f"{raw[:20]!r} is not a mobile number", "to")
        if phone not in phones:
            phones.append(phone)
    notice = VoiceNotice(
        department_id=department.id,
        text=text,
        lang=lang,
        max_attempts=max_attempts,
        retry_seconds=retry_seconds,
    )
    session.add(notice)
    session.flush()
    session.add_all(
        VoiceNoticeCall(notice_id=notice.id, phone=phone, status=QUEUED, next_attempt_at=now)
        for phone in phones
    )
    session.flush()
    return notice


@dataclass(frozen=True, slots=True)
class DueCall:
    call_id: int
    phone: str
    text: str
    lang: str
    attempt: int
    department: str
    """Whose recordings voice the message (a recording of the whole text replaces speech)."""


def claim_due(session: Session, *, now: datetime, limit: int) -> list[DueCall]:
    """Up to ``limit`` calls due now (or whose dialer's lease ran out), now held by the
    caller of this function for ``LEASE``. Each claim is a conditional UPDATE, so two
    dialers never ring the same citizen at once."""
    candidates = session.execute(
        select(VoiceNoticeCall.id, VoiceNoticeCall.status)
        .where(
            or_(
                (VoiceNoticeCall.status == QUEUED) & (VoiceNoticeCall.next_attempt_at <= now),
                (VoiceNoticeCall.status == CALLING) & (VoiceNoticeCall.lease_until < now),
            )
        )
        .order_by(VoiceNoticeCall.next_attempt_at, VoiceNoticeCall.id)
        .limit(limit)
    ).all()
    claimed: list[DueCall] = []
    for row_id, status in candidates:
        taken = session.execute(
            update(VoiceNoticeCall)
            .where(VoiceNoticeCall.id == row_id, VoiceNoticeCall.status == status)
            .values(
                status=CALLING,
                lease_until=now + LEASE,
                attempts=VoiceNoticeCall.attempts + 1,
            )
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            continue
        call = session.get(VoiceNoticeCall, row_id)
        assert call is not None
        session.refresh(call)
        notice = session.get(VoiceNotice, call.notice_id)
        assert notice is not None
        department = session.get(Department, notice.department_id)
        code = department.code if department is not None else ""
        claimed.append(DueCall(call.id, call.phone, notice.text, notice.lang, call.attempts, code))
    session.flush()
    return claimed


def release(session: Session, call_id: int, *, attempt: int, now: datetime) -> None:
    """The dialer could not place the call (no free line or port here): it goes back to the
    queue without using up one of the citizen's attempts."""
    session.execute(
        update(VoiceNoticeCall)
        .where(
            VoiceNoticeCall.id == call_id,
            VoiceNoticeCall.status == CALLING,
            VoiceNoticeCall.attempts == attempt,
        )
        .values(
            status=QUEUED,
            attempts=VoiceNoticeCall.attempts - 1,
            lease_until=None,
            next_attempt_at=now + timedelta(seconds=30),
        )
    )
    session.flush()


def record_attempt(
    session: Session,
    call_id: int,
    *,
    outcome: str,
    now: datetime,
    attempt: int | None = None,
    heard_seconds: float | None = None,
    message_seconds: float | None = None,
) -> VoiceNoticeCall:
    """What one attempt met: ``answered`` with how much was heard, or busy/no-answer/failed.

    ``attempt`` is the claim's attempt number: the outcome of an attempt that is not the
    current one (its lease ran out and the call was claimed again) changes nothing."""
    call = session.get(VoiceNoticeCall, call_id)
    if call is None:
        raise LookupError(call_id)
    if attempt is not None and (call.status != CALLING or call.attempts != attempt):
        return call
    notice = session.get(VoiceNotice, call.notice_id)
    assert notice is not None
    call.lease_until = None
    if outcome == "answered":
        call.answered_at = call.answered_at or now
        call.heard_seconds = heard_seconds
        whole = (
            heard_seconds is not None
            and message_seconds is not None
            and heard_seconds >= message_seconds - 0.5
        )
        call.status = HEARD if whole else PARTLY
        call.last_outcome = "heard" if whole else "hung-up"
        call.ended_at = now
    else:
        call.last_outcome = outcome
        if outcome in RETRY_OUTCOMES and call.attempts < notice.max_attempts:
            call.status = QUEUED
            call.next_attempt_at = now + timedelta(seconds=notice.retry_seconds)
        else:
            call.status = UNREACHED
            call.ended_at = now
    session.flush()
    return call


def report(session: Session, notice: VoiceNotice) -> dict[str, object]:
    counts = dict(
        session.execute(
            select(VoiceNoticeCall.status, func.count())
            .where(VoiceNoticeCall.notice_id == notice.id)
            .group_by(VoiceNoticeCall.status)
        ).all()
    )
    calls = session.scalars(
        select(VoiceNoticeCall)
        .where(VoiceNoticeCall.notice_id == notice.id)
        .order_by(VoiceNoticeCall.id)
    ).all()
    return {
        "id": notice.id,
        "text": notice.text,
        "lang": notice.lang,
        "counts": {
            status: int(counts.get(status, 0))
            for status in (QUEUED, CALLING, HEARD, PARTLY, UNREACHED)
        },
        "calls": [
            {
                "to": c.phone,
                "status": c.status,
                "attempts": c.attempts,
                "last_outcome": c.last_outcome,
                "heard_seconds": c.heard_seconds,
                "answered_at": c.answered_at,
            }
            for c in calls
        ],
    }


def notice_of(session: Session, department: Department, notice_id: int) -> VoiceNotice | None:
    notice = session.get(VoiceNotice, notice_id)
    return notice if notice is not None and notice.department_id == department.id else None
