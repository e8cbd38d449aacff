"""Callers' recorded answers (``message`` questions): kept once, found by their token.

The SIP endpoint hands over the audio it recorded, stored as an 8 kHz WAV in the file store
the locker uses (content-addressed, on disk or S3). A cloud telephony provider records on its
side and sends the recording's address; Seva keeps the address and the department fetches
the audio from the provider with its own credentials, so no webhook can make Seva fetch an
address of the caller's choosing.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from seva.locker.storage import Storage
from seva.voice.models import VoiceRecording

PREFIX = "voice:"
MAX_BYTES = 5 * 1024 * 1024
"""Five minutes of 8 kHz 16-bit audio is 4.8 MB: the longest ``seconds`` a step may ask."""


def reference(recording: VoiceRecording) -> str:
    """The value a service sees for the answer (and keeps in an application's data)."""
    return PREFIX + recording.token


def token_of(value: str) -> str | None:
    """The token in a ``voice:…`` value, or None when the value is something else."""
    if not value.startswith(PREFIX):
        return None
    token = value[len(PREFIX) :]
    return token if len(token) == 32 and all(c in "0123456789abcdef" for c in token) else None


def provider_url(raw: str | None) -> str | None:
    """A provider's recording address when it is a plain http(s) URL; None otherwise."""
    if not raw or len(raw) > 500:
        return None
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return raw.strip()


def save(
    session: Session,
    storage: Storage,
    *,
    department_id: int,
    service_id: int | None,
    channel: str,
    seconds: float,
    wav: bytes | None = None,
    source_url: str | None = None,
) -> VoiceRecording:
    """One recording, from its audio (``wav``) or from where a provider keeps it."""
    if (wav is None) == (source_url is None):
        raise ValueError("a recording is either audio or a provider's address")
    if wav is not None and len(wav) > MAX_BYTES:
        raise ValueError("recording too large")
    recording = VoiceRecording(
        token=secrets.token_hex(16),
        department_id=department_id,
        service_id=service_id,
        channel=channel,
        storage_key=storage.put(wav) if wav is not None else None,
        source_url=source_url,
        seconds=round(max(0.0, seconds), 2),
        size=len(wav) if wav is not None else 0,
    )
    session.add(recording)
    session.flush()
    return recording


def find(session: Session, token: str, department_id: int) -> VoiceRecording | None:
    """A department's recording; another department's token finds nothing."""
    return session.scalar(
        select(VoiceRecording).where(
            VoiceRecording.token == token, VoiceRecording.department_id == department_id
        )
    )


def recent(
    session: Session, department_id: int, *, limit: int = 50, before: int | None = None
) -> list[VoiceRecording]:
    """Newest first; ``before`` (an id) pages back."""
    query = select(VoiceRecording).where(VoiceRecording.department_id == department_id)
    if before is not None:
        query = query.where(VoiceRecording.id < before)
    return list(session.scalars(query.order_by(VoiceRecording.id.desc()).limit(limit)))
