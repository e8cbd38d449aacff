"""Citizen login for the app API: a one-time code by SMS, then a signed bearer token.

The token is an itsdangerous ``URLSafeTimedSerializer`` signature (salt ``citizen``) over the
citizen's E.164 phone, valid for 30 days: stateless, so any node can check it, and changing
``SEVA_SECRET_KEY`` logs every app out. Codes are limited (``citizens.request_otp``: one per
30 seconds and ten an hour per phone, and per client, per number range and per day) because
each one costs an SMS and an unlimited endpoint is an SMS-pumping target.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.exceptions import HTTPException

from seva.deps import GatewayDep

TOKEN_SALT = "citizen"  # noqa: S105 - itsdangerous salt (a namespace), not a secret
TOKEN_MAX_AGE = timedelta(days=30)
OTP_PURPOSE = "app-login"

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
    phone = read_token(gateway.settings.secret_key, credentials.credentials)
    if phone is None:
        raise _unauthorized("the token is invalid or has expired; log in again")
    return phone


def required_citizen(phone: Annotated[str | None, Depends(optional_citizen)]) -> str:
    if phone is None:
        raise _unauthorized("log in first: POST /api/v1/auth/otp, then /api/v1/auth/verify")
    return phone


CitizenPhone = Annotated[str, Depends(required_citizen)]
OptionalCitizenPhone = Annotated[str | None, Depends(optional_citizen)]
