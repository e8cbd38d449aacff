"""USSD: ``*166#`` opens a menu of departments → services → the service's questions.

Follows the Africa's Talking callback convention, which most USSD aggregators copy: each hop
is a form POST with ``sessionId``, ``serviceCode``, ``phoneNumber``, ``networkCode`` and
``text`` — every input of the session so far joined by ``*`` — and the reply is plain text
starting ``CON`` (show and wait for input) or ``END`` (show and close).

Departments whose officials publish call hours also offer *Book a call with an official*,
and a caller with a booked call sees *My booked calls* on the first menu (and in the
department's), to cancel it or move it to another time: the gateway's call services
(``seva.flows.calls``), run like any other service, so the free times are a choice with one
key each and the join link follows by SMS. This adapter only draws menus and screens.

A handset shows at most 182 characters in the GSM alphabet and far fewer in UCS-2 (about 80
for an Indian script; ``SEVA_USSD_SCREEN_*``, and per aggregator ``SEVA_USSD_SCREENS``), so a
longer screen is cut into pages that end with ``98. More``; the last page of a final answer
closes the session. ``UssdMenu.handle`` is
transport-free; the HTTP route in ``seva.channels.routes`` wraps it.

The channel's own state (which screen, what its numbers lead to, the pages of the screen
shown) is a ``UssdState`` kept in the dialogue; what a key does on each screen is the table
``UssdMenu._keys``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from seva.channels.menus import department_menu, menu_departments, menu_key
from seva.channels.render import plain
from seva.db.base import utcnow
from seva.flows import calls
from seva.flows import service as services
from seva.flows.answers import clean
from seva.flows.runtime import Runtime, Turn
from seva.flows.service import definition_of
from seva.flows.store import Dialogue
from seva.i18n import entry, offered, served
from seva.i18n import text as text_of
from seva.i18n.languages import NAMES
from seva.rtc import service as rtc
from seva.settings import Settings
from seva.sms_text import GSM7, UCS2, is_gsm7, units
from seva.tenancy import service as tenancy

CHANNEL = "ussd"
MAX_SCREEN = 182
"""The most a screen in the GSM alphabet can carry (a USSD string is 182 GSM characters)."""
UCS2_SCREEN = 80
MORE_KEY = "98"
BACK_KEY = "0"
MAX_HOPS = 100
"""A session with more inputs than this is not a person at a keypad."""

_MORE = entry("ussd_more")
_BACK = entry("ussd_back")
_TITLE = entry("ussd_title")
_LANGUAGE = entry("ussd_language")
_LANGUAGE_TITLE = entry("language")
_INVALID = entry("ussd_invalid")
_NO_SERVICES = entry("ussd_no_services")
_TOO_LONG = entry("ussd_too_long")


class Screen(StrEnum):
    """What the handset shows, so what its keys mean."""

    ROOT = "root"
    """The departments (and *My booked calls*); ``0`` is the language menu."""
    LANG = "lang"
    DEPT = "dept"
    """One department's services (and the gateway's call services); ``0`` goes back."""
    FLOW = "flow"
    """A service's question: the keys are its answer."""


class Go(StrEnum):
    """Where a menu number leads."""

    DEPARTMENT = "department"
    SERVICE = "service"
    MY_CALLS = "my_calls"
    """The booked calls of the department of the caller's next call."""


@dataclass(slots=True)
class UssdState:
    """The channel's part of a USSD dialogue (kept in ``Dialogue.meta``)."""

    consumed: int = 0
    """Inputs of the ``*``-joined history already acted on."""
    screen: Screen | None = None
    """None: the session has shown nothing yet."""
    menu: list[tuple[Go, str]] = field(default_factory=list)
    """What each number of the menu shown leads to (a department code, a service id)."""
    dept: str = ""
    pages: list[str] = field(default_factory=list)
    page: int = 0
    final: bool = False
    """The screen shown is an answer: its last page ends the session."""
    booked: bool | None = None
    """Whether the caller has a booked call, as the first menu found (None: not known, or a
    service has run since and may have booked one), so department menus need not ask."""
    via: str = ""
    """The aggregator the session came through, whose screens may be shorter than the
    gateway's default (``ScreenLimits.of``); empty for the default."""

    @classmethod
    def of(cls, meta: dict[str, Any]) -> UssdState:
        found = meta.get("ussd")
        if not isinstance(found, dict):
            return cls()
        screen = found.get("screen")
        return cls(
            consumed=int(found.get("consumed", 0)),
            screen=Screen(screen) if screen else None,
            menu=[(Go(go), str(ref)) for go, ref in found.get("menu", [])],
            dept=str(found.get("dept", "")),
            pages=[str(p) for p in found.get("pages", [])],
            page=int(found.get("page", 0)),
            final=bool(found.get("final")),
            booked=found.get("booked") if isinstance(found.get("booked"), bool) else None,
            via=str(found.get("via", "")),
        )

    def keep(self, meta: dict[str, Any]) -> None:
        meta["ussd"] = {
            "consumed": self.consumed,
            "screen": self.screen,
            "menu": [[go, ref] for go, ref in self.menu],
            "dept": self.dept,
            "pages": list(self.pages),
            "page": self.page,
            "final": self.final,
            "booked": self.booked,
            "via": self.via,
        }

    def chosen(self, value: str) -> tuple[Go, str] | None:
        """Where the menu number ``value`` leads, if it is one."""
        return self.menu[int(value) - 1] if menu_key(value, len(self.menu)) else None


@dataclass(frozen=True, slots=True)
class UssdScreen:
    text: str
    end: bool
    turn: Turn | None = None

    def render(self) -> str:
        return ("END " if self.end else "CON ") + self.text


@dataclass(frozen=True, slots=True)
class ScreenLimits:
    """How many characters one screen of an aggregator's network shows."""

    gsm: int = MAX_SCREEN
    ucs2: int = UCS2_SCREEN

    @classmethod
    def of(cls, settings: Settings, aggregator: str = "") -> ScreenLimits:
        gsm, ucs2 = settings.ussd_screens.get(
            aggregator, (settings.ussd_screen_gsm, settings.ussd_screen_ucs2)
        )
        return cls(gsm=min(gsm, MAX_SCREEN), ucs2=min(ucs2, MAX_SCREEN))

    def of_text(self, text: str) -> int:
        """The limit for a screen showing ``text``: one character outside the GSM alphabet
        sends the whole screen in UCS-2."""
        return self.gsm if is_gsm7(text) else self.ucs2


def paginate(
    text: str, more: str = _MORE["en"], limit: int | ScreenLimits = MAX_SCREEN
) -> list[str]:
    """Cut ``text`` into screens of at most ``limit`` characters (by the screen's alphabet,
    for ``ScreenLimits``), each but the last ending with ``more``.

    A line that fits on a screen is never cut: it goes on the next screen when this one is
    full. A longer line (an answer written as one sentence) starts where there is room and
    runs on over the next screens, cut at spaces, or where a word is longer than a screen,
    between two letters as a reader sees them (``_cut``): never between a consonant and its
    vowel sign or virama, which would show a broken letter on the handset. The last screen
    has no more-label, so it takes the whole limit: a menu's last line is not left alone on
    a screen of its own for want of the room the label would have taken.
    """
    if isinstance(limit, ScreenLimits):
        limit = limit.of_text(text + more)
    coding = GSM7 if is_gsm7(text + more) else UCS2
    if units(text, coding) <= limit:
        return [text]
    room = max(1, limit - units(more, coding) - 1)
    pages: list[list[str]] = [[]]
    used = 0
    lines = text.split("\n")
    for index, line in enumerate(lines):
        size = units(line, coding)
        gap = 1 if pages[-1] else 0
        if used + gap + size <= room:
            pages[-1].append(line)
            used += gap + size
            continue
        if used + gap + units("\n".join(lines[index:]), coding) <= limit:
            # What is left fits on this screen without the more-label: the last screen.
            pages[-1].extend(lines[index:])
            break
        if size <= room or room - used - gap < MIN_RUN_ON:
            # A line that fits a screen of its own starts one; so does a long line when too
            # little of this screen is left to be worth starting it here.
            pages.append([])
            used, gap = 0, 0
        while line:
            head, line = _cut(line, room - used - gap, coding, whole=not pages[-1])
            if head:
                pages[-1].append(head)
                used += gap + units(head, coding)
                gap = 1
            if line:
                pages.append([])
                used, gap = 0, 0
    shown = ["\n".join(page) for page in pages if page]
    return [page + "\n" + more for page in shown[:-1]] + shown[-1:]


MIN_RUN_ON = 12
"""Characters of a screen worth starting a long line in; with fewer left it starts the next."""


def _cut(line: str, room: int, coding: int, *, whole: bool) -> tuple[str, str]:
    """The most of ``line`` that fits in ``room`` and the rest: cut at the last space that
    leaves at least half the room used, else at the last boundary between graphemes.
    ``whole``: the screen is empty, so at least one grapheme goes on it even if it is wider
    than the room (a degenerate limit), rather than no progress at all."""
    if units(line, coding) <= room:
        return line, ""
    fits = 0
    used = 0
    for index, char in enumerate(line):
        used += units(char, coding)
        if used > room:
            break
        fits = index + 1
    space = line.rfind(" ", 0, fits + 1)
    if space > room // 2:
        return line[:space].rstrip(), line[space:].lstrip()
    cut = fits
    while cut > 0 and not _grapheme_boundary(line, cut):
        cut -= 1
    if cut == 0:
        if not whole:
            return "", line
        cut = 1
        while cut < len(line) and not _grapheme_boundary(line, cut):
            cut += 1
    return line[:cut], line[cut:].lstrip()


_JOINERS = frozenset("\u200c\u200d")
"""Zero-width non-joiner and joiner: they shape the letters on both sides."""
_VIRAMA = 9
"""The canonical combining class of a virama (halant, pulli, chandrakkala): the consonant after
it joins the one before in a conjunct."""


def _grapheme_boundary(text: str, index: int) -> bool:
    """Whether a screen may end before ``text[index]``: not before a combining mark (a vowel
    sign, a virama, a nukta, an anusvara) or a joiner, and not after a virama or a joiner.
    A simplification of UAX #29's extended grapheme clusters that is exact for the Indian
    scripts' consonant clusters, which is what a cut could break."""
    if index <= 0 or index >= len(text):
        return True
    char, before = text[index], text[index - 1]
    if char in _JOINERS or before in _JOINERS:
        return False
    if unicodedata.category(char) in ("Mn", "Mc", "Me"):
        return False
    return unicodedata.combining(before) != _VIRAMA


KeyHandler = Callable[[Session, Dialogue, UssdState, str, datetime], UssdScreen]
"""What a key does on one screen: the session, the dialogue, the channel's state, the key."""


class UssdMenu:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._keys: dict[Screen, KeyHandler] = {
            Screen.ROOT: self._root_key,
            Screen.LANG: self._language_key,
            Screen.DEPT: self._department_key,
            Screen.FLOW: self._answer,
        }
        """What a key does on each screen (paging is handled before it)."""

    def handle(
        self,
        session: Session,
        *,
        session_id: str,
        phone: str,
        text: str,
        now: datetime | None = None,
        aggregator: str = "",
    ) -> UssdScreen:
        """The screen for one hop. ``aggregator``: the route's name (``africastalking``),
        whose own screen limits (``SEVA_USSD_SCREENS``) the pages are cut to."""
        runtime = self.runtime
        moment = now or utcnow()
        dialogue = runtime.open(session, CHANNEL, session_id, phone=phone, now=now)
        state = UssdState.of(dialogue.meta)
        parts = text.split("*") if text else []
        if len(parts) < state.consumed:
            # The gateway restarted the history (some do after a timeout): start afresh.
            state = UssdState()
        state.via = aggregator
        new_inputs = parts[state.consumed :]
        state.consumed = len(parts)
        if len(parts) > MAX_HOPS:
            runtime.close(session, dialogue)
            return UssdScreen(_TOO_LONG[_lang(dialogue)], end=True)

        screen: UssdScreen | None = None
        if state.screen is None:
            # A new session; inputs dialled with the code (``*166*2*1#``) walk from the root.
            screen = self._root(session, dialogue, state, moment)
        for raw in new_inputs:
            screen = self._input(session, dialogue, state, clean(raw), moment)
            if screen.end:
                break
        if screen is None:  # a repeated request with no new input: show the page again
            screen = self._repeat(session, dialogue, state, moment)
        if screen.end:
            runtime.close(session, dialogue)
        else:
            state.keep(dialogue.meta)
            runtime.save(session, dialogue, now=now)
        return screen

    # -- screens --------------------------------------------------------------------------

    def _show(
        self,
        dialogue: Dialogue,
        state: UssdState,
        text: str,
        *,
        end: bool,
        turn: Turn | None = None,
    ) -> UssdScreen:
        limits = ScreenLimits.of(self.runtime.settings, state.via)
        state.pages = paginate(text, _MORE[_lang(dialogue)], limits)
        state.page = 0
        state.final = end
        return UssdScreen(state.pages[0], end=end and len(state.pages) == 1, turn=turn)

    def _repeat(
        self, session: Session, dialogue: Dialogue, state: UssdState, now: datetime
    ) -> UssdScreen:
        if not state.pages:
            return self._root(session, dialogue, state, now)
        last = state.page == len(state.pages) - 1
        return UssdScreen(state.pages[state.page], end=state.final and last)

    def _root(
        self,
        session: Session,
        dialogue: Dialogue,
        state: UssdState,
        now: datetime,
        notice: str = "",
    ) -> UssdScreen:
        lang = _lang(dialogue)
        state.screen = Screen.ROOT
        departments = menu_departments(session)
        if not departments:
            return self._show(dialogue, state, _NO_SERVICES[lang], end=True)
        lines = [notice or _TITLE[lang].format(code=self.runtime.settings.ussd_code)]
        lines += [f"{i}. {d.display_name(lang)}" for i, d in enumerate(departments, start=1)]
        state.menu = [(Go.DEPARTMENT, d.code) for d in departments]
        state.booked = bool(dialogue.phone) and rtc.has_upcoming(
            session, dialogue.phone or "", now=now
        )
        if state.booked:
            state.menu.append((Go.MY_CALLS, ""))
            lines.append(f"{len(state.menu)}. {text_of('book_my_title', lang)}")
        lines.append(_LANGUAGE[lang])
        return self._show(dialogue, state, "\n".join(lines), end=False)

    def _department(
        self,
        session: Session,
        dialogue: Dialogue,
        state: UssdState,
        code: str,
        now: datetime,
        notice: str = "",
    ) -> UssdScreen:
        lang = _lang(dialogue)
        department = tenancy.departments(session).code(code)
        listed = (
            department_menu(session, department, dialogue.phone, now, booked=state.booked)
            if department
            else []
        )
        if department is None or not listed:
            return self._root(session, dialogue, state, now)
        state.screen = Screen.DEPT
        state.dept = code
        state.menu = [(Go.SERVICE, str(s.id)) for s in listed]
        lines = [notice or department.display_name(lang)]
        for i, service in enumerate(listed, start=1):
            title = definition_of(service).title
            lines.append(f"{i}. {title.get(lang) or title['en']}")
        lines.append(_BACK[lang])
        return self._show(dialogue, state, "\n".join(lines), end=False)

    def _start(
        self, session: Session, dialogue: Dialogue, state: UssdState, service_id: int, now: datetime
    ) -> UssdScreen | None:
        service = services.service_by_id(session, service_id)
        if service is None or not service.active:
            return None
        state.screen = Screen.FLOW
        state.booked = None
        return self._turn(dialogue, state, self.runtime.start(session, dialogue, service, now=now))

    def _my_calls(
        self, session: Session, dialogue: Dialogue, state: UssdState, now: datetime
    ) -> UssdScreen | None:
        """*My booked calls* on the first menu: the booked calls of the department of the
        caller's next call (another department's are in that department's menu)."""
        booked = calls.booked_departments(session, dialogue.phone, now)
        mine = calls.service_for(session, booked[0], calls.MY_CALLS) if booked else None
        return self._start(session, dialogue, state, mine.id, now) if mine else None

    # -- input ----------------------------------------------------------------------------

    def _input(
        self, session: Session, dialogue: Dialogue, state: UssdState, value: str, now: datetime
    ) -> UssdScreen:
        pages = state.pages
        if value == MORE_KEY and state.page < len(pages) - 1:
            state.page += 1
            last = state.page == len(pages) - 1
            return UssdScreen(pages[state.page], end=state.final and last)
        if state.final:
            return UssdScreen(pages[-1] if pages else "", end=True)
        return self._keys[state.screen or Screen.ROOT](session, dialogue, state, value, now)

    def _root_key(
        self, session: Session, dialogue: Dialogue, state: UssdState, value: str, now: datetime
    ) -> UssdScreen:
        if value == BACK_KEY:
            state.screen = Screen.LANG
            return self._show(dialogue, state, _languages(_lang(dialogue)), end=False)
        match state.chosen(value):
            case (Go.DEPARTMENT, code):
                return self._department(session, dialogue, state, code, now)
            case (Go.MY_CALLS, _):
                started = self._my_calls(session, dialogue, state, now)
                if started is not None:
                    return started
        return self._root(session, dialogue, state, now, notice=_INVALID[_lang(dialogue)])

    def _language_key(
        self, session: Session, dialogue: Dialogue, state: UssdState, value: str, now: datetime
    ) -> UssdScreen:
        offered = _offered()
        if not menu_key(value, len(offered)):
            lang = _lang(dialogue)
            invalid = _INVALID[lang] + "\n" + _languages(lang)
            return self._show(dialogue, state, invalid, end=False)
        chosen = offered[int(value) - 1]
        self.runtime.set_language(session, dialogue, chosen)
        return self._root(session, dialogue, state, now)

    def _department_key(
        self, session: Session, dialogue: Dialogue, state: UssdState, value: str, now: datetime
    ) -> UssdScreen:
        if value == BACK_KEY:
            return self._root(session, dialogue, state, now)
        match state.chosen(value):
            case (Go.SERVICE, service_id):
                started = self._start(session, dialogue, state, int(service_id), now)
                if started is not None:
                    return started
        invalid = _INVALID[_lang(dialogue)]
        return self._department(session, dialogue, state, state.dept, now, notice=invalid)

    def _answer(
        self, session: Session, dialogue: Dialogue, state: UssdState, value: str, now: datetime
    ) -> UssdScreen:
        if not self.runtime.in_service(dialogue):
            return self._root(session, dialogue, state, now)
        turn = self.runtime.answer(session, dialogue, value, now=now)
        return self._turn(dialogue, state, turn)

    def _turn(self, dialogue: Dialogue, state: UssdState, turn: Turn) -> UssdScreen:
        return self._show(dialogue, state, plain(turn.messages), end=turn.finished, turn=turn)


def _lang(dialogue: Dialogue) -> str:
    return served(dialogue.lang)


def _offered() -> tuple[str, ...]:
    """The languages the language page numbers: the same numbers as the phone menu's."""
    return offered()


def _languages(lang: str) -> str:
    """The language page: its title in the caller's language, then every language in its own
    script, numbered (a caller who cannot read the title still finds their language)."""
    lines = [_LANGUAGE_TITLE[lang]]
    lines += [f"{i}. {NAMES[code]}" for i, code in enumerate(_offered(), start=1)]
    return "\n".join(lines)
