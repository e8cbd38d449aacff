"""SMS pull: a keyword to the shortcode/longcode starts a service; later replies continue it.

The adapter is transport-free: ``SmsPull.handle`` takes the sender, the number texted and the
text, and returns the reply text. ``/channels/sms/kannel`` (Kannel's ``sms-service get-url``
convention: the response body is the reply) wraps it over HTTP, and the SMPP transport wraps
the same call for ``deliver_sm``.

What a message does to the citizen's open conversation is the engine's table
(``seva.flows.conversation``): a keyword starts a new conversation and says what it left
unfinished, an open question owns the next reply, commands answer on the side, and a reply
after a timeout is told what timed out. This adapter only says which kind of message arrived:

* ``KEYWORD arg1 arg2`` starts the service and the arguments answer its first questions; the
  keyword may be written in the citizen's own script (``राशन 1234567890``, ``ரேஷன் …``: the
  service's ``local_keywords``, ``seva.flows.keywords``);
* while a question is open, the next SMS answers it; a service keyword starts that service
  instead, unless the question wants free text (which may begin with any word);
* ``HELP``/``MENU`` or an empty SMS get the list of keywords; an unknown keyword gets one SMS
  part that points to ``HELP``;
* ``LANG HI``/``HINDI``/``हिंदी`` and ``LANG EN``/``ENGLISH`` switch language on every channel;
* ``CANCEL``/``EXIT`` end the open conversation;
* ``CALL FOOD`` starts the gateway's booking for FOOD (``seva.flows.calls``): its free times
  are a choice on one line (``Call with FOOD (IST), reply 1-5: 1) 30-11 10:00 …``) and a
  number books one; ``CALL MOVE`` offers other times for the citizen's next booked call (a
  number moves it there); ``CALL CANCEL`` cancels it. ``CALL`` alone lists the departments;
* ``DOCS`` lists the documents issued to the citizen's locker with their verification codes;
* ``STOP`` ends bulk SMS from every department, ``STOP FOOD`` from one (TRAI's opt-out; OTPs
  and replies to the citizen's own requests still arrive); ``START`` (``START FOOD``) undoes it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from seva.channels.render import plain
from seva.db.base import utcnow
from seva.flows import calls, conversation, keywords
from seva.flows import service as services
from seva.flows.answers import clean
from seva.flows.conversation import Do, Open, Said
from seva.flows.models import Service
from seva.flows.runtime import Runtime, Turn
from seva.flows.service import definition_of
from seva.flows.store import Dialogue
from seva.i18n import entry, languages, served, shipped
from seva.i18n import text as text_of
from seva.i18n.languages import NAMES
from seva.locker import service as locker
from seva.messaging import service as messaging
from seva.rtc import service as rtc
from seva.sms_text import segment_count
from seva.tenancy import service as tenancy

CHANNEL = "sms"
MAX_INBOUND = 1600
"""Ten concatenated parts; anything longer is not a citizen typing."""

HELP_WORDS = frozenset({"HELP", "MENU", "?"}) | keywords.HELP_WORDS
CANCEL_WORDS = frozenset({"CANCEL", "EXIT"}) | keywords.CANCEL_WORDS

_HELP_HEAD = entry("sms_help_head")
_HELP_TAIL = entry("sms_help_tail")
_UNKNOWN = entry("sms_unknown")
_UNKNOWN_UNNAMED = entry("sms_unknown_unnamed")
"""For a word that would take the reply past one SMS part (a long one, or one that needs
UCS-2 when the rest of the reply does not)."""
_LANG_SET = entry("sms_lang_set")
_STOPPED = entry("sms_stopped")
_STARTED = entry("sms_started")
_EVERYONE = entry("sms_everyone")
_NO_DEPARTMENT = entry("sms_no_department")
OPT_OUT_WORDS = frozenset({"STOP", "UNSUBSCRIBE"})
DOCS_WORDS = frozenset({"DOCS", "DOCUMENTS"})
"""The citizen's issued documents with their verification codes (``locker``)."""
CALL_WORDS = frozenset({"CALL", "APPOINTMENT"})
"""``CALL FOOD``: book a call with an official of the department (``seva.flows.calls``)."""
MOVE_WORDS = frozenset({"MOVE", "CHANGE", "RESCHEDULE"})
_CALL_WHICH = entry("sms_call_which")
OPT_IN_WORDS = frozenset({"START", "SUBSCRIBE"})

_NOTHING_OPEN = entry("sms_nothing_open")


@dataclass(frozen=True, slots=True)
class SmsReply:
    text: str
    turn: Turn | None = None


def help_text(session: Session, lang: str, shortcode: str) -> str:
    """One line per keyword, e.g. ``RATION - Ration card status``."""
    lines = [_HELP_HEAD.get(lang, _HELP_HEAD["en"]).format(code=shortcode)]
    for service in services.live_services(session):
        definition = definition_of(service)
        if definition.keywords:
            title = definition.title
            lines.append(f"{definition.keywords[0]} - {title.get(lang) or title['en']}")
    lines.append(_HELP_TAIL.get(lang, _HELP_TAIL["en"]))
    return "\n".join(lines)


def language_command(words: list[str]) -> str | None:
    """The language a ``LANG xx``/``HINDI`` message asks for, if it is one."""
    if not words:
        return None
    if len(words) == 1:
        return languages.by_word(words[0])
    if words[0].upper() == "LANG" and len(words) == 2:
        return languages.named(words[1])
    return None


def asks_languages(words: list[str]) -> bool:
    """``LANG`` alone, or with a word that names no language: the reply lists them."""
    return bool(words) and words[0].upper() == "LANG" and len(words) <= 2


def languages_text(lang: str) -> str:
    """Every language Seva speaks, each by its code and its own name, for ``LANG``."""
    listed = ", ".join(
        f"{code.upper()} {name}" for code, name in NAMES.items() if code in shipped()
    )
    return text_of("sms_lang_list", lang, languages=listed)


class SmsPull:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def handle(
        self, session: Session, *, phone: str, text: str, now: datetime | None = None
    ) -> SmsReply:
        """The reply to one inbound SMS from ``phone`` (E.164, already validated): the
        message is classified, and ``seva.flows.conversation`` says what it does to the
        citizen's open conversation."""
        runtime = self.runtime
        dialogue = runtime.open(session, CHANNEL, phone, phone=phone, now=now)
        lapsed = dialogue.meta.pop(conversation.TIMED_OUT, None)
        body = clean(text[:MAX_INBOUND])
        words = body.split()
        open_ = self._open(dialogue, lapsed)
        # A word only like a service's (``seva.flows.keywords``) does not take the reply to an
        # open question away from it: that reply may be an answer in the citizen's script.
        lenient = open_ in (Open.NOTHING, Open.TIMED_OUT)
        service = services.find_by_keyword(session, words[0], lenient=lenient) if words else None
        said = self._said(words, service)
        rule = conversation.decide(open_, said)
        match rule.do:
            case Do.START:
                return self._start(session, dialogue, words, service, open_, now)
            case Do.ANSWER:
                turn = runtime.answer(session, dialogue, body, now=now)
                return self._finish(session, dialogue, turn, now)
            case Do.ASIDE:
                reply = self._aside(session, dialogue, words)
                return self._keep(session, dialogue, reply, now)
            case Do.CANCEL:
                if runtime.in_service(dialogue):
                    turn = runtime.cancel(session, dialogue, now=now)
                    return self._finish(session, dialogue, turn, now)
                runtime.close(session, dialogue)
                return SmsReply(text_of("flow_cancelled", _lang(dialogue)))
            case Do.NOTHING_OPEN:
                return self._keep(session, dialogue, _NOTHING_OPEN[_lang(dialogue)], now)
            case Do.TIMED_OUT:
                assert lapsed is not None
                reply = text_of("sms_timed_out", _lang(dialogue), **_lapsed_names(lapsed))
                return SmsReply(reply)
            case Do.UNKNOWN:
                return self._keep(session, dialogue, unknown_keyword(dialogue, words[0]), now)

    def _open(self, dialogue: Dialogue, lapsed: object) -> Open:
        if lapsed:
            return Open.TIMED_OUT
        if self.runtime.in_service(dialogue):
            asked = self.runtime.current_ask(dialogue) or {}
            return Open.FREE_TEXT if asked.get("kind") in ("text", "message") else Open.QUESTION
        return Open.NOTHING

    def _said(self, words: list[str], service: Service | None) -> Said:
        if not words:
            return Said.COMMAND  # an empty SMS gets the help
        head = words[0].upper()
        if language_command(words) is not None or asks_languages(words):
            return Said.COMMAND
        if head in OPT_OUT_WORDS | OPT_IN_WORDS and len(words) <= 2:
            return Said.COMMAND
        if head in HELP_WORDS:
            return Said.COMMAND
        if service is None and head in DOCS_WORDS and len(words) == 1:
            return Said.COMMAND
        if service is None and head in CALL_WORDS and len(words) <= 2:
            return Said.KEYWORD
        if head in CANCEL_WORDS:
            return Said.CANCEL
        if service is not None:
            return Said.KEYWORD
        return Said.REPLY

    def _aside(self, session: Session, dialogue: Dialogue, words: list[str]) -> str:
        """A command's answer; what is open stays as it was."""
        phone = dialogue.phone or ""
        lang = language_command(words)
        if lang is not None:
            self.runtime.set_language(session, dialogue, lang)
            return _LANG_SET.get(lang, _LANG_SET["en"])
        if asks_languages(words):
            return languages_text(_lang(dialogue))
        head = words[0].upper() if words else ""
        if head in OPT_OUT_WORDS | OPT_IN_WORDS:
            return self._opt(session, dialogue, phone, words)
        if head in DOCS_WORDS:
            return locker.issued_list_text(session, phone, _lang(dialogue))
        return self._help(session, dialogue)

    def _start(
        self,
        session: Session,
        dialogue: Dialogue,
        words: list[str],
        service: Service | None,
        open_: Open,
        now: datetime | None,
    ) -> SmsReply:
        """Start what ``words`` ask for in a fresh conversation. When that leaves a question
        open it replaces the conversation that was open, and the citizen is told what was
        left unfinished; when it is over in this one message (a status lookup, ``CALL
        CANCEL``) it was an aside and the open conversation carries on."""
        fresh = replace(dialogue, meta={}, flow=None, service_id=None)
        if service is not None and not dialogue.lang_chosen:
            # A keyword written in a citizen's script (``राशन``) asks in that language, as
            # an unknown word is answered in it, until the citizen chooses one.
            fresh.lang = served(languages.written_in(words[0]) or dialogue.lang)
        args = words[1:]
        if service is None:
            found = self._call_service(session, dialogue, args, now)
            if isinstance(found, str):
                return self._keep(session, dialogue, found, now)
            service, args, again = found
            fresh.meta[conversation.AGAIN] = again
        turn = self.runtime.start(session, fresh, service, args=args, now=now)
        reply = SmsReply(_text(turn), turn)
        if turn.finished:
            return self._keep(session, dialogue, reply.text, now)
        dropped = _open_name(session, dialogue) if open_ is Open.QUESTION else ""
        self.runtime.save(session, fresh, now=now)
        if not dropped:
            return reply
        notice = text_of("sms_left_unfinished", _lang(fresh), name=dropped)
        return SmsReply(f"{notice}\n{reply.text}", reply.turn)

    def _opt(self, session: Session, dialogue: Dialogue, phone: str, words: list[str]) -> str:
        lang = _lang(dialogue)
        scope = messaging.ALL_DEPARTMENTS
        who = _EVERYONE[lang]
        arg = ""
        if len(words) == 2:
            department = tenancy.department_by_code(session, words[1].upper())
            if department is None:
                return _NO_DEPARTMENT[lang].format(code=words[1][:16])
            scope, who, arg = department.code, department.display_name(lang), " " + department.code
        if words[0].upper() in OPT_OUT_WORDS:
            messaging.opt_out(session, phone, scope)
            return _STOPPED[lang].format(who=who, arg=arg)
        messaging.opt_in(session, phone, None if scope == messaging.ALL_DEPARTMENTS else scope)
        return _STARTED[lang].format(who=who, arg=arg)

    def _call_service(
        self, session: Session, dialogue: Dialogue, args: list[str], now: datetime | None
    ) -> tuple[Service, list[str], str] | str:
        """What ``CALL …`` starts (``seva.flows.calls``): the booking of the department it
        names (``CALL FOOD``), or the booked-calls service of the department of the citizen's
        next call, its first answers given (``CALL MOVE``, ``CALL CANCEL``); with what the
        citizen sends to start it again. Or the reply when there is nothing to start."""
        lang = _lang(dialogue)
        action = args[0].upper() if args else ""
        if action in CANCEL_WORDS or action in MOVE_WORDS:
            booked = calls.booked_departments(session, dialogue.phone, now or utcnow())
            mine = calls.service_for(session, booked[0], calls.MY_CALLS) if booked else None
            if mine is None:
                return text_of("book_nothing_sms", lang)
            if action in CANCEL_WORDS:
                return mine, calls.MY_CALLS_ACTIONS["cancel"], "CALL CANCEL"
            return mine, calls.MY_CALLS_ACTIONS["move"], "CALL MOVE"
        department = tenancy.department_by_code(session, action) if action else None
        booking = calls.service_for(session, department, calls.CALL) if department else None
        if department is None or booking is None:
            taking = rtc.departments_taking_calls(session)
            listing = ", ".join(f"CALL {d.code}" for d in taking) or "-"
            return _CALL_WHICH[lang].format(codes=listing)
        return booking, [], f"CALL {department.code}"

    def _help(self, session: Session, dialogue: Dialogue) -> str:
        return help_text(session, _lang(dialogue), self.runtime.settings.shortcode)

    def _keep(
        self, session: Session, dialogue: Dialogue, text: str, now: datetime | None
    ) -> SmsReply:
        if self.runtime.in_service(dialogue):
            self.runtime.save(session, dialogue, now=now)
        return SmsReply(text)

    def _finish(
        self, session: Session, dialogue: Dialogue, turn: Turn, now: datetime | None
    ) -> SmsReply:
        if turn.finished:
            dialogue.flow = None
            dialogue.service_id = None
            self.runtime.close(session, dialogue)
        else:
            self.runtime.save(session, dialogue, now=now)
        return SmsReply(_text(turn), turn)


def _text(turn: Turn) -> str:
    """The turn as one SMS reply: short choices (the free times) on their question's line."""
    return plain(turn.messages, inline_lang=turn.lang)


def _open_name(session: Session, dialogue: Dialogue) -> str:
    """What the citizen would send to start the open conversation again: its keyword
    (``COMPLAINT``, ``CALL FOOD``), or the service's title when it has none."""
    again = dialogue.meta.get(conversation.AGAIN)
    if again:
        return str(again)
    service = services.service_by_id(session, dialogue.service_id or 0)
    if service is None:
        return ""
    definition = definition_of(service)
    if definition.keywords:
        return definition.keywords[0]
    return definition.title.get(dialogue.lang) or definition.title["en"]


def _lapsed_names(lapsed: dict[str, str]) -> dict[str, str]:
    name = lapsed.get("name", "")
    return {"name": name, "keyword": lapsed.get("again") or name}


def unknown_keyword(dialogue: Dialogue, word: str) -> str:
    """The reply to a word that starts no service: one SMS part, pointing to ``HELP`` (whose
    reply lists the keywords) rather than listing them, which took three parts in English
    and seven in Hindi. In the citizen's language when they chose one, else in the language
    of the script they wrote in (Tamil for a word in Tamil letters) where Seva speaks it."""
    lang = _lang(dialogue)
    if not dialogue.lang_chosen:
        lang = served(languages.written_in(word) or lang)
    named = _UNKNOWN[lang].format(word=word[:20])
    return named if segment_count(named) == 1 else _UNKNOWN_UNNAMED[lang]


def _lang(dialogue: Dialogue) -> str:
    return served(dialogue.lang)
