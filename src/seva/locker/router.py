"""The locker over HTTP: the department issuing API, the public verifier, the citizen's pages.

* ``POST /api/v1/documents`` (department key) issues a signed certificate into a citizen's
  locker; ``POST /api/v1/documents/{uri}/revoke`` withdraws it.
* ``GET /verify/{uri}`` (anyone) says whether a document is genuine and not revoked, and
  ``POST /verify/{uri}`` checks an uploaded copy byte for byte against the signature;
  ``GET /verify/keys.json`` publishes the signing key (JWK set).
* ``/me/locker`` (a logged-in citizen) lists, uploads, downloads and shares documents and shows
  the access log; ``/shared/{token}`` opens a shared document while its link is valid.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from seva.citizens.models import Citizen
from seva.citizens.web_login import current_citizen
from seva.clock import ist_date
from seva.core import CoreDep
from seva.deps import SessionDep
from seva.errors import error_body
from seva.i18n import text as ui
from seva.locker import service as locker
from seva.locker.models import ISSUED
from seva.locker.service import MAX_BYTES, LockerRefused
from seva.params import RowId
from seva.templating import check_csrf, page_lang, pop_flash, render
from seva.tenancy.api_auth import DepartmentDep

api = APIRouter(prefix="/api/v1", tags=["Locker API"])
pages = APIRouter(include_in_schema=False)

Uri = Annotated[str, Path(max_length=80, pattern=r"^[A-Za-z0-9-]+$")]


def _locker(gateway: CoreDep) -> locker.Locker:
    found: locker.Locker = gateway.locker
    return found


def _message(request: Request, exc: LockerRefused, back: str) -> Response:
    return render(
        request, "portal_message.html", {"message": exc.message, "back": back}, exc.status
    )


def _json_error(exc: LockerRefused) -> JSONResponse:
    return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)


# -- department API ---------------------------------------------------------------------------


class IssueIn(BaseModel):
    to: str = Field(description="The citizen's mobile number.", max_length=20)
    doctype: str = Field(description="Document type code, e.g. RATCR.", max_length=10)
    title: str = Field(max_length=200)
    fields: dict[str, str] = Field(default_factory=dict, description="Printed name/value pairs.")
    holder_name: str | None = Field(
        default=None,
        max_length=locker.MAX_HOLDER_NAME,
        description="The holder's name as the certificate prints it. Left out, the name the "
        "citizen let this department use, or gave in an application to it, is printed; "
        "with neither, the certificate names the (masked) mobile number only.",
    )
    lang: str = Field(
        default="en",
        max_length=8,
        description="The language the certificate's own words (Issued to, Date of issue…), "
        "its date and the department's name are printed in: en, hi, bn, mr, te, ta, gu, ur, "
        "kn, or, ml, pa or as; Urdu reads right to left. A word Seva has not translated into "
        "it yet prints in English. The title and fields print as given, in any of these "
        "languages' scripts.",
    )


class IssuedOut(BaseModel):
    uri: str
    verify_code: str
    verify_url: str
    sha256: str
    signature: str
    status: str


def _issued_out(lk: locker.Locker, document: Any) -> IssuedOut:
    return IssuedOut(
        uri=document.uri,
        verify_code=document.verify_code,
        verify_url=lk.verify_url(document.uri),
        sha256=document.sha256,
        signature=document.signature,
        status="revoked" if document.revoked_at else "valid",
    )


@api.post("/documents", status_code=201, response_model=IssuedOut, summary="Issue a document")
def issue_document(
    body: IssueIn, session: SessionDep, gateway: CoreDep, department: DepartmentDep
) -> IssuedOut | JSONResponse:
    from seva.numbers import mobile_msisdns

    phone = mobile_msisdns([body.to], gateway.settings.default_region)[0]
    if phone is None:
        return JSONResponse(
            error_body("invalid_number", f"{body.to!r} is not a mobile number", "to"), 422
        )
    lk = _locker(gateway)
    try:
        document = locker.issue(
            session,
            lk,
            department,
            phone=phone,
            doctype=body.doctype,
            title=body.title,
            fields=body.fields,
            holder_name=body.holder_name,
            lang=body.lang,
        )
    except LockerRefused as exc:
        session.rollback()
        return _json_error(exc)
    return _issued_out(lk, document)


class RevokeIn(BaseModel):
    reason: str = Field(default="", max_length=500)


@api.post("/documents/{uri}/revoke", response_model=IssuedOut, summary="Revoke a document")
def revoke_document(
    uri: Uri, body: RevokeIn, session: SessionDep, gateway: CoreDep, department: DepartmentDep
) -> IssuedOut | JSONResponse:
    try:
        document = locker.revoke(session, department, uri, body.reason)
    except LockerRefused as exc:
        return _json_error(exc)
    return _issued_out(_locker(gateway), document)


# -- verifiers --------------------------------------------------------------------------------


@pages.get("/verify/keys.json")
def verify_keys(gateway: CoreDep) -> JSONResponse:
    return JSONResponse({"keys": [_locker(gateway).signer.jwk()]})


def _verify_page(
    request: Request, found: locker.Verification, *, file_result: bool | None = None
) -> Response:
    lang = page_lang(request)
    document = found.document
    issuer = found.issuer.display_name(lang) if found.issuer is not None else "?"
    if found.status == "valid":
        verdict = ui("verify_valid", lang).format(issuer=issuer, date=ist_date(document.created_at))
    else:
        verdict = ui("verify_revoked", lang).format(reason=document.revoked_reason or "")
    return render(
        request,
        "locker_verify.html",
        {
            "document": document,
            "issuer": issuer,
            "status": found.status,
            "verdict": verdict,
            "file_result": file_result,
        },
    )


@pages.get("/verify/{uri}")
def verify_page(request: Request, session: SessionDep, uri: Uri) -> Response:
    wants_json = request.headers.get("accept", "").startswith("application/json")
    try:
        found = locker.verify(session, uri)
    except LockerRefused as exc:
        return _json_error(exc) if wants_json else _message(request, exc, "/")
    if wants_json:
        document = found.document
        return JSONResponse(
            {
                "uri": document.uri,
                "status": found.status,
                "title": document.title,
                "doctype": document.doctype,
                "issuer": found.issuer.code if found.issuer else None,
                "issued_at": document.created_at.isoformat(),
                "revoked_reason": document.revoked_reason,
                "sha256": document.sha256,
                "signature": document.signature,
                "key_id": request.app.state.gateway.locker.signer.key_id,
            }
        )
    return _verify_page(request, found)


@pages.post("/verify/{uri}")
def verify_file(
    request: Request, session: SessionDep, gateway: CoreDep, uri: Uri, file: UploadFile = File()
) -> Response:
    """A plain def, run in a worker thread: hashing a 10 MB file would stall the event loop."""
    data = file.file.read(MAX_BYTES + 1)
    try:
        found = locker.verify(session, uri)
    except LockerRefused as exc:
        return _message(request, exc, "/")
    matches = locker.file_matches(_locker(gateway), found.document, data)
    return _verify_page(request, found, file_result=matches)


# -- the citizen's pages ----------------------------------------------------------------------


def _form_citizen(request: Request, session: SessionDep, csrf: str) -> Citizen | Response:
    """The logged-in citizen posting a locker form, or the answer when there is none."""
    citizen = current_citizen(request, session)
    if citizen is None:
        return _to_login()
    if not check_csrf(request, csrf):
        return _flash(request, "error", ui("form_expired", page_lang(request)))
    return citizen


def _to_login() -> RedirectResponse:
    return RedirectResponse("/citizen/login?next=/me/locker", status_code=303)


def _flash(request: Request, kind: str, text: str) -> RedirectResponse:
    request.session["flash"] = {"kind": kind, "text": text}
    return RedirectResponse("/me/locker", status_code=303)


def _refused(request: Request, exc: LockerRefused) -> Response:
    """A form's refusal: a document or link that is not this citizen's is answered 404, like
    the download of one; other refusals (a bad expiry, an empty name) go back to the locker
    with a notice."""
    if exc.status == 404:
        return _message(request, exc, "/me/locker")
    return _flash(request, "error", exc.message)


@pages.get("/me/locker")
def locker_page(request: Request, session: SessionDep) -> Response:
    citizen = current_citizen(request, session)
    if citizen is None:
        return _to_login()
    docs = locker.documents(session, citizen)
    shown_link = request.session.pop("shared_link", None)
    return render(
        request,
        "locker.html",
        {
            "issued": [d for d in docs if d.kind == ISSUED],
            "own": [d for d in docs if d.kind != ISSUED],
            "shares": locker.shares_of(session, citizen),
            "log": locker.access_log(session, citizen),
            "flash": pop_flash(request),
            "shared_link": shown_link,
        },
    )


@pages.post("/me/locker/upload")
def locker_upload(
    request: Request,
    session: SessionDep,
    gateway: CoreDep,
    file: UploadFile = File(),
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """A plain def, run in a worker thread: re-encoding a photo takes a second of CPU, which
    on the event loop would hold up every other request of this node."""
    citizen = _form_citizen(request, session, csrf)
    if isinstance(citizen, Response):
        return citizen
    data = file.file.read(MAX_BYTES + 1)
    try:
        document = locker.add_file(
            session, _locker(gateway), citizen, filename=file.filename or "document", data=data
        )
    except LockerRefused as exc:
        return _flash(request, "error", exc.message)
    return _flash(request, "ok", f"{document.filename} ✓")


@pages.get("/me/locker/{document_id}/file")
def locker_file(
    request: Request,
    session: SessionDep,
    gateway: CoreDep,
    document_id: RowId,
) -> Response:
    citizen = current_citizen(request, session)
    if citizen is None:
        return _to_login()
    try:
        document, data = locker.open_own(session, _locker(gateway), citizen, document_id)
    except LockerRefused as exc:
        return _message(request, exc, "/me/locker")
    return _file_response(document, data)


def _file_response(document: Any, data: bytes) -> Response:
    return Response(
        data,
        media_type=document.mime,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(document.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


@pages.post("/me/locker/{document_id}/share")
def locker_share(
    request: Request,
    session: SessionDep,
    gateway: CoreDep,
    document_id: RowId,
    shared_with: Annotated[str, Form(max_length=200)] = "",
    hours: Annotated[int, Form(ge=0, le=100_000)] = 24,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    citizen = _form_citizen(request, session, csrf)
    if isinstance(citizen, Response):
        return citizen
    try:
        _share, token = locker.share(
            session, citizen, document_id, shared_with=shared_with, hours=hours
        )
    except LockerRefused as exc:
        return _refused(request, exc)
    request.session["shared_link"] = gateway.settings.absolute_url(f"/shared/{token}")
    return RedirectResponse("/me/locker", status_code=303)


@pages.post("/me/locker/shares/{share_id}/revoke")
def locker_unshare(
    request: Request,
    session: SessionDep,
    share_id: RowId,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    citizen = _form_citizen(request, session, csrf)
    if isinstance(citizen, Response):
        return citizen
    try:
        locker.revoke_share(session, citizen, share_id)
    except LockerRefused as exc:
        return _refused(request, exc)
    return RedirectResponse("/me/locker", status_code=303)


@pages.get("/shared/{token}")
def shared(
    request: Request,
    session: SessionDep,
    gateway: CoreDep,
    token: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
) -> Response:
    try:
        document, data, _share = locker.open_shared(session, _locker(gateway), token)
    except LockerRefused as exc:
        return _message(request, exc, "/")
    return _file_response(document, data)
