"""The citizen's locker for the app (``/api/v1``, bearer token from the app login): list the
documents (issued, uploaded, received during calls) and download one, each download written to
the document's access log as on the portal."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from seva.bodies import SmallBodyRoute
from seva.citizens import service as citizens
from seva.citizens.api_auth import CitizenPhone
from seva.core import CoreDep
from seva.deps import SessionDep
from seva.errors import ApiError
from seva.locker import service as locker
from seva.locker.service import LockerRefused
from seva.params import RowId

router = APIRouter(prefix="/api/v1", tags=["app"], route_class=SmallBodyRoute)


class DocumentOut(BaseModel):
    id: int
    kind: str = Field(description="issued, uploaded or received (during a call)")
    title: str
    filename: str
    mime: str
    size: int
    sha256: str
    uri: str | None = None
    verify_code: str | None = None
    revoked: bool = False
    source: str | None = None
    created_at: datetime


@router.get(
    "/me/documents",
    response_model=list[DocumentOut],
    summary="The citizen's locker: issued documents, uploads and files received in calls",
)
def my_documents(session: SessionDep, phone: CitizenPhone) -> list[DocumentOut]:
    citizen = citizens.find(session, phone)
    if citizen is None:
        return []
    return [
        DocumentOut(
            id=d.id,
            kind=d.kind,
            title=d.title,
            filename=d.filename,
            mime=d.mime,
            size=d.size,
            sha256=d.sha256,
            uri=d.uri,
            verify_code=d.verify_code,
            revoked=d.revoked_at is not None,
            source=d.source,
            created_at=d.created_at,
        )
        for d in locker.documents(session, citizen)
    ]


@router.get(
    "/me/documents/{document_id}/file",
    summary="Download one of the citizen's documents (logged in the document's access log)",
    response_class=Response,
)
def my_document_file(
    session: SessionDep, gateway: CoreDep, phone: CitizenPhone, document_id: RowId
) -> Response:
    citizen = citizens.find(session, phone)
    if citizen is None:
        raise ApiError(404, "not_found", "no such document in your locker", "document_id")
    try:
        document, data = locker.open_own(session, gateway.locker, citizen, document_id)
    except LockerRefused as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    return Response(
        data,
        media_type=document.mime,
        headers={
            "Content-Disposition": f'attachment; filename="{document.filename}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
