"""The digital locker: issued documents verify, uploads are cleaned, shares expire and are
logged, and one citizen never reaches another's documents."""

from __future__ import annotations

import hashlib
import io
import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select, update

from seva.citizens import service as citizens
from seva.demo.seed import DEMO_CITIZEN, SeedReport
from seva.gateway import Gateway
from seva.locker import service as locker
from seva.locker.models import Access, Document, Share
from seva.locker.service import LockerRefused
from seva.settings import Settings
from seva.tenancy.service import department_by_code
from tests.locker.test_pdf import need_fonts, squeezed, text_of
from tests.web.pages import csrf_of
from tests.web.test_citizen import log_in

PHONE = "+919811000301"


def issue(
    client: TestClient,
    seeded: SeedReport,
    to: str = PHONE,
    *,
    department: str = "FOOD",
    **extra: str,
) -> dict[str, str]:
    response = client.post(
        "/api/v1/documents",
        headers={"Authorization": f"Bearer {seeded.api_keys[department]}"},
        json={
            "to": to,
            "doctype": "RATCR",
            "title": "Ration card",
            "fields": {"Card number": "1234567890", "Members": "4"},
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


def test_an_issued_document_verifies_and_a_changed_copy_does_not(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    issued = issue(client, seeded)
    assert issued["uri"].startswith("FOOD-RATCR-")
    assert issued["verify_url"].endswith(f"/verify/{issued['uri']}")
    page = client.get(f"/verify/{issued['uri']}")
    assert page.status_code == 200 and 'data-status="valid"' in page.text
    # Issued at 20:30 UTC is issued on the next day in India, and the page says that day.
    with gateway.session() as session:
        session.execute(
            update(Document)
            .where(Document.uri == issued["uri"])
            .values(created_at=datetime(2026, 11, 24, 20, 30, tzinfo=UTC))
        )
    assert "Genuine: issued by Food &amp; Civil Supplies on 25-11-2026." in (
        client.get(f"/verify/{issued['uri']}").text
    )
    by_code = client.get(f"/verify/{issued['verify_code']}", headers={"Accept": "application/json"})
    assert by_code.json()["status"] == "valid" and by_code.json()["uri"] == issued["uri"]

    with gateway.session() as session:
        citizen = citizens.find(session, PHONE)
        assert citizen is not None
        document = locker.documents(session, citizen)[0]
        _, pdf = locker.open_own(session, gateway.locker, citizen, document.id)
    assert pdf.startswith(b"%PDF-") and hashlib.sha256(pdf).hexdigest() == issued["sha256"]

    genuine = client.post(f"/verify/{issued['uri']}", files={"file": ("c.pdf", pdf)})
    assert 'data-file-result="match"' in genuine.text
    forged = pdf[:500] + bytes([pdf[500] ^ 1]) + pdf[501:]  # one bit changed
    altered = client.post(f"/verify/{issued['uri']}", files={"file": ("c.pdf", forged)})
    assert 'data-file-result="mismatch"' in altered.text

    keys = client.get("/verify/keys.json").json()["keys"]
    assert keys[0]["crv"] == "Ed25519" and keys[0]["kid"] == gateway.locker.signer.key_id

    revoked = client.post(
        f"/api/v1/documents/{issued['uri']}/revoke",
        headers={"Authorization": f"Bearer {seeded.api_keys['FOOD']}"},
        json={"reason": "card surrendered"},
    )
    assert revoked.json()["status"] == "revoked"
    again = client.get(f"/verify/{issued['uri']}")
    assert 'data-status="revoked"' in again.text and "card surrendered" in again.text
    # Another department cannot revoke (or see) FOOD's documents.
    other = client.post(
        f"/api/v1/documents/{issued['uri']}/revoke",
        headers={"Authorization": f"Bearer {seeded.api_keys['TRANSPORT']}"},
        json={},
    )
    assert other.status_code == 404


def certificate_text(gateway: Gateway, uri: str, tmp_path: Path) -> str:
    """The issued PDF's text as pdftotext reads it (whitespace squeezed out)."""
    with gateway.session() as session:
        document = session.scalars(select(Document).where(Document.uri == uri)).one()
        pdf = gateway.locker.storage.get(document.storage_key)
    return text_of(pdf, tmp_path)


def test_the_certificate_shows_the_department_and_names_its_holder(
    client: TestClient, gateway: Gateway, seeded: SeedReport, tmp_path: Path
) -> None:
    # The demo citizen gave her name in her ration card application to FOOD.
    text = certificate_text(gateway, issue(client, seeded, DEMO_CITIZEN)["uri"], tmp_path)
    for words in (
        "Food & Civil Supplies Department code FOOD",  # the band across the top
        "Issued to Sunita Devi",
        f"Mobile number {DEMO_CITIZEN[:-6]}xx{DEMO_CITIZEN[-4:]}",
    ):
        assert squeezed(words) in text, words
    # The department may name the holder itself.
    named = issue(client, seeded, PHONE, holder_name="  Ramesh   Kumar ")
    assert squeezed("Issued to Ramesh Kumar") in certificate_text(gateway, named["uri"], tmp_path)
    too_long = client.post(
        "/api/v1/documents",
        headers={"Authorization": f"Bearer {seeded.api_keys['FOOD']}"},
        json={"to": PHONE, "doctype": "RATCR", "title": "x", "holder_name": "x" * 201},
    )
    assert too_long.status_code == 400 and too_long.json()["error"]["field"] == "holder_name"

    # A name the citizen gave TRANSPORT (with consent to TRANSPORT alone) is TRANSPORT's to
    # print; FOOD, never told it, names the mobile number.
    phone = "+919811000309"
    with gateway.session() as session:
        citizen = citizens.get_or_create(session, phone)
        transport = department_by_code(session, "TRANSPORT")
        assert transport is not None
        citizens.remember(session, citizen, transport.id, "name", "Asha Verma", "sms")
    by_transport = issue(client, seeded, phone, department="TRANSPORT")
    assert squeezed("Issued to Asha Verma") in certificate_text(
        gateway, by_transport["uri"], tmp_path
    )
    by_food = certificate_text(gateway, issue(client, seeded, phone)["uri"], tmp_path)
    assert "AshaVerma" not in by_food
    assert squeezed("Issued to the holder of mobile number +919811xx0309") in by_food
    assert squeezed("Food & Civil Supplies Department code FOOD") in by_food

    # Issued in Hindi or Urdu: the department's name and the certificate's own words in it.
    need_fonts()
    issued = {lang: issue(client, seeded, DEMO_CITIZEN, lang=lang)["uri"] for lang in ("hi", "ur")}
    hindi = certificate_text(gateway, issued["hi"], tmp_path)
    for words in ("खाद्य एवं नागरिक आपूर्ति विभाग कोड FOOD", "Sunita Devi को जारी"):
        assert squeezed(words) in hindi, words
    urdu = certificate_text(gateway, issued["ur"], tmp_path)
    for words in ("خوراک و رسد کی طرف سے جاری", "Sunita Devi کے نام جاری"):
        assert squeezed(words) in urdu, words


def test_document_uris_are_unguessable_and_still_verify(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    issued = [issue(client, seeded) for _ in range(20)]
    uris = [document["uri"] for document in issued]
    parts = [re.fullmatch(r"FOOD-RATCR-([0-9A-HJKMNP-TV-Z]{8})", uri) for uri in uris]
    assert all(parts), uris
    assert len(set(uris)) == 20
    # Nothing in one URI leads to another: no shared run of characters, no row number.
    assert len({part.group(1)[:3] for part in parts if part}) >= 18
    with gateway.session() as session:
        ids = {str(i) for i in session.scalars(select(Document.id).where(Document.uri.in_(uris)))}
    assert not any(uri.endswith(f"-{row_id}") for uri in uris for row_id in ids)

    last = issued[-1]
    page = client.get(f"/verify/{last['uri']}")
    assert page.status_code == 200 and 'data-status="valid"' in page.text
    typed = client.get(f"/verify/{last['uri'].lower()}", headers={"Accept": "application/json"})
    assert typed.json()["uri"] == last["uri"]
    guessed = last["uri"][:-1] + ("2" if last["uri"][-1] != "2" else "3")
    assert client.get(f"/verify/{guessed}").status_code == 404

    # A certificate printed before URIs were random keeps its QR code working.
    with gateway.session() as session:
        session.execute(
            update(Document).where(Document.uri == issued[0]["uri"]).values(uri="FOOD-RATCR-7")
        )
    old = client.get("/verify/FOOD-RATCR-7", headers={"Accept": "application/json"})
    assert old.status_code == 200 and old.json()["status"] == "valid"


def test_issuing_refuses_bad_input_with_clear_errors(
    client: TestClient, seeded: SeedReport
) -> None:
    headers = {"Authorization": f"Bearer {seeded.api_keys['FOOD']}"}
    bad_number = client.post(
        "/api/v1/documents",
        headers=headers,
        json={"to": "12", "doctype": "RATCR", "title": "x"},
    )
    assert bad_number.status_code == 422 and bad_number.json()["error"]["code"] == "invalid_number"
    bad_type = client.post(
        "/api/v1/documents",
        headers=headers,
        json={"to": PHONE, "doctype": "rat cr!", "title": "x"},
    )
    assert bad_type.status_code == 422 and bad_type.json()["error"]["code"] == "invalid_doctype"
    bad_lang = client.post(
        "/api/v1/documents",
        headers=headers,
        json={"to": PHONE, "doctype": "RATCR", "title": "x", "lang": "fr"},
    )
    assert bad_lang.status_code == 422 and bad_lang.json()["error"]["code"] == "invalid_lang"
    assert client.get("/verify/NOPE-X-1").status_code == 404
    assert client.post("/api/v1/documents", json={}).status_code == 401


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # camera make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (28.0, 36.0, 12.0)  # where the photo was taken
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_uploads_are_typed_by_content_and_lose_their_metadata(
    gateway: Gateway, seeded: SeedReport
) -> None:
    photo = jpeg_with_gps()
    assert b"SpyCam" in photo
    with gateway.session() as session:
        citizen = citizens.get_or_create(session, PHONE)
        kept = locker.add_file(
            session, gateway.locker, citizen, filename="../../id.jpg", data=photo
        )
        _, data = locker.open_own(session, gateway.locker, citizen, kept.id)
        assert kept.mime == "image/jpeg" and kept.filename == "id.jpg"
        assert b"SpyCam" not in data and Image.open(io.BytesIO(data)).getexif() == {}
        assert kept.sha256 == hashlib.sha256(data).hexdigest()
        for name, payload, code in [
            ("x.pdf", b"MZ\x90\x00 not a pdf", "file_type"),
            ("x.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "bad_file"),
            ("x.pdf", b"", "empty_file"),
            ("x.pdf", b"%PDF-1.4" + b"0" * (10 * 1024 * 1024), "file_too_large"),
        ]:
            with pytest.raises(LockerRefused) as refused:
                locker.add_file(session, gateway.locker, citizen, filename=name, data=payload)
            assert refused.value.code == code


def test_a_share_link_opens_until_it_expires_or_is_withdrawn_and_every_opening_is_logged(
    gateway: Gateway, seeded: SeedReport
) -> None:
    now = datetime.now(UTC)
    with gateway.session() as session:
        citizen = citizens.get_or_create(session, PHONE)
        other = citizens.get_or_create(session, "+919811000302")
        doc = locker.add_file(
            session, gateway.locker, citizen, filename="a.jpg", data=jpeg_with_gps()
        )
        share, token = locker.share(session, citizen, doc.id, shared_with="Tehsil office", hours=2)
        with pytest.raises(LockerRefused):
            locker.share(session, other, doc.id, shared_with="me", hours=2)  # not theirs
        with pytest.raises(LockerRefused):
            locker.open_own(session, gateway.locker, other, doc.id)
    with gateway.session() as session:
        opened, _, _ = locker.open_shared(session, gateway.locker, token)
        assert opened.id == doc.id
        with pytest.raises(LockerRefused) as late:
            locker.open_shared(session, gateway.locker, token, now=now + timedelta(hours=3))
        assert late.value.code == "link_expired"
    with gateway.session() as session:
        citizen = citizens.get_or_create(session, PHONE)
        locker.revoke_share(session, citizen, share.id)
    with gateway.session() as session:
        with pytest.raises(LockerRefused) as gone:
            locker.open_shared(session, gateway.locker, token)
        assert gone.value.code == "link_revoked"
        citizen = citizens.get_or_create(session, PHONE)
        actions = [(a.actor, a.action) for a, _ in locker.access_log(session, citizen)]
    assert ("link for Tehsil office", "download") in actions
    assert ("citizen → Tehsil office", "shared") in actions
    assert ("citizen", "unshared") in actions


def test_the_portal_locker_uploads_shares_and_serves_a_link(
    client: TestClient, gateway: Gateway, settings: Settings, seeded: SeedReport
) -> None:
    issue(client, seeded)
    log_in(client, gateway, PHONE)
    page = client.get("/me/locker")
    assert page.status_code == 200 and "Ration card" in page.text
    csrf = csrf_of(client, "/me/locker")
    uploaded = client.post(
        "/me/locker/upload",
        data={"csrf": csrf},
        files={"file": ("photo.jpg", jpeg_with_gps(), "image/jpeg")},
        follow_redirects=True,
    )
    assert "photo.jpg" in uploaded.text
    with gateway.session() as session:
        citizen = citizens.find(session, PHONE)
        assert citizen is not None
        photo = next(d for d in locker.documents(session, citizen) if d.kind == "uploaded")
    shared = client.post(
        f"/me/locker/{photo.id}/share",
        data={"csrf": csrf, "shared_with": "Bank", "hours": "1"},
        follow_redirects=True,
    )
    link = shared.text.split("data-shared-link>")[1].split("<")[0]
    anonymous = TestClient(client.app)
    assert link.startswith(f"{settings.base_url}/shared/")
    opened = anonymous.get(link.removeprefix(settings.base_url))
    assert opened.status_code == 200 and hashlib.sha256(opened.content).hexdigest() == photo.sha256
    assert anonymous.get(f"/me/locker/{photo.id}/file", follow_redirects=False).status_code == 303
    log = client.get("/me/locker").text
    assert "link for Bank" in log
    # Times read as India's clock, and say so: the link's expiry and each opening.
    with gateway.session() as session:
        share = session.scalars(select(Share).where(Share.document_id == photo.id)).one()
        opened_at = session.scalars(
            select(Access.at).where(Access.document_id == photo.id).order_by(Access.id.desc())
        ).first()
    assert opened_at is not None
    india = timedelta(hours=5, minutes=30)
    assert f"Expires {share.expires_at + india:%d-%m-%Y %H:%M} IST" in log
    assert f"{opened_at + india:%d-%m-%Y %H:%M} IST" in log
    assert "UTC" not in log


def test_another_citizens_document_or_link_is_not_found_on_the_portal(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    issued = issue(client, seeded)
    with gateway.session() as session:
        owner = citizens.find(session, PHONE)
        assert owner is not None
        (document,) = locker.documents(session, owner)
        share, _token = locker.share(session, owner, document.id, shared_with="Bank", hours=2)
        share_id = share.id
    log_in(client, gateway, "+919811000302")
    csrf = csrf_of(client, "/me/locker")
    for path, form in (
        (f"/me/locker/{document.id}/share", {"shared_with": "Me", "hours": "1"}),
        (f"/me/locker/shares/{share_id}/revoke", {}),
    ):
        refused = client.post(path, data={"csrf": csrf, **form}, follow_redirects=False)
        assert refused.status_code == 404, path
        assert issued["uri"] not in refused.text
    with gateway.session() as session:
        (only,) = locker.shares_of(session, owner)
        assert only[0].revoked_at is None


def test_docs_by_sms_lists_issued_documents_with_their_codes(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    issued = issue(client, seeded)
    with gateway.session() as session:
        reply = gateway.sms.handle(session, phone=PHONE, text="DOCS")
    assert issued["verify_code"] in reply.text and "Ration card" in reply.text


class WatchedStorage:
    """The gateway's store, but each put and get first has another session write and commit
    (within 1 s): it can only if the caller holds no writer while the store answers, as a
    slow S3 would otherwise stall every other write."""

    def __init__(self, inner: locker.Storage, gateway: Gateway) -> None:
        self.inner, self.gateway = inner, gateway
        self.others: list[bool] = []
        self.threads: list[threading.Thread] = []

    def _another_writer(self) -> None:
        written = threading.Event()
        phone = f"+91981100{len(self.others):04d}"

        def write() -> None:
            with self.gateway.session() as session:
                citizens.get_or_create(session, phone)
            written.set()

        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        self.threads.append(thread)
        self.others.append(written.wait(1.0))

    def put(self, data: bytes) -> str:
        self._another_writer()
        return self.inner.put(data)

    def get(self, key: str) -> bytes:
        self._another_writer()
        return self.inner.get(key)


def test_no_writer_is_held_while_the_store_answers(gateway: Gateway, seeded: SeedReport) -> None:
    storage = WatchedStorage(gateway.locker.storage, gateway)
    watched = replace(gateway.locker, storage=storage)
    with gateway.session() as session:
        citizens.get_or_create(session, PHONE)
    with gateway.session() as session:
        department = department_by_code(session, "FOOD")
        assert department is not None
        document = locker.issue(
            session,
            watched,
            department,
            phone="+919811000302",
            doctype="RATCR",
            title="Ration card",
            fields={"Card": "1234567890"},
        )
        document_id = document.id
    with gateway.session() as session:
        citizen = citizens.get_or_create(session, "+919811000302")  # its last_seen_at is due
        _, data = locker.open_own(session, watched, citizen, document_id)
        assert data.startswith(b"%PDF")
    for thread in storage.threads:
        thread.join(timeout=30)
    assert storage.others == [True, True]
