"""Certificates a department issues, rendered as PDF with a verification QR code.

fpdf2 writes the PDF (pure Python, no system libraries); qrcode draws the QR. The page says
who issued what to whom, lists the department's fields, and carries the document URI, its
short verification code and a QR of the ``/verify/<uri>`` address, so a clerk with a phone
can check a printout.

The certificate's own words (``Issued to``, ``Date of issue``…) and its date are in the
language the department issues it in, from the message catalog (English where that language
has no catalog yet). An Urdu certificate runs right to left: its lines are aligned right and
each field's name stands on the right of its value.

A certificate whose text is all Latin-1 is printed in the PDF core font (Helvetica), as it
always was: nothing to embed, and about ten times faster to render than with TrueType fonts.
Other text is printed in Debian's Noto fonts (``fonts-noto-core``, subset and embedded),
shaped by HarfBuzz (uharfbuzz) so that conjuncts and vowel signs form and Urdu's letters join:

* Latin: Noto Sans;
* Devanagari (Hindi, Marathi), Bengali script (Bengali, Assamese), Gurmukhi (Punjabi),
  Gujarati, Odia, Tamil, Telugu, Kannada, Malayalam: the Noto Sans family of the script;
* Arabic script (Urdu): Noto Naskh Arabic. Urdu is most often printed in Nastaliq, but Noto
  Nastaliq Urdu sets each word on a slope and pdftotext (and so search and copy in most
  readers) reads its words back as scattered letters; Naskh reads back whole and in order.

Only the fonts the text needs are loaded, per weight: fpdf2 parses every font added and
subsets each into the file, so all eleven families in both weights would make a certificate
about three times as slow. Each piece of text is set in the font of the script it
mostly uses, with the other loaded fonts as per-character fallbacks, so a Hindi name on an
English certificate, or a document reference inside an Urdu line, shares the line. Lines run
in the certificate language's direction (the department's own texts, on a left-to-right
certificate, in the direction their first letter gives), with the Unicode bidirectional
algorithm ordering the runs inside them. Two things fpdf2 (2.8) gets wrong for these scripts
are mended here: it cuts a word's run at a joiner or mark before shaping it, and it tells
readers the text of a shaped syllable in a way search, copy and pdftotext read back broken
(``_PDF``, ``_Font``).

On a machine without those fonts, or where they cannot be loaded, the certificate is still
issued in the core font with text outside Latin-1 written as ``?``. Characters no font covers
(a script Seva does not speak) are written as ``?`` too. The locker's record keeps the text
exactly, and the verification page shows it.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import qrcode
import structlog
from fpdf import FPDF
from fpdf.enums import TextDirection
from fpdf.fonts import TTFFont
from fpdf.line_break import Fragment
from fpdf.unicode_script import UnicodeScript, get_unicode_script

from seva.clock import IST
from seva.i18n import served
from seva.i18n import text as ui
from seva.i18n.dates import date_label
from seva.i18n.languages import direction

log = structlog.get_logger(__name__)

FONT_DIR = Path("/usr/share/fonts/truetype/noto")
"""Where Debian's ``fonts-noto-core`` puts its fonts; tests point it elsewhere to act out a
machine without them."""
LATIN_FAMILY = "NotoSans"
SCRIPT_FAMILIES: Mapping[UnicodeScript, str] = {
    UnicodeScript.DEVANAGARI: "NotoSansDevanagari",
    UnicodeScript.BENGALI: "NotoSansBengali",
    UnicodeScript.GURMUKHI: "NotoSansGurmukhi",
    UnicodeScript.GUJARATI: "NotoSansGujarati",
    UnicodeScript.ORIYA: "NotoSansOriya",
    UnicodeScript.TAMIL: "NotoSansTamil",
    UnicodeScript.TELUGU: "NotoSansTelugu",
    UnicodeScript.KANNADA: "NotoSansKannada",
    UnicodeScript.MALAYALAM: "NotoSansMalayalam",
    UnicodeScript.ARABIC: "NotoNaskhArabic",
}
"""The font of each script the languages of ``seva.i18n.languages`` are written in (all in
``fonts-noto-core``). Another script is one more family here."""
UNICODE_FAMILIES = (LATIN_FAMILY, *SCRIPT_FAMILIES.values())
"""Every family a certificate may use, in the order fpdf2 tries them as fallbacks."""
_WEIGHTS = {"": "Regular", "B": "Bold"}

FSI, PDI = "\u2068", "\u2069"
"""Unicode's first-strong isolate and its end: what they enclose is laid out on its own, in
the direction of its first letter, then placed in the sentence as one neutral unit."""


def _latin(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _is_latin(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def font_file(family: str, style: str) -> Path:
    return FONT_DIR / f"{family}-{_WEIGHTS[style]}.ttf"


def _script_families(text: str) -> Counter[str]:
    """How many characters of ``text`` each script's font is needed for (Latin letters,
    digits, punctuation, spaces and joiners are not counted: Noto Sans or every font has
    them)."""
    return Counter(
        SCRIPT_FAMILIES[script]
        for script in map(get_unicode_script, text)
        if script in SCRIPT_FAMILIES
    )


class _PDF(FPDF):
    """fpdf2 with its text runs mended where it cuts them wrongly.

    With text shaping on, fpdf2 (2.8) starts a new run at every change of Unicode script and
    counts the script "Inherited" as one: a zero-width joiner (``র‍্যাব``) or an Urdu vowel
    sign or shadda (``محمّد``) ends up in a run of its own, and HarfBuzz, shaping the pieces
    apart, draws the mark on a dotted circle and leaves the letters around it unjoined. Runs
    cut at such a character that share font and look are joined again here."""

    def _preload_font_styles(
        self,
        text: str | None,
        markdown: bool,
        _initial_emphasis: tuple[bool, bool, bool, bool] | None = None,
    ) -> Sequence[Fragment]:
        joined: list[Fragment] = []
        for fragment in super()._preload_font_styles(text, markdown, _initial_emphasis):
            last = joined[-1] if joined else None
            if (
                last is not None
                and type(last) is Fragment
                and type(fragment) is Fragment
                and last.characters
                and fragment.characters
                and UnicodeScript.INHERITED
                in (
                    get_unicode_script(last.characters[-1]),
                    get_unicode_script(fragment.characters[0]),
                )
                and last.link == fragment.link
                and last.graphics_state == fragment.graphics_state
            ):
                last.characters.extend(fragment.characters)
            else:
                joined.append(fragment)
        return tuple(joined)


class _Font(TTFFont):
    """A TrueType font whose glyphs read back as the text they print.

    The PDF says which characters each glyph stands for (its ToUnicode map), and search, copy
    and pdftotext read the text from it. fpdf2 gives all the characters of a shaped cluster
    to the cluster's first glyph and none to the others, so where a vowel sign is drawn
    before its consonant (कि, ശ്രീ) the consonant is a blank to a reader: it puts a space, or
    on two such lines a column break, inside the word (Malayalam lines came back interleaved);
    and a mark is a cluster of its own, which pdftotext reads as a line of its own (an Urdu
    shadda). Here a mark goes with its letter, and each cluster's characters are shared out,
    in order, among its glyphs that move the pen on, so every word of the thirteen languages
    reads back whole and in order. (pdftotext, turning right-to-left text around character
    by character, still reads an Urdu vowel mark just before its letter instead of after.)"""

    __slots__ = ()

    def shape_text(
        self, text: str, font_size_pt: float, text_shaping_params: dict[str, Any] | None
    ) -> Sequence[dict[str, Any]]:
        if not text:
            return []
        infos, positions = self.perform_harfbuzz_shaping(text, font_size_pt, text_shaping_params)
        if not infos:
            return []
        advancing = {
            info.cluster for info, pos in zip(infos, positions, strict=True) if pos.x_advance > 0
        }
        starts = sorted({info.cluster for info in infos})
        owner: dict[int, int] = {}  # cluster -> the cluster whose letters it is drawn with
        for start in starts:
            owner[start] = start if start in advancing or not owner else owner[max(owner)]
        groups = sorted(set(owner.values()))
        ends = dict(zip(groups, [*groups[1:], len(text)], strict=True))
        glyphs: dict[int, list[int]] = {}
        for index, info in enumerate(infos):
            glyphs.setdefault(owner[info.cluster], []).append(index)
        direction = (text_shaping_params or {}).get("fragment_direction")
        rtl = direction == TextDirection.RTL or (
            direction is None and infos[0].cluster > infos[-1].cluster
        )
        chars: dict[int, str] = {}
        for group, members in glyphs.items():
            carriers = [i for i in members if positions[i].x_advance > 0] or members[:1]
            if rtl:
                carriers.reverse()  # the rightmost glyph reads first
            span = text[0 if group == groups[0] else group : ends[group]]
            for n, index in enumerate(carriers):
                chars[index] = span[
                    len(span) * n // len(carriers) : len(span) * (n + 1) // len(carriers)
                ]
        shaped: list[dict[str, Any]] = []
        for index, (info, pos) in enumerate(zip(infos, positions, strict=True)):
            name = self.ttfont.getGlyphName(info.codepoint)
            width = round(self.scale * self.ttfont["hmtx"].metrics[name][0])
            glyph = self.subset.get_glyph(
                glyph=info.codepoint,
                unicode=tuple(map(ord, chars.get(index, ""))),
                glyph_name=name,
                glyph_width=width,
            )
            if glyph is None:
                continue
            shaped.append(
                {
                    "mapped_char": self.subset.pick_glyph(glyph),
                    "x_advance": pos.x_advance,
                    "y_advance": pos.y_advance,
                    "x_offset": pos.x_offset,
                    "y_offset": pos.y_offset,
                    "force_positioning": width != pos.x_advance
                    or (pos.x_offset, pos.y_offset, pos.y_advance) != (0, 0, 0),
                }
            )
        return shaped


@dataclass
class _Typesetter:
    """The document and how each piece of text is set in it: which font, which direction,
    and with what written as ``?`` because no loaded font has it."""

    pdf: FPDF
    language: str
    """The BCP 47 language HarfBuzz shapes for (Marathi and Hindi share a script, not every
    letter form)."""
    families: dict[str, list[str]] = field(default_factory=dict)
    """The families loaded per style (``""``, ``"B"``); none for the core font."""
    covered: dict[str, frozenset[int]] = field(default_factory=dict)

    def use(self, text: str, style: str, size: float, direction: str | None = None) -> str:
        """Select the font ``text`` is printed in at ``style`` and ``size``, and return the
        text as it can be printed. ``direction`` (``ltr``/``rtl``) is the paragraph's, else
        its first letter decides."""
        if not self.families:
            self.pdf.set_font("helvetica", style, size)
            return _latin(text.replace(FSI, "").replace(PDI, ""))  # no bidi in the core font
        loaded = self.families[style]
        family = next(
            (name for name, _ in _script_families(text).most_common() if name in loaded),
            LATIN_FAMILY if LATIN_FAMILY in loaded else loaded[0],
        )
        self.pdf.set_font(family, style, size)
        self.pdf.set_text_shaping(True, direction=direction, language=self.language)
        covered = self.covered[style]
        return "".join(ch if ord(ch) in covered or ch == "\n" else "?" for ch in text)


def _unicode_typesetter(texts: Mapping[str, Iterable[str]], language: str) -> _Typesetter | None:
    """The Noto fonts for ``texts`` (per style), or None when a file is missing (half a
    typeface would print some words and drop others) or the fonts cannot be used."""
    pdf = _PDF(format="A4")
    setter = _Typesetter(pdf, language)

    def add(family: str, style: str) -> bool:
        path = font_file(family, style)
        if not path.is_file():
            return False
        key = f"{family.lower()}{style}"
        font = pdf.fonts[key] = _Font(pdf, path, key, style)  # what add_font does, in _Font
        setter.families[style].append(family)
        setter.covered[style] = setter.covered[style] | frozenset(font.cmap)
        return True

    def loaded() -> bool:
        for style, group in texts.items():
            chars = {ch for text in group for ch in text if not ch.isspace()}
            setter.families[style] = []
            setter.covered[style] = frozenset()
            scripts = _script_families("".join(chars))
            for family in SCRIPT_FAMILIES.values():
                if family in scripts and not add(family, style):
                    return False
            # Noto Sans for Latin letters, and for whatever else the script fonts lack.
            needed = not scripts or any(ord(ch) not in setter.covered[style] for ch in chars)
            if needed and not add(LATIN_FAMILY, style):
                return False
        used = {family for families in setter.families.values() for family in families}
        pdf.set_fallback_fonts([family for family in UNICODE_FAMILIES if family in used])
        return True

    try:
        # Shaping first: without uharfbuzz no font file need be opened.
        pdf.set_text_shaping(True, language=language)
        if loaded():
            return setter
    except Exception as exc:
        # A damaged font file or a missing uharfbuzz must not stop a department issuing.
        log.warning("certificate.unicode_fonts_unusable", error=str(exc))
    for font in pdf.fonts.values():
        if isinstance(font, TTFFont):
            font.close()  # fpdf2 closes a font's file when it writes the PDF, not before
    return None


def _typesetter(texts: Mapping[str, Sequence[str]], language: str) -> _Typesetter:
    if not all(_is_latin(text) for group in texts.values() for text in group):
        unicode = _unicode_typesetter(texts, language)
        if unicode is not None:
            return unicode
    return _Typesetter(FPDF(format="A4"), language)


def _isolated(value: str, rtl: bool) -> str:
    return f"{FSI}{value}{PDI}" if rtl or not _is_latin(value) else value


BAND_RGB = (11, 92, 173)
"""The portal's brand blue (``--brand`` in seva.css)."""
BAND_HEIGHT = 28.0
BAND_NAME_SIZES = range(20, 9, -1)
"""Point sizes tried for the department's name, largest first, until it fits the band."""
NAME_WIDTH = 60.0
"""The column of field names, in mm."""
QR_SIZE = 40.0


def _band(
    setter: _Typesetter, issuer: str, code_line: str, rtl: bool, theirs: str | None, ours: str
) -> None:
    """The issuing department's band across the top of the page, white on the brand blue:
    its name, as large as fits on one line, and its code."""
    align = "R" if rtl else "L"
    pdf = setter.pdf
    pdf.set_fill_color(*BAND_RGB)
    pdf.rect(0, 0, pdf.w, BAND_HEIGHT, style="F")
    pdf.set_text_color(255, 255, 255)
    width = pdf.w - pdf.l_margin - pdf.r_margin
    for size in BAND_NAME_SIZES:
        name = setter.use(issuer, "B", size, theirs)
        if pdf.get_string_width(name) <= width:
            break
    pdf.set_xy(pdf.l_margin, 5)
    pdf.cell(width, 10, name, align=align)
    code = setter.use(code_line, "", 11, ours)
    pdf.set_xy(pdf.l_margin, 16)
    pdf.cell(width, 6, code, align=align)
    pdf.set_text_color(0, 0, 0)
    pdf.set_xy(pdf.l_margin, BAND_HEIGHT + 8)


def _height(pdf: FPDF, width: float, line_height: float, text: str, align: str) -> float:
    """How tall ``text`` wraps to in a column ``width`` wide, in the font now selected."""
    height = pdf.multi_cell(width, line_height, text, align=align, dry_run=True, output="HEIGHT")
    assert isinstance(height, float | int)
    return float(height)


def _field(setter: _Typesetter, name: str, value: str, rtl: bool, paragraph: str | None) -> None:
    """One field: its name in bold in a column of its own (on the right on a right-to-left
    certificate), its value beside it; a long one wraps, and the row moves to a new page
    whole."""
    pdf = setter.pdf
    name_align, value_align = ("R", "R") if rtl else ("L", "J")
    value_width = pdf.w - pdf.l_margin - pdf.r_margin - NAME_WIDTH
    shown_name = setter.use(name, "B", 12, paragraph)
    height = _height(pdf, NAME_WIDTH, 8, shown_name, name_align)
    shown_value = setter.use(value, "", 12, paragraph)
    height = max(height, _height(pdf, value_width, 8, shown_value, value_align))
    if pdf.will_page_break(height):
        pdf.add_page()
    top = pdf.get_y()
    setter.use(name, "B", 12, paragraph)
    pdf.set_xy(pdf.w - pdf.r_margin - NAME_WIDTH if rtl else pdf.l_margin, top)
    pdf.multi_cell(NAME_WIDTH, 8, shown_name, align=name_align)
    setter.use(value, "", 12, paragraph)
    pdf.set_xy(pdf.l_margin if rtl else pdf.l_margin + NAME_WIDTH, top)
    pdf.multi_cell(value_width, 8, shown_value, align=value_align)
    pdf.set_xy(pdf.l_margin, top + height)


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
    lang: str = "en",
) -> bytes:
    """The certificate: the band of the department that issues it (``issuer``, its name,
    and ``issuer_code``), the title, whom it is issued to (``holder``, the name, may be
    empty; ``holder_phone``, the masked mobile number), the date of issue in India, the
    fields and the verification QR code, its own words in ``lang``."""
    words = served(lang)
    rtl = direction(words) == "rtl"
    # The certificate's own sentences run in its language's direction, whatever is put in
    # them; the department's texts right to left on an Urdu certificate, else as they begin.
    ours = "rtl" if rtl else "ltr"
    theirs = "rtl" if rtl else None
    align = "R" if rtl else "J"  # justified, as paragraphs always were, or right-aligned
    date = date_label(issued_at.astimezone(IST).date(), lang)

    def say(key: str, **values: str) -> str:
        """The certificate's sentence ``key``, each value isolated from the words around it
        where directions can meet, so ``+9198xx0301`` in an Urdu line keeps its ``+`` in
        front (a Latin-1 certificate stays Latin-1 and so in the core font)."""
        return ui(key, words, **{k: _isolated(v, rtl) for k, v in values.items()})

    code_line = say("cert_department_code", code=issuer_code)
    lines = [say("cert_issued_by", issuer=issuer)]
    if holder:
        lines.append(say("cert_issued_to", holder=holder))
        lines.append(say("cert_mobile", phone=holder_phone))
    else:
        lines.append(say("cert_issued_to_mobile", phone=holder_phone))
    lines.append(say("cert_date", date=date))
    footer = "\n".join(
        [
            say("cert_document", uri=uri),
            say("cert_code", code=verify_code),
            say("cert_check", url=verify_url),
            say("cert_signed"),
        ]
    )
    setter = _typesetter(
        {
            "B": [issuer, title, *fields.keys()],
            "": [code_line, *lines, *fields.values(), footer],
        },
        lang,
    )
    pdf = setter.pdf
    pdf.set_creation_date(issued_at)
    pdf.set_title(title if setter.families else _latin(title))
    pdf.set_author(issuer if setter.families else _latin(issuer))
    pdf.set_creator("Seva")
    pdf.add_page()
    _band(setter, issuer, code_line, rtl, theirs, ours)
    shown = setter.use(title, "B", 18, theirs)
    pdf.multi_cell(0, 10, shown, align=align, new_x="LMARGIN", new_y="NEXT")
    for line in lines:
        shown = setter.use(line, "", 12, ours)
        pdf.multi_cell(0, 7, shown, align=align, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for name, value in fields.items():
        _field(setter, name, value, rtl, theirs)
    pdf.ln(6)
    image = qrcode.make(verify_url, box_size=4, border=2).get_image()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    if pdf.will_page_break(QR_SIZE):
        pdf.add_page()
    top = pdf.get_y()
    qr_x = pdf.w - pdf.r_margin - QR_SIZE if rtl else pdf.l_margin
    pdf.image(buffer, x=qr_x, y=top, w=QR_SIZE, h=QR_SIZE)
    text_width = pdf.w - pdf.l_margin - pdf.r_margin - QR_SIZE - 5
    pdf.set_xy(pdf.l_margin if rtl else pdf.l_margin + QR_SIZE + 5, top + 4)
    shown = setter.use(footer, "", 10, ours)
    pdf.multi_cell(text_width, 6, shown, align=align, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
