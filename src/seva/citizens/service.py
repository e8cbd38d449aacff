"""Registry functions: find-or-create by phone, language, profile fields with consent, and
one-time codes with the limits on sending them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import structlog
from sqlalchemy import bindparam, delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from seva.citizens.models import (
    Citizen,
    CitizenToken,
    Consent,
    OtpChallenge,
    OtpSendClaim,
    ProfileField,
)
from seva.db.base import utcnow
from seva.flows.schema import LANGUAGES
from seva.ratelimit import FailedLogins, Limiter, Rate, wait_seconds
from seva.settings import Settings

log = structlog.get_logger("seva.citizens")

OTP_MAX_ATTEMPTS = 5


_BY_PHONE = select(Citizen).where(Citizen.phone == bindparam("phone"))
_LANGUAGE = select(Citizen.language).where(Citizen.phone == bindparam("phone"))
_PROFILE = (
    select(ProfileField.name, ProfileField.value)
    .join(
        Consent,
        (Consent.citizen_id == ProfileField.citizen_id) & (Consent.field == ProfileField.name),
    )
    .where(
        ProfileField.citizen_id == bindparam("citizen"),
        Consent.department_id == bindparam("department"),
    )
)
"""Statements every citizen's conversation runs, built once (building one costs more than
running it on SQLite)."""


def get_or_create(session: Session, phone: str, *, channel: str | None = None) -> Citizen:
    citizen = session.scalar(_BY_PHONE, {"phone": phone})
    now = utcnow()
    if citizen is None:
        citizen = Citizen(phone=phone, preferred_channel=channel, last_seen_at=now)
        session.add(citizen)
        session.flush()
        return citizen
    citizen.last_seen_at = now
    if channel:
        citizen.preferred_channel = channel
    return citizen


def _seen_statement(dialect: str) -> ReturningInsert[int, datetime]:
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    row = insert(Citizen).values(
        phone=bindparam("phone"),
        preferred_channel=bindparam("channel"),
        created_at=bindparam("now"),
        last_seen_at=bindparam("now"),
    )
    return row.on_conflict_do_update(
        index_elements=[Citizen.phone],
        set_={
            "last_seen_at": row.excluded.last_seen_at,
            "preferred_channel": func.coalesce(
                row.excluded.preferred_channel, Citizen.preferred_channel
            ),
        },
    ).returning(Citizen.id, Citizen.created_at)


_SEEN = {dialect: _seen_statement(dialect) for dialect in ("sqlite", "postgresql")}
_SEEN_AGAIN = (
    update(Citizen)
    .where(Citizen.phone == bindparam("seen_phone"))
    .values(
        last_seen_at=bindparam("seen_at"),
        preferred_channel=func.coalesce(bindparam("seen_on"), Citizen.preferred_channel),
    )
    .returning(Citizen.id)
)


@dataclass(frozen=True, slots=True)
class Seen:
    id: int
    new: bool
    """Registered just now: nothing is known of them yet (no profile, no consent)."""


def seen(session: Session, phone: str, *, channel: str | None = None) -> Seen:
    """The citizen with this phone, who was seen now (on ``channel``): registered if new.
    What ``get_or_create`` does, without loading the row, for a conversation that starts a
    service (every SMS keyword does), which needs the id only: one INSERT that a known phone
    (or a concurrent first message from it on another channel) turns into an update. On
    PostgreSQL an UPDATE is tried first, because there every INSERT … ON CONFLICT draws a
    new id from the sequence, even one that updates, and a known citizen would use one up
    per message; SQLite takes no id for it."""
    now = utcnow()
    connection = session.connection()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        again = {"seen_phone": phone, "seen_on": channel, "seen_at": now}
        known = connection.execute(_SEEN_AGAIN, again).scalar_one_or_none()
        if known is not None:
            return Seen(known, new=False)
    given = {"phone": phone, "channel": channel, "now": now}
    citizen_id, created_at = connection.execute(_SEEN[dialect], given).one()
    # A row registered before keeps its time of registration; the new row has this one.
    return Seen(citizen_id, created_at == now)


def find(session: Session, phone: str) -> Citizen | None:
    return session.scalar(_BY_PHONE, {"phone": phone})


def language_of(session: Session, phone: str) -> str | None:
    """The language the citizen with this phone chose, if any (asked as a conversation
    opens: the language alone, not the citizen's row)."""
    language: str | None = (
        session.connection().execute(_LANGUAGE, {"phone": phone}).scalar_one_or_none()
    )
    return language


def by_id(session: Session, citizen_id: int | None) -> Citizen | None:
    return session.get(Citizen, citizen_id) if citizen_id is not None else None


def set_language(session: Session, citizen: Citizen, lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    citizen.language = lang


def consented_profile(session: Session, citizen_id: int, department_id: int) -> dict[str, str]:
    """The profile fields this department may use: stored once, consent per department."""
    rows = session.connection().execute(
        _PROFILE, {"citizen": citizen_id, "department": department_id}
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


OTP_GAP = timedelta(seconds=30)
"""No second code to one phone within this time, whichever channel asks."""
OTP_PER_HOUR = 10
"""Codes one phone may be sent in any hour."""
OTP_CLIENT_WINDOW = 15 * 60
OTP_PREFIX_WINDOW = 60 * 60
OTP_GATEWAY_WINDOW = 24 * 60 * 60


@dataclass(frozen=True, slots=True)
class OtpRefused:
    """Why no code was sent, and how long until one may be."""

    reason: Literal["phone", "phone_hour", "client", "prefix", "gateway"]
    """``phone``: a code went to this phone moments ago; ``phone_hour``: it has had its
    codes for the hour; ``client``: this client asked for too many codes, to any numbers;
    ``prefix``: too many went to numbers sharing this one's leading digits; ``gateway``: the
    gateway sent its daily ceiling."""
    wait_seconds: int


def phone_otp_refusal(session: Session, phone: str, now: datetime) -> OtpRefused | None:
    """Whether the per-phone rule (``OTP_GAP``, ``OTP_PER_HOUR``) refuses a code now; a read
    only, so a quick second click is answered without counting against any other limit.
    ``issue_otp`` applies the rule again atomically."""
    last = session.scalar(select(OtpSendClaim.last_sent_at).where(OtpSendClaim.phone == phone))
    if last is not None and now - last < OTP_GAP:
        return OtpRefused("phone", _seconds(last + OTP_GAP - now))
    recent = recent_otp_times(session, phone, since=now - timedelta(hours=1), limit=OTP_PER_HOUR)
    if len(recent) >= OTP_PER_HOUR:
        return OtpRefused("phone_hour", _seconds(recent[-1] + timedelta(hours=1) - now))
    return None


def _seconds(delta: timedelta) -> int:
    return wait_seconds(delta.total_seconds())


def _claim_send(session: Session, phone: str, now: datetime) -> bool:
    """Take the right to send ``phone`` a code: one conditional upsert, which only one of
    any number of concurrent requests wins. PostgreSQL makes the others wait on the row and
    re-check the condition once the winner commits; SQLite has one writer at a time."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    row = insert(OtpSendClaim).values(phone=phone, last_sent_at=now)
    claim = row.on_conflict_do_update(
        index_elements=[OtpSendClaim.phone],
        set_={"last_sent_at": row.excluded.last_sent_at},
        where=OtpSendClaim.last_sent_at <= now - OTP_GAP,
    ).returning(OtpSendClaim.phone)
    return session.execute(claim).first() is not None


def issue_otp(
    session: Session,
    phone: str,
    purpose: str,
    *,
    secret: str,
    ttl: timedelta,
    now: datetime | None = None,
) -> str | OtpRefused:
    """A fresh 6-digit code, unless the per-phone rule refuses it; earlier open codes for the
    same purpose stop working. Safe under concurrency: of many requests at once for one
    phone, one gets a code and the others are refused."""
    now = now or utcnow()
    refused = phone_otp_refusal(session, phone, now)
    if refused is not None:
        return refused
    if not _claim_send(session, phone, now):
        return phone_otp_refusal(session, phone, now) or OtpRefused("phone", 1)
    session.execute(
        update(OtpChallenge)
        .where(
            OtpChallenge.phone == phone,
            OtpChallenge.purpose == purpose,
            OtpChallenge.used_at.is_(None),
        )
        .values(used_at=now)
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    session.add(
        OtpChallenge(
            phone=phone,
            purpose=purpose,
            code_hash=_hash(code, phone, secret),
            expires_at=now + ttl,
            created_at=now,
        )
    )
    session.flush()
    return code


def request_otp(
    session: Session,
    limiter: Limiter,
    settings: Settings,
    phone: str,
    purpose: str,
    *,
    client: str,
    now: datetime | None = None,
) -> str | OtpRefused:
    """A code for ``phone`` asked for by ``client`` (an address), within every limit: the
    per-phone rule, then codes per client, per number range (SMS-pumping fraud asks for codes
    to many numbers of one premium range) and for the whole gateway a day.

    Each code costs an SMS, so these endpoints are what an abuser would aim at. The range is
    the first ``SEVA_OTP_PREFIX_DIGITS`` digits of the E.164 number.
    """
    now = now or utcnow()
    refused = phone_otp_refusal(session, phone, now)
    if refused is None:
        refused = _over_limits(limiter, settings, phone, client, now.timestamp())
    if refused is None:
        issued = issue_otp(
            session,
            phone,
            purpose,
            secret=settings.secret_key.get_secret_value(),
            ttl=timedelta(seconds=settings.otp_ttl_seconds),
            now=now,
        )
        if isinstance(issued, str):
            return issued
        refused = issued
    log.warning(
        "otp.refused",
        reason=refused.reason,
        client=client,
        prefix=number_range(phone, settings.otp_prefix_digits),
    )
    return refused


def number_range(phone: str, digits: int) -> str:
    """The leading ``digits`` digits of an E.164 number (country code included)."""
    return phone.lstrip("+")[:digits]


def _over_limits(
    limiter: Limiter, settings: Settings, phone: str, client: str, now: float
) -> OtpRefused | None:
    checks: list[tuple[Literal["client", "prefix", "gateway"], str, Rate]] = [
        ("client", f"otp:client:{client}", Rate(settings.otp_client_limit, OTP_CLIENT_WINDOW)),
        (
            "prefix",
            f"otp:prefix:{number_range(phone, settings.otp_prefix_digits)}",
            Rate(settings.otp_prefix_limit, OTP_PREFIX_WINDOW),
        ),
        ("gateway", "otp:gateway", Rate(settings.otp_daily_limit, OTP_GATEWAY_WINDOW)),
    ]
    for reason, key, rate in checks:
        wait = limiter.hit(key, rate, now=now)
        if wait:
            return OtpRefused(reason, wait_seconds(wait))
    return None


def verify_otp(
    session: Session,
    phone: str,
    purpose: str,
    code: str,
    *,
    secret: str,
    now: datetime | None = None,
) -> bool:
    """True once for the right code within its lifetime; a few wrong guesses burn the code.

    Every step that counts is one conditional write, so requests arriving together cannot
    share a read: each guess takes an attempt with ``attempts = attempts + 1 … WHERE
    attempts < max`` before its code is compared (read-add-write let twelve parallel guesses
    record one attempt), and the right code is spent with ``… WHERE used_at IS NULL``, so
    two requests with it cannot both log in.
    """
    now = now or utcnow()
    found = session.execute(
        select(OtpChallenge.id, OtpChallenge.code_hash, OtpChallenge.expires_at)
        .where(
            OtpChallenge.phone == phone,
            OtpChallenge.purpose == purpose,
            OtpChallenge.used_at.is_(None),
        )
        .order_by(OtpChallenge.id.desc())
        .limit(1)
    ).first()
    if found is None or found.expires_at <= now:
        return False
    attempts = session.scalar(
        update(OtpChallenge)
        .where(
            OtpChallenge.id == found.id,
            OtpChallenge.used_at.is_(None),
            OtpChallenge.attempts < OTP_MAX_ATTEMPTS,
        )
        .values(attempts=OtpChallenge.attempts + 1)
        .returning(OtpChallenge.attempts)
        .execution_options(synchronize_session=False)
    )
    if attempts is None:
        return False  # spent, or its attempts were taken by other guesses meanwhile
    right = hmac.compare_digest(found.code_hash, _hash(code.strip(), phone, secret))
    if not right and attempts < OTP_MAX_ATTEMPTS:
        return False
    spent = session.scalar(
        update(OtpChallenge)
        .where(OtpChallenge.id == found.id, OtpChallenge.used_at.is_(None))
        .values(used_at=now)
        .returning(OtpChallenge.id)
        .execution_options(synchronize_session=False)
    )
    return right and spent is not None


@dataclass(frozen=True, slots=True)
class GuessesRefused:
    """No code is checked now: too many wrong codes for this phone or from this client
    address (every channel together); ``wait_seconds`` until one more is."""

    wait_seconds: int


def check_otp(
    session: Session,
    limiter: Limiter,
    settings: Settings,
    phone: str,
    purpose: str,
    code: str,
    *,
    client: str,
    now: datetime | None = None,
) -> bool | GuessesRefused:
    """``verify_otp`` within the limits on wrong codes per phone and per client address.

    Each code is burned after five wrong tries, but a new code can be asked for; these
    counts bound the guesses across codes and numbers. The try is counted before the code
    is compared, and a right code gives its place back.
    """
    guard = FailedLogins.for_codes(limiter, settings)
    wait = guard.attempt(phone, client)
    if wait:
        log.warning("otp.verify_refused", client=client)
        return GuessesRefused(wait_seconds(wait))
    secret = settings.secret_key.get_secret_value()
    if verify_otp(session, phone, purpose, code, secret=secret, now=now):
        guard.succeeded(phone, client)
        return True
    return False


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


# -- app logins ---------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, phone: str, *, ttl: timedelta, now: datetime | None = None
) -> str:
    """A bearer token for ``phone``: 32 random bytes, kept only as a hash. The phone's
    expired tokens are dropped on the way, so the table holds its live logins."""
    now = now or utcnow()
    session.execute(
        delete(CitizenToken).where(CitizenToken.phone == phone, CitizenToken.expires_at <= now)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        CitizenToken(
            token_hash=_token_hash(token), phone=phone, created_at=now, expires_at=now + ttl
        )
    )
    session.flush()
    return token


def token_phone(session: Session, token: str, *, now: datetime | None = None) -> str | None:
    """The phone a live token stands for, else None (unknown, revoked or expired)."""
    now = now or utcnow()
    return session.scalar(
        select(CitizenToken.phone).where(
            CitizenToken.token_hash == _token_hash(token), CitizenToken.expires_at > now
        )
    )


def revoke_token(session: Session, token: str) -> None:
    """Log out: the token stops working at once, on every node."""
    session.execute(delete(CitizenToken).where(CitizenToken.token_hash == _token_hash(token)))
