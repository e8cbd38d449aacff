"""The department SMS API: push SMS (one, a campaign, OTPs), follow them, manage DLT.

Authenticated with the department's API key like ``/api/v1/dept`` (``tenancy.api_auth``) and
scoped to that department: another department's message or batch answers 404 exactly like
one that does not exist.

Each accepted send is committed to the durable queue (``messaging.service.send``) before the
response leaves, so a 202 means the messages survive a crash. Idempotency follows the IETF
``Idempotency-Key`` header draft (draft-ietf-httpapi-idempotency-key-header): a repeated key
queues nothing and answers ``200`` with the original batch and ``replayed: true`` (a
different status from the first ``202`` so a client can tell the two apart without reading
the body); the same key with a different text, kind or sender is ``422``; two requests with
one key at the same moment get ``409`` for the second, which may simply retry.

Campaign bodies are large (100,000 numbers are about 1.7 MB of JSON), so the send route
takes bodies of up to 8 MiB, enough for 10,000 personalised texts of about 800 bytes each;
``seva sms send`` posts in chunks of that size.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from seva.bodies import CappedRoute
from seva.core import Core, CoreDep
from seva.deps import SessionDep
from seva.errors import ApiError, error_body
from seva.messaging import api_send, dlt, msdg
from seva.messaging import service as messaging
from seva.messaging.models import DltHeader, DltTemplate, SmsAccount
from seva.messaging.schemas import (
    AccountIn,
    AccountOut,
    BatchOut,
    HeaderIn,
    HeaderOut,
    InvalidNumbersBody,
    MessageOut,
    MessageRef,
    MsdgCredentialsIn,
    PreviewOut,
    SendIn,
    SendOut,
    SendProblem,
    TemplateIn,
    TemplateOut,
)
from seva.messaging.service import MessageView, Preview, SendRefused
from seva.outbound import Refused
from seva.params import BigRowId, RowId
from seva.ratelimit import Rate, wait_seconds
from seva.tenancy.api_auth import INVALID_KEY, ApiKeyDep, DepartmentDep, unauthorized
from seva.tenancy.models import Department
from seva.tenancy.service import authenticate_api_key

PREVIEW_RATE = Rate(30, 60.0)
"""Previews one API key may ask for a minute: a preview charges no quota, and each reads
the opt-out list and the DLT registrations for up to 100,000 numbers."""
REFUSED_STATUS = {"daily_limit": 429, "idempotency_conflict": 409}


class CampaignRoute(CappedRoute):
    """Bodies big enough for a 100,000-number campaign or 10,000 personalised texts."""

    body_limit = 8 * 1024 * 1024


router = APIRouter(prefix="/api/v1", tags=["SMS API"], route_class=CappedRoute)
campaigns = APIRouter(prefix="/api/v1", tags=["SMS API"], route_class=CampaignRoute)
"""The send route, with its larger body cap."""


def _refuse(
    session: Session,
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    *,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An error answer that undoes whatever the request wrote."""
    session.rollback()
    return _error(status, code, message, field, extra=extra, headers=headers)


def _error(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    *,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = error_body(code, message, field)
    body["error"].update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers)


def _refused(exc: SendRefused) -> JSONResponse:
    status = REFUSED_STATUS.get(exc.code, 422)
    headers = None
    if status == 429:
        # Quotas are per UTC day: say when the next one starts.
        now = datetime.now(UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        headers = {"Retry-After": str(max(1, int((midnight - now).total_seconds())))}
    return _error(status, exc.code, exc.message, exc.field, headers=headers)


async def _wake_dispatcher(gateway: Core) -> None:
    """Start this process's dispatcher on the new messages now rather than at its next poll.

    A background task, so it runs after the commit (the dispatcher must find the rows), and
    async, so it runs on the event loop's thread, where a dispatcher's asyncio.Event lives.
    """
    notify = getattr(gateway, "notify_sms", None)
    if notify is not None:
        notify()


def wake_after_commit(background: BackgroundTasks, gateway: Core) -> None:
    background.add_task(_wake_dispatcher, gateway)


# -- sending ------------------------------------------------------------------------------


@campaigns.post(
    "/messages",
    status_code=202,
    response_model=SendOut,
    summary="Send an SMS to one number or a list of up to 100,000",
    responses={
        200: {"model": SendOut, "description": "Idempotency-Key replay: nothing new queued."},
        409: {"description": "Another request with this Idempotency-Key is in progress."},
        413: {"description": "The body is larger than 8 MiB; send the list in chunks."},
        422: {
            "model": InvalidNumbersBody,
            "description": "Invalid numbers (listed), a DLT refusal, an OTP to more than 2 "
            "numbers, or an Idempotency-Key reused with a different message.",
        },
        429: {"description": "The department's daily quota is used up (see Retry-After)."},
    },
)
async def send_messages(
    response: Response,
    gateway: CoreDep,
    key: ApiKeyDep,
    body: SendIn,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=128,
            pattern=r"^[\x21-\x7e]+$",
            description="Repeat a send safely: the same key returns the same batch.",
        ),
    ] = None,
) -> SendOut | JSONResponse:
    # Well-formed sends are mostly answered before this (``messaging.send_front``).
    sent = await send(gateway, key, body, idempotency_key)
    if sent is None:
        raise unauthorized(INVALID_KEY)
    if isinstance(sent, JSONResponse):
        return sent
    response.status_code, answer = sent
    return answer


async def send(
    gateway: Core, key: str, body: SendIn, idempotency_key: str | None
) -> tuple[int, SendOut] | JSONResponse | None:
    """What ``POST /api/v1/messages`` answers: the status (202, or 200 for an idempotent
    replay) and the batch; a refusal; or None when the key is no department's. Async, with
    no session: the request waits for its group's commit (``messaging.intake``) on the event
    loop instead of holding a worker thread and a connection of its own."""
    plan = await _plan(gateway, body)
    if isinstance(plan, JSONResponse):
        return plan
    outcome = await gateway.send_intake.submit(plan.job(key, idempotency_key))
    if outcome is None:
        return None
    if isinstance(outcome, SendRefused):
        return _refused(outcome)
    return (200 if outcome.replayed else 202), plan.answer(outcome)


@campaigns.post(
    "/messages/preview",
    response_model=PreviewOut,
    summary="What a send would queue and cost (encoding, parts), without sending it",
    responses={
        413: {"description": "The body is larger than 8 MiB; send the list in chunks."},
        429: {"description": "Too many previews with this key in a minute (see Retry-After)."},
        422: {
            "model": InvalidNumbersBody,
            "description": "What the send would be refused for: invalid numbers, a DLT "
            "refusal, an OTP to more than 2 numbers.",
        },
    },
)
async def preview_messages(
    gateway: CoreDep, key: ApiKeyDep, body: SendIn
) -> PreviewOut | JSONResponse:
    """The same body as ``POST /api/v1/messages``, checked the same way, answered with what
    that send would queue and the SMS parts it would take (per message and in all), before
    a campaign is sent. Nothing is queued, and the daily quota is not charged, so previews
    are limited per key instead (``PREVIEW_RATE``), before the body's numbers are read."""
    wait = await asyncio.to_thread(  # off the loop: with Redis, a round trip
        gateway.limiter.hit,
        "preview:" + hashlib.sha256(key.encode()).hexdigest()[:24],
        PREVIEW_RATE,
    )
    if wait:
        seconds = wait_seconds(wait)
        return _error(
            429,
            "too_many_previews",
            f"too many previews with this key; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
    plan = await _plan(gateway, body)
    if isinstance(plan, JSONResponse):
        return plan
    found = await asyncio.to_thread(_preview, gateway, key, plan)
    if found is None:
        raise unauthorized(INVALID_KEY)
    if isinstance(found, SendRefused):
        return _refused(found)
    return plan.preview(found)


async def _plan(gateway: Core, body: SendIn) -> api_send.SendPlan | JSONResponse:
    """The send a body asks for, or the answer refusing it (a malformed body, a callback
    Seva may not call, invalid numbers): the same checks for a send and its preview."""
    problem = body.problem()
    if problem is not None:
        return _problem(problem)
    refused = _refused_callback(gateway, body.callback_url)
    if refused is not None:
        return refused
    plan = await api_send.plan(body, gateway.settings.default_region)
    return _problem(plan) if isinstance(plan, SendProblem) else plan


def _preview(gateway: Core, key: str, plan: api_send.SendPlan) -> Preview | SendRefused | None:
    """In a worker thread: the key's department and the send it would make (None: no such
    key)."""
    with gateway.db.session() as session:
        department = authenticate_api_key(session, key)
        if department is None:
            return None
        try:
            return messaging.preview(session, plan.send_for(department, idempotency_key=None))
        except SendRefused as exc:
            return exc


def _problem(problem: SendProblem) -> JSONResponse:
    return _error(422, problem.code, problem.message, problem.field, extra=problem.extra)


def _refs_of(session: Session, department: Department, batch_id: int) -> list[MessageRef]:
    views = messaging.messages_of_department(
        session, department.id, batch_id=batch_id, limit=messaging.RETURN_IDS_UP_TO
    )
    return [MessageRef(id=v.id, to=v.to_phone, status=v.status) for v in reversed(views)]


# -- reading ------------------------------------------------------------------------------


def _message_out(view: MessageView) -> MessageOut:
    return MessageOut(
        id=view.id,
        batch_id=view.batch_id,
        to=view.to_phone,
        sender=view.sender,
        text=view.text,
        kind=view.kind,
        status=view.status,
        parts=view.parts,
        attempts=view.attempts,
        error=view.error,
        created_at=view.created_at,
        submitted_at=view.submitted_at,
        done_at=view.done_at,
        client_ref=view.client_ref,
        template_id=view.template_id,
        resent_after_lease=view.resent_after_lease,
    )


@router.get("/messages/{message_id}", response_model=MessageOut, summary="One message's status")
def get_message(session: SessionDep, department: DepartmentDep, message_id: BigRowId) -> MessageOut:
    view = messaging.message(session, message_id)
    if view is None or view.department_id != department.id:
        raise ApiError(404, "not_found", f"your department has no message {message_id}", "id")
    return _message_out(view)


@router.get("/messages", response_model=list[MessageOut], summary="Recent messages, newest first")
def list_messages(
    session: SessionDep,
    department: DepartmentDep,
    batch_id: RowId | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[MessageOut]:
    views = messaging.messages_of_department(session, department.id, limit=limit, batch_id=batch_id)
    return [_message_out(view) for view in views]


@router.get(
    "/batches/{batch_id}", response_model=BatchOut, summary="A send and its messages by status"
)
def get_batch(session: SessionDep, department: DepartmentDep, batch_id: RowId) -> BatchOut:
    row = messaging.batch(session, batch_id)
    if row is None or row.department_id != department.id:
        raise ApiError(404, "not_found", f"your department has no batch {batch_id}", "id")
    return BatchOut(
        id=row.id,
        sender=row.sender,
        text=row.text,
        kind=row.kind,
        template_id=row.template_id,
        source=row.source,
        total=row.total,
        parts=row.parts,
        scheduled_at=datetime.fromtimestamp(row.due_at, UTC),
        created_at=row.created_at,
        client_ref=row.client_ref,
        callback_url=row.callback_url,
        counts=messaging.batch_counts(session, row.id),
    )


# -- DLT ----------------------------------------------------------------------------------


def _header_out(row: DltHeader) -> HeaderOut:
    return HeaderOut(
        header=row.header,
        category=row.category,
        display=dlt.display_sender(row.header, row.category),
        created_at=row.created_at,
    )


def _template_out(row: DltTemplate) -> TemplateOut:
    return TemplateOut(
        template_id=row.template_id,
        header=row.header,
        category=row.category,
        name=row.name,
        body=row.body,
        active=row.active,
        created_at=row.created_at,
    )


@router.get("/dlt/headers", response_model=list[HeaderOut], summary="Your DLT headers")
def list_headers(session: SessionDep, department: DepartmentDep) -> list[HeaderOut]:
    return [_header_out(row) for row in messaging.department_headers(session, department.id)]


@router.post(
    "/dlt/headers",
    response_model=HeaderOut,
    status_code=201,
    summary="Register a DLT header (sender ID); from then on sends must use a registered one",
    responses={422: {"description": "Not a valid header for its category, or taken."}},
)
def add_header(
    response: Response, session: SessionDep, department: DepartmentDep, body: HeaderIn
) -> HeaderOut | JSONResponse:
    try:
        normalised = dlt.validate_header(body.header, body.category)
        existed = session.scalar(
            select(DltHeader.id).where(
                DltHeader.header == normalised, DltHeader.department_id == department.id
            )
        )
        row = messaging.register_header(session, department.id, normalised, body.category)
    except ValueError as exc:
        return _refuse(session, 422, "invalid_header", str(exc), "header")
    except SendRefused as exc:
        session.rollback()
        return _refused(exc)
    if existed is not None:
        response.status_code = 200
    return _header_out(row)


@router.get("/dlt/templates", response_model=list[TemplateOut], summary="Your DLT templates")
def list_templates(
    session: SessionDep,
    department: DepartmentDep,
    header: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9]{1,16}$")] = None,
) -> list[TemplateOut]:
    rows = messaging.department_templates(session, department.id)
    wanted = header.strip().upper() if header else None
    return [_template_out(row) for row in rows if wanted is None or row.header == wanted]


@router.post(
    "/dlt/templates",
    response_model=TemplateOut,
    status_code=201,
    summary="Register (or update) a DLT content template under one of your headers",
    responses={422: {"description": "The template, its ID or its header is not valid."}},
)
def add_template(
    response: Response, session: SessionDep, department: DepartmentDep, body: TemplateIn
) -> TemplateOut | JSONResponse:
    field = "template_id"
    try:
        template_id = dlt.validate_template_id(body.template_id)
        field = "category"
        dlt.validate_header(body.header, body.category)
        existed = session.scalar(
            select(DltTemplate.id).where(
                DltTemplate.template_id == template_id,
                DltTemplate.department_id == department.id,
            )
        )
        field = "body"
        row = messaging.register_template(
            session,
            department.id,
            template_id=template_id,
            header=body.header,
            body=body.body,
            category=body.category,
            name=body.name,
        )
    except ValueError as exc:
        return _refuse(session, 422, "invalid_template", str(exc), field)
    except SendRefused as exc:
        session.rollback()
        return _refused(exc)
    if existed is not None:
        response.status_code = 200
    return _template_out(row)


# -- account ------------------------------------------------------------------------------


def _account_out(session: Session, department: Department) -> AccountOut:
    row = messaging.account(session, department.id)
    used = messaging.sent_today(session, department.id)
    return AccountOut(
        entity_id=row.entity_id if row else None,
        callback_url=row.callback_url if row else None,
        daily_quota=row.daily_quota if row else None,
        rate_per_second=row.rate_per_second if row else None,
        sent_today=used,
        msdg_username=row.msdg_username if row else None,
        msdg_configured=bool(row and row.msdg_username and row.msdg_password_hash),
    )


@router.get("/sms/account", response_model=AccountOut, summary="Your SMS settings and usage")
def get_account(session: SessionDep, department: DepartmentDep) -> AccountOut:
    return _account_out(session, department)


def _refused_callback(gateway: Core, url: object) -> JSONResponse | None:
    """A status callback must be somewhere Seva may call (``seva.outbound``): checked when it
    is given, and again, after DNS, whenever it is called."""
    if url is None:
        return None
    try:
        gateway.runtime.outbound.policy.check_url(str(url))
    except Refused as exc:
        return _error(422, "callback_url_refused", exc.reason, "callback_url")
    return None


@router.put(
    "/sms/account",
    response_model=AccountOut,
    summary="Set your DLT entity ID and default status callback (quota and rate are read-only)",
)
def put_account(
    gateway: CoreDep, session: SessionDep, department: DepartmentDep, body: AccountIn
) -> AccountOut | JSONResponse:
    refused = _refused_callback(gateway, body.callback_url)
    if refused is not None:
        return refused
    row = messaging.ensure_account(session, department.id)
    if "entity_id" in body.model_fields_set:
        if body.entity_id is None:
            row.entity_id = None
        else:
            try:
                row.entity_id = dlt.validate_entity_id(body.entity_id)
            except ValueError as exc:
                return _refuse(session, 422, "invalid_entity_id", str(exc), "entity_id")
    if "callback_url" in body.model_fields_set:
        row.callback_url = str(body.callback_url) if body.callback_url is not None else None
    session.flush()
    return _account_out(session, department)


@router.put(
    "/sms/msdg-credentials",
    status_code=204,
    summary="Set the MSDG login your existing MSDG clients use with /esms/sendsmsrequestDLT",
    responses={409: {"description": "The username belongs to another department."}},
)
def put_msdg_credentials(
    session: SessionDep, department: DepartmentDep, body: MsdgCredentialsIn
) -> Response:
    taken = session.scalar(
        select(SmsAccount.department_id).where(
            SmsAccount.msdg_username == body.username,
            SmsAccount.department_id != department.id,
        )
    )
    if taken is not None:
        return _refuse(
            session, 409, "username_taken", "this MSDG username is already in use", "username"
        )
    row = messaging.ensure_account(session, department.id)
    row.msdg_username = body.username
    row.msdg_password_hash = messaging.stored_password_hash(msdg.sha1_hex(body.password))
    row.msdg_secure_key = body.secure_key
    try:
        session.flush()
    except IntegrityError:
        return _refuse(
            session, 409, "username_taken", "this MSDG username is already in use", "username"
        )
    return Response(status_code=204)


routers = [campaigns, router]
"""The send routes first: they are most of the API's traffic (``app._include``)."""
