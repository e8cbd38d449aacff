"""Certificates in Hindi: Devanagari comes back out of the PDF when Noto is installed, and a
machine without the fonts still issues a certificate (in the Latin-1 core font)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seva.locker import pdf as certificate
from tests.conftest import need

HOLDER = "सुनीता देवी"
FIELD = ("पिता का नाम", "रामेश्वर प्रसाद")


def render(
    holder: str = HOLDER,
    fields: dict[str, str] | None = None,
    title: str = "राशन कार्ड (Ration card)",
    issued_at: datetime = datetime(2026, 11, 24, 10, 30, tzinfo=UTC),
) -> bytes:
    return certificate.render_certificate(
        title=title,
        issuer="Food and Civil Supplies",
        issuer_code="FOOD",
        holder=holder,
        holder_phone="+9198xx0301",
        fields=fields if fields is not None else {FIELD[0]: FIELD[1], "Members": "4"},
        uri="FOOD-RATCR-7",
        verify_code="K7M2Q9XA",
        verify_url="http://127.0.0.1:8000/verify/FOOD-RATCR-7",
        issued_at=issued_at,
    )


def need_fonts() -> None:
    """Skip (fail under SEVA_TEST_STRICT, as .ci/run installs them) without the fonts."""
    found = str(certificate.FONT_DIR) if certificate._font_files() is not None else None
    need(found, f"Noto Sans (Devanagari) in {certificate.FONT_DIR}: apt install fonts-noto-core")


def text_of(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text as pdftotext reads it, with all whitespace taken out: pdftotext guesses
    word gaps from glyph positions, and a shaped vowel sign drawn before its consonant (ि)
    can make it put a space inside a Hindi word."""
    tool = need(shutil.which("pdftotext"), "pdftotext (Debian package poppler-utils)")
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        [tool, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=30
    ).stdout.decode("utf-8")
    return "".join(out.split())


def squeezed(text: str) -> str:
    return "".join(text.split())


def test_hindi_names_and_fields_come_back_out_of_the_pdf(tmp_path: Path) -> None:
    need_fonts()
    pdf = render(fields={FIELD[0]: FIELD[1], "Members": "4", "Tamil": "சு"})
    assert pdf.startswith(b"%PDF-") and b"NotoSansDevanagari" in pdf
    text = text_of(pdf, tmp_path)
    for words in [
        "Food and Civil Supplies Department code FOOD",  # the issuing department's band
        f"Issued to {HOLDER}",
        "Mobile number +9198xx0301",
        *FIELD,
        "राशन कार्ड (Ration card)",
        "Members4",
    ]:
        assert squeezed(words) in text, words
    # A script neither font has prints as ?, as the core font always did.
    assert "Tamil??" in text


def test_without_the_fonts_the_certificate_is_still_issued_in_latin_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(certificate, "FONT_DIR", tmp_path / "no-fonts-here")
    pdf = render()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/Helvetica" in pdf and b"Noto" not in pdf


def test_without_uharfbuzz_the_certificate_falls_back_to_latin_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Devanagari unshaped would print with its vowel signs in the wrong places, so without
    HarfBuzz the core font's ``?`` is the honest output."""
    need_fonts()  # the fonts must load for shaping to be what fails
    monkeypatch.setitem(sys.modules, "uharfbuzz", None)  # import now raises ImportError
    pdf = render()
    assert pdf.startswith(b"%PDF-") and b"/Helvetica" in pdf and b"Noto" not in pdf


def test_a_latin_1_certificate_keeps_the_core_font(tmp_path: Path) -> None:
    pdf = render(
        holder="",
        fields={"Card number": "1234567890", "Name": "José"},
        title="Ration card",
        issued_at=datetime(2026, 11, 24, 20, 30, tzinfo=UTC),  # 02:00 on the 25th in India
    )
    assert b"/Helvetica" in pdf and b"Noto" not in pdf
    if shutil.which("pdftotext"):
        text = text_of(pdf, tmp_path)
        # No name known: the certificate names the mobile number it was issued to.
        assert squeezed("Issued to the holder of mobile number +9198xx0301") in text
        assert squeezed("Food and Civil Supplies Department code FOOD") in text
        assert squeezed("Date of issue 25 November 2026") in text
