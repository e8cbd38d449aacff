"""Every USSD screen of the demo, in every shipped language, fits the handset's screen.

A screen in an Indian script goes out in UCS-2, which a handset cuts at about 80 characters
where GSM text gets 182 (``SEVA_USSD_SCREEN_*``, per aggregator ``SEVA_USSD_SCREENS``). The
walk below opens, in each language, every screen a caller can reach in the demo: the first
menu, the language page, each department's menu, each service's questions as far as the demo
data answers them (and the answer), the invalid-choice screens, booking a call with an
official and *My booked calls* (move and cancel). Each page must be within the limit for its
alphabet, and paging with ``98`` must show every line of the screen exactly once, no line
that fits a page cut, and no letter cut in two.

Figures with the default limits (UCS-2 80, GSM 182) and the thirteen languages shipped when
this was written: the longest page, and the most pages one screen took (the offices near a
PIN code, which name each office in English)::

    lang    longest page   most pages     lang    longest page   most pages
    en      173 (GSM)      3              ta      80             4
    hi      80             4              gu      80             4
    bn      80             4              ur      80             4
    mr      80             4              kn      80             4
    te      80             4              or      80             4
    ml      80             4              pa      80             4
    as      80             4

Every Indian-script language fills its screens to the limit and pages its menus. With an
aggregator's 50-character screens the NEAR answer takes up to 8 pages (Telugu).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from seva import i18n
from seva.channels import ussd
from seva.channels.menus import department_menu, menu_departments
from seva.channels.ussd import MORE_KEY, ScreenLimits, paginate
from seva.db.base import utcnow
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.settings import Settings
from seva.sms_text import GSM7, UCS2, is_gsm7, units

SHIPPED = list(i18n.shipped())
OFFERED = list(i18n.offered())
"""The language page's order: its numbers choose them."""

AGGREGATOR_LIMITS = (120, 50)
"""A configured aggregator with shorter screens than the gateway's default (GSM, UCS-2)."""

ANSWERS: dict[str, list[str]] = {
    "ration-card-status": ["1234567890"],
    "grain-entitlement": ["1234567890"],
    "kisan-status": ["UP123456789"],
    "mandi-price": ["1"],
    "civic-complaint": ["1", "110092", "Sunita Devi", "Garbage not picked up for a week", "1"],
    "property-tax": ["12345678"],
    "nearest-centre": ["110092"],
    "application-status": ["TEST-0001"],
    "dl-status": ["DL0420190012345"],
    "learner-test-slot": ["Sunita Devi", "01-01-1995", "1", "1", "1", "1"],
    "call": ["1"],
    "my-calls": ["1", "2", "1"],
}
"""Answers that walk each demo service to its end with the demo data (a service not named
here is answered ``1`` until it ends)."""
MAX_ANSWERS = 8


@dataclass
class Shown:
    """One screen as the handset showed it, page by page, and what ``paginate`` was given."""

    pages: list[str]
    text: str
    more: str
    limit: int


@dataclass
class Walk:
    """A caller at a keypad, one USSD session at a time, reading every page of each screen."""

    client: TestClient
    phone: str
    cut: list[tuple[str, str, int, list[str]]]
    """What ``paginate`` was asked to cut since the walk began."""
    shown: list[Shown] = field(default_factory=list)
    session: int = 0
    inputs: list[str] = field(default_factory=list)
    ended: bool = True

    def dial(self) -> Shown:
        self.session += 1
        self.inputs = []
        return self._hop()

    def press(self, value: str) -> Shown:
        assert not self.ended, "the session has ended"
        self.inputs.append(value)
        return self._hop()

    def _post(self) -> str:
        response = self.client.post(
            "/channels/ussd/africastalking",
            data={
                "sessionId": f"{self.phone}-{self.session}",
                "serviceCode": "*166#",
                "phoneNumber": self.phone,
                "networkCode": "40410",
                "text": "*".join(self.inputs),
            },
        )
        assert response.status_code == 200, response.text
        body = response.text
        assert body.startswith(("CON ", "END ")), body
        self.ended = body.startswith("END ")
        return body[4:]

    def _hop(self) -> Shown:
        before = len(self.cut)
        pages = [self._post()]
        assert len(self.cut) == before + 1, "one screen drawn per key"
        text, more, limit, cut = self.cut[-1]
        while not self.ended and pages[-1].endswith("\n" + more):
            self.inputs.append(MORE_KEY)
            pages.append(self._post())
            assert len(self.cut) == before + 1, "paging draws nothing new"
        assert pages == cut, "the handset shows the pages that were cut, in order"
        shown = Shown(pages=pages, text=text, more=more, limit=limit)
        self.shown.append(shown)
        return shown


@pytest.fixture(params=["default", "aggregator"])
def limits(request: pytest.FixtureRequest) -> ScreenLimits:
    if request.param == "default":
        return ScreenLimits()
    return ScreenLimits(*AGGREGATOR_LIMITS)


@pytest.fixture
def settings(settings: Settings, limits: ScreenLimits) -> Settings:
    """The test settings, with the walk's limits configured for the aggregator's route."""
    if limits == ScreenLimits():
        return settings
    return settings.model_copy(update={"ussd_screens": {"africastalking": AGGREGATOR_LIMITS}})


@pytest.fixture
def cut(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, int, list[str]]]:
    """Every screen the menu cuts into pages: its text, the more-label and the limit used."""
    seen: list[tuple[str, str, int, list[str]]] = []

    def recording(text: str, more: str, limit: int | ScreenLimits = ussd.MAX_SCREEN) -> list[str]:
        pages = paginate(text, more, limit)
        number = limit.of_text(text + more) if isinstance(limit, ScreenLimits) else limit
        seen.append((text, more, number, pages))
        return pages

    monkeypatch.setattr(ussd, "paginate", recording)
    return seen


def _walk_everything(walk: Walk, gateway: Gateway, lang: str) -> None:
    number = str(OFFERED.index(lang) + 1)
    # The language page, in English for a new number, and choosing the language.
    walk.dial()
    walk.press("0")
    walk.press("99")
    walk.press(number)
    # The same in the chosen language, with the invalid choices of the first menu.
    walk.dial()
    walk.press("0")
    walk.press("99")
    walk.press(number)
    walk.press("99")
    menus = _menus(gateway, walk.phone)
    for position, (code, slugs) in enumerate(menus, start=1):
        walk.dial()
        walk.press(str(position))
        walk.press("99")
        walk.press("0")
        for choice, slug in enumerate(slugs, start=1):
            walk.dial()
            walk.press(str(position))
            _answer(walk, str(choice), slug)
    # With calls booked: *My booked calls* on the first menu and in each department's.
    root = walk.dial()
    assert len(root.text.split("\n")) > len(menus) + 2, "the first menu offers the booked calls"
    _answer(walk, str(len(menus) + 1), "my-calls")
    for position, (code, slugs) in enumerate(_menus(gateway, walk.phone), start=1):
        if "my-calls" in slugs:
            walk.dial()
            walk.press(str(position))
            _answer(walk, str(slugs.index("my-calls") + 1), "my-calls", cancel=True)


def _menus(gateway: Gateway, phone: str) -> list[tuple[str, list[str]]]:
    """Each department of the first menu with the services its menu lists for ``phone``."""
    with gateway.session() as session:
        now = utcnow()
        return [
            (d.code, [s.slug for s in department_menu(session, d, phone, now)])
            for d in menu_departments(session)
        ]


def _answer(walk: Walk, choice: str, slug: str, *, cancel: bool = False) -> None:
    """Start the service numbered ``choice`` and answer it to its end (``cancel``: cancel
    the booked call rather than move it)."""
    walk.press(choice)
    answers = list(ANSWERS.get(slug, []))
    if cancel:
        answers = ["1", "1"]
    for _ in range(MAX_ANSWERS):
        if walk.ended:
            return
        walk.press(answers.pop(0) if answers else "1")


def _size(page: str) -> tuple[int, int]:
    """A page's characters as its alphabet counts them, and that alphabet."""
    coding = GSM7 if is_gsm7(page) else UCS2
    return units(page, coding), coding


_MARKS = ("Mn", "Mc", "Me")
_JOINERS = "\u200c\u200d"


def _letters_cut(text: str, pages: list[str], more: str) -> list[str]:
    """The pages that end inside a letter of ``text``: where the screen was cut within a
    word (no space or line break there in the text) before a combining mark (a vowel sign, a
    virama, a nukta) or a joiner, or after a virama or a joiner."""
    letters: list[str] = []
    after_space: list[bool] = []
    gap = False
    for char in text:
        if char.isspace():
            gap = True
            continue
        letters.append(char)
        after_space.append(gap)
        gap = False
    cut: list[str] = []
    at = 0
    for page in pages[:-1]:
        at += sum(1 for char in page.removesuffix("\n" + more) if not char.isspace())
        if not 0 < at < len(letters) or after_space[at]:
            continue
        before, char = letters[at - 1], letters[at]
        if (
            unicodedata.category(char) in _MARKS
            or char in _JOINERS
            or before in _JOINERS
            or unicodedata.combining(before) == 9
        ):
            cut.append(page)
    return cut


def _check(shown: Shown, limits: ScreenLimits) -> None:
    pages, more = shown.pages, shown.more
    for page in pages:
        size, coding = _size(page)
        assert size <= (limits.gsm if coding == GSM7 else limits.ucs2), page
    assert all(p.endswith("\n" + more) for p in pages[:-1])
    assert not pages[-1].endswith("\n" + more) or shown.text.endswith(more)
    bodies = [p.removesuffix("\n" + more) for p in pages[:-1]] + pages[-1:]
    # Nothing lost, nothing shown twice.
    assert "".join("".join(bodies).split()) == "".join(shown.text.split())
    # A line that fits on a page is shown whole, exactly as often as the screen has it.
    coding = GSM7 if is_gsm7(shown.text + more) else UCS2
    room = shown.limit - units(more, coding) - 1
    lines = shown.text.split("\n")
    seen = [line for body in bodies for line in body.split("\n")]
    for line in lines:
        if len(pages) == 1 or units(line, coding) <= room:
            assert seen.count(line) == lines.count(line), (line, pages)
    assert not _letters_cut(shown.text, pages, more)


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_screen_fits_in_every_language(
    client: TestClient,
    gateway: Gateway,
    seeded: SeedReport,
    cut: list[tuple[str, str, int, list[str]]],
    limits: ScreenLimits,
    lang: str,
) -> None:
    walk = Walk(client, f"+9198110{OFFERED.index(lang) + 1:05d}", cut)
    _walk_everything(walk, gateway, lang)
    assert len(walk.shown) > 40
    for shown in walk.shown:
        _check(shown, limits)
    in_lang = [s for s in walk.shown if s.more == i18n.text("ussd_more", lang)]
    assert in_lang, "the screens after choosing are in the language chosen"
    longest = max(_size(p) for s in in_lang for p in s.pages)
    paged = sum(1 for s in in_lang if len(s.pages) > 1)
    alphabet = "GSM" if longest[1] == GSM7 else "UCS-2"
    most = max(in_lang, key=lambda s: len(s.pages))
    print(
        f"\n{lang}: {len(in_lang)} screens, {paged} paged, longest page {longest[0]} {alphabet},"
        f" most pages {len(most.pages)} ({most.text[:24]!r})"
    )


# -- paginate itself ---------------------------------------------------------------------------

DEVANAGARI_WORD = "क्षत्रियप्रतिष्ठानस्वास्थ्यकेंद्र"
TAMIL_WORD = "கண்காணிப்புக்குழுக்கள்"
ODIA_WORD = "ଓଡ଼ିଆପ୍ରତିଷ୍ଠାନ"


@pytest.mark.parametrize("word", [DEVANAGARI_WORD, TAMIL_WORD, ODIA_WORD])
@pytest.mark.parametrize("limit", [20, 33, 80])
def test_a_word_longer_than_a_screen_is_cut_between_letters(word: str, limit: int) -> None:
    text = "सूची:\n" + word * 6
    more = "98. आगे"
    pages = paginate(text, more, ScreenLimits(ucs2=limit))
    assert len(pages) > 1
    assert all(units(p) <= limit for p in pages)
    assert not _letters_cut(text, pages, more)
    bodies = [p.removesuffix("\n" + more) for p in pages[:-1]] + pages[-1:]
    assert "".join("".join(bodies).split()) == "".join(text.split())


def test_a_line_that_fits_a_screen_is_never_cut() -> None:
    lines = [f"{i}. " + "शब्द " * (i % 9 + 2) for i in range(1, 30)]
    more = "98. आगे"
    pages = paginate("\n".join(line.strip() for line in lines), more, ScreenLimits())
    assert all(units(p) <= 80 for p in pages)
    shown = [line for p in pages for line in p.removesuffix("\n" + more).split("\n")]
    assert shown == [line.strip() for line in lines]


def test_a_long_line_starts_where_the_screen_has_room() -> None:
    """An answer written as one long sentence after a heading does not leave the heading
    alone on its page."""
    heading = "110092 के निकटतम:"
    office = "1. Circle Office Shakarpur, Vikas Marg, Shakarpur (0.1 km) Mon-Fri 10:00-17:00"
    pages = paginate(f"{heading}\n{office}", "98. आगे", ScreenLimits())
    assert pages[0].startswith(f"{heading}\n1. Circle Office")
    assert all(units(p) <= 80 for p in pages)


def test_a_gsm_screen_counts_extension_characters_twice() -> None:
    text = " ".join(["[x]"] * 40)  # 159 characters, but 239 septets
    pages = paginate(text)
    assert len(pages) == 2
    assert all(units(p, GSM7) <= ussd.MAX_SCREEN for p in pages)


def test_a_degenerate_limit_still_makes_progress() -> None:
    pages = paginate(DEVANAGARI_WORD, "98", 4)
    assert "".join(p.removesuffix("\n98") for p in pages) == DEVANAGARI_WORD
    assert not _letters_cut(DEVANAGARI_WORD, pages, "98")


def test_the_check_finds_a_letter_cut_in_two() -> None:
    assert _letters_cut("किताब", ["क\n98", "िताब"], "98")  # a vowel sign parted
    assert _letters_cut("क्षमा", ["क्\n98", "षमा"], "98")  # a conjunct parted after its virama
    assert not _letters_cut("தமிழ் மொழி", ["தமிழ்\n98", "மொழி"], "98")  # a word ends in pulli
