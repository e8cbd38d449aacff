"""Citizen login for the app API: a one-time code by SMS, then a signed bearer token.

The token is an itsdangerous ``URLSafeTimedSerializer`` signature (salt ``citizen``) over the
citizen's E.164 phone, valid for 30 days: stateless, so any node can check it, and changing
``SEVA_SECRET_KEY`` logs every app out. Codes are throttled per phone (one per 30 seconds, ten
an hour) because each one costs an SMS and an unthrottled endpoint is an SMS-pumping target.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from seva.citizens import service as citizens
from seva.deps import GatewayDep

TOKEN_SALT = "citizen"  # noqa: S105 - itsdangerous salt (a namespace), not a secret
TOKEN_MAX_AGE = timedelta(days=30)
OTP_PURPOSE = "app-login"
OTP_GAP = timedelta(seconds=30)
OTP_PER_HOUR = 10

OTP_TEXT = {
    "en": "Seva login code: {code}. Valid for {minutes} minutes. Do not share it with anyone.",
    "hi": "सेवा लॉगिन कोड: {code}। {minutes} मिनट तक मान्य। इसे किसी के साथ साझा न करें।",
}

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="CitizenToken",
    description="The token from POST /api/v1/auth/verify, sent as `Authorization: Bearer …`.",
)


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=TOKEN_SALT)


def issue_token(secret: str, phone: str) -> str:
    return _serializer(secret).dumps({"phone": phone})


def read_token(secret: str, token: str) -> str | None:
    """The phone a valid, unexpired token was issued to, else None."""
    try:
        data: Any = _serializer(secret).loads(token, max_age=int(TOKEN_MAX_AGE.total_seconds()))
    except (SignatureExpired, BadSignature):
        return None
    phone = data.get("phone") if isinstance(data, dict) else None
    return phone if isinstance(phone, str) and phone.startswith("+") else None


def otp_wait(session: Session, phone: str, now: datetime) -> int:
    """Seconds before another code may be sent to ``phone`` (0: now). Codes for any purpose
    count (the portal's too): the limit protects the phone, not one login form."""
    last = citizens.last_otp_at(session, phone)
    if last is not None and now - _aware(last) < OTP_GAP:
        return _seconds(_aware(last) + OTP_GAP - now)
    recent = citizens.recent_otp_times(
        session, phone, since=now - timedelta(hours=1), limit=OTP_PER_HOUR
    )
    if len(recent) >= OTP_PER_HOUR:
        return _seconds(_aware(recent[-1]) + timedelta(hours=1) - now)
    return 0


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="citizen"'})


def optional_citizen(
    gateway: GatewayDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """The logged-in citizen's phone, None without a token; a bad token is refused, not
    ignored, so an app never believes it is logged in when it is not."""
    if credentials is None:
        return None
    phone = read_token(gateway.settings.secret_key.get_secret_value(), credentials.credentials)
    if phone is None:
        raise _unauthorized("the token is invalid or has expired; log in again")
    return phone


def required_citizen(phone: Annotated[str | None, Depends(optional_citizen)]) -> str:
    if phone is None:
        raise _unauthorized("log in first: POST /api/v1/auth/otp, then /api/v1/auth/verify")
    return phone


CitizenPhone = Annotated[str, Depends(required_citizen)]
OptionalCitizenPhone = Annotated[str | None, Depends(optional_citizen)]
