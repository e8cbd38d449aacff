"""The citizen app API (``/api/v1``): the JSON channel the mobile app, the PWA and partner apps
use.

* login: a one-time code by SMS, exchanged for a bearer token (``seva.citizens.api_auth``);
* the catalogue: departments and their live services, to draw a home screen;
* conversations: start a service, answer its questions, cancel; the engine's ``Say``/``Ask``/
  ``End`` messages come back as JSON objects with a ``type``, and a finished conversation's
  ``answer`` is the very text SMS and USSD send for the same inputs. Besides a department's
  own services, every department whose officials take calls (``/calls/departments``) runs
  the gateway's ``call`` (book a call with an official: its free times are a choice, the
  answer carries the join link) and ``my-calls`` (move or cancel a booked call), for a
  logged-in citizen (``seva.flows.calls``);
* the citizen's own record: language (used on every channel), profile, consents,
  applications; and any application's status by reference, as the STATUS keyword gives it.

Thin routes: validation and 4xx here, the conversation in ``seva.channels.app_session``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from seva import i18n
from seva.applications import service as applications
from seva.applications.router import ApplicationOut, application_out
from seva.bodies import SmallBodyRoute
from seva.channels.api_schemas import (
    AnswerRequest,
    ConsentOut,
    ConversationOut,
    DepartmentOut,
    LanguageOut,
    LanguageRequest,
    MeOut,
    OtpRequest,
    OtpSent,
    ServiceOut,
    StartRequest,
    StatusOut,
    TokenOut,
    UssdPlacementOut,
    VerifyRequest,
    message_out,
    question_out,
)
from seva.channels.app_session import (
    CHANNEL,
    AppConversations,
    AppReply,
    ConversationGone,
    ConversationTimedOut,
    NotYourConversation,
)
from seva.citizens import service as citizens
from seva.citizens.api_auth import (
    OTP_PURPOSE,
    OTP_TEXT,
    TOKEN_MAX_AGE,
    CitizenPhone,
    OptionalCitizenPhone,
    bearer_token,
    issue_token,
)
from seva.citizens.models import Citizen
from seva.citizens.service import OTP_GAP
from seva.dashboard import metrics
from seva.db.session import commit
from seva.deps import SessionDep
from seva.errors import ApiError, error_body
from seva.flows import calls
from seva.flows import service as services
from seva.flows.models import Service
from seva.flows.schema import LANGUAGES
from seva.gateway import Gateway, GatewayDep
from seva.i18n.languages import BY_CODE
from seva.messaging.service import queue_sms
from seva.numbers import msisdn
from seva.ratelimit import Rate, client_address, wait_seconds
from seva.tenancy import service as tenancy

MAX_LISTED = 200

router = APIRouter(prefix="/api/v1", tags=["app"], route_class=SmallBodyRoute)

ConversationId = Annotated[str, Path(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _phone(gateway: Gateway, raw: str) -> str:
    phone = msisdn(raw, gateway.settings.default_region)
    if phone is None:
        raise ApiError(400, "invalid_phone", "phone is not a valid mobile number", "phone")
    return phone


def _language(lang: str) -> str:
    wanted = lang.strip().lower()
    if wanted not in LANGUAGES:
        raise ApiError(
            400, "invalid_language", f"lang must be one of {', '.join(LANGUAGES)}", "lang"
        )
    return wanted


# -- login ----------------------------------------------------------------------------------


OTP_REFUSALS = {
    "phone": "a code was sent to this number recently; try again in {wait} s",
    "phone_hour": "this number has had its codes for the hour; try again in {wait} s",
    "client": "too many codes were asked for from this address; try again in {wait} s",
    "prefix": "too many codes went to numbers like this one; try again in {wait} s",
    "gateway": "the gateway has sent all the codes it may today; try again in {wait} s",
}
"""Messages for the app's developer; the app shows its own words from the error code."""


def too_many(message: str, field: str, wait: int) -> JSONResponse:
    """A rate limit's refusal: 429 in the one error shape, with when to try again."""
    return JSONResponse(
        error_body("too_many_requests", message, field),
        status_code=429,
        headers={"Retry-After": str(wait)},
    )


@router.post(
    "/auth/otp",
    response_model=OtpSent,
    status_code=202,
    summary="Send a one-time login code by SMS",
    responses={
        429: {
            "description": "Not now: a code went to this number moments ago, or a limit per "
            "client address, number range or day is reached; see Retry-After."
        }
    },
)
def send_otp(
    gateway: GatewayDep, session: SessionDep, request: Request, body: OtpRequest
) -> OtpSent | JSONResponse:
    phone = _phone(gateway, body.phone)
    settings = gateway.settings
    issued = citizens.request_otp(
        session,
        gateway.limiter,
        settings,
        phone,
        OTP_PURPOSE,
        client=client_address(request),
    )
    if isinstance(issued, citizens.OtpRefused):
        wait = issued.wait_seconds
        return too_many(OTP_REFUSALS[issued.reason].format(wait=wait), "phone", wait)
    ttl = settings.otp_ttl_seconds
    known = citizens.find(session, phone)
    lang = known.language if known is not None and known.language in OTP_TEXT else "en"
    text = OTP_TEXT[lang].format(code=issued, minutes=max(1, ttl // 60))
    queue_sms(session, to_phone=phone, text=text, kind="otp")
    return OtpSent(phone=phone, expires_in=ttl, retry_after=int(OTP_GAP.total_seconds()))


@router.post(
    "/auth/verify",
    response_model=TokenOut,
    summary="Exchange the SMS code for a bearer token",
    responses={
        401: {"description": "Wrong or expired code."},
        429: {
            "description": "Too many wrong codes for this number or from this client "
            "address; see Retry-After."
        },
    },
)
def verify_otp(
    gateway: GatewayDep, session: SessionDep, request: Request, body: VerifyRequest
) -> TokenOut | JSONResponse:
    phone = _phone(gateway, body.phone)
    checked = citizens.check_otp(
        session,
        gateway.limiter,
        gateway.settings,
        phone,
        OTP_PURPOSE,
        body.code,
        client=client_address(request),
    )
    if isinstance(checked, citizens.GuessesRefused):
        wait = checked.wait_seconds
        return too_many(
            f"too many wrong codes for this number or from this address; try again in {wait} s",
            "code",
            wait,
        )
    if not checked:
        session.commit()  # the failed attempt counts, so guessing burns the code
        raise ApiError(401, "wrong_code", "the code is wrong or has expired", "code")
    citizens.get_or_create(session, phone, channel=CHANNEL)
    return TokenOut(
        token=issue_token(session, phone),
        expires_in=int(TOKEN_MAX_AGE.total_seconds()),
        phone=phone,
    )


@router.delete(
    "/auth/token",
    status_code=204,
    summary="Log out: the bearer token stops working at once",
    responses={401: {"description": "No valid token was sent."}},
)
def logout(
    session: SessionDep,
    phone: CitizenPhone,
    token: Annotated[str | None, Depends(bearer_token)],
) -> Response:
    if token is not None:
        citizens.revoke_token(session, token)
    return Response(status_code=204)


# -- catalogue ------------------------------------------------------------------------------


def _service_out(service: Service, codes: dict[int, str]) -> ServiceOut:
    definition = services.definition_of(service)
    return ServiceOut(
        department=codes.get(service.department_id, ""),
        slug=service.slug,
        title=dict(definition.title),
        description=dict(definition.description) if definition.description else None,
        keywords=list(definition.keywords),
        languages=list(definition.languages),
        ussd=UssdPlacementOut(order=definition.ussd.order, hidden=definition.ussd.hidden),
    )


@router.get(
    "/departments",
    response_model=list[DepartmentOut],
    summary="Departments and their live services (the app's home screen)",
)
def list_departments(session: SessionDep) -> list[DepartmentOut]:
    departments = tenancy.menu_departments(session)
    codes = {d.id: d.code for d in departments}
    by_department: dict[int, list[ServiceOut]] = {}
    for service in services.live_services(session):
        by_department.setdefault(service.department_id, []).append(_service_out(service, codes))
    return [
        DepartmentOut(
            code=d.code,
            name=dict(d.name),
            languages=list(d.languages),
            services=by_department.get(d.id, []),
        )
        for d in departments
    ]


@router.get(
    "/languages",
    response_model=list[LanguageOut],
    summary="The languages Seva answers in, in the order a chooser lists them",
)
def list_languages() -> list[LanguageOut]:
    return [
        LanguageOut(
            code=language.code,
            name=language.name,
            english=language.english,
            direction=language.direction,
        )
        for language in (BY_CODE[code] for code in i18n.offered())
    ]


@router.get("/services", response_model=list[ServiceOut], summary="Every live service")
def list_services(session: SessionDep) -> list[ServiceOut]:
    codes = {d.id: d.code for d in tenancy.menu_departments(session)}
    return [_service_out(s, codes) for s in services.live_services(session)]


# -- conversations --------------------------------------------------------------------------


def _conversation(reply: AppReply) -> ConversationOut:
    turn = reply.turn
    return ConversationOut(
        id=reply.id,
        messages=[message_out(m) for m in turn.messages] if turn is not None else [],
        question=question_out(reply.question) if reply.question is not None else None,
        finished=reply.finished,
        answer=reply.answer,
        lang=reply.lang,
    )


@contextmanager
def _conversation_errors(session: Session) -> Iterator[None]:
    """A finished, timed-out or another citizen's conversation as its API error."""
    try:
        yield
    except ConversationTimedOut as gone:
        commit(session)  # keep the record of a conversation that timed out
        raise ApiError(404, "timed_out", gone.message, "id") from None
    except ConversationGone:
        raise ApiError(
            404, "not_found", "no open conversation has this id (finished or timed out)", "id"
        ) from None
    except NotYourConversation:
        raise ApiError(
            403, "forbidden", "this conversation belongs to another citizen", "id"
        ) from None


@router.post(
    "/sessions",
    response_model=ConversationOut,
    status_code=201,
    summary="Start a service (with a token, as the logged-in citizen)",
)
def start_conversation(
    gateway: GatewayDep, session: SessionDep, phone: OptionalCitizenPhone, body: StartRequest
) -> ConversationOut:
    started = time.perf_counter()
    metrics.REQUESTS.labels(CHANNEL).inc()
    lang = _language(body.lang) if body.lang is not None else None
    code = body.department.strip().upper()
    service = services.find_service(session, code, body.service)
    department = tenancy.department_by_code(session, code)
    if service is None and department is not None and body.service in services.GATEWAY_SERVICES:
        service = calls.service_for(session, department, body.service)
    if service is None:
        raise ApiError(
            404,
            "not_found",
            f"no live service {body.service} in department {body.department}",
            "service",
        )
    reply = AppConversations(gateway.runtime).start(session, service, phone=phone, lang=lang)
    metrics.LATENCY.labels(CHANNEL).observe(time.perf_counter() - started)
    return _conversation(reply)


@router.get(
    "/sessions/{conversation}",
    response_model=ConversationOut,
    summary="The open question of a conversation (to resume after the app was closed)",
)
def get_conversation(
    gateway: GatewayDep,
    session: SessionDep,
    phone: OptionalCitizenPhone,
    conversation: ConversationId,
) -> ConversationOut:
    with _conversation_errors(session):
        reply = AppConversations(gateway.runtime).current(session, conversation, phone=phone)
    return _conversation(reply)


@router.post(
    "/sessions/{conversation}/answer",
    response_model=ConversationOut,
    summary="Answer the open question",
)
def answer_conversation(
    gateway: GatewayDep,
    session: SessionDep,
    phone: OptionalCitizenPhone,
    conversation: ConversationId,
    body: AnswerRequest,
) -> ConversationOut:
    started = time.perf_counter()
    metrics.REQUESTS.labels(CHANNEL).inc()
    with _conversation_errors(session):
        reply = AppConversations(gateway.runtime).answer(
            session, conversation, body.text, phone=phone
        )
    metrics.LATENCY.labels(CHANNEL).observe(time.perf_counter() - started)
    return _conversation(reply)


@router.delete(
    "/sessions/{conversation}",
    response_model=ConversationOut,
    summary="Cancel a conversation",
)
def cancel_conversation(
    gateway: GatewayDep,
    session: SessionDep,
    phone: OptionalCitizenPhone,
    conversation: ConversationId,
) -> ConversationOut:
    with _conversation_errors(session):
        reply = AppConversations(gateway.runtime).cancel(session, conversation, phone=phone)
    return _conversation(reply)


# -- the citizen ----------------------------------------------------------------------------


def _me(session: Session, citizen: Citizen) -> MeOut:
    consents: list[ConsentOut] = []
    for department_id, fields in citizens.consents_by_department(session, citizen).items():
        department = tenancy.department_by_id(session, department_id)
        if department is not None:
            consents.append(
                ConsentOut(
                    department=department.code, department_name=dict(department.name), fields=fields
                )
            )
    return MeOut(
        phone=citizen.phone,
        language=citizen.language,
        profile=citizens.profile_of(session, citizen),
        consents=sorted(consents, key=lambda consent: consent.department),
    )


@router.get("/me", response_model=MeOut, summary="The logged-in citizen's record")
def get_me(session: SessionDep, phone: CitizenPhone) -> MeOut:
    return _me(session, citizens.get_or_create(session, phone, channel=CHANNEL))


@router.put(
    "/me/language",
    response_model=MeOut,
    summary="Set the citizen's language (used on SMS, USSD, the web and the app)",
)
def set_my_language(session: SessionDep, phone: CitizenPhone, body: LanguageRequest) -> MeOut:
    citizen = citizens.get_or_create(session, phone, channel=CHANNEL)
    citizens.set_language(session, citizen, _language(body.lang))
    session.flush()
    return _me(session, citizen)


@router.get(
    "/me/applications",
    response_model=list[ApplicationOut],
    summary="The citizen's applications with their status timelines, newest first",
)
def my_applications(session: SessionDep, phone: CitizenPhone) -> list[ApplicationOut]:
    citizen = citizens.find(session, phone)
    if citizen is None:
        return []
    rows = applications.of_citizen(session, citizen, limit=MAX_LISTED)
    lang = i18n.served(citizen.language or "")
    return [application_out(session, row, lang) for row in rows]


LOOKUP_WINDOW = 60.0
"""Seconds over which ``SEVA_LOOKUP_CLIENT_LIMIT`` anonymous look-ups are allowed."""


@router.get(
    "/applications/{ref}",
    response_model=StatusOut,
    summary="An application's status by reference (what the STATUS keyword answers)",
    responses={
        429: {
            "description": "Too many look-ups without a token from this client address "
            "(SEVA_LOOKUP_CLIENT_LIMIT a minute); see Retry-After."
        }
    },
)
def application_status(
    gateway: GatewayDep,
    session: SessionDep,
    request: Request,
    ref: Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$")],
    phone: OptionalCitizenPhone,
    lang: Annotated[str | None, Query(max_length=8)] = None,
) -> StatusOut | JSONResponse:
    """A random reference (``FOOD-4F7K2M9Q``) shows its status to whoever holds it; an older
    sequential one (``FOOD-000042``) only with the token of the citizen who applied, and
    answers 404 like a reference that does not exist to everyone else.

    The status and note are in ``lang``, else in the language of the citizen whose token is
    given (as their SMS reads), else in English; ``status_code`` names a suggested status in
    every language.

    Look-ups without a token are limited per client address, so references cannot be
    enumerated at the speed of the network; a citizen's own look-ups are not."""
    if phone is None:
        rate = Rate(gateway.settings.lookup_client_limit, LOOKUP_WINDOW)
        wait = gateway.limiter.hit(f"lookup:client:{client_address(request)}", rate)
        if wait:
            seconds = wait_seconds(wait)
            return too_many(
                f"too many look-ups from this address; try again in {seconds} s", "ref", seconds
            )
    wanted = _language(lang) if lang is not None else None
    application = applications.find_for_caller(session, ref, phone=phone)
    if application is None:
        raise ApiError(404, "not_found", f"no application {ref.upper()}", "ref")
    if wanted is None:
        reader = citizens.find(session, phone) if phone is not None else None
        wanted = reader.language if reader is not None and reader.language else i18n.SOURCE
    summary = applications.summary(session, application, i18n.served(wanted))
    return StatusOut(
        ref=summary["ref"],
        status=summary["status"],
        status_code=summary["status_code"] or None,
        service=summary["service"],
        department=summary["department"],
        department_name=dict(summary["department_name"]),
        updated=summary["updated"],
        note=summary["note"] or "",
    )
