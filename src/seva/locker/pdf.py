"""Certificates a department issues, rendered as PDF with a verification QR code.

fpdf2 writes the PDF (pure Python, no system libraries); qrcode draws the QR. The page says
who issued what to whom, lists the department's fields, and carries the document URI, its
short verification code and a QR of the ``/verify/<uri>`` address, so a clerk with a phone
can check a printout. Fields are printed in the PDF core font (Latin-1); text outside it is
written with ``?`` in the PDF and kept exactly in the locker's record, which the verification
page shows.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime

import qrcode
from fpdf import FPDF


def _latin(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def render_certificate(
    *,
    title: str,
    issuer: str,
    holder: str,
    fields: Mapping[str, str],
    uri: str,
    verify_code: str,
    verify_url: str,
    issued_at: datetime,
) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_creation_date(issued_at)
    pdf.set_title(_latin(title))
    pdf.set_author(_latin(issuer))
    pdf.set_creator("Seva")
    pdf.add_page()
    pdf.set_font("helvetica", "B", 18)
    pdf.multi_cell(0, 10, _latin(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 12)
    pdf.multi_cell(0, 7, _latin(f"Issued by {issuer}"), new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 7, _latin(f"Issued to {holder}"), new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 7, f"Date of issue {issued_at:%d %B %Y}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for name, value in fields.items():
        pdf.set_font("helvetica", "B", 12)
        pdf.cell(60, 8, _latin(name)[:40])
        pdf.set_font("helvetica", "", 12)
        pdf.multi_cell(0, 8, _latin(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    image = qrcode.make(verify_url, box_size=4, border=2).get_image()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    top = pdf.get_y()
    pdf.image(buffer, x=pdf.l_margin, y=top, w=40, h=40)
    pdf.set_xy(pdf.l_margin + 45, top + 4)
    pdf.set_font("helvetica", "", 10)
    pdf.multi_cell(
        0,
        6,
        f"Document {uri}\nVerification code {verify_code}\n"
        f"Check it is genuine: {_latin(verify_url)}\n"
        "Signed electronically (Ed25519); the signature is checked at the address above.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())
