"""Locker operations: issue, keep, share, open and verify documents.

Every opening of a document (by the citizen, through a share link, by a verifier, by the
issuing department) is written to the access log in the same transaction that serves it, so
the citizen's list of who saw what is complete.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from seva import i18n, references
from seva.applications.models import Application
from seva.citizens import service as citizens
from seva.citizens.models import Citizen
from seva.i18n.languages import BY_CODE
from seva.locker.models import ISSUED, RECEIVED, UPLOADED, Access, Document, Share
from seva.locker.pdf import render_certificate
from seva.locker.signing import Signer
from seva.locker.storage import Storage
from seva.tenancy.models import Department

MAX_BYTES = 10 * 1024 * 1024
MAX_RECORDING_BYTES = 100 * 1024 * 1024
"""A call recording (WebM from the browser's MediaRecorder): about 40 minutes of 640×480."""
WEBM_MAGIC = b"\x1a\x45\xdf\xa3"
MAX_SHARE_HOURS = 24 * 30
DOCTYPE = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
"""No 0/O or 1/I: a code read out over the phone or typed from a printout must survive."""
MAX_FIELDS = 30
MAX_HOLDER_NAME = 200
MAX_DRAWS = 8
"""Random URIs or codes tried before giving up: each draw repeats an existing one with a chance
of documents / 2**40, so even a second draw is rare."""


class LockerRefused(Exception):
    """Something the locker will not do, with a code and a message to show as they are."""

    def __init__(self, code: str, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Locker:
    """The locker's parts that are not the database: file store, signing key, public URL."""

    storage: Storage
    signer: Signer
    base_url: str

    def verify_url(self, uri: str) -> str:
        return f"{self.base_url.rstrip('/')}/verify/{uri}"


# -- files from outside ---------------------------------------------------------------------


def sanitise(filename: str, data: bytes) -> tuple[str, bytes]:
    """The file's type (from its bytes, never its name) and the bytes to keep.

    PDF, JPEG and PNG only, at most 10 MB. Images are decoded and re-encoded, which drops
    EXIF (camera, time, GPS position) and anything appended after the image; a file that
    does not decode as the type its first bytes claim is refused.
    """
    if not data:
        raise LockerRefused("empty_file", "the file is empty")
    if len(data) > MAX_BYTES:
        raise LockerRefused(
            "file_too_large", f"files are limited to {MAX_BYTES // (1024 * 1024)} MB", status=413
        )
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-1024:]:
            raise LockerRefused("bad_file", f"{filename} is not a complete PDF")
        return "application/pdf", data
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", _reencode(filename, data, "JPEG")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", _reencode(filename, data, "PNG")
    raise LockerRefused(
        "file_type", "only PDF, JPEG and PNG files can be kept in the locker", status=415
    )


def _reencode(filename: str, data: bytes, fmt: str) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != fmt:
                raise LockerRefused("bad_file", f"{filename} is not a valid {fmt} image")
            if image.width * image.height > 40_000_000:
                raise LockerRefused("bad_file", f"{filename} is too large an image")
            image.load()
            clean = Image.new(image.mode, image.size)
            clean.paste(image)
            out = io.BytesIO()
            if fmt == "JPEG":
                clean.convert("RGB").save(out, format="JPEG", quality=90)
            else:
                clean.save(out, format="PNG", optimize=False)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise LockerRefused("bad_file", f"{filename} could not be read as an image") from exc
    return out.getvalue()


def _safe_name(filename: str, mime: str) -> str:
    stem = re.sub(r"[^\w.\- ]+", "_", filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip()
    stem = stem[:120] or "document"
    extension = {
        "application/pdf": ".pdf",
        "image/jpeg": ".jpg",
        "image/png": ".png",
        "video/webm": ".webm",
        "audio/webm": ".webm",
    }[mime]
    return stem if stem.lower().endswith(extension) else stem + extension


# -- keeping --------------------------------------------------------------------------------


def add_file(
    session: Session,
    locker: Locker,
    citizen: Citizen,
    *,
    filename: str,
    data: bytes,
    kind: str = UPLOADED,
    title: str | None = None,
    source: str | None = None,
) -> Document:
    """Keep a file the citizen uploaded or received during a call."""
    if kind not in (UPLOADED, RECEIVED):
        raise ValueError(kind)
    mime, kept = sanitise(filename, data)
    name = _safe_name(filename, mime)
    document = Document(
        citizen_id=citizen.id,
        kind=kind,
        title=(title or name)[:200],
        filename=name,
        mime=mime,
        size=len(kept),
        sha256=hashlib.sha256(kept).hexdigest(),
        storage_key=locker.storage.put(kept),
        source=source,
    )
    session.add(document)
    session.flush()
    return document


def add_recording(
    session: Session,
    locker: Locker,
    citizen: Citizen,
    *,
    filename: str,
    data: bytes,
    audio_only: bool,
    title: str,
    source: str,
) -> Document:
    """Keep a call recording both sides agreed to, as a file received during the call.

    Only WebM (an EBML header, which is what browsers' MediaRecorder writes) is taken; the
    bytes are kept as they are, since re-encoding video is not the gateway's job."""
    if not data:
        raise LockerRefused("empty_file", "the recording is empty")
    if len(data) > MAX_RECORDING_BYTES:
        limit = MAX_RECORDING_BYTES // (1024 * 1024)
        raise LockerRefused("file_too_large", f"recordings are limited to {limit} MB", status=413)
    if not data.startswith(WEBM_MAGIC) or b"webm" not in data[:64]:
        raise LockerRefused("file_type", "a recording must be a WebM file", status=415)
    mime = "audio/webm" if audio_only else "video/webm"
    document = Document(
        citizen_id=citizen.id,
        kind=RECEIVED,
        title=title[:200],
        filename=_safe_name(filename, mime),
        mime=mime,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_key=locker.storage.put(data),
        source=source[:80],
    )
    session.add(document)
    session.flush()
    return document


def issue(
    session: Session,
    locker: Locker,
    department: Department,
    *,
    phone: str,
    doctype: str,
    title: str,
    fields: Mapping[str, str],
    holder_name: str | None = None,
    lang: str = "en",
    now: datetime | None = None,
) -> Document:
    """Render, sign and store a certificate in the citizen's locker.

    The certificate names its holder: ``holder_name`` when the department gives it, else the
    name the citizen let this department use or gave in an application to it
    (``holder_name_of``); the masked mobile number stands beside it either way. Its own
    words, its date and the department's name are in ``lang`` (one of the languages of
    ``seva.i18n.languages``)."""
    doctype = doctype.strip().upper()
    if lang not in BY_CODE:
        raise LockerRefused("invalid_lang", f"lang is one of {', '.join(BY_CODE)}", status=422)
    if not DOCTYPE.match(doctype):
        raise LockerRefused(
            "invalid_doctype", "doctype is 2-10 capital letters or digits, e.g. RATCR", status=422
        )
    if not title.strip() or len(title) > 200:
        raise LockerRefused("invalid_title", "title is 1-200 characters")
    if holder_name is not None and len(holder_name) > MAX_HOLDER_NAME:
        raise LockerRefused(
            "invalid_holder_name", f"holder_name is at most {MAX_HOLDER_NAME} chars"
        )
    if len(fields) > MAX_FIELDS or any(len(k) > 60 or len(v) > 500 for k, v in fields.items()):
        raise LockerRefused(
            "invalid_fields", f"at most {MAX_FIELDS} fields, names ≤ 60 and values ≤ 500 chars"
        )
    now = now or datetime.now(UTC)
    # The certificate is rendered and stored before anything is written: a store (S3) can be
    # slow, and SQLite's writer (or a PostgreSQL transaction) must not wait on it. Storage is
    # content-addressed, so a file stored for a request that then fails is harmless.
    with session.no_autoflush:
        uri = _new_uri(session, f"{department.code}-{doctype}")
        verify_code = _new_code(session)
        known = citizens.find(session, phone)
        name = " ".join((holder_name or "").split()) or (
            holder_name_of(session, known, department) if known is not None else None
        )
    pdf = render_certificate(
        title=title.strip(),
        issuer=department.display_name(lang),
        issuer_code=department.code,
        holder=name or "",
        holder_phone=_masked(phone),
        fields=fields,
        uri=uri,
        verify_code=verify_code,
        verify_url=locker.verify_url(uri),
        issued_at=now,
        lang=lang,
    )
    storage_key = locker.storage.put(pdf)
    citizen = citizens.get_or_create(session, phone)
    document = Document(
        citizen_id=citizen.id,
        kind=ISSUED,
        title=title.strip(),
        doctype=doctype,
        issuer_department_id=department.id,
        filename=f"{uri}.pdf",
        mime="application/pdf",
        size=len(pdf),
        sha256=hashlib.sha256(pdf).hexdigest(),
        storage_key=storage_key,
        verify_code=verify_code,
        uri=uri,
        created_at=now,
        signature=locker.signer.sign(pdf),
    )
    session.add(document)
    session.flush()
    return document


NAME_FIELDS = ("name", "full_name", "applicant_name")
"""Where a citizen's name is kept: the profile field or application answer a service asks
for it under (the demo's services ask ``name``)."""
NEWEST_APPLICATIONS = 20


def holder_name_of(session: Session, citizen: Citizen, department: Department) -> str | None:
    """The citizen's name as this department knows it: from the profile fields the citizen
    let it use, else from the newest of their applications to it that gave one. None when
    the department was never told it (the certificate then names the mobile number only)."""
    found = _name_in(citizens.consented_profile(session, citizen.id, department.id))
    if found is not None:
        return found
    answers = session.scalars(
        select(Application.data)
        .where(Application.citizen_id == citizen.id, Application.department_id == department.id)
        .order_by(Application.id.desc())
        .limit(NEWEST_APPLICATIONS)
    )
    return next((name for data in answers if (name := _name_in(data)) is not None), None)


def _name_in(values: Mapping[str, Any]) -> str | None:
    for field in NAME_FIELDS:
        value = " ".join(str(values.get(field) or "").split())
        if value and not value.startswith("voice:"):  # a recorded answer is not a name
            return value[:MAX_HOLDER_NAME]
    return None


def _masked(phone: str) -> str:
    return phone[:-6] + "xx" + phone[-4:] if len(phone) > 8 else phone


def _new_code(session: Session) -> str:
    for _ in range(MAX_DRAWS):
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
        if session.scalar(select(Document.id).where(Document.verify_code == code)) is None:
            return code
    raise LockerRefused("busy", "no free verification code; try again", status=503)


def _new_uri(session: Session, prefix: str) -> str:
    """``FOOD-RATCR-4F7K2M9Q``: the URI is printed on the document and opens its verification
    page for anyone, so it must not lead to the next one the way ``FOOD-RATCR-42`` did."""
    for _ in range(MAX_DRAWS):
        uri = references.compose(prefix)
        if session.scalar(select(Document.id).where(Document.uri == uri)) is None:
            return uri
    raise LockerRefused("busy", "no free document URI; try again", status=503)


def documents(session: Session, citizen: Citizen) -> list[Document]:
    return list(
        session.scalars(
            select(Document)
            .where(Document.citizen_id == citizen.id, Document.deleted_at.is_(None))
            .order_by(Document.id.desc())
        )
    )


def _log(
    session: Session, document: Document, actor: str, action: str, share: Share | None = None
) -> None:
    session.add(
        Access(
            document_id=document.id,
            share_id=share.id if share is not None else None,
            actor=actor[:120],
            action=action,
        )
    )


def open_own(
    session: Session, locker: Locker, citizen: Citizen, document_id: int
) -> tuple[Document, bytes]:
    """The citizen's own document and its bytes; another citizen's answers not found.

    The bytes are fetched before anything pending (the citizen's ``last_seen_at``, the access
    log) is written, so no writer is held while the store answers."""
    with session.no_autoflush:
        document = session.get(Document, document_id)
        if document is None or document.citizen_id != citizen.id or document.deleted_at is not None:
            raise LockerRefused("not_found", "no such document in your locker", status=404)
        data = locker.storage.get(document.storage_key)
    _log(session, document, "citizen", "download")
    return document, data


def delete_own(session: Session, citizen: Citizen, document_id: int) -> None:
    """An uploaded or received file can be removed; issued documents stay (the issuer revokes)."""
    document = session.get(Document, document_id)
    if document is None or document.citizen_id != citizen.id or document.deleted_at is not None:
        raise LockerRefused("not_found", "no such document in your locker", status=404)
    if document.kind == ISSUED:
        raise LockerRefused(
            "issued_document", "an issued document cannot be deleted; its issuer can revoke it"
        )
    document.deleted_at = datetime.now(UTC)
    for share in session.scalars(select(Share).where(Share.document_id == document.id)):
        share.revoked_at = share.revoked_at or document.deleted_at
    _log(session, document, "citizen", "deleted")


# -- sharing --------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def share(
    session: Session,
    citizen: Citizen,
    document_id: int,
    *,
    shared_with: str,
    hours: int,
    purpose: str = "",
    now: datetime | None = None,
) -> tuple[Share, str]:
    """A link that opens one document until it expires or is revoked; returns its token."""
    document = session.get(Document, document_id)
    if document is None or document.citizen_id != citizen.id or document.deleted_at is not None:
        raise LockerRefused("not_found", "no such document in your locker", status=404)
    shared_with = " ".join(shared_with.split())
    if not shared_with or len(shared_with) > 120:
        raise LockerRefused("invalid_recipient", "say who the link is for (1-120 characters)")
    if not 1 <= hours <= MAX_SHARE_HOURS:
        raise LockerRefused(
            "invalid_expiry", f"a link lasts between 1 hour and {MAX_SHARE_HOURS // 24} days"
        )
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(24)
    row = Share(
        document_id=document.id,
        token_hash=_token_hash(token),
        shared_with=shared_with,
        purpose=purpose.strip()[:200],
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(row)
    session.flush()
    _log(session, document, f"citizen → {shared_with}", "shared", row)
    return row, token


def shares_of(session: Session, citizen: Citizen) -> list[tuple[Share, Document]]:
    rows = session.execute(
        select(Share, Document)
        .join(Document, Share.document_id == Document.id)
        .where(Document.citizen_id == citizen.id)
        .order_by(Share.id.desc())
    )
    return [(s, d) for s, d in rows]


def revoke_share(session: Session, citizen: Citizen, share_id: int) -> None:
    found = session.execute(
        select(Share, Document)
        .join(Document, Share.document_id == Document.id)
        .where(Share.id == share_id, Document.citizen_id == citizen.id)
    ).first()
    if found is None:
        raise LockerRefused("not_found", "no such link", status=404)
    share_row, document = found
    if share_row.revoked_at is None:
        share_row.revoked_at = datetime.now(UTC)
        _log(session, document, "citizen", "unshared", share_row)


def open_shared(
    session: Session, locker: Locker, token: str, *, now: datetime | None = None
) -> tuple[Document, bytes, Share]:
    now = now or datetime.now(UTC)
    with session.no_autoflush:  # nothing written while the store answers (see ``open_own``)
        row = session.scalar(select(Share).where(Share.token_hash == _token_hash(token)))
        if row is None:
            raise LockerRefused("not_found", "this link does not exist", status=404)
        if row.revoked_at is not None:
            raise LockerRefused("link_revoked", "the owner has withdrawn this link", status=410)
        if row.expires_at <= now:
            raise LockerRefused("link_expired", "this link has expired", status=410)
        document = session.get(Document, row.document_id)
        if document is None or document.deleted_at is not None:
            raise LockerRefused("link_revoked", "the document is no longer shared", status=410)
        data = locker.storage.get(document.storage_key)
    _log(session, document, f"link for {row.shared_with}", "download", row)
    return document, data, row


def access_log(
    session: Session, citizen: Citizen, limit: int = 50
) -> list[tuple[Access, Document]]:
    rows = session.execute(
        select(Access, Document)
        .join(Document, Access.document_id == Document.id)
        .where(Document.citizen_id == citizen.id)
        .order_by(Access.id.desc())
        .limit(limit)
    )
    return [(a, d) for a, d in rows]


# -- issuers and verifiers ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verification:
    document: Document
    issuer: Department | None
    status: str
    """``valid`` or ``revoked``."""


def verify(session: Session, uri: str) -> Verification:
    """What ``/verify/<uri>`` shows; a document URI or a verification code both work.

    URIs issued before they were random (``FOOD-RATCR-42``) still verify: they are printed,
    with their QR code, on certificates in people's hands. The page names no holder and no
    field, only the title, issuer, date and whether it was revoked."""
    wanted = uri.strip()
    document = session.scalar(
        select(Document).where(
            Document.uri.in_([wanted, *references.forms_of(wanted)])
            | (Document.verify_code == wanted.upper()),
            Document.kind == ISSUED,
        )
    )
    if document is None:
        raise LockerRefused("not_found", "no document was issued under this reference", status=404)
    issuer = (
        session.get(Department, document.issuer_department_id)
        if document.issuer_department_id is not None
        else None
    )
    _log(session, document, "verifier", "verified")
    return Verification(document, issuer, "revoked" if document.revoked_at else "valid")


def file_matches(locker: Locker, document: Document, data: bytes) -> bool:
    """True when ``data`` is exactly the issued file and its signature verifies."""
    return (
        hashlib.sha256(data).hexdigest() == document.sha256
        and document.signature is not None
        and locker.signer.verify(data, document.signature)
    )


def issued_by(session: Session, department: Department, uri: str) -> Document:
    document = session.scalar(
        select(Document).where(Document.uri == uri, Document.issuer_department_id == department.id)
    )
    if document is None:
        raise LockerRefused("not_found", "no document of this department has this URI", status=404)
    return document


def revoke(session: Session, department: Department, uri: str, reason: str) -> Document:
    document = issued_by(session, department, uri)
    if document.revoked_at is None:
        document.revoked_at = datetime.now(UTC)
        document.revoked_reason = reason.strip()[:500] or "revoked by the issuer"
        _log(session, document, f"department:{department.code}", "revoked")
    return document


def issued_list_text(session: Session, phone: str, lang: str) -> str:
    """The ``DOCS`` SMS reply: issued documents with their short verification codes."""
    citizen = citizens.find(session, phone)
    rows = [d for d in documents(session, citizen) if d.kind == ISSUED] if citizen else []
    if not rows:
        return i18n.text("docs_none", lang)
    lines = [i18n.text("docs_head", lang)]
    for document in rows[:8]:
        mark = f" [{i18n.text('docs_revoked', lang)}]" if document.revoked_at else ""
        lines.append(f"{document.title[:40]}: {document.verify_code}{mark}")
    return "\n".join(lines)
