"""Certificates a department issues, rendered as PDF with a verification QR code.

fpdf2 writes the PDF (pure Python, no system libraries); qrcode draws the QR. The page says
who issued what to whom, lists the department's fields, and carries the document URI, its
short verification code and a QR of the ``/verify/<uri>`` address, so a clerk with a phone
can check a printout.

A certificate whose text is all Latin-1 is printed in the PDF core font (Helvetica), as it
always was: nothing to embed, and about ten times faster to render than with TrueType fonts.
Text beyond Latin-1 — a Hindi name or field — is printed in Noto Sans with Noto Sans
Devanagari as its fallback (so both scripts share a line), shaped by HarfBuzz (uharfbuzz) so
conjuncts and vowel signs join as they should; the fonts are Debian's ``fonts-noto-core``,
subset and embedded. On a machine without those fonts, or where they cannot be loaded, the
certificate is still issued in the core font with text outside Latin-1 written as ``?``.
Characters no font covers are written as ``?`` too. The locker's record keeps the text
exactly, and the verification page shows it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path

import qrcode
import structlog
from fpdf import FPDF
from fpdf.fonts import TTFFont

from seva.clock import IST
from seva.i18n import text as ui

log = structlog.get_logger(__name__)

FONT_DIR = Path("/usr/share/fonts/truetype/noto")
"""Where Debian's ``fonts-noto-core`` puts its fonts; tests point it elsewhere to act out a
machine without them."""
UNICODE_FAMILIES = ("NotoSans", "NotoSansDevanagari")
"""The face, then the fallbacks fpdf2 picks per character. Another script (Bengali, Tamil…)
is one more ``fonts-noto-core`` family here."""
_STYLES = {"": "Regular", "B": "Bold"}


def _latin(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _is_latin(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _font_files() -> dict[tuple[str, str], Path] | None:
    """Every file the Unicode typeface needs, or None when one is missing (half a typeface
    would print some words and drop others)."""
    files = {
        (family, style): FONT_DIR / f"{family}-{weight}.ttf"
        for family in UNICODE_FAMILIES
        for style, weight in _STYLES.items()
    }
    return files if all(path.is_file() for path in files.values()) else None


def _unicode_pdf() -> tuple[FPDF, str, Callable[[str], str]] | None:
    files = _font_files()
    if files is None:
        return None
    pdf = FPDF(format="A4")
    try:
        for (family, style), path in files.items():
            pdf.add_font(family, style, path)
        pdf.set_fallback_fonts(list(UNICODE_FAMILIES[1:]))
        pdf.set_text_shaping(True)
    except Exception as exc:
        # A damaged font file or a missing uharfbuzz must not stop a department issuing.
        log.warning("certificate.unicode_fonts_unusable", error=str(exc))
        return None
    covered: set[int] = {ord("\n")}
    for font in pdf.fonts.values():
        if isinstance(font, TTFFont):
            covered.update(font.cmap)

    def printable(text: str) -> str:
        return "".join(ch if ord(ch) in covered else "?" for ch in text)

    return pdf, UNICODE_FAMILIES[0], printable


def _new_pdf(texts: Iterable[str]) -> tuple[FPDF, str, Callable[[str], str]]:
    """The document, the font family to write in and how to make text printable in it."""
    if not all(_is_latin(text) for text in texts):
        unicode = _unicode_pdf()
        if unicode is not None:
            return unicode
    return FPDF(format="A4"), "helvetica", _latin


LANG = "en"
"""The certificate's own words are English, as before: a verifier anywhere reads them, and
the core font prints them (a Unicode font costs more than half a second a certificate)."""
BAND_RGB = (11, 92, 173)
"""The portal's brand blue (``--brand`` in seva.css)."""
BAND_HEIGHT = 28.0
BAND_NAME_SIZES = range(20, 9, -1)
"""Point sizes tried for the department's name, largest first, until it fits the band."""


def _band(pdf: FPDF, family: str, text: Callable[[str], str], issuer: str, code: str) -> None:
    """The issuing department's band across the top of the page, white on the brand blue:
    its name, as large as fits on one line, and its code."""
    pdf.set_fill_color(*BAND_RGB)
    pdf.rect(0, 0, pdf.w, BAND_HEIGHT, style="F")
    pdf.set_text_color(255, 255, 255)
    width = pdf.w - pdf.l_margin - pdf.r_margin
    name = text(issuer)
    for size in BAND_NAME_SIZES:
        pdf.set_font(family, "B", size)
        if pdf.get_string_width(name) <= width:
            break
    pdf.set_xy(pdf.l_margin, 5)
    pdf.cell(width, 10, name)
    pdf.set_font(family, "", 11)
    pdf.set_xy(pdf.l_margin, 16)
    pdf.cell(width, 6, text(ui("cert_department_code", LANG).format(code=code)))
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(pdf.l_margin, BAND_HEIGHT + 8)


def render_certificate(
    *,
    title: str,
    issuer: str,
    issuer_code: str,
    holder: str,
    holder_phone: str,
    fields: Mapping[str, str],
    uri: str,
    verify_code: str,
    verify_url: str,
    issued_at: datetime,
) -> bytes:
    """The certificate: the band of the department that issues it (``issuer``, its name,
    and ``issuer_code``), the title, whom it is issued to (``holder``, the name, may be
    empty; ``holder_phone``, the masked mobile number), the date of issue in India, the
    fields and the verification QR code."""
    date = f"{issued_at.astimezone(IST):%d %B %Y}"
    pdf, family, text = _new_pdf(
        [title, issuer, holder, date, verify_url, *fields.keys(), *fields.values()]
    )
    pdf.set_creation_date(issued_at)
    pdf.set_title(text(title))
    pdf.set_author(text(issuer))
    pdf.set_creator("Seva")
    pdf.add_page()
    _band(pdf, family, text, issuer, issuer_code)
    pdf.set_font(family, "B", 18)
    pdf.multi_cell(0, 10, text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 12)
    lines = [ui("cert_issued_by", LANG).format(issuer=issuer)]
    if holder:
        lines.append(ui("cert_issued_to", LANG).format(holder=holder))
        lines.append(ui("cert_mobile", LANG).format(phone=holder_phone))
    else:
        lines.append(ui("cert_issued_to_mobile", LANG).format(phone=holder_phone))
    lines.append(ui("cert_date", LANG).format(date=date))
    for line in lines:
        pdf.multi_cell(0, 7, text(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for name, value in fields.items():
        pdf.set_font(family, "B", 12)
        pdf.cell(60, 8, text(name)[:40])
        pdf.set_font(family, "", 12)
        pdf.multi_cell(0, 8, text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    image = qrcode.make(verify_url, box_size=4, border=2).get_image()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    top = pdf.get_y()
    pdf.image(buffer, x=pdf.l_margin, y=top, w=40, h=40)
    pdf.set_xy(pdf.l_margin + 45, top + 4)
    pdf.set_font(family, "", 10)
    pdf.multi_cell(
        0,
        6,
        "\n".join(
            [
                ui("cert_document", LANG).format(uri=uri),
                ui("cert_code", LANG).format(code=verify_code),
                text(ui("cert_check", LANG).format(url=verify_url)),
                ui("cert_signed", LANG),
            ]
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())
