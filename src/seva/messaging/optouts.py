"""STOP and START: who asked for no more bulk SMS, from every department or from one.

An opt-out holds back ``bulk`` sends only: an OTP or a status update the citizen is waiting
for still reaches them. ``accept`` asks ``opted_out`` for each bulk send and skips (and
reports) the numbers it names.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from seva.messaging.models import SmsOptOut

ALL_DEPARTMENTS = "*"
"""The scope of a STOP that names no department: no bulk SMS from anyone."""


def opt_out(session: Session, phone: str, scope: str = ALL_DEPARTMENTS) -> bool:
    """STOP: no more bulk SMS to ``phone`` from ``scope``. True when it was not opted out yet."""
    if session.get(SmsOptOut, (phone, scope)) is not None:
        return False
    session.add(SmsOptOut(phone=phone, scope=scope))
    session.flush()
    return True


def opt_in(session: Session, phone: str, scope: str | None = None) -> int:
    """START: lift the opt-out for ``scope`` (every scope when None). Returns rows removed."""
    rows = session.scalars(select(SmsOptOut).where(SmsOptOut.phone == phone)).all()
    removed = 0
    for row in rows:
        if scope is None or row.scope == scope:
            session.delete(row)
            removed += 1
    session.flush()
    return removed


def opted_out(session: Session, phones: Sequence[str], department_code: str | None) -> set[str]:
    scopes = [ALL_DEPARTMENTS] + ([department_code] if department_code else [])
    found: set[str] = set()
    if len(phones) <= 500:
        found.update(
            session.scalars(
                select(SmsOptOut.phone).where(
                    SmsOptOut.scope.in_(scopes), SmsOptOut.phone.in_(set(phones))
                )
            )
        )
        return found
    # A campaign: read the (much shorter) opt-out list once instead of probing every number.
    wanted = set(phones)
    for phone in session.scalars(select(SmsOptOut.phone).where(SmsOptOut.scope.in_(scopes))):
        if phone in wanted:
            found.add(phone)
    return found
