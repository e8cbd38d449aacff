"""MSDG-compatible SMS push endpoints, so a department's existing Mobile Seva client works as is.

Follows C-DAC's Mobile Seva (MSDG) push API as ``messaging.msdg`` describes it:
``/esms/sendsmsrequestDLT`` (``templateid`` required) and the legacy ``/esms/sendsmsrequest``.
Requests are forms (``application/x-www-form-urlencoded``, or ``multipart/form-data``);
clients in the field also put the fields in the query string, of a POST or of a GET, so the
query string is read too (a body field wins over a query field of the same name).

Every reply is plain text with HTTP 200, exactly as MSDG answers: clients read the code at
the start of the body (``402,MsgID = 17msdgsms`` or ``401,Credentials Error…``) and many
treat any other HTTP status as a network failure and retry. The message ID is Seva's batch
ID, which the JSON API's ``GET /api/v1/batches/{id}`` reports on.

Checks run in the order a client most needs to hear about them: the request's shape
(``msdg.parse_request``), the account (401; 421 while the account or the client address is
paused after too many wrong passwords, counted as the officials' login counts them), its
secure key (415 when none is set, 416 when
the key does not match), the sender ID (412), the numbers (406), then the queue's own
refusals: quota 418, DLT template 423, content 419.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import parse_qsl

import structlog
from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from seva.bodies import BodyTooLarge, read_capped
from seva.core import Core, CoreDep
from seva.deps import SessionDep
from seva.messaging import msdg
from seva.messaging import service as messaging
from seva.messaging.models import SmsAccount
from seva.messaging.msdg import MsdgCode, MsdgError, MsdgRequest
from seva.messaging.router import wake_after_commit
from seva.messaging.service import Send, SendRefused, stored_password_hash
from seva.numbers import mobile_msisdns
from seva.ratelimit import FailedLogins, client_address
from seva.tenancy import service as tenancy
from seva.tenancy.models import Department

log = structlog.get_logger("seva.messaging.msdg")

BODY_LIMIT = 4 * 1024 * 1024
"""100,000 comma-separated numbers and 20,000 characters of percent-encoded entities fit."""
MAX_FIELDS = 64
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

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

router = APIRouter(prefix="/esms", tags=["MSDG-compatible SMS push"])


@dataclass(frozen=True, slots=True)
class PostedForm:
    """The query string and form body as one mapping, or why the body could not be read."""

    fields: dict[str, str]
    problem: str | None = None


async def form_fields(request: Request) -> PostedForm:
    """Read the fields within ``BODY_LIMIT``; a body field wins over a query field.

    A dependency so the handler stays a plain function run in the thread pool.
    """
    fields: dict[str, str] = dict(request.query_params.items())
    if request.method != "POST":
        return _storable(fields)
    try:
        raw = await read_capped(request, BODY_LIMIT)
    except BodyTooLarge:
        return PostedForm(fields, "oversized")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        request._body = raw  # Starlette parses the form from this cache
        try:
            form = await request.form(max_files=0, max_fields=MAX_FIELDS)
        except Exception:  # any malformed multipart body is one MSDG error
            return PostedForm(fields, "malformed")
        fields.update((k, v) for k, v in form.items() if isinstance(v, str))
        return _storable(fields)
    try:
        pairs = parse_qsl(
            raw.decode("utf-8", "replace"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            errors="replace",
        )
    except ValueError:
        return PostedForm(fields, "malformed")
    fields.update(pairs)
    return _storable(fields)


def _storable(fields: dict[str, str]) -> PostedForm:
    """Refuse NUL characters and lone surrogates, which no database column can hold."""
    for name, value in fields.items():
        if _UNSTORABLE.search(name) or _UNSTORABLE.search(value):
            return PostedForm(fields, "malformed")
    return PostedForm(fields)


FormFields = Annotated[PostedForm, Depends(form_fields)]


def _reply(text: str) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=200, media_type="text/plain; charset=utf-8")


def _error(session: Session, code: int, why: str, username: str = "") -> PlainTextResponse:
    session.rollback()  # undo anything written on the way, such as the day's quota
    log.info("msdg.refused", code=int(code), why=why, username=username[:64])
    return _reply(msdg.error_reply(code))


_DOC = {
    "requestBody": {
        "description": "MSDG's push fields: username, password (SHA-1 hex), senderid, "
        "content, smsservicetype, mobileno or bulkmobno, key (SHA-512 hex), templateid.",
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        },
    },
    "responses": {
        "200": {
            "description": "`402,MsgID = <id>msdgsms` on success, `<code>,<message>` otherwise.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
}


def _handle(
    gateway: Core,
    session: Session,
    background: BackgroundTasks,
    form: PostedForm,
    *,
    client: str,
    dlt: bool,
) -> PlainTextResponse:
    if form.problem == "oversized":
        return _error(session, MsdgCode.INTERNAL_LIMIT_EXCEEDED, "body too large")
    if form.problem is not None:
        return _error(session, MsdgCode.INVALID_PARAMETER, "malformed form")
    fields = form.fields
    try:
        request = msdg.parse_request(fields, dlt=dlt)
    except MsdgError as exc:
        return _error(session, exc.code, exc.message)
    # The key covers the content as posted; parse_request reads the last "content" field.
    raw_content = ""
    for name, value in fields.items():
        if name.strip().lower() == "content":
            raw_content = value

    guard = FailedLogins.from_settings(gateway.limiter, gateway.settings, "msdg")
    # Counted before the password is compared: a burst cannot all pass one early check.
    if guard.attempt(request.username, client):
        return _error(session, MsdgCode.LOGIN_PAUSED, "login paused", request.username)
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
        locked = guard.locked(request.username, client)
        reply = _error(session, MsdgCode.CREDENTIALS_ERROR, "credentials", request.username)
        department_id = account.department_id if account is not None else None
        for action in ["msdg_login_failed"] + (["msdg_login_locked"] if locked else []):
            tenancy.audit(
                session,
                action,
                department_id=department_id,
                username=request.username[:64],
                client=client,
            )
        return reply
    guard.succeeded(request.username, client)
    if not account.msdg_secure_key:
        return _error(session, MsdgCode.SECURE_KEY_NOT_AVAILABLE, "no key", request.username)
    if not msdg.verify_key(request, account.msdg_secure_key, raw_content):
        return _error(session, MsdgCode.HASH_MISMATCH, "key", request.username)

    send = Send(
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
        messaging.sender_of(session, send)
    except SendRefused:
        return _error(session, MsdgCode.SENDER_ID_NOT_APPROVED, "sender", request.username)

    numbers = mobile_msisdns(request.numbers, gateway.settings.default_region)
    if any(number is None for number in numbers):
        return _error(session, MsdgCode.INVALID_NUMBERS, "numbers", request.username)
    recipients = list(dict.fromkeys(n for n in numbers if n is not None))

    try:
        accepted = messaging.send(session, replace(send, to=recipients))
    except SendRefused as exc:
        code = REFUSAL_CODES.get(exc.code, MsdgCode.INVALID_PARAMETER)
        return _error(session, code, exc.code, request.username)
    except IntegrityError:
        return _error(session, MsdgCode.INTERNAL_DATABASE_ERROR, "integrity", request.username)
    if accepted.accepted:
        wake_after_commit(background, gateway)
    log.info(
        "msdg.accepted",
        username=request.username,
        batch_id=accepted.batch_id,
        messages=accepted.accepted,
        service_type=request.service_type,
    )
    return _reply(msdg.success_reply(str(accepted.batch_id)))


def _kind(request: MsdgRequest) -> str:
    return "otp" if request.otp else KINDS[request.service_type]


_GET_DOC = "The same fields in the query string, as some MSDG clients send them."


@router.post(
    "/sendsmsrequestDLT",
    response_class=PlainTextResponse,
    operation_id="msdg_send_dlt",
    summary="MSDG push (DLT): send SMS with an MSDG client, templateid required",
    openapi_extra=_DOC,
)
@router.get(
    "/sendsmsrequestDLT",
    response_class=PlainTextResponse,
    operation_id="msdg_send_dlt_query",
    summary="MSDG push (DLT) with the fields in the query string",
    description=_GET_DOC,
)
def send_dlt(
    gateway: CoreDep,
    session: SessionDep,
    background: BackgroundTasks,
    form: FormFields,
    http: Request,
) -> PlainTextResponse:
    return _handle(gateway, session, background, form, client=client_address(http), dlt=True)


@router.post(
    "/sendsmsrequest",
    response_class=PlainTextResponse,
    operation_id="msdg_send",
    summary="MSDG push (legacy): as sendsmsrequestDLT, templateid optional",
    openapi_extra=_DOC,
)
@router.get(
    "/sendsmsrequest",
    response_class=PlainTextResponse,
    operation_id="msdg_send_query",
    summary="MSDG push (legacy) with the fields in the query string",
    description=_GET_DOC,
)
def send_legacy(
    gateway: CoreDep,
    session: SessionDep,
    background: BackgroundTasks,
    form: FormFields,
    http: Request,
) -> PlainTextResponse:
    return _handle(gateway, session, background, form, client=client_address(http), dlt=False)
