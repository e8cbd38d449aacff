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
refusals: quota 418, DLT template 423, content 419. ``msdg_push`` runs them; the routes here
read the form and write the reply.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from seva.bodies import BodyTooLarge, read_capped
from seva.core import Core, CoreDep
from seva.deps import SessionDep
from seva.messaging import msdg, msdg_push
from seva.messaging.msdg_push import MsdgForm
from seva.messaging.router import wake_after_commit
from seva.ratelimit import FailedLogins, client_address

BODY_LIMIT = 4 * 1024 * 1024
"""100,000 comma-separated numbers and 20,000 characters of percent-encoded entities fit."""
MAX_FIELDS = 64
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

router = APIRouter(prefix="/esms", tags=["MSDG-compatible SMS push"])


async def form_fields(request: Request) -> MsdgForm:
    """Read the fields within ``BODY_LIMIT``; a body field wins over a query field.

    A dependency so the handler stays a plain function run in the thread pool.
    """
    fields: dict[str, str] = dict(request.query_params.items())
    if request.method != "POST":
        return _storable(fields)
    try:
        raw = await read_capped(request, BODY_LIMIT)
    except BodyTooLarge:
        return MsdgForm(fields=fields, problem="oversized")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        request._body = raw  # Starlette parses the form from this cache
        try:
            form = await request.form(max_files=0, max_fields=MAX_FIELDS)
        except Exception:  # any malformed multipart body is one MSDG error
            return MsdgForm(fields=fields, problem="malformed")
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
        return MsdgForm(fields=fields, problem="malformed")
    fields.update(pairs)
    return _storable(fields)


def _storable(fields: dict[str, str]) -> MsdgForm:
    """Refuse NUL characters and lone surrogates, which no database column can hold."""
    for name, value in fields.items():
        if _UNSTORABLE.search(name) or _UNSTORABLE.search(value):
            return MsdgForm(fields=fields, problem="malformed")
    return MsdgForm(fields=fields)


FormFields = Annotated[MsdgForm, Depends(form_fields)]


def _reply(text: str) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=200, media_type="text/plain; charset=utf-8")


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
    form: MsdgForm,
    *,
    client: str,
    dlt: bool,
) -> PlainTextResponse:
    outcome = msdg_push.push(
        session,
        form,
        dlt=dlt,
        client=client,
        logins=FailedLogins.from_settings(gateway.limiter, gateway.settings, "msdg"),
        region=gateway.settings.default_region,
    )
    if isinstance(outcome, msdg_push.Refused):
        return _reply(msdg.error_reply(outcome.code))
    if outcome.accepted:
        wake_after_commit(background, gateway)
    return _reply(msdg.success_reply(str(outcome.batch_id)))


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
