"""USSD: ``*166#`` opens a menu of departments → services → the service's questions.

Follows the Africa's Talking callback convention, which most USSD aggregators copy: each hop
is a form POST with ``sessionId``, ``serviceCode``, ``phoneNumber``, ``networkCode`` and
``text`` — every input of the session so far joined by ``*`` — and the reply is plain text
starting ``CON`` (show and wait for input) or ``END`` (show and close).

Departments whose officials publish call hours also offer *Book a call with an official*
(the free times, one key each; the join link follows by SMS), and a caller with a booked call
sees *My booked calls* on the first menu, to cancel it or move it to another time.

A handset shows at most 182 characters, so a longer screen is cut into pages that end with
``98. More``; the last page of a final answer closes the session. ``UssdMenu.handle`` is
transport-free; the HTTP route in ``seva.channels.routes`` wraps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from seva.channels.menus import menu_departments, menu_key, menu_services
from seva.channels.render import plain
from seva.citizens import service as citizens
from seva.flows import service as services
from seva.flows.answers import clean
from seva.flows.runtime import Runtime, Turn
from seva.flows.service import definition_of
from seva.flows.store import Dialogue
from seva.i18n import entry
from seva.rtc import service as rtc
from seva.rtc.models import BOOKED, Appointment
from seva.tenancy import service as tenancy
from seva.tenancy.models import Department

CHANNEL = "ussd"
MAX_SCREEN = 182
MORE_KEY = "98"
BACK_KEY = "0"
MAX_HOPS = 100
"""A session with more inputs than this is not a person at a keypad."""

_MORE = entry("ussd_more")
_BACK = entry("ussd_back")
_TITLE = entry("ussd_title")
_LANGUAGE = entry("ussd_language")
_CHOOSE_LANGUAGE = "Language / भाषा\n1. English\n2. हिन्दी"
_INVALID = entry("ussd_invalid")
_NO_SERVICES = entry("ussd_no_services")
BOOK_CALL = "@book"
MY_CALLS = "@calls"
CALL_CHOICES = 5
_BOOK_CALL = entry("ussd_book_call")
_MY_CALLS = entry("ussd_my_calls")
_CALL_TIMES = entry("ussd_call_times")
_CALL_NONE = entry("ussd_call_none")
_CALL_BOOKED = entry("ussd_call_booked")
_CALL_MOVED = entry("ussd_call_moved")
_CALL_TAKEN = entry("ussd_call_taken")
_CALL_ACTIONS = entry("ussd_call_actions")
_CALL_CANCELLED = entry("ussd_call_cancelled")
_TOO_LONG = entry("ussd_too_long")


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
            screen = self._root(session, dialogue, now)
        for raw in new_inputs:
            screen = self._input(session, dialogue, clean(raw), now)
            if screen.end:
                break
        if screen is None:  # a repeated request with no new input: show the page again
            screen = self._repeat(session, dialogue, now)
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

    def _repeat(self, session: Session, dialogue: Dialogue, now: datetime | None) -> UssdScreen:
        pages = dialogue.meta.get("pages") or []
        if not pages:
            return self._root(session, dialogue, now)
        page = int(dialogue.meta.get("page", 0))
        last = page == len(pages) - 1
        return UssdScreen(pages[page], end=bool(dialogue.meta.get("final")) and last)

    def _root(
        self, session: Session, dialogue: Dialogue, now: datetime | None, notice: str = ""
    ) -> UssdScreen:
        lang = _lang(dialogue)
        dialogue.meta["screen"] = "root"
        departments = menu_departments(session)
        if not departments:
            return self._show(dialogue, _NO_SERVICES[lang], end=True)
        lines = [notice or _TITLE[lang].format(code=self.runtime.settings.ussd_code)]
        lines += [f"{i}. {d.display_name(lang)}" for i, d in enumerate(departments, start=1)]
        menu: list[str] = [d.code for d in departments]
        if self._booked_calls(session, dialogue, now):
            menu.append(MY_CALLS)
            lines.append(f"{len(menu)}. {_MY_CALLS[lang]}")
        lines.append(_LANGUAGE[lang])
        dialogue.meta["menu"] = menu
        return self._show(dialogue, "\n".join(lines), end=False)

    def _department(
        self,
        session: Session,
        dialogue: Dialogue,
        code: str,
        now: datetime | None,
        notice: str = "",
    ) -> UssdScreen:
        lang = _lang(dialogue)
        department = tenancy.department_by_code(session, code)
        listed = menu_services(session, department.id) if department else []
        if department is None or not listed:
            return self._root(session, dialogue, now)
        dialogue.meta["screen"] = "dept"
        dialogue.meta["dept"] = code
        menu: list[int | str] = [s.id for s in listed]
        lines = [notice or department.display_name(lang)]
        for i, service in enumerate(listed, start=1):
            title = definition_of(service).title
            lines.append(f"{i}. {title.get(lang) or title['en']}")
        if department.id in {d.id for d in rtc.departments_taking_calls(session)}:
            menu.append(BOOK_CALL)
            lines.append(f"{len(menu)}. {_BOOK_CALL[lang]}")
        dialogue.meta["menu"] = menu
        lines.append(_BACK[lang])
        return self._show(dialogue, "\n".join(lines), end=False)

    def _booked_calls(
        self, session: Session, dialogue: Dialogue, now: datetime | None
    ) -> list[Appointment]:
        citizen = citizens.find(session, dialogue.phone or "")
        if citizen is None:
            return []
        return rtc.upcoming(session, citizen, now=now or datetime.now(UTC))[:CALL_CHOICES]

    def _call_times(
        self,
        session: Session,
        dialogue: Dialogue,
        department: Department,
        now: datetime | None,
        moves: Appointment | None = None,
    ) -> UssdScreen:
        lang = _lang(dialogue)
        moment = now or datetime.now(UTC)
        found = rtc.free_slots(session, department.id, now=moment, days=7, moving=moves)
        free = [start for start, _ in found]
        free = free[:CALL_CHOICES]
        if not free:
            return self._show(dialogue, _CALL_NONE[lang], end=True)
        dialogue.meta["screen"] = "call-times"
        dialogue.meta["menu"] = [start.isoformat() for start in free]
        dialogue.meta["dept"] = department.code
        dialogue.meta["moves"] = moves.id if moves is not None else None
        lines = [_CALL_TIMES[lang].format(code=department.code)]
        lines += [f"{i}. {rtc.ist_label(start)}" for i, start in enumerate(free, start=1)]
        lines.append(_BACK[lang])
        return self._show(dialogue, "\n".join(lines), end=False)

    def _my_calls(self, session: Session, dialogue: Dialogue, now: datetime | None) -> UssdScreen:
        lang = _lang(dialogue)
        booked = self._booked_calls(session, dialogue, now)
        if not booked:
            return self._root(session, dialogue, now)
        codes = {d.id: d.code for d in tenancy.menu_departments(session)}
        dialogue.meta["screen"] = "my-calls"
        dialogue.meta["menu"] = [a.id for a in booked]
        lines = [_MY_CALLS[lang]]
        for i, appointment in enumerate(booked, start=1):
            code = codes.get(appointment.department_id, "")
            lines.append(f"{i}. {code} {rtc.ist_label(appointment.starts_at)}")
        lines.append(_BACK[lang])
        return self._show(dialogue, "\n".join(lines), end=False)

    def _my_call(
        self, session: Session, dialogue: Dialogue, appointment: Appointment
    ) -> UssdScreen:
        lang = _lang(dialogue)
        department = session.get(Department, appointment.department_id)
        dialogue.meta["screen"] = "my-call"
        dialogue.meta["call"] = appointment.id
        when = rtc.ist_label(appointment.starts_at)
        code = department.code if department else ""
        return self._show(dialogue, _CALL_ACTIONS[lang].format(code=code, when=when), end=False)

    def _own_call(
        self, session: Session, dialogue: Dialogue, call_id: object
    ) -> Appointment | None:
        citizen = citizens.find(session, dialogue.phone or "")
        appointment = session.get(Appointment, int(str(call_id))) if call_id else None
        if citizen is None or appointment is None or appointment.citizen_id != citizen.id:
            return None
        return appointment if appointment.status == BOOKED else None

    def _book_time(
        self, session: Session, dialogue: Dialogue, starts: str, now: datetime | None
    ) -> UssdScreen:
        lang = _lang(dialogue)
        moment = now or datetime.now(UTC)
        department = tenancy.department_by_code(session, str(dialogue.meta.get("dept", "")))
        if department is None or dialogue.phone is None:
            return self._root(session, dialogue, now)
        starts_at = datetime.fromisoformat(starts)
        base_url = self.runtime.settings.base_url
        try:
            moves = dialogue.meta.get("moves")
            if moves is not None:
                old = self._own_call(session, dialogue, moves)
                if old is None:
                    return self._root(session, dialogue, now)
                moved = rtc.reschedule(
                    session,
                    old,
                    starts_at=starts_at,
                    now=moment,
                    channel=CHANNEL,
                    base_url=base_url,
                )
                when = rtc.ist_label(moved.starts_at)
                return self._show(dialogue, _CALL_MOVED[lang].format(when=when), end=True)
            citizen = citizens.get_or_create(session, dialogue.phone, channel=CHANNEL)
            booked = rtc.book(
                session,
                department=department,
                citizen=citizen,
                starts_at=starts_at,
                now=moment,
                channel=CHANNEL,
                base_url=base_url,
            )
        except rtc.CallRefused:
            return self._show(dialogue, _CALL_TAKEN[lang], end=True)
        when = rtc.ist_label(booked.starts_at)
        return self._show(dialogue, _CALL_BOOKED[lang].format(when=when), end=True)

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
            if menu_key(value, len(menu)):
                chosen_code = str(menu[int(value) - 1])
                if chosen_code == MY_CALLS:
                    return self._my_calls(session, dialogue, now)
                return self._department(session, dialogue, chosen_code, now)
            return self._root(session, dialogue, now, notice=_INVALID[lang])
        if screen == "lang":
            chosen = {"1": "en", "2": "hi"}.get(value)
            if chosen is None:
                return self._show(dialogue, _INVALID[lang] + "\n" + _CHOOSE_LANGUAGE, end=False)
            self.runtime.set_language(session, dialogue, chosen)
            return self._root(session, dialogue, now)
        if screen == "dept":
            if value == BACK_KEY:
                return self._root(session, dialogue, now)
            if menu_key(value, len(menu)) and menu[int(value) - 1] == BOOK_CALL:
                department = tenancy.department_by_code(session, str(dialogue.meta.get("dept")))
                if department is not None:
                    return self._call_times(session, dialogue, department, now)
            elif menu_key(value, len(menu)):
                service = services.service_by_id(session, int(menu[int(value) - 1]))
                if service is not None and service.active:
                    dialogue.meta["screen"] = "flow"
                    turn = self.runtime.start(session, dialogue, service, now=now)
                    return self._turn(dialogue, turn)
            code = str(dialogue.meta.get("dept", ""))
            return self._department(session, dialogue, code, now, notice=_INVALID[lang])
        if screen == "call-times":
            if value == BACK_KEY:
                if dialogue.meta.get("moves") is not None:
                    return self._my_calls(session, dialogue, now)
                return self._department(session, dialogue, str(dialogue.meta.get("dept", "")), now)
            if menu_key(value, len(menu)):
                return self._book_time(session, dialogue, str(menu[int(value) - 1]), now)
            return self._show(dialogue, _INVALID[lang], end=True)
        if screen == "my-calls":
            if value == BACK_KEY:
                return self._root(session, dialogue, now)
            picked = None
            if menu_key(value, len(menu)):
                picked = self._own_call(session, dialogue, menu[int(value) - 1])
            if picked is None:
                return self._my_calls(session, dialogue, now)
            return self._my_call(session, dialogue, picked)
        if screen == "my-call":
            appointment = self._own_call(session, dialogue, dialogue.meta.get("call"))
            if value == BACK_KEY or appointment is None:
                return self._my_calls(session, dialogue, now)
            if value == "1":
                rtc.cancel(session, appointment, now=now or datetime.now(UTC))
                when = rtc.ist_label(appointment.starts_at)
                return self._show(dialogue, _CALL_CANCELLED[lang].format(when=when), end=True)
            if value == "2":
                department = session.get(Department, appointment.department_id)
                if department is not None:
                    return self._call_times(session, dialogue, department, now, appointment)
            return self._my_call(session, dialogue, appointment)
        # screen == "flow"
        if not self.runtime.in_service(dialogue):
            return self._root(session, dialogue, now)
        turn = self.runtime.answer(session, dialogue, value, now=now)
        return self._turn(dialogue, turn)

    def _turn(self, dialogue: Dialogue, turn: Turn) -> UssdScreen:
        return self._show(dialogue, plain(turn.messages), end=turn.finished, turn=turn)


def _lang(dialogue: Dialogue) -> str:
    return dialogue.lang if dialogue.lang in _MORE else "en"
