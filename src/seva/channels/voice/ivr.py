"""The phone menu: departments → services → the service's questions, spoken and keyed.

Every voice front end (the SIP endpoint, TwiML, Exotel) asks ``VoiceMenu.handle`` what to say
next and hands it the keys the caller pressed; the answer is a ``Prompt``: the text to speak
(synthesised, or a department's recording of that text), in which language, and how to gather
the reply (how many keys, or until ``#``). The spoken text of a finished service is the very
text SMS and USSD show for the same inputs: the engine's ``End``.

Keypad forms, told to the caller with each question:

* a menu or a choice: one key (``1``–``9``); ``0`` goes back in the menus;
* yes/no: ``1`` yes, ``2`` no;
* numbers, PIN codes, phone numbers: the digits, then ``#``;
* a date: day, month, year as eight digits (``25011980``), then ``#``;
* text (a registration or reference number): digits as they are, a letter as ``*`` then the
  key that carries it then its place on that key (``*82`` is U: the 2nd letter on 8), ``*0`` a
  space and ``*1`` a dash; ``#`` ends. ``encode_keypad`` writes a text that way;
* ``*`` alone repeats the question;
* a message (the citizen's own words): spoken after a beep and recorded, ``#`` ends it; a
  front end that cannot record (Exotel's Gather) takes it keyed as text instead.

A first-time caller is asked for a language: every language Seva ships, each announced in
itself by its own voice ("For English, press 1." in English, "हिन्दी के लिए 2 दबाएँ।" in
Hindi, …), numbered in the languages table's order, the numbers of the USSD language page
(``seva.i18n.offered``). A prompt therefore carries a language per sentence (``Prompt.langs``):
the SIP endpoint synthesises each with its language's espeak-ng voice, TwiML speaks each run
of one language as its own ``<Say language=…>``. Up to nine languages are one page of single
keys. With more, a basic phone still needs one key a choice: the first page offers the first
eight (the most spoken) on ``1``–``8`` and announces every other language, again in itself,
with ``9`` ("for Kannada, press 9"); ``9`` opens the next page, where those languages are
keyed from ``1`` (a page with more than eight still to offer leads on with ``9`` again).
``0`` on a later page goes back to the first. The choice is kept in the citizen registry, so
SMS, USSD and the web use it too, and a caller whose language is known is not asked again.

A department whose officials take calls also offers "to book a call with an official, press
N", and a caller with a call booked with it "to move or cancel your booked call, press N":
the gateway's call services (``seva.flows.calls``), run like any service, so the free times
are a choice keyed like any other; the join link goes by SMS.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from seva import i18n
from seva.channels.menus import department_menu, gateway_service, menu_departments, menu_key
from seva.db.base import utcnow
from seva.flows import calls
from seva.flows import service as services
from seva.flows.events import Ask, End, Message, Say
from seva.flows.runtime import Runtime, Turn
from seva.flows.service import definition_of
from seva.flows.store import Dialogue
from seva.i18n.languages import NAMES
from seva.locker.storage import Storage
from seva.tenancy import service as tenancy
from seva.voice import recordings, tts

CHANNEL = "voice"
REPEAT_KEY = "*"
BACK_KEY = "0"
MAX_SILENCES = 3
"""Prompts heard with no key pressed before the call is ended politely."""
MAX_TURNS = 200

KEYPAD = {
    "2": "ABC",
    "3": "DEF",
    "4": "GHI",
    "5": "JKL",
    "6": "MNO",
    "7": "PQRS",
    "8": "TUV",
    "9": "WXYZ",
}
_LETTER_KEYS = {
    letter: f"{key}{place}"
    for key, letters in KEYPAD.items()
    for place, letter in enumerate(letters, start=1)
}

_GATEWAY_PROMPTS = {calls.CALL: "book_ivr_book", calls.MY_CALLS: "book_ivr_mine"}
"""How a department's menu offers the gateway's call services (``seva.flows.calls``)."""
LANGUAGES_PER_PAGE = 8
"""Languages keyed on one page of the language menu when they do not all fit on nine keys."""
MORE_LANGUAGES_KEY = "9"


def t(key: str, lang: str) -> str:
    """The phone menu's own words (``ivr_<key>`` in the message catalog)."""
    return i18n.text(f"ivr_{key}", lang)


def language_menu(page: int = 0) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The sentences of a page of the language menu and the language of each: the page's
    languages keyed from 1, then every language of a later page with the key that leads on.
    The same for every first-time caller, so the SIP endpoint synthesises it once, at start."""
    pages = language_pages(i18n.offered())
    chosen = [(code, str(key)) for key, code in enumerate(pages[page], start=1)]
    later = [(code, MORE_LANGUAGES_KEY) for rest in pages[page + 1 :] for code in rest]
    lines = tuple(choose_language(code, key) for code, key in chosen + later)
    return lines, tuple(code for code, _ in chosen + later)


def language_pages(offered: Sequence[str]) -> list[tuple[str, ...]]:
    """The language menu's pages: one when every language has a key of its own (nine or
    fewer), else ``LANGUAGES_PER_PAGE`` a page, ``MORE_LANGUAGES_KEY`` leading on."""
    if len(offered) <= 9:
        return [tuple(offered)]
    return [
        tuple(offered[start : start + LANGUAGES_PER_PAGE])
        for start in range(0, len(offered), LANGUAGES_PER_PAGE)
    ]


def choose_language(lang: str, key: str | int) -> str:
    """The language menu's sentence for ``lang`` ("For English, press 1."), in that language
    itself (``ivr_choose_language``); a catalog still without it names the language in its own
    script, then the key."""
    own = i18n.entry("ivr_choose_language").get(lang)
    return own.format(key=key) if own else f"{NAMES.get(lang, lang)}: {key}."


@dataclass(frozen=True, slots=True)
class Prompt:
    """What the caller hears next and how their reply is gathered."""

    text: str
    lang: str
    num_digits: int | None = None
    """Gather exactly this many keys (menus, yes/no); None: until ``#`` (or the timeout)."""
    end: bool = False
    """Hang up after speaking."""
    finish_on_key: str = "#"
    parts: tuple[str, ...] = ()
    """The sentences of ``text``, each of which a department may have recorded."""
    langs: tuple[str, ...] = ()
    """Each sentence's language, where the sentences are not all in ``lang`` (the language
    menu announces every language in itself); empty: every sentence is in ``lang``."""
    department: str | None = None
    """Whose recordings may voice it: the department of the service being asked."""
    record_seconds: int | None = None
    """Record the caller's answer (a message), for at most this many seconds."""
    personal: bool = False
    """Holds the caller's own details (an answer, a question filled in from their data): it
    is spoken but not kept in the shared prompt cache."""

    @property
    def sentences(self) -> tuple[str, ...]:
        return self.parts or (self.text,)

    @property
    def sentence_langs(self) -> tuple[str, ...]:
        """The language of each of ``sentences``: the voice that speaks it and the provider
        code of its ``<Say>``."""
        sentences = self.sentences
        if len(self.langs) == len(sentences):
            return self.langs
        return (self.lang,) * len(sentences)

    @property
    def runs(self) -> list[tuple[str, str]]:
        """The prompt as (language, text) for each run of sentences in one language."""
        grouped = tts.runs(self.sentences, self.sentence_langs)
        return [(lang, " ".join(sentences)) for lang, sentences in grouped]


def encode_keypad(text: str) -> str:
    """``text`` as keypad presses in the form the caller is told (``UP1`` → ``*82*711``)."""
    keys: list[str] = []
    for char in text.upper():
        if char.isdigit() and char.isascii():
            keys.append(char)
        elif char in _LETTER_KEYS:
            keys.append("*" + _LETTER_KEYS[char])
        elif char == " ":
            keys.append("*0")
        elif char == "-":
            keys.append("*1")
        else:
            raise ValueError(f"{char!r} cannot be keyed on a phone")
    return "".join(keys)


def decode_keypad(keys: str) -> str | None:
    """The text keyed in the form ``encode_keypad`` writes, or None when it spells nothing.

    A keypad has no case: a single word comes out in capitals (codes such as ``UP123…``),
    several words with capital initials (names such as ``Asha Verma``)."""
    out: list[str] = []
    i = 0
    while i < len(keys):
        char = keys[i]
        if char.isdigit():
            out.append(char)
            i += 1
            continue
        if char != "*" or i + 1 >= len(keys):
            return None
        key = keys[i + 1]
        if key == "0":
            out.append(" ")
            i += 2
            continue
        if key == "1":
            out.append("-")
            i += 2
            continue
        letters = KEYPAD.get(key)
        if letters is None or i + 2 >= len(keys) or not keys[i + 2].isdigit():
            return None
        place = int(keys[i + 2])
        if not 1 <= place <= len(letters):
            return None
        out.append(letters[place - 1])
        i += 3
    text = "".join(out)
    if " " in text.strip():
        return " ".join(word.capitalize() for word in text.split(" "))
    return text


def spoken(messages: tuple[Message, ...] | list[Message], lang: str, *, record: bool = True) -> str:
    """What the engine's messages sound like on the phone, keypad instructions included."""
    return " ".join(spoken_parts(messages, lang, record=record))


def spoken_parts(
    messages: tuple[Message, ...] | list[Message], lang: str, *, record: bool = True
) -> list[str]:
    parts: list[str] = []
    for message in messages:
        match message:
            case Say(text=text) | End(text=text):
                parts.append(text)
            case Ask():
                parts.extend(ask_parts(message, lang, record=record))
    return [p for p in parts if p]


def ask_spoken(ask: Ask, lang: str, *, record: bool = True) -> str:
    return " ".join(ask_parts(ask, lang, record=record))


def ask_parts(ask: Ask, lang: str, *, record: bool = True) -> list[str]:
    """``record``: the front end can record the caller (a message is spoken, not keyed)."""
    lines: list[str] = []
    if ask.error:
        lines.append(ask.error)
    lines.append(_sentence(ask.text))
    if ask.kind == "choice":
        lines += [t("press", lang).format(label=c.label, key=c.key) for c in ask.options]
    elif ask.kind == "yes_no":
        lines.append(t("yes_no", lang))
    elif ask.kind == "date":
        lines.append(t("date", lang))
    elif ask.kind == "message" and record:
        lines.append(t("record", lang))
    elif ask.kind in ("text", "message"):
        lines.append(t("letters", lang))
    else:
        lines.append(t("hash", lang))
    return lines


def gather_for(ask: Ask | None) -> int | None:
    """How many keys answer ``ask`` without ``#``: one for short menus and yes/no."""
    if ask is None:
        return None
    if ask.kind == "yes_no" or (ask.kind == "choice" and len(ask.options) <= 9):
        return 1
    return None


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".?!।:" else text + "."


class VoiceMenu:
    """One call's conversation, kept in the dialogue store under the call's id."""

    def __init__(self, runtime: Runtime, storage: Storage) -> None:
        self.runtime = runtime
        self.storage = storage
        """Where recorded answers are kept (the locker's file store)."""

    def handle(
        self,
        session: Session,
        *,
        call_id: str,
        phone: str | None,
        keys: str | None,
        now: datetime | None = None,
        record: bool = True,
    ) -> Prompt:
        """The next prompt. ``keys`` None: the call just started, or the caller said nothing.

        A finished call's last prompt (its answer) is kept until ``hangup``, so a front end
        that asks again (Exotel's gather after its passthru) hears the same ending. ``record``
        says whether the front end can record the caller's voice for a message question."""

        def advance(dialogue: Dialogue) -> Prompt:
            if keys is None:
                return self._silence(session, dialogue, now)
            dialogue.meta["silences"] = 0
            return self._input(session, dialogue, keys.strip(), now)

        return self._step(session, call_id, phone, now, record, advance)

    def recorded(
        self,
        session: Session,
        *,
        call_id: str,
        phone: str | None,
        channel: str,
        seconds: float,
        wav: bytes | None = None,
        source_url: str | None = None,
        now: datetime | None = None,
    ) -> Prompt:
        """The caller spoke an answer to a message question: ``wav`` (the audio, recorded by
        the SIP endpoint) or ``source_url`` (where a provider keeps it). Kept, then the
        service goes on; a recording that answers nothing is not kept."""

        def advance(dialogue: Dialogue) -> Prompt:
            asked = self.runtime.current_ask(dialogue) or {}
            service = (
                services.service_by_id(session, dialogue.service_id)
                if dialogue.service_id is not None
                else None
            )
            if service is None or asked.get("kind") != "message":
                return self._again(dialogue)
            dialogue.meta["silences"] = 0
            kept = recordings.save(
                session,
                self.storage,
                department_id=service.department_id,
                service_id=service.id,
                channel=channel,
                seconds=seconds,
                wav=wav,
                source_url=source_url,
            )
            turn = self.runtime.answer_recording(
                session, dialogue, recordings.reference(kept), seconds, now=now
            )
            return self._turn(session, dialogue, turn)

        return self._step(session, call_id, phone, now, True, advance)

    def _step(
        self,
        session: Session,
        call_id: str,
        phone: str | None,
        now: datetime | None,
        record: bool,
        advance: Callable[[Dialogue], Prompt],
    ) -> Prompt:
        runtime = self.runtime
        dialogue = runtime.open(session, CHANNEL, call_id, phone=phone, now=now)
        last = dialogue.meta.get("last") or {}
        if last.get("end"):
            return _prompt_of(last)
        dialogue.meta["record"] = record
        turns = int(dialogue.meta.get("turns", 0)) + 1
        dialogue.meta["turns"] = turns
        if turns > MAX_TURNS:
            prompt = self._finish(session, dialogue, t("too_long", dialogue.lang))
        else:
            prompt = advance(dialogue)
        dialogue.meta["last"] = {
            "text": prompt.text,
            "lang": prompt.lang,
            "digits": prompt.num_digits,
            "end": prompt.end,
            "parts": list(prompt.parts),
            "langs": list(prompt.langs),
            "department": prompt.department,
            "record": prompt.record_seconds,
            "personal": prompt.personal,
        }
        runtime.save(session, dialogue, now=now)
        return prompt

    def current(
        self,
        session: Session,
        *,
        call_id: str,
        phone: str | None,
        now: datetime | None = None,
        record: bool = True,
    ) -> Prompt:
        """What the caller is being asked now, without taking any input (a new call starts)."""
        dialogue = self.runtime.open(session, CHANNEL, call_id, phone=phone, now=now)
        last = dialogue.meta.get("last")
        if last:
            return _prompt_of(last)
        return self.handle(session, call_id=call_id, phone=phone, keys=None, now=now, record=record)

    def hangup(self, session: Session, *, call_id: str, now: datetime | None = None) -> None:
        """The call is over: an unfinished service is recorded as cancelled."""
        dialogue = self.runtime.open(session, CHANNEL, call_id, now=now)
        if self.runtime.in_service(dialogue):
            self.runtime.cancel(session, dialogue, now=now)
        self.runtime.close(session, dialogue)

    # -- screens --------------------------------------------------------------------------

    def _silence(self, session: Session, dialogue: Dialogue, now: datetime | None) -> Prompt:
        if "screen" not in dialogue.meta:
            return self._first(session, dialogue)
        silences = int(dialogue.meta.get("silences", 0)) + 1
        dialogue.meta["silences"] = silences
        if silences >= MAX_SILENCES:
            return self._finish(session, dialogue, t("goodbye", dialogue.lang))
        return self._again(dialogue)

    def _first(self, session: Session, dialogue: Dialogue) -> Prompt:
        if not dialogue.lang_chosen:
            return self._languages(dialogue)
        return self._root(session, dialogue, greet=True)

    def _languages(self, dialogue: Dialogue, page: int = 0) -> Prompt:
        """A page of the language menu: its languages keyed from 1, every language of a
        later page announced with the key that leads on; each sentence in its language."""
        pages = language_pages(i18n.offered())
        page = max(0, min(page, len(pages) - 1))
        dialogue.meta["screen"] = "lang"
        dialogue.meta["lang_page"] = page
        dialogue.meta["menu"] = list(pages[page])
        lines, langs = language_menu(page)
        return Prompt(" ".join(lines), dialogue.lang, num_digits=1, parts=lines, langs=langs)

    def _again(self, dialogue: Dialogue) -> Prompt:
        return _prompt_of(dialogue.meta.get("last") or {"lang": dialogue.lang})

    def _root(
        self, session: Session, dialogue: Dialogue, *, greet: bool = False, notice: str = ""
    ) -> Prompt:
        lang = dialogue.lang
        departments = menu_departments(session)
        if not departments:
            return self._finish(session, dialogue, t("no_services", lang))
        dialogue.meta["screen"] = "root"
        dialogue.meta["menu"] = [d.code for d in departments]
        lines = [notice] if notice else []
        if greet:
            lines.append(t("welcome", lang))
        lines += [
            t("press", lang).format(label=d.display_name(lang), key=i)
            for i, d in enumerate(departments, start=1)
        ]
        lines.append(t("repeat", lang))
        return Prompt(
            " ".join(lines),
            lang,
            num_digits=1 if len(departments) <= 9 else None,
            parts=tuple(lines),
        )

    def _department(
        self,
        session: Session,
        dialogue: Dialogue,
        code: str,
        now: datetime | None,
        notice: str = "",
    ) -> Prompt:
        lang = dialogue.lang
        department = tenancy.departments(session).code(code)
        listed = (
            department_menu(session, department, dialogue.phone, now or utcnow())
            if department
            else []
        )
        if department is None or not listed:
            return self._root(session, dialogue)
        dialogue.meta["screen"] = "dept"
        dialogue.meta["dept"] = code
        dialogue.meta["menu"] = [s.id for s in listed]
        lines = [notice] if notice else []
        lines.append(_sentence(department.display_name(lang)))
        for i, service in enumerate(listed, start=1):
            if gateway_service(service):
                lines.append(i18n.text(_GATEWAY_PROMPTS[service.slug], lang, key=i))
                continue
            title = definition_of(service).title
            lines.append(t("press", lang).format(label=title.get(lang) or title["en"], key=i))
        lines.append(t("back", lang))
        return Prompt(
            " ".join(lines),
            lang,
            num_digits=1 if len(listed) <= 9 else None,
            parts=tuple(lines),
            department=department.code,
        )

    # -- input ----------------------------------------------------------------------------

    def _input(
        self, session: Session, dialogue: Dialogue, keys: str, now: datetime | None
    ) -> Prompt:
        if "screen" not in dialogue.meta:
            # Keys before any prompt (an eager caller): treat as a fresh start.
            return self._first(session, dialogue)
        if keys == REPEAT_KEY:
            return self._again(dialogue)
        screen = dialogue.meta["screen"]
        lang = dialogue.lang
        menu = list(dialogue.meta.get("menu") or [])
        if screen == "lang":
            page = int(dialogue.meta.get("lang_page", 0))
            if keys == MORE_LANGUAGES_KEY and page + 1 < len(language_pages(i18n.offered())):
                return self._languages(dialogue, page + 1)
            if keys == BACK_KEY:
                return self._languages(dialogue)
            if not menu_key(keys, len(menu)):
                return self._languages(dialogue, page)
            self.runtime.set_language(session, dialogue, str(menu[int(keys) - 1]))
            return self._root(session, dialogue, greet=True)
        if screen == "root":
            if menu_key(keys, len(menu)):
                return self._department(session, dialogue, str(menu[int(keys) - 1]), now)
            return self._root(session, dialogue, notice=t("invalid", lang))
        if screen == "dept":
            if keys == BACK_KEY:
                return self._root(session, dialogue)
            if menu_key(keys, len(menu)):
                service = services.service_by_id(session, int(menu[int(keys) - 1]))
                if service is not None and service.active:
                    dialogue.meta["screen"] = "flow"
                    turn = self.runtime.start(session, dialogue, service, now=now)
                    return self._turn(session, dialogue, turn)
            code = str(dialogue.meta.get("dept", ""))
            return self._department(session, dialogue, code, now, notice=t("invalid", lang))
        # screen == "flow"
        if not self.runtime.in_service(dialogue):
            return self._root(session, dialogue)
        asked = self.runtime.current_ask(dialogue) or {}
        answer = keys
        if asked.get("kind") in ("text", "message"):
            decoded = decode_keypad(keys)
            if decoded is None:
                again = _prompt_of(dialogue.meta.get("last") or {"lang": lang})
                notice = t("bad_letters", lang)
                parts = tuple(p for p in again.sentences if p != notice)
                return Prompt(
                    " ".join((notice, *parts)),
                    lang,
                    num_digits=again.num_digits,
                    parts=(notice, *parts),
                    department=again.department,
                    personal=again.personal,
                )
            answer = decoded
        turn = self.runtime.answer(session, dialogue, answer, now=now)
        return self._turn(session, dialogue, turn)

    def _turn(self, session: Session, dialogue: Dialogue, turn: Turn) -> Prompt:
        record = bool(dialogue.meta.get("record", True))
        parts = tuple(spoken_parts(turn.messages, turn.lang, record=record))
        text = " ".join(parts)
        department = self._service_department(session, dialogue)
        ask = None if turn.finished else turn.ask
        personal = turn.finished or any(
            isinstance(m, Say | Ask) and m.personal for m in turn.messages
        )
        return Prompt(
            text,
            turn.lang,
            num_digits=gather_for(ask),
            end=turn.finished,
            parts=parts,
            department=department,
            record_seconds=ask.seconds if ask is not None and record else None,
            personal=personal,
        )

    def _service_department(self, session: Session, dialogue: Dialogue) -> str | None:
        service = (
            services.service_by_id(session, dialogue.service_id) if dialogue.service_id else None
        )
        department = tenancy.departments(session).id(service.department_id) if service else None
        return department.code if department is not None else None

    def _finish(
        self, session: Session, dialogue: Dialogue, text: str, *, lang: str | None = None
    ) -> Prompt:
        return Prompt(text, lang or dialogue.lang, end=True)


def _prompt_of(last: dict[str, object]) -> Prompt:
    digits = last.get("digits")
    parts = last.get("parts")
    langs = last.get("langs")
    department = last.get("department")
    record = last.get("record")
    return Prompt(
        str(last.get("text", "")),
        str(last.get("lang", "en")),
        num_digits=digits if isinstance(digits, int) else None,
        end=bool(last.get("end")),
        parts=tuple(str(p) for p in parts) if isinstance(parts, list) else (),
        langs=tuple(str(code) for code in langs) if isinstance(langs, list) else (),
        department=department if isinstance(department, str) else None,
        record_seconds=record if isinstance(record, int) else None,
        personal=bool(last.get("personal")),
    )
