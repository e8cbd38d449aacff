"""API-key authentication of the department API.

A department's backend sends its key as ``Authorization: Bearer sk_…`` or ``X-API-Key: sk_…``
(the two conventions partner systems most often support). The key decides the department:
every query of the department API is then scoped to it, so a key can never reach another
department's data, whatever id or reference it sends.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from seva.deps import SessionDep
from seva.tenancy.models import Department
from seva.tenancy.service import authenticate_api_key

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="DepartmentKey",
    description="A department API key, sent as `Authorization: Bearer sk_…`.",
)
_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="DepartmentKeyHeader",
    description="The same key in an `X-API-Key` header.",
)
MAX_KEY_LENGTH = 200


async def api_key(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> str:
    """The key the request carries, not yet checked (routes that check it in their own
    transaction, like the send API's group commit, take this instead of the department)."""
    secret = bearer.credentials if bearer is not None else header
    if not secret:
        raise unauthorized("an API key is required (Authorization: Bearer sk_… or X-API-Key)")
    if len(secret) > MAX_KEY_LENGTH:
        raise unauthorized(INVALID_KEY)
    return secret


ApiKeyDep = Annotated[str, Depends(api_key)]


def current_department(session: SessionDep, secret: ApiKeyDep) -> Department:
    department = authenticate_api_key(session, secret)
    if department is None:
        raise unauthorized(INVALID_KEY)
    return department


INVALID_KEY = "the API key is not valid or has been revoked"


def unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="department"'})


DepartmentDep = Annotated[Department, Depends(current_department)]
