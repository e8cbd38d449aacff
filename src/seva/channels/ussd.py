"""USSD: ``*166#`` opens a menu of departments → services → the service's questions.

Follows the Africa's Talking callback convention, which most USSD aggregators copy: each hop
is a form POST with ``sessionId``, ``serviceCode``, ``phoneNumber``, ``networkCode`` and
``text`` — every input of the session so far joined by ``*`` — and the reply is plain text
starting ``CON`` (show and wait for input) or ``END`` (show and close).

A handset shows at most 182 characters, so a longer screen is cut into pages that end with
``98. More``; the last page of a final answer closes the session. ``UssdMenu.handle`` is
transport-free; the HTTP route in ``seva.channels.routes`` wraps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from seva.channels.render import plain
from seva.flows import service as services
from seva.flows.answers import clean
from seva.flows.models import Service
from seva.flows.runtime import Runtime, Turn
from seva.flows.service import definition_of
from seva.flows.store import Dialogue
from seva.tenancy import service as tenancy
from seva.tenancy.models import Department

CHANNEL = "ussd"
MAX_SCREEN = 182
MORE_KEY = "98"
BACK_KEY = "0"
MAX_HOPS = 100
"""A session with more inputs than this is not a person at a keypad."""

_MORE = {"en": "98. More", "hi": "98. आगे"}
_BACK = {"en": "0. Back", "hi": "0. पीछे"}
_TITLE = {"en": "Seva {code}", "hi": "सेवा {code}"}
_LANGUAGE = {"en": "0. हिन्दी / Language", "hi": "0. English / भाषा"}
_CHOOSE_LANGUAGE = "Language / भाषा\n1. English\n2. हिन्दी"
_INVALID = {"en": "Invalid choice.", "hi": "गलत विकल्प।"}
_NO_SERVICES = {"en": "No services are live yet.", "hi": "अभी कोई सेवा उपलब्ध नहीं है।"}
_TOO_LONG = {"en": "Session too long. Please dial again.", "hi": "सत्र बहुत लंबा है। फिर से डायल करें।"}


@dataclass(frozen=True, slots=True)
class UssdScreen:
    text: str
    end: bool
    turn: Turn | None = None

    def render(self) -> str:
        return ("END " if self.end else "CON ") + self.text


def paginate(text: str, more: str = _MORE["en"], limit: int = MAX_SCREEN) -> list[str]:
    """Cut ``text`` into screens of at most ``limit`` characters, each but the last ending
    with ``more``; lines are kept whole where they fit, long lines break at spaces."""
    if len(text) <= limit:
        return [text]
    room = limit - len(more) - 1
    lines: list[str] = []
    for line in text.split("\n"):
        while len(line) > room:
            cut = line.rfind(" ", 0, room + 1)
            cut = cut if cut > room // 2 else room
            lines.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        lines.append(line)
    pages: list[str] = []
    current: list[str] = []
    for line in lines:
        candidate = "\n".join([*current, line])
        if current and len(candidate) > room:
            pages.append("\n".join(current))
            current = [line]
        else:
            current.append(line)
    if current:
        pages.append("\n".join(current))
    return [p + "\n" + more for p in pages[:-1]] + [pages[-1]]


class UssdMenu:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def handle(
        self,
        session: Session,
        *,
        session_id: str,
        phone: str,
        text: str,
        now: datetime | None = None,
    ) -> UssdScreen:
        runtime = self.runtime
        dialogue = runtime.open(session, CHANNEL, session_id, phone=phone, now=now)
        parts = text.split("*") if text else []
        consumed = int(dialogue.meta.get("consumed", 0))
        if len(parts) < consumed:
            # The gateway restarted the history (some do after a timeout): start afresh.
            consumed = 0
            dialogue.meta = {}
        new_inputs = parts[consumed:]
        dialogue.meta["consumed"] = len(parts)
        if len(parts) > MAX_HOPS:
            runtime.close(session, dialogue)
            return UssdScreen(_TOO_LONG[_lang(dialogue)], end=True)

        screen: UssdScreen | None = None
        if "screen" not in dialogue.meta:
            # A new session; inputs dialled with the code (``*166*2*1#``) walk from the root.
            screen = self._root(session, dialogue)
        for raw in new_inputs:
            screen = self._input(session, dialogue, clean(raw), now)
            if screen.end:
                break
        if screen is None:  # a repeated request with no new input: show the page again
            screen = self._repeat(session, dialogue)
        if screen.end:
            runtime.close(session, dialogue)
        else:
            runtime.save(session, dialogue, now=now)
        return screen

    # -- screens --------------------------------------------------------------------------

    def _show(
        self, dialogue: Dialogue, text: str, *, end: bool, turn: Turn | None = None
    ) -> UssdScreen:
        lang = _lang(dialogue)
        pages = paginate(text, _MORE[lang])
        dialogue.meta["pages"] = pages
        dialogue.meta["page"] = 0
        dialogue.meta["final"] = end
        return UssdScreen(pages[0], end=end and len(pages) == 1, turn=turn)

    def _repeat(self, session: Session, dialogue: Dialogue) -> UssdScreen:
        pages = dialogue.meta.get("pages") or []
        if not pages:
            return self._root(session, dialogue)
        page = int(dialogue.meta.get("page", 0))
        last = page == len(pages) - 1
        return UssdScreen(pages[page], end=bool(dialogue.meta.get("final")) and last)

    def _root(self, session: Session, dialogue: Dialogue, notice: str = "") -> UssdScreen:
        lang = _lang(dialogue)
        dialogue.meta["screen"] = "root"
        departments = self._departments(session)
        if not departments:
            return self._show(dialogue, _NO_SERVICES[lang], end=True)
        lines = [notice or _TITLE[lang].format(code=self.runtime.settings.ussd_code)]
        lines += [f"{i}. {d.display_name(lang)}" for i, d in enumerate(departments, start=1)]
        lines.append(_LANGUAGE[lang])
        dialogue.meta["menu"] = [d.code for d in departments]
        return self._show(dialogue, "\n".join(lines), end=False)

    def _department(
        self, session: Session, dialogue: Dialogue, code: str, notice: str = ""
    ) -> UssdScreen:
        lang = _lang(dialogue)
        department = tenancy.department_by_code(session, code)
        listed = self._services(session, department.id) if department else []
        if department is None or not listed:
            return self._root(session, dialogue)
        dialogue.meta["screen"] = "dept"
        dialogue.meta["dept"] = code
        dialogue.meta["menu"] = [s.id for s in listed]
        lines = [notice or department.display_name(lang)]
        for i, service in enumerate(listed, start=1):
            title = definition_of(service).title
            lines.append(f"{i}. {title.get(lang) or title['en']}")
        lines.append(_BACK[lang])
        return self._show(dialogue, "\n".join(lines), end=False)

    def _departments(self, session: Session) -> list[Department]:
        live = {s.department_id for s in services.live_services(session) if _listed(s)}
        return [d for d in tenancy.menu_departments(session) if d.id in live]

    def _services(self, session: Session, department_id: int) -> list[Service]:
        return [s for s in services.live_services(session, department_id) if _listed(s)]

    # -- input ----------------------------------------------------------------------------

    def _input(
        self, session: Session, dialogue: Dialogue, value: str, now: datetime | None
    ) -> UssdScreen:
        pages = dialogue.meta.get("pages") or []
        page = int(dialogue.meta.get("page", 0))
        if value == MORE_KEY and page < len(pages) - 1:
            page += 1
            dialogue.meta["page"] = page
            last = page == len(pages) - 1
            return UssdScreen(pages[page], end=bool(dialogue.meta.get("final")) and last)
        if dialogue.meta.get("final"):
            return UssdScreen(pages[-1] if pages else "", end=True)

        screen = dialogue.meta.get("screen", "root")
        lang = _lang(dialogue)
        menu = list(dialogue.meta.get("menu") or [])
        if screen == "root":
            if value == BACK_KEY:
                dialogue.meta["screen"] = "lang"
                return self._show(dialogue, _CHOOSE_LANGUAGE, end=False)
            if _key(value, len(menu)):
                return self._department(session, dialogue, str(menu[int(value) - 1]))
            return self._root(session, dialogue, notice=_INVALID[lang])
        if screen == "lang":
            chosen = {"1": "en", "2": "hi"}.get(value)
            if chosen is None:
                return self._show(dialogue, _INVALID[lang] + "\n" + _CHOOSE_LANGUAGE, end=False)
            self.runtime.set_language(session, dialogue, chosen)
            return self._root(session, dialogue)
        if screen == "dept":
            if value == BACK_KEY:
                return self._root(session, dialogue)
            if _key(value, len(menu)):
                service = services.service_by_id(session, int(menu[int(value) - 1]))
                if service is not None and service.active:
                    dialogue.meta["screen"] = "flow"
                    turn = self.runtime.start(session, dialogue, service, now=now)
                    return self._turn(dialogue, turn)
            code = str(dialogue.meta.get("dept", ""))
            return self._department(session, dialogue, code, notice=_INVALID[lang])
        # screen == "flow"
        if not self.runtime.in_service(dialogue):
            return self._root(session, dialogue)
        turn = self.runtime.answer(session, dialogue, value, now=now)
        return self._turn(dialogue, turn)

    def _turn(self, dialogue: Dialogue, turn: Turn) -> UssdScreen:
        return self._show(dialogue, plain(turn.messages), end=turn.finished, turn=turn)


def _listed(service: Service) -> bool:
    return not bool(definition_of(service).ussd.hidden)


def _lang(dialogue: Dialogue) -> str:
    return dialogue.lang if dialogue.lang in _MORE else "en"


def _key(value: str, count: int) -> bool:
    """``value`` is a menu number from 1 to ``count`` (ASCII digits only: ``²`` is a digit
    to ``str.isdigit`` but not to ``int``)."""
    return value.isascii() and value.isdigit() and 1 <= int(value) <= count
