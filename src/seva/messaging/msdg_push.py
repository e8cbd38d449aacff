"""An MSDG push from its posted form to a queued batch: the form as a model, the account's
login and secure key, the sender, the numbers, then the queue.

Checks run in the order a client most needs to hear about them (``msdg_router`` lists it).
A refusal undoes whatever the request wrote on the way, such as the day's quota, and a wrong
password is then recorded in the audit log, so that record is kept.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace
from typing import Literal

import structlog
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from seva.messaging import msdg
from seva.messaging.accept import send
from seva.messaging.authorise import sender_of
from seva.messaging.models import SmsAccount
from seva.messaging.msdg import MsdgCode, MsdgError, MsdgRequest
from seva.messaging.registrations import stored_password_hash
from seva.messaging.sends import Accepted, Send, SendRefused
from seva.numbers import mobile_msisdns
from seva.ratelimit import FailedLogins
from seva.tenancy import service as tenancy
from seva.tenancy.models import Department

log = structlog.get_logger("seva.messaging.msdg")

REFUSAL_CODES: dict[str, int] = {
    "daily_limit": MsdgCode.DAILY_LIMIT_EXCEEDED,
    "sender_not_registered": MsdgCode.SENDER_ID_NOT_APPROVED,
    "sender_required": MsdgCode.SENDER_ID_NOT_APPROVED,
    "template_unknown": MsdgCode.TEMPLATE_MISMATCH,
    "template_missing": MsdgCode.TEMPLATE_MISMATCH,
    "template_mismatch": MsdgCode.TEMPLATE_MISMATCH,
    "empty_text": MsdgCode.INVALID_CONTENT,
    "text_too_long": MsdgCode.INVALID_CONTENT,
    "no_recipients": MsdgCode.INVALID_NUMBERS,
    "too_many_recipients": MsdgCode.INVALID_NUMBERS,
}
"""``SendRefused`` codes as MSDG reply codes; any other refusal is 420 (invalid parameter)."""

KINDS = {"singlemsg": "transactional", "bulkmsg": "bulk", "unicodemsg": "bulk"}
"""MSDG service type → queue kind; the two OTP types are ``otp``."""


class MsdgForm(BaseModel):
    """The query string and form body as one mapping (a body field wins over a query field
    of the same name), or why the body could not be read."""

    model_config = ConfigDict(frozen=True)

    fields: dict[str, str]
    problem: Literal["oversized", "malformed"] | None = None

    def request(self, *, dlt: bool) -> MsdgRequest:
        """The push request the fields make; MsdgError when they make none."""
        if self.problem == "oversized":
            raise MsdgError(MsdgCode.INTERNAL_LIMIT_EXCEEDED, "body too large")
        if self.problem is not None:
            raise MsdgError(MsdgCode.INVALID_PARAMETER, "malformed form")
        return msdg.parse_request(self.fields, dlt=dlt)

    @property
    def raw_content(self) -> str:
        """The ``content`` field exactly as posted, which the key covers (``parse_request``
        reads the last field of that name, whatever its case, and so does this)."""
        raw = ""
        for name, value in self.fields.items():
            if name.strip().lower() == "content":
                raw = value
        return raw


@dataclass(frozen=True, slots=True)
class Refused:
    """A push refused with this MSDG reply code; nothing it wrote is kept."""

    code: int


def push(
    session: Session,
    form: MsdgForm,
    *,
    dlt: bool,
    client: str,
    logins: FailedLogins,
    region: str,
) -> Accepted | Refused:
    """Queue the SMS ``form`` asks for, or say which MSDG code refuses it.

    ``dlt`` is True on ``sendsmsrequestDLT`` (a template ID is required); ``client`` is the
    caller's address, counted with the username against repeated wrong passwords.
    """
    try:
        request = form.request(dlt=dlt)
    except MsdgError as exc:
        return _refuse(session, exc.code, exc.message)
    found = _log_in(session, request, client=client, logins=logins)
    if isinstance(found, Refused):
        return found
    account, department = found
    if not account.msdg_secure_key:
        return _refuse(session, MsdgCode.SECURE_KEY_NOT_AVAILABLE, "no key", request.username)
    if not msdg.verify_key(request, account.msdg_secure_key, form.raw_content):
        return _refuse(session, MsdgCode.HASH_MISMATCH, "key", request.username)
    return _send(session, request, department, region=region)


def _refuse(session: Session, code: int, why: str, username: str = "") -> Refused:
    session.rollback()  # undo anything written on the way, such as the day's quota
    log.info("msdg.refused", code=int(code), why=why, username=username[:64])
    return Refused(code)


def _log_in(
    session: Session, request: MsdgRequest, *, client: str, logins: FailedLogins
) -> tuple[SmsAccount, Department] | Refused:
    """The account and department the username and password name, if they match, the
    department is active, and neither the username nor the client is paused."""
    # Counted before the password is compared: a burst cannot all pass one early check.
    if logins.attempt(request.username, client):
        return _refuse(session, MsdgCode.LOGIN_PAUSED, "login paused", request.username)
    account = session.scalar(select(SmsAccount).where(SmsAccount.msdg_username == request.username))
    department = session.get(Department, account.department_id) if account else None
    if (
        account is None
        or department is None
        or not department.active
        or not account.msdg_password_hash
        or not hmac.compare_digest(
            stored_password_hash(request.password_sha1), account.msdg_password_hash
        )
    ):
        locked = logins.locked(request.username, client)
        refused = _refuse(session, MsdgCode.CREDENTIALS_ERROR, "credentials", request.username)
        department_id = account.department_id if account is not None else None
        for action in ["msdg_login_failed"] + (["msdg_login_locked"] if locked else []):
            tenancy.audit(
                session,
                action,
                department_id=department_id,
                username=request.username[:64],
                client=client,
            )
        return refused
    logins.succeeded(request.username, client)
    return account, department


def _send(
    session: Session, request: MsdgRequest, department: Department, *, region: str
) -> Accepted | Refused:
    send_request = Send(
        to=(),
        text=request.content,
        kind=_kind(request),
        sender=request.senderid,
        department_id=department.id,
        department_code=department.code,
        template_id=request.templateid,
        source="msdg",
    )
    try:
        # The queue checks the sender again; asking first keeps MSDG's order of errors.
        sender_of(session, send_request)
    except SendRefused:
        return _refuse(session, MsdgCode.SENDER_ID_NOT_APPROVED, "sender", request.username)

    numbers = mobile_msisdns(request.numbers, region)
    if any(number is None for number in numbers):
        return _refuse(session, MsdgCode.INVALID_NUMBERS, "numbers", request.username)
    recipients = list(dict.fromkeys(n for n in numbers if n is not None))

    try:
        accepted = send(session, replace(send_request, to=recipients))
    except SendRefused as exc:
        code = REFUSAL_CODES.get(exc.code, MsdgCode.INVALID_PARAMETER)
        return _refuse(session, code, exc.code, request.username)
    except IntegrityError:
        return _refuse(session, MsdgCode.INTERNAL_DATABASE_ERROR, "integrity", request.username)
    log.info(
        "msdg.accepted",
        username=request.username,
        batch_id=accepted.batch_id,
        messages=accepted.accepted,
        service_type=request.service_type,
    )
    return accepted


def _kind(request: MsdgRequest) -> str:
    return "otp" if request.otp else KINDS[request.service_type]
