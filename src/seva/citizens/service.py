"""Registry functions: find-or-create by phone, language, profile fields with consent, OTP."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from seva.citizens.models import Citizen, Consent, OtpChallenge, ProfileField
from seva.db.base import utcnow
from seva.flows.schema import LANGUAGES

OTP_MAX_ATTEMPTS = 5


def get_or_create(session: Session, phone: str, *, channel: str | None = None) -> Citizen:
    citizen = session.scalar(select(Citizen).where(Citizen.phone == phone))
    if citizen is None:
        citizen = Citizen(phone=phone, preferred_channel=channel)
        session.add(citizen)
        session.flush()
    citizen.last_seen_at = utcnow()
    if channel:
        citizen.preferred_channel = channel
    return citizen


def find(session: Session, phone: str) -> Citizen | None:
    return session.scalar(select(Citizen).where(Citizen.phone == phone))


def by_id(session: Session, citizen_id: int | None) -> Citizen | None:
    return session.get(Citizen, citizen_id) if citizen_id is not None else None


def set_language(session: Session, citizen: Citizen, lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    citizen.language = lang


def consented_profile(session: Session, citizen: Citizen, department_id: int) -> dict[str, str]:
    """The profile fields this department may use: stored once, consent per department."""
    rows = session.execute(
        select(ProfileField.name, ProfileField.value)
        .join(
            Consent,
            (Consent.citizen_id == ProfileField.citizen_id) & (Consent.field == ProfileField.name),
        )
        .where(ProfileField.citizen_id == citizen.id, Consent.department_id == department_id)
    )
    return {str(name): str(value) for name, value in rows}


def has_consented(session: Session, citizen: Citizen, department_id: int) -> bool:
    """Whether the citizen let this department use any profile field (so it knows them)."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    Consent.citizen_id == citizen.id, Consent.department_id == department_id
                )
            )
        )
    )


def consents_by_department(session: Session, citizen: Citizen) -> dict[int, list[str]]:
    """Department id → the profile fields the citizen let it use, each list sorted."""
    found: dict[int, list[str]] = {}
    for department_id, field in session.execute(
        select(Consent.department_id, Consent.field)
        .where(Consent.citizen_id == citizen.id)
        .order_by(Consent.field)
    ):
        found.setdefault(int(department_id), []).append(str(field))
    return found


def remember(
    session: Session, citizen: Citizen, department_id: int, field: str, value: str, channel: str
) -> None:
    """Store a profile answer and record that the department it was given to may use it."""
    row = session.scalar(
        select(ProfileField).where(
            ProfileField.citizen_id == citizen.id, ProfileField.name == field
        )
    )
    if row is None:
        session.add(
            ProfileField(
                citizen_id=citizen.id, name=field, value=value, source_department_id=department_id
            )
        )
    else:
        row.value = value
        row.updated_at = utcnow()
    consent = session.scalar(
        select(Consent).where(
            Consent.citizen_id == citizen.id,
            Consent.department_id == department_id,
            Consent.field == field,
        )
    )
    if consent is None:
        session.add(
            Consent(
                citizen_id=citizen.id, department_id=department_id, field=field, channel=channel
            )
        )
    session.flush()


def profile_of(session: Session, citizen: Citizen) -> dict[str, str]:
    rows = session.execute(
        select(ProfileField.name, ProfileField.value).where(ProfileField.citizen_id == citizen.id)
    )
    return {str(name): str(value) for name, value in rows}


def _hash(code: str, phone: str, secret: str) -> str:
    return hmac.new(secret.encode(), f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def issue_otp(
    session: Session,
    phone: str,
    purpose: str,
    *,
    secret: str,
    ttl: timedelta,
    now: datetime | None = None,
) -> str:
    """A fresh 6-digit code; earlier open codes for the same purpose stop working."""
    now = now or utcnow()
    for old in session.scalars(
        select(OtpChallenge).where(
            OtpChallenge.phone == phone,
            OtpChallenge.purpose == purpose,
            OtpChallenge.used_at.is_(None),
        )
    ):
        old.used_at = now
    code = f"{secrets.randbelow(1_000_000):06d}"
    session.add(
        OtpChallenge(
            phone=phone, purpose=purpose, code_hash=_hash(code, phone, secret), expires_at=now + ttl
        )
    )
    session.flush()
    return code


def verify_otp(
    session: Session,
    phone: str,
    purpose: str,
    code: str,
    *,
    secret: str,
    now: datetime | None = None,
) -> bool:
    """True once for the right code within its lifetime; a few wrong guesses burn the code."""
    now = now or utcnow()
    challenge = session.scalar(
        select(OtpChallenge)
        .where(
            OtpChallenge.phone == phone,
            OtpChallenge.purpose == purpose,
            OtpChallenge.used_at.is_(None),
        )
        .order_by(OtpChallenge.id.desc())
        .limit(1)
    )
    if challenge is None or challenge.expires_at <= now:
        return False
    challenge.attempts += 1
    if not hmac.compare_digest(challenge.code_hash, _hash(code.strip(), phone, secret)):
        if challenge.attempts >= OTP_MAX_ATTEMPTS:
            challenge.used_at = now
        return False
    challenge.used_at = now
    return True


def recent_otp_times(
    session: Session, phone: str, *, since: datetime, limit: int
) -> list[datetime]:
    """When the newest codes (at most ``limit``) after ``since`` were issued, newest first:
    what an hourly cap on codes to one phone counts."""
    return list(
        session.scalars(
            select(OtpChallenge.created_at)
            .where(OtpChallenge.phone == phone, OtpChallenge.created_at > since)
            .order_by(OtpChallenge.created_at.desc())
            .limit(limit)
        )
    )


def last_otp_at(session: Session, phone: str) -> datetime | None:
    """When the newest code for ``phone`` was issued (any purpose): pages refuse to send
    another within a few seconds, so nobody can flood a phone with SMS."""
    return session.scalar(
        select(OtpChallenge.created_at)
        .where(OtpChallenge.phone == phone)
        .order_by(OtpChallenge.id.desc())
        .limit(1)
    )
