"""HTTP endpoints of the operator-facing channels: SMS pull (Kannel get-url) and USSD.

Both are thin: they validate the aggregator's fields, answer a bad request with a JSON error
(400, never 500), call the transport-free adapter in the request's transaction and render its
answer the way the aggregator expects. Both believe the number the aggregator gives, so the
router takes requests from the operator only (``channels.operators``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from seva.channels import sms, ussd
from seva.channels.operators import AFRICASTALKING, operator_only
from seva.dashboard import metrics
from seva.deps import SessionDep
from seva.errors import ApiError
from seva.flows.answers import clean
from seva.gateway import Gateway, GatewayDep
from seva.logs import exchanges
from seva.numbers import msisdn

log = structlog.get_logger("seva.channels")

router = APIRouter(prefix="/channels", tags=["channels"], dependencies=[Depends(operator_only)])

MAX_FIELD = 2000
PLAIN = "text/plain; charset=utf-8"
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
"""An aggregator's identifiers: no control characters (PostgreSQL text cannot hold NUL)."""


def _note_odd_input(channel: str, phone: str, text: str) -> None:
    """Log input the adapters had to clean (control characters, markup, stray braces) so an
    operator can see probing or a broken aggregator (the log masks the number)."""
    if clean(text) != " ".join(text.split()) or any(c in text for c in "<>{}"):
        log.info("inbound_cleaned", channel=channel, phone=phone, length=len(text))


def _sender(raw: str | None, field: str, region: str) -> str:
    if raw is None or not raw.strip():
        raise ApiError(400, "missing_field", f"{field} is required", field)
    phone = msisdn(raw, region)
    if phone is None:
        raise ApiError(400, "invalid_phone", f"{field} is not a valid phone number", field)
    return phone


@contextmanager
def counted(channel: str) -> Iterator[None]:
    """One inbound request of ``channel`` in the metrics: counted however it ends, its time
    observed when it is answered. Around the whole request, not the hop, which the lean front
    may start twice (``channels.front``)."""
    started = time.perf_counter()
    metrics.REQUESTS.labels(channel).inc()
    yield
    metrics.LATENCY.labels(channel).observe(time.perf_counter() - started)


def sms_hop(gateway: Gateway, session: Session, sender: str | None, text: str) -> str:
    """One inbound SMS in the request's transaction: the reply's text. Shared by these routes
    and the lean front (``channels.front``)."""
    phone = _sender(sender, "from", gateway.settings.default_region)
    reply = gateway.sms.handle(session, phone=phone, text=text)
    session.flush()  # a hop that cannot write yet stops here, before its lines (``front``)
    _note_odd_input(sms.CHANNEL, phone, text)
    exchanges.info("sms.pull", phone=phone, chars=len(text), reply_chars=len(reply.text))
    return reply.text


def ussd_hop(
    gateway: Gateway,
    session: Session,
    *,
    session_id: str,
    service_code: str,
    phone_number: str,
    text: str,
) -> str:
    """One USSD hop in the request's transaction: the ``CON``/``END`` answer. Shared by these
    routes and the lean front (``channels.front``)."""
    phone = _sender(phone_number, "phoneNumber", gateway.settings.default_region)
    screen = gateway.ussd.handle(
        session, session_id=session_id, phone=phone, text=text, aggregator=AFRICASTALKING.name
    )
    session.flush()  # a hop that cannot write yet stops here, before its lines (``front``)
    _note_odd_input(ussd.CHANNEL, phone, text)
    exchanges.info("ussd.hop", session=session_id, phone=phone, code=service_code, chars=len(text))
    return screen.render()


def _plain(text: str) -> PlainTextResponse:
    return PlainTextResponse(text, media_type=PLAIN)


def _sms_reply(
    gateway: GatewayDep, session: SessionDep, sender: str | None, text: str
) -> PlainTextResponse:
    with counted(sms.CHANNEL):
        return _plain(sms_hop(gateway, session, sender, text))


@router.get("/sms/kannel", response_class=PlainTextResponse, summary="Inbound SMS (Kannel get-url)")
def sms_kannel_get(
    gateway: GatewayDep,
    session: SessionDep,
    sender: Annotated[str | None, Query(alias="from", max_length=32)] = None,
    to: Annotated[str | None, Query(max_length=32)] = None,
    text: Annotated[str, Query(max_length=MAX_FIELD)] = "",
) -> PlainTextResponse:
    """Kannel ``sms-service`` ``get-url`` convention: the response body is the reply SMS.

    Configure Kannel with
    ``get-url = "https://HOST/channels/sms/kannel?from=%p&to=%P&text=%a&secret=SECRET"``.
    """
    return _sms_reply(gateway, session, sender, text)


@router.post("/sms/kannel", response_class=PlainTextResponse, summary="Inbound SMS (form post)")
def sms_kannel_post(
    gateway: GatewayDep,
    session: SessionDep,
    sender: Annotated[str | None, Form(alias="from", max_length=32)] = None,
    to: Annotated[str | None, Form(max_length=32)] = None,
    text: Annotated[str, Form(max_length=MAX_FIELD)] = "",
) -> PlainTextResponse:
    return _sms_reply(gateway, session, sender, text)


@router.post(
    "/ussd/africastalking",
    response_class=PlainTextResponse,
    summary="USSD hop (Africa's Talking callback)",
)
def ussd_africastalking(
    gateway: GatewayDep,
    session: SessionDep,
    session_id: Annotated[
        str, Form(alias="sessionId", min_length=1, max_length=128, pattern=PRINTABLE)
    ],
    service_code: Annotated[str, Form(alias="serviceCode", max_length=64)],
    phone_number: Annotated[str, Form(alias="phoneNumber", max_length=32)],
    text: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    network_code: Annotated[str | None, Form(alias="networkCode", max_length=32)] = None,
) -> PlainTextResponse:
    """Answers ``CON <screen>`` to wait for input or ``END <screen>`` to close the session."""
    with counted(ussd.CHANNEL):
        answer = ussd_hop(
            gateway,
            session,
            session_id=session_id,
            service_code=service_code,
            phone_number=phone_number,
            text=text,
        )
    return _plain(answer)
