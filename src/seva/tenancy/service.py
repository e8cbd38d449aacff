"""Onboarding departments, officials and API keys, checking their credentials, and officials'
logins (a row per login, so that ending one works on every node).

Passwords are hashed with scrypt (stdlib, memory-hard). API keys are 32 random bytes, so a
plain SHA-256 of the secret part is enough to store them; only the prefix is kept in clear to
find the row.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Final

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from seva.db import catalog
from seva.db.base import utcnow
from seva.db.session import read_through
from seva.flows.schema import LANGUAGES
from seva.tenancy.models import (
    ApiKey,
    AuditEvent,
    Department,
    Official,
    OfficialSession,
    Role,
)

CODE_RE = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")
SENDER_RE = re.compile(r"^[A-Z]{6}$|^[A-Z0-9]{3,11}$")


class TenancyError(ValueError):
    pass


def create_department(
    session: Session,
    *,
    code: str,
    name: dict[str, str],
    sender_id: str,
    languages: list[str] | None = None,
    ussd_order: int = 100,
) -> Department:
    code = code.strip().upper()
    if not CODE_RE.match(code):
        raise TenancyError("code must be 2-16 capital letters/digits starting with a letter")
    if not name.get("en"):
        raise TenancyError("an English name is required")
    sender_id = sender_id.strip().upper()
    if not SENDER_RE.match(sender_id):
        raise TenancyError("sender ID must be 6 letters (DLT header) or 3-11 letters/digits")
    languages = languages or ["en", "hi"]
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown or "en" not in languages:
        raise TenancyError(f"languages must include en and be among {', '.join(LANGUAGES)}")
    if session.scalar(select(Department).where(Department.code == code)) is not None:
        raise TenancyError(f"department {code} already exists")
    department = Department(
        code=code,
        name=name,
        sender_id=sender_id,
        languages=languages,
        webhook_secret=secrets.token_hex(32),
        ussd_order=ussd_order,
    )
    session.add(department)
    session.flush()
    return department


def department_by_code(session: Session, code: str) -> Department | None:
    return session.scalar(select(Department).where(Department.code == code.strip().upper()))


def department_by_id(session: Session, department_id: int | None) -> Department | None:
    return session.get(Department, department_id) if department_id is not None else None


@dataclass(frozen=True, slots=True)
class Departments:
    """Every department, as the catalog memo holds them (``seva.db.catalog``): what each hop
    asks of them, without a query. Read only: the rows are shared by the process's threads."""

    by_code: dict[str, Department]
    by_id: dict[int, Department]
    listed: tuple[Department, ...]
    """The active ones, in the order every channel lists them (``menu_departments``)."""

    def code(self, code: str) -> Department | None:
        return self.by_code.get(code.strip().upper())

    def id(self, department_id: int | None) -> Department | None:
        return self.by_id.get(department_id) if department_id is not None else None


def departments(session: Session) -> Departments:
    return catalog.remember(session, "departments", _departments)


def _departments(session: Session) -> Departments:
    rows = list(
        session.scalars(select(Department).order_by(Department.ussd_order, Department.code))
    )
    return Departments(
        by_code={d.code: d for d in rows},
        by_id={d.id: d for d in rows},
        listed=tuple(d for d in rows if d.active),
    )


def departments_by_code(session: Session, codes: Collection[str]) -> dict[str, Department]:
    """The departments among ``codes`` that exist (reports name many departments at once)."""
    if not codes:
        return {}
    rows = session.scalars(select(Department).where(Department.code.in_(codes)))
    return {department.code: department for department in rows}


def departments_by_id(session: Session, ids: Collection[int]) -> list[Department]:
    if not ids:
        return []
    return list(session.scalars(select(Department).where(Department.id.in_(list(ids)))))


def all_departments(session: Session) -> list[Department]:
    """Every department, active or not, by code: what the consoles choose from."""
    return list(session.scalars(select(Department).order_by(Department.code)))


def menu_departments(session: Session, *, include_inactive: bool = False) -> list[Department]:
    """Departments in the order every channel lists them: USSD order, then code."""
    query = select(Department).order_by(Department.ussd_order, Department.code)
    if not include_inactive:
        query = query.where(Department.active.is_(True))
    return list(session.scalars(query))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, _ = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    return hmac.compare_digest(hash_password(password, salt=bytes.fromhex(salt)), stored)


def create_official(
    session: Session,
    *,
    username: str,
    name: str,
    role: Role,
    password: str,
    department: Department | None,
    phone: str | None = None,
    password_hash: str | None = None,
) -> Official:
    """``password_hash`` may replace ``password`` when the hash is already known."""
    username = username.strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{2,63}", username):
        raise TenancyError("username must be 3-64 lowercase letters, digits, . _ or -")
    if len(password) < 8:
        raise TenancyError("password must be at least 8 characters")
    if role is not Role.GATEWAY_ADMIN and department is None:
        raise TenancyError(f"a {role.value} belongs to a department")
    if official_by_username(session, username) is not None:
        raise TenancyError(f"username {username} is taken")
    official = Official(
        username=username,
        name=name,
        role=role,
        password_hash=password_hash or hash_password(password),
        department_id=department.id if department else None,
        phone=phone,
    )
    session.add(official)
    session.flush()
    return official


def official_by_id(session: Session, official_id: int | None) -> Official | None:
    return session.get(Official, official_id) if official_id is not None else None


def official_by_username(session: Session, username: str) -> Official | None:
    return session.scalar(select(Official).where(Official.username == username.strip().lower()))


def officials_by_id(session: Session, official_ids: Collection[int]) -> dict[int, Official]:
    """The officials among ``official_ids`` (a timeline names who made each change)."""
    if not official_ids:
        return {}
    rows = session.scalars(select(Official).where(Official.id.in_(official_ids)))
    return {official.id: official for official in rows}


@cache
def _stand_in_hash() -> str:
    """A hash no password matches, made once: checked against when the username is unknown."""
    return hash_password(secrets.token_urlsafe(16))


def authenticate_official(session: Session, username: str, password: str) -> Official | None:
    """The active official with this username and password, else None.

    An unknown username costs the same one scrypt run as a wrong password (against a stand-in
    hash made once), so the time a refusal takes does not tell which usernames exist.
    """
    official = session.scalar(
        select(Official).where(
            Official.username == username.strip().lower(), Official.active.is_(True)
        )
    )
    stored = official.password_hash if official is not None else _stand_in_hash()
    matches = check_password(password, stored)
    return official if official is not None and matches else None


OFFICIAL_SESSION_TTL = timedelta(hours=8)
"""A login lasts a working day, as the session cookie does."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, official: Official, *, now: datetime | None = None) -> str:
    """A new login for ``official``: the token for the browser's cookie (only its hash is
    kept). The official's expired logins are dropped on the way, so the table holds about
    one row per browser in use."""
    now = now or utcnow()
    session.execute(
        delete(OfficialSession).where(
            OfficialSession.official_id == official.id, OfficialSession.expires_at <= now
        )
    )
    token = secrets.token_urlsafe(32)
    session.add(
        OfficialSession(
            token_hash=_token_hash(token),
            official_id=official.id,
            created_at=now,
            expires_at=now + OFFICIAL_SESSION_TTL,
        )
    )
    session.flush()
    return token


def official_for_session(
    session: Session, token: str, *, now: datetime | None = None
) -> Official | None:
    """The active official logged in with ``token``, if that login has not ended."""
    now = now or utcnow()
    return session.scalar(
        select(Official)
        .join(OfficialSession, OfficialSession.official_id == Official.id)
        .where(
            OfficialSession.token_hash == _token_hash(token),
            OfficialSession.expires_at > now,
            Official.active.is_(True),
        )
    )


def end_session(session: Session, token: str) -> None:
    """Log out: this login stops working everywhere, whoever holds a copy of its cookie."""
    session.execute(delete(OfficialSession).where(OfficialSession.token_hash == _token_hash(token)))


def end_all_sessions(session: Session, official: Official) -> int:
    """End every login of ``official`` (in every browser); how many there were."""
    result = session.execute(
        delete(OfficialSession).where(OfficialSession.official_id == official.id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def set_password(session: Session, official: Official, password: str) -> None:
    """A new password; every login made with the old one ends."""
    if len(password) < 8:
        raise TenancyError("password must be at least 8 characters")
    official.password_hash = hash_password(password)
    end_all_sessions(session, official)


def deactivate_official(session: Session, official: Official) -> None:
    """The official may no longer log in, and their open logins end at once."""
    official.active = False
    end_all_sessions(session, official)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    secret: str
    """The whole key as the department must send it; shown once, never stored."""


KEY_USE_GRANULARITY = timedelta(minutes=1)


def _key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_api_key(session: Session, department: Department, label: str = "") -> IssuedKey:
    prefix = "sk_" + secrets.token_hex(6)
    secret = f"{prefix}.{secrets.token_urlsafe(32)}"
    key = ApiKey(
        department_id=department.id, prefix=prefix, key_hash=_key_hash(secret), label=label
    )
    session.add(key)
    session.flush()
    return IssuedKey(key, secret)


_KEY_BY_PREFIX: Final = (
    select(
        ApiKey.id,
        ApiKey.key_hash,
        ApiKey.revoked_at,
        ApiKey.last_used_at,
        ApiKey.department_id,
        Department.active,
    )
    .join(Department, Department.id == ApiKey.department_id)
    .where(ApiKey.prefix == bindparam("prefix"))
)
_KEY_USED: Final = (
    update(ApiKey).where(ApiKey.id == bindparam("key")).values(last_used_at=bindparam("now"))
)


def _key_department_id(session: Session, secret: str) -> int | None:
    """The active department whose live key ``secret`` is, its use noted; None for anything
    else. Core statements built once: every API request, and every group of sends, checks
    one (``read_through``: a key revoked earlier in the same transaction is refused)."""
    prefix, dot, _ = secret.strip().partition(".")
    if not dot or not prefix.startswith("sk_"):
        return None
    connection = read_through(session)
    key = connection.execute(_KEY_BY_PREFIX, {"prefix": prefix}).one_or_none()
    if key is None or key.revoked_at is not None or not key.active:
        return None
    if not hmac.compare_digest(key.key_hash, _key_hash(secret.strip())):
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > KEY_USE_GRANULARITY:
        # Written at most once a minute: a write on every call would make every API request,
        # even a read, a write transaction queueing for the database's lock.
        connection.execute(_KEY_USED, {"key": key.id, "now": now})
    department_id: int = key.department_id
    return department_id


def authenticate_api_key(session: Session, secret: str) -> Department | None:
    """The active department whose live key ``secret`` is, loaded in ``session``."""
    department_id = _key_department_id(session, secret)
    return session.get(Department, department_id) if department_id is not None else None


def key_department(session: Session, secret: str) -> Department | None:
    """``authenticate_api_key`` for a caller that only reads the department's id and code:
    the row the catalog memo holds (``departments``, read only and shared), not one loaded
    into the session. The send API checks a key for every group it writes. Whether the key
    is live and its department active is read afresh with the key; a department made a moment
    ago in another process, not in the memo yet, is read from the database."""
    department_id = _key_department_id(session, secret)
    if department_id is None:
        return None
    return departments(session).id(department_id) or session.get(Department, department_id)


def revoke_api_key(session: Session, department: Department, prefix: str) -> bool:
    key = session.scalar(
        select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.department_id == department.id)
    )
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    return True


def audit(
    session: Session,
    action: str,
    *,
    official: Official | None = None,
    department_id: int | None = None,
    citizen_phone: str | None = None,
    **detail: object,
) -> None:
    session.add(
        AuditEvent(
            official_id=official.id if official else None,
            department_id=department_id
            if department_id is not None
            else (official.department_id if official else None),
            action=action,
            citizen_phone=citizen_phone,
            detail={k: str(v) for k, v in detail.items()},
        )
    )
