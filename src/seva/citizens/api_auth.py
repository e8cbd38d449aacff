"""Citizen login for the app API: a one-time code by SMS, then a bearer token.

The token is 32 random bytes, valid for 30 days. It carries nothing readable: the database
keeps its SHA-256 with the phone it stands for and its expiry (``citizens.issue_token``), so
any node can check it, ``DELETE /api/v1/auth/token`` (logout) revokes it everywhere at once,
and a copy of the table lets no one in. Codes are limited (``citizens.request_otp``: one per
30 seconds and ten an hour per phone, and per client, per number range and per day) because
each one costs an SMS and an unlimited endpoint is an SMS-pumping target.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from seva.citizens import service as citizens
from seva.deps import SessionDep
from seva.i18n import entry

TOKEN_MAX_AGE = timedelta(days=30)
OTP_PURPOSE = "app-login"

OTP_TEXT = entry("otp_app")

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="CitizenToken",
    description="The token from POST /api/v1/auth/verify, sent as `Authorization: Bearer …`.",
)


def issue_token(session: Session, phone: str) -> str:
    return citizens.issue_token(session, phone, ttl=TOKEN_MAX_AGE)


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="citizen"'})


def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    return credentials.credentials if credentials is not None else None


def optional_citizen(
    session: SessionDep, token: Annotated[str | None, Depends(bearer_token)]
) -> str | None:
    """The logged-in citizen's phone, None without a token; a bad token is refused, not
    ignored, so an app never believes it is logged in when it is not."""
    if token is None:
        return None
    phone = citizens.token_phone(session, token)
    if phone is None:
        raise _unauthorized("the token is invalid or has expired; log in again")
    return phone


def required_citizen(phone: Annotated[str | None, Depends(optional_citizen)]) -> str:
    if phone is None:
        raise _unauthorized("log in first: POST /api/v1/auth/otp, then /api/v1/auth/verify")
    return phone


CitizenPhone = Annotated[str, Depends(required_citizen)]
OptionalCitizenPhone = Annotated[str | None, Depends(optional_citizen)]
