"""The department API for voice notifications (``/api/v1/voice/notices``, API key)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from seva.db.base import utcnow
from seva.deps import GatewayDep, SessionDep
from seva.errors import ApiError
from seva.flows.schema import LANGUAGES
from seva.tenancy.api_auth import DepartmentDep
from seva.voice import service as voice

router = APIRouter(prefix="/api/v1", tags=["Voice API"])


class NoticeIn(BaseModel):
    to: list[str] | str = Field(description="One mobile number or a list (up to 10,000).")
    text: str = Field(max_length=1000, description="Spoken to each citizen who answers.")
    lang: str = Field(default="en", max_length=8)
    max_attempts: int = Field(default=3, ge=1, le=5)
    retry_seconds: int = Field(default=600, ge=30, le=86400)


class NoticeCallOut(BaseModel):
    to: str
    status: str = Field(description="queued, calling, heard, partly (hung up early), unreached")
    attempts: int
    last_outcome: str | None
    heard_seconds: float | None
    answered_at: datetime | None


class NoticeOut(BaseModel):
    id: int
    text: str
    lang: str
    counts: dict[str, int]
    calls: list[NoticeCallOut]


@router.post(
    "/voice/notices",
    status_code=202,
    response_model=NoticeOut,
    summary="Call citizens and speak a message to them (retried when busy or unanswered)",
)
def create_notice(
    session: SessionDep, gateway: GatewayDep, department: DepartmentDep, body: NoticeIn
) -> Any:
    if body.lang not in LANGUAGES:
        raise ApiError(400, "invalid_language", f"lang must be one of {', '.join(LANGUAGES)}")
    try:
        notice = voice.create_notice(
            session,
            department,
            to=[body.to] if isinstance(body.to, str) else body.to,
            text=body.text,
            lang=body.lang,
            max_attempts=body.max_attempts,
            retry_seconds=body.retry_seconds,
            now=utcnow(),
            region=gateway.settings.default_region,
        )
    except voice.NoticeRefused as exc:
        raise ApiError(422, exc.code, exc.message, exc.field) from None
    return voice.report(session, notice)


@router.get("/voice/notices/{notice_id}", response_model=NoticeOut, summary="Who heard it")
def get_notice(
    session: SessionDep,
    department: DepartmentDep,
    notice_id: Annotated[int, Path(ge=1)],
) -> Any:
    notice = voice.notice_of(session, department, notice_id)
    if notice is None:
        raise ApiError(404, "not_found", f"no voice notice {notice_id}")
    return voice.report(session, notice)
