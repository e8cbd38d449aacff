"""A stand-in department backend for the demo's property-tax service.

It checks the gateway's HMAC signature the way a real department server must (see the
README), so the demo shows a signed webhook round trip without any outside system.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from seva.deps import SessionDep
from seva.errors import ApiError
from seva.flows.runtime import sign
from seva.tenancy.service import department_by_code

router = APIRouter(prefix="/demo/backend", tags=["demo"], include_in_schema=False)

MAX_SKEW_SECONDS = 300


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """How a department checks ``X-Seva-Signature``: recompute and compare in constant time."""
    try:
        fresh = abs(time.time() - int(timestamp)) <= MAX_SKEW_SECONDS
    except ValueError:
        return False
    given = signature.encode("utf-8", "replace")  # a header may carry non-ASCII characters
    return fresh and hmac.compare_digest(sign(secret, timestamp, body).encode(), given)


@router.get("/property-tax/{property_id}")
async def property_tax(
    property_id: str,
    request: Request,
    session: SessionDep,
    x_seva_timestamp: Annotated[str, Header()] = "",
    x_seva_signature: Annotated[str, Header()] = "",
) -> JSONResponse:
    # Async to read the signed body; the database is read in the thread pool, off the loop.
    department = await run_in_threadpool(department_by_code, session, "MCD")
    body = await request.body()
    if department is None or not verify(
        department.webhook_secret, x_seva_timestamp, body, x_seva_signature
    ):
        raise ApiError(401, "bad_signature", "the request is not signed by the gateway")
    if not (
        property_id.isascii() and property_id.isdigit() and len(property_id) == 8
    ) or property_id.startswith("0"):
        raise ApiError(404, "not_found", "no such property")
    digest = int(hashlib.sha256(property_id.encode()).hexdigest()[:8], 16)
    return JSONResponse(
        {
            "property_id": property_id,
            "ward": f"{digest % 250 + 1:03d}",
            "due": f"{(digest % 40 + 5) * 250:,}",
            "due_date": "31-03-2027",
            "upi": "mcdtax@sbi",
        }
    )
