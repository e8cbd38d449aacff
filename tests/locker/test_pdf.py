"""Certificates in every language Seva speaks: each script comes back out of the PDF when Noto
is installed (Urdu in logical order), the certificate's own words are in its language, and a
machine without the fonts still issues a certificate (in the Latin-1 core font)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seva.i18n import served
from seva.i18n import text as ui
from seva.i18n.languages import BY_CODE, LANGUAGES
from seva.locker import pdf as certificate
from tests.conftest import need

HOLDER = "सुनीता देवी"
FIELD = ("पिता का नाम", "रामेश्वर प्रसाद")


def render(
    holder: str = HOLDER,
    fields: dict[str, str] | None = None,
    title: str = "राशन कार्ड (Ration card)",
    issued_at: datetime = datetime(2026, 11, 24, 10, 30, tzinfo=UTC),
    lang: str = "en",
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
        lang=lang,
    )


def need_fonts() -> None:
    """Skip (fail under SEVA_TEST_STRICT, as .ci/run installs them) without the fonts."""
    files = [
        certificate.font_file(family, style)
        for family in certificate.UNICODE_FAMILIES
        for style in ("", "B")
    ]
    found = str(certificate.FONT_DIR) if all(path.is_file() for path in files) else None
    need(
        found,
        f"Noto Sans and its Indic and Arabic families in {certificate.FONT_DIR}: "
        "apt install fonts-noto-core",
    )


BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def text_of(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text as pdftotext reads it, with all whitespace taken out: pdftotext guesses
    word gaps and lines from glyph positions, and shaped text moves glyphs about (a vowel
    sign drawn before its consonant, ि; a conjunct's part below it, ପ୍ର). pdftotext writes
    right-to-left text in logical order (it does not reverse it), marking each run with
    Unicode embedding controls (RLE or LRE … PDF); those, and the invisible isolates around
    values in a sentence (FSI … PDI), which come back as characters, are taken out too.
    NFC, as typed text is."""
    return squeezed(BIDI_CONTROLS.sub("", pdftotext(pdf, tmp_path)))


def pdftotext(pdf: bytes, tmp_path: Path) -> str:
    tool = need(shutil.which("pdftotext"), "pdftotext (Debian package poppler-utils)")
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        [tool, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=30
    ).stdout.decode("utf-8")


def squeezed(text: str) -> str:
    return unicodedata.normalize("NFC", "".join(text.split()))


def embedded_fonts(pdf: bytes) -> set[str]:
    """The font families embedded in ``pdf`` (either weight)."""
    names = re.findall(rb"/BaseFont /MPDFAA\+(\w+)", pdf)
    return {name.decode().removesuffix("Bold") for name in names}


def test_hindi_names_and_fields_come_back_out_of_the_pdf(tmp_path: Path) -> None:
    need_fonts()
    pdf = render(fields={FIELD[0]: FIELD[1], "Members": "4", "Sinhala": "සු"})
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
    # A script Seva does not speak prints as ?, as the core font always did.
    assert "Sinhala??" in text


def test_without_the_fonts_the_certificate_is_still_issued_in_latin_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(certificate, "FONT_DIR", tmp_path / "no-fonts-here")
    pdf = render()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/Helvetica" in pdf and b"Noto" not in pdf
    # An Urdu one too: its words are ?, the Latin codes among them as they are.
    urdu = render(lang="ur")
    assert b"/Helvetica" in urdu and b"Noto" not in urdu
    if shutil.which("pdftotext"):
        lines = [line.strip() for line in pdftotext(urdu, tmp_path).splitlines()]
        assert "?????? ??? K7M2Q9XA" in lines


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


PHRASES: dict[str, tuple[str, str, str]] = {
    # A holder's name, the word for village, and a village, in each language's own script.
    "en": ("Sunita Devi", "Village", "Rampur"),
    "hi": ("सुनीता देवी", "गाँव", "शिवपुरी"),
    "bn": ("সুস্মিতা চক্রবর্তী", "গ্রাম", "কৃষ্ণনগর"),
    "mr": ("प्रियांका पाटील", "गाव", "श्रीरामपूर"),
    "te": ("శ్రీనివాస్ రెడ్డి", "గ్రామం", "కొండాపూర్"),
    "ta": ("மீனாட்சி சுந்தரம்", "கிராமம்", "கொடைக்கானல்"),
    "gu": ("કિરણ પટેલ", "ગામ", "સિદ્ધપુર"),
    "ur": ("عائشہ صدیقی", "گاؤں", "رام پور"),
    "kn": ("ಲಕ್ಷ್ಮೀ ನಾರಾಯಣ", "ಗ್ರಾಮ", "ಶ್ರೀರಂಗಪಟ್ಟಣ"),
    "or": ("ପ୍ରିୟଙ୍କା ମହାପାତ୍ର", "ଗ୍ରାମ", "କୋଣାର୍କ"),
    "ml": ("ശ്രീലക്ഷ്മി നായർ", "ഗ്രാമം", "കൊടുങ്ങല്ലൂർ"),
    "pa": ("ਗੁਰਪ੍ਰੀਤ ਕੌਰ", "ਪਿੰਡ", "ਕਿਸ਼ਨਪੁਰਾ"),
    "as": ("প্ৰিয়ংকা বৰুৱা", "গাঁও", "শিৱসাগৰ"),
}
SCRIPT_FONTS = {
    "Latn": None,
    "Deva": "NotoSansDevanagari",
    "Beng": "NotoSansBengali",
    "Guru": "NotoSansGurmukhi",
    "Gujr": "NotoSansGujarati",
    "Orya": "NotoSansOriya",
    "Taml": "NotoSansTamil",
    "Telu": "NotoSansTelugu",
    "Knda": "NotoSansKannada",
    "Mlym": "NotoSansMalayalam",
    "Arab": "NotoNaskhArabic",
}


def test_every_language_has_a_phrase_here() -> None:
    assert set(PHRASES) == set(BY_CODE)


@pytest.mark.parametrize("lang", [language.code for language in LANGUAGES])
def test_each_language_comes_back_out_of_its_certificate(lang: str, tmp_path: Path) -> None:
    need_fonts()
    holder, village_word, village = PHRASES[lang]
    reference = f"{village} DOC-ABC12345"  # a line mixing the script with a Latin reference
    pdf = render(
        holder=holder,
        title=BY_CODE[lang].name,
        fields={village_word: village, "Reference": reference},
        issued_at=datetime(2026, 11, 24, 20, 30, tzinfo=UTC),  # the 25th in India
        lang=lang,
    )
    text = text_of(pdf, tmp_path)
    words = served(lang)  # Seva's words in the language, or English until it has a catalog
    expected = [
        BY_CODE[lang].name,
        ui("cert_issued_to", words, holder=holder),
        ui("cert_department_code", words, code="FOOD"),
        village_word + village,
        reference,
        ui("cert_document", words, uri="FOOD-RATCR-7"),
        ui("cert_code", words, code="K7M2Q9XA"),
    ]
    for words_in_order in expected:
        assert squeezed(words_in_order) in text, (lang, words_in_order)
    assert "2026" in text and "?" not in text
    # Only the fonts the certificate uses are in it: Noto Sans for the Latin, and the one
    # font of the language's script.
    script_font = SCRIPT_FONTS[BY_CODE[lang].script]
    if script_font is None:
        assert b"/Helvetica" in pdf and not embedded_fonts(pdf)
    else:
        assert embedded_fonts(pdf) == {"NotoSans", script_font}


def test_the_certificate_speaks_its_language(tmp_path: Path) -> None:
    need_fonts()
    hindi = text_of(render(lang="hi"), tmp_path)
    for words in [f"{HOLDER} को जारी", "जारी करने की तिथि 24 नवंबर 2026", "विभाग कोड FOOD"]:
        assert squeezed(words) in hindi, words
    # Urdu, right to left: pdftotext reads it back in logical order, the Latin codes and
    # digits inside it where they were written.
    urdu = text_of(render(holder="عائشہ صدیقی", fields={"گاؤں": "رام پور"}, lang="ur"), tmp_path)
    for words in [
        "عائشہ صدیقی کے نام جاری",
        "محکمے کا کوڈ FOOD",
        "تصدیقی کوڈ K7M2Q9XA",
        "دستاویز FOOD-RATCR-7",
        "گاؤں رام پور",
    ]:
        assert squeezed(words) in urdu, words


@pytest.mark.parametrize(
    ("family", "word"),
    [
        ("NotoSansBengali", "র\u200d্যাব"),  # RAB: ra, zero-width joiner, ya-phala
        ("NotoNaskhArabic", "محمّد"),  # Muhammad, with a shadda
        ("NotoSansMalayalam", "അവന\u0d4d\u200d"),  # he: n, virama, joiner (the older chillu ൻ)
    ],
)
def test_joiners_and_marks_are_shaped_with_their_letters(family: str, word: str) -> None:
    """The word is drawn with the glyphs HarfBuzz gives it whole: a mark shaped apart from
    its letter sits on a dotted circle (◌), and Urdu letters either side of it do not join."""
    need_fonts()
    uharfbuzz = pytest.importorskip("uharfbuzz")
    setter = certificate._unicode_typesetter({"": [word]}, "en")
    assert setter is not None
    setter.pdf.add_page()
    setter.pdf.cell(0, 10, setter.use(word, "", 12))
    font = setter.pdf.fonts[family.lower()]
    assert isinstance(font, certificate.TTFFont)
    whole = uharfbuzz.Buffer()
    whole.add_str(word)
    whole.guess_segment_properties()
    uharfbuzz.shape(font.hbfont, whole, {})
    glyphs = {font.ttfont.getGlyphName(info.codepoint) for info in whole.glyph_infos}
    drawn = set(font.subset.get_all_glyph_names())
    setter.pdf.output()  # which closes the font files
    assert glyphs <= drawn
    assert font.cmap[0x25CC] not in drawn


def test_shaped_lines_read_back_as_written(tmp_path: Path) -> None:
    """Each word reads back whole, on its own line, in order: a vowel sign drawn before its
    consonant (ശ്രീ, मो) or a conjunct's part drawn below it (ପ୍ର) is no gap in the word, and
    two such lines are not taken for columns."""
    need_fonts()
    lines = [
        "ലഭിക്കുന്നയാൾ: ശ്രീലക്ഷ്മി നായർ",
        "മൊബൈൽ നമ്പർ +9198xx0301",
        "शिवपुरी किशनपुर",
        "সুস্মিতা চক্রবর্তী কোলকাতা",
        "கொடைக்கானல் கோவில்",
        "ପ୍ରିୟଙ୍କା ମହାପାତ୍ର",
        "ਕਿਸ਼ਨਪੁਰਾ ਗੁਰਪ੍ਰੀਤ",
        "સિદ્ધપુર કિરણ",
        "ಶ್ರೀರಂಗಪಟ್ಟಣ ಲಕ್ಷ್ಮೀ",
        "కొండాపూర్ శ్రీనివాస్",
        "عائشہ صدیقی",
    ]
    setter = certificate._unicode_typesetter({"": lines}, "en")
    assert setter is not None
    setter.pdf.add_page()
    for line in lines:
        setter.pdf.multi_cell(0, 7, setter.use(line, "", 12), new_x="LMARGIN", new_y="NEXT")
    out = pdftotext(bytes(setter.pdf.output()), tmp_path)
    assert [BIDI_CONTROLS.sub("", line) for line in out.splitlines() if line.strip()] == lines
