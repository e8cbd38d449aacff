"""A department's SMS registrations: its account (quota, rate, callback, MSDG login) and the
TRAI DLT headers and content templates it registered.

Writing them is here; checking a send against them is ``authorise``'s. A header or template
is one department's: registering another's is refused with ``SendRefused``, the refusal the
API and console show as they show a refused send.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from seva.messaging import dlt
from seva.messaging.models import DltHeader, DltTemplate, SmsAccount
from seva.messaging.sends import SendRefused
from seva.tenancy.models import Department


def account(session: Session, department_id: int) -> SmsAccount | None:
    return session.get(SmsAccount, department_id)


def ensure_account(session: Session, department_id: int) -> SmsAccount:
    found = session.get(SmsAccount, department_id)
    if found is None:
        found = SmsAccount(department_id=department_id)
        session.add(found)
        session.flush()
    return found


def register_header(session: Session, department_id: int, header: str, category: str) -> DltHeader:
    """Record a DLT header for the department; ``header_taken`` if it is someone else's.

    A header is one department's: it is the name citizens read as the sender, so a second
    department registering it could send in the first one's name. Another department's
    onboarding sender ID is refused too, for the same reason, though it is not a DLT header
    yet. The unique index on ``dlt_headers.header`` settles two registrations at once.
    """
    normalised = dlt.validate_header(header, category)
    existing = session.scalar(select(DltHeader).where(DltHeader.header == normalised))
    if existing is not None:
        if existing.department_id != department_id:
            raise SendRefused(
                "header_taken", f"header {normalised} belongs to another department", field="header"
            )
        existing.category = category
        return existing
    named = session.scalar(
        select(Department.code).where(
            func.upper(Department.sender_id) == normalised, Department.id != department_id
        )
    )
    if named is not None:
        raise SendRefused(
            "header_taken",
            f"header {normalised} is the sender ID of another department",
            field="header",
        )
    row = DltHeader(department_id=department_id, header=normalised, category=category)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # registered by another department a moment ago; caller rolls back
        raise SendRefused(
            "header_taken", f"header {normalised} belongs to another department", field="header"
        ) from None
    return row


def register_template(
    session: Session,
    department_id: int,
    *,
    template_id: str,
    header: str,
    body: str,
    category: str,
    name: str = "",
) -> DltTemplate:
    header_row = session.scalar(
        select(DltHeader).where(
            DltHeader.header == header.strip().upper(), DltHeader.department_id == department_id
        )
    )
    if header_row is None:
        raise SendRefused("header_unknown", f"register header {header} before its templates")
    template_id = dlt.validate_template_id(template_id)
    dlt.compile_template(body, template_id=template_id)  # refuses what DLT would refuse
    existing = session.scalar(select(DltTemplate).where(DltTemplate.template_id == template_id))
    if existing is not None and existing.department_id != department_id:
        raise SendRefused("template_taken", f"template {template_id} belongs to another department")
    row = existing or DltTemplate(department_id=department_id, template_id=template_id)
    row.header = header_row.header
    row.body = body
    row.category = category
    row.name = name
    row.active = True
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # registered by another department a moment ago; caller rolls back
        raise SendRefused(
            "template_taken", f"template {template_id} belongs to another department"
        ) from None
    return row


def department_headers(session: Session, department_id: int) -> list[DltHeader]:
    return list(
        session.scalars(
            select(DltHeader)
            .where(DltHeader.department_id == department_id)
            .order_by(DltHeader.header)
        )
    )


def department_templates(session: Session, department_id: int) -> list[DltTemplate]:
    return list(
        session.scalars(
            select(DltTemplate)
            .where(DltTemplate.department_id == department_id)
            .order_by(DltTemplate.header, DltTemplate.id)
        )
    )


def stored_password_hash(password_sha1: str) -> str:
    """What ``SmsAccount.msdg_password_hash`` holds for the SHA-1 hex a client sends.

    MSDG clients send SHA-1(password), which is then as good as the password itself; keeping
    only a hash of it means a copy of the table lets no one call the MSDG endpoints.
    """
    return hashlib.sha256(password_sha1.encode("ascii")).hexdigest()
