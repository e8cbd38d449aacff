"""The department API for voice (API key): notifications (``/api/v1/voice/notices``),
recorded prompts (``/api/v1/voice/prompts``) and the messages callers recorded
(``/api/v1/voice/recordings``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from seva.core import Core, CoreDep
from seva.db.base import utcnow
from seva.deps import SessionDep
from seva.errors import ApiError
from seva.flows import service as services
from seva.flows.schema import LANGUAGES
from seva.params import RowId
from seva.tenancy.api_auth import DepartmentDep
from seva.voice import recordings
from seva.voice import service as voice
from seva.voice.models import VoiceRecording
from seva.voice.tts import sentence_key

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
    session: SessionDep, gateway: CoreDep, department: DepartmentDep, body: NoticeIn
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
    notice_id: RowId,
) -> Any:
    notice = voice.notice_of(session, department, notice_id)
    if notice is None:
        raise ApiError(404, "not_found", f"no voice notice {notice_id}")
    return voice.report(session, notice)


MAX_PROMPT_BYTES = 8 * 1024 * 1024


@router.put(
    "/voice/prompts",
    status_code=204,
    response_class=Response,
    summary="Record a sentence in a human voice for your services' calls and notices",
)
def put_prompt(
    gateway: CoreDep,
    department: DepartmentDep,
    text: Annotated[str, Form(max_length=1000)],
    file: Annotated[UploadFile, File(description="16-bit mono WAV, 8-48 kHz, up to 60 s")],
    lang: Annotated[str, Form(max_length=8)] = "en",
) -> Response:
    if lang not in LANGUAGES:
        raise ApiError(400, "invalid_language", f"lang must be one of {', '.join(LANGUAGES)}")
    if not sentence_key(text):
        raise ApiError(422, "empty_text", "text is empty", "text")
    data = file.file.read(MAX_PROMPT_BYTES + 1)  # a plain def: runs in a worker thread
    if len(data) > MAX_PROMPT_BYTES:
        raise ApiError(413, "file_too_large", "a recording is at most 8 MB", "file")
    try:
        gateway.speech.recorded(text, lang, data, owner=department.code)
    except ValueError as exc:
        raise ApiError(422, "bad_recording", f"not a usable WAV recording: {exc}", "file") from None
    return Response(status_code=204)


@router.delete(
    "/voice/prompts",
    status_code=204,
    response_class=Response,
    summary="Go back to synthesised speech for a sentence",
)
def delete_prompt(
    gateway: CoreDep, department: DepartmentDep, text: str, lang: str = "en"
) -> Response:
    if not gateway.speech.forget_recording(text, lang, owner=department.code):
        raise ApiError(404, "not_found", "no recording of that sentence", "text")
    return Response(status_code=204)


class RecordingOut(BaseModel):
    id: str = Field(description="The token in the answer's value (``voice:<id>``).")
    service: str | None = Field(description="The service whose question it answers.")
    channel: str = Field(description="sip (audio kept by Seva) or twiml (kept by the provider)")
    seconds: float
    size: int = Field(description="Bytes of WAV kept by Seva; 0 when the provider keeps it.")
    audio_url: str = Field(description="Where to fetch the audio.")
    created_at: datetime


def _recording_out(gateway: Core, slugs: dict[int, str], recording: VoiceRecording) -> RecordingOut:
    base = gateway.settings.base_url.rstrip("/")
    return RecordingOut(
        id=recording.token,
        service=slugs.get(recording.service_id) if recording.service_id else None,
        channel=recording.channel,
        seconds=recording.seconds,
        size=recording.size,
        audio_url=recording.source_url or f"{base}/api/v1/voice/recordings/{recording.token}",
        created_at=recording.created_at,
    )


@router.get(
    "/voice/recordings",
    response_model=list[RecordingOut],
    summary="Recent messages callers recorded for your services, newest first",
)
def list_recordings(
    session: SessionDep,
    gateway: CoreDep,
    department: DepartmentDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[
        RowId | None, Query(description="Page back: an earlier page's last id")
    ] = None,
) -> Any:
    found = recordings.recent(session, department.id, limit=limit, before=before)
    slugs = {s.id: s.slug for s in services.department_services(session, department.id)}
    return [_recording_out(gateway, slugs, r) for r in found]


@router.get(
    "/voice/recordings/{token}",
    response_class=Response,
    summary="A recorded message's audio (WAV), or a redirect to the provider that keeps it",
    responses={200: {"content": {"audio/wav": {}}}, 307: {"description": "kept by the provider"}},
)
def get_recording(
    session: SessionDep,
    gateway: CoreDep,
    department: DepartmentDep,
    token: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
) -> Response:
    recording = recordings.find(session, token, department.id)
    if recording is None:
        raise ApiError(404, "not_found", "no recording with that id")
    if recording.storage_key is None:
        return RedirectResponse(str(recording.source_url), status_code=307)
    return Response(
        gateway.locker.storage.get(recording.storage_key),
        media_type="audio/wav",
        headers={"Cache-Control": "private, max-age=3600"},
    )
