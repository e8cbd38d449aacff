"""Web portal and CSC kiosk: a service as a sequence of HTML forms.

Transport-free like ``SmsPull``: ``WebForms`` starts a service for a dialogue keyed by a random
token the browser keeps in its signed session cookie, answers the open question, cancels, and
hands back a ``ServicePage`` — what the page shows now (the says, the question with its options
and the reason the last answer was refused, or the final answer). The page is kept in the
dialogue, so the portal can answer every POST with a redirect (POST/redirect/GET) and a refresh
shows the same page without answering twice.

The same class serves the portal (channel ``web``; anonymous, or the phone of a citizen logged in
by OTP, so the registry, their language and "data collected once" apply) and the kiosk (channel
``kiosk``; the phone of the citizen at the counter and the operator's id, so every application
filed records who filed it). The final answer is ``render.final_answer`` of the final turn, the
very text an SMS or a USSD screen shows.

A page is a form, and behaves like one. What the conversation does differently here is the
engine's (``seva.flows.engine.Medium``), so this module and its templates only render it: a
refused answer never ends the service (a person at a form corrects it; the retry cap is for SMS,
USSD and calls, where each try costs), its reason reads as a form error ("Please enter an
answer.", the catalog's ``_form`` wording), and what was typed stays in the field
(``Question.typed``; escaped by the template, a choice keeps its selection).

Updates by SMS. A service that files an application (``ServiceDefinition.files_applications``)
sends every status change of it to the application's citizen by SMS, and on the web that
citizen is the one logged in: until now an anonymous visitor's application had none, so its
promised updates ("the slot will be sent by SMS") went nowhere. Now, with nobody logged in:

* the first page of such a service offers to log in first (``/citizen/login``, back to the
  service), which files the application with the citizen's own, proven number; offered only
  while no answer has been given (``ServicePage.fresh``), as a login starts the form afresh;
* otherwise the engine asks for a mobile number just before it files, checked as any ``phone``
  question is, and the application is filed for that number's citizen, who gets its updates.
  The number is not proven (no code is sent): it only receives. The conversation never reads
  the registry under it (no profile, language or other applications); the application is
  listed among that number's own, as its updates are; and no SMS goes out when the form is
  filed, only when an official moves the application along, so a stranger's number typed in
  gets at most that application's updates, never a message per form sent. (Proving it with a
  code is what logging in does.)
"""

from __future__ import annotations

import secrets
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from seva.channels.render import final_answer
from seva.citizens import service as citizens
from seva.citizens.service import GuessesRefused, OtpRefused
from seva.flows.answers import clean
from seva.flows.events import Choice, Say
from seva.flows.models import Service
from seva.flows.runtime import Runtime, Turn
from seva.flows.schema import ApplyStep
from seva.flows.service import definition_of, service_by_id
from seva.flows.store import Dialogue
from seva.i18n import entry
from seva.messaging import service as messaging
from seva.ratelimit import Limiter
from seva.settings import Settings

WEB = "web"
KIOSK = "kiosk"
MAX_ANSWER = 1600
"""As for SMS: a longer answer is not a citizen typing."""

OTP_PURPOSE_PORTAL = "citizen_login"
OTP_PURPOSE_KIOSK = "kiosk"


class NothingToAnswer(LookupError):
    """The dialogue has no open question (finished, timed out or never started)."""


def new_key() -> str:
    """A dialogue key for a browser: unguessable, so no one can answer another's questions."""
    return secrets.token_urlsafe(18)


@dataclass(frozen=True, slots=True)
class Question:
    var: str
    text: str
    kind: str
    """The ask type: ``text``, ``digits``, ``choice``, ``yes_no``, ``date`` …"""
    options: tuple[Choice, ...] = ()
    error: str | None = None
    """Why the last answer was refused; the page shows it above the question."""
    max_length: int | None = None
    """The most characters the answer may have (the field's ``maxlength``, shown beside
    it); None: only the form's own limit."""
    typed: str | None = None
    """What the citizen entered in the answer just refused (as the engine read it), for the
    form to show again to be corrected rather than typed afresh; None after an accepted one."""


@dataclass(frozen=True, slots=True)
class ServicePage:
    """What the page of a running (or just finished) service shows."""

    service_id: int
    lang: str
    seq: int
    """Counts the turns; a form posted from an older page is not taken as an answer."""
    says: tuple[str, ...] = ()
    question: Question | None = None
    answer: str | None = None
    """The final answer, the same text SMS and USSD give."""
    outcome: str | None = None
    application_ref: str | None = None
    fresh: bool = False
    """No answer has been accepted yet in this run of the service: nothing is lost by leaving
    the form now (to log in, say)."""

    @property
    def finished(self) -> bool:
        return self.answer is not None

    def to_dict(self) -> dict[str, Any]:
        question = None
        if self.question is not None:
            q = self.question
            question = {
                "var": q.var,
                "text": q.text,
                "kind": q.kind,
                "options": [{"key": c.key, "value": c.value, "label": c.label} for c in q.options],
                "error": q.error,
                "max_length": q.max_length,
                "typed": q.typed,
            }
        return {
            "service_id": self.service_id,
            "lang": self.lang,
            "seq": self.seq,
            "says": list(self.says),
            "question": question,
            "answer": self.answer,
            "outcome": self.outcome,
            "application_ref": self.application_ref,
            "fresh": self.fresh,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServicePage:
        raw = data.get("question")
        question = None
        if raw:
            question = Question(
                var=str(raw["var"]),
                text=str(raw["text"]),
                kind=str(raw["kind"]),
                options=tuple(Choice(**c) for c in raw.get("options") or ()),
                error=raw.get("error"),
                max_length=raw.get("max_length"),
                typed=raw.get("typed"),
            )
        return cls(
            service_id=int(data["service_id"]),
            lang=str(data.get("lang", "en")),
            seq=int(data.get("seq", 0)),
            says=tuple(data.get("says") or ()),
            question=question,
            answer=data.get("answer"),
            outcome=data.get("outcome"),
            application_ref=data.get("application_ref"),
            fresh=bool(data.get("fresh")),
        )


class WebForms:
    """One service at a time per browser (portal) or per counter session (kiosk)."""

    def __init__(self, runtime: Runtime, channel: str = WEB) -> None:
        if channel not in (WEB, KIOSK):
            raise ValueError(f"unknown web channel {channel!r}")
        self.runtime = runtime
        self.channel = channel

    def open(
        self,
        session: Session,
        key: str,
        *,
        phone: str | None = None,
        operator_id: int | None = None,
        now: datetime | None = None,
    ) -> Dialogue:
        """The browser's dialogue. One that belonged to someone else (the citizen logged in or
        out, another citizen stepped up to the counter) is ended, never continued."""
        runtime = self.runtime
        dialogue = runtime.open(session, self.channel, key, phone=phone, now=now)
        if dialogue.phone != phone or dialogue.operator_id not in (None, operator_id):
            self.forget(session, dialogue, now=now)
            dialogue = runtime.open(session, self.channel, key, phone=phone, now=now)
        dialogue.operator_id = operator_id
        return dialogue

    def page(self, dialogue: Dialogue) -> ServicePage | None:
        raw = dialogue.meta.get("page")
        return ServicePage.from_dict(raw) if raw else None

    def running(self, dialogue: Dialogue, service: Service) -> bool:
        """A question of ``service`` is open in this dialogue."""
        return self.runtime.in_service(dialogue) and dialogue.service_id == service.id

    def start(
        self,
        session: Session,
        dialogue: Dialogue,
        service: Service,
        *,
        lang: str,
        now: datetime | None = None,
    ) -> ServicePage:
        """Begin ``service`` in the page's language; one still open is cancelled first."""
        if self.runtime.in_service(dialogue):
            self._cancel_quietly(session, dialogue, now)
        dialogue.lang = lang
        turn = self.runtime.start(session, dialogue, service, now=now)
        return self._keep(session, dialogue, service, turn, now, fresh=True)

    def answer(
        self, session: Session, dialogue: Dialogue, text: str, *, now: datetime | None = None
    ) -> ServicePage:
        service = self._service(session, dialogue)
        typed = clean(text[:MAX_ANSWER])
        previous = self.page(dialogue)
        turn = self.runtime.answer(session, dialogue, typed, now=now)
        refused = turn.ask is not None and turn.ask.error is not None
        return self._keep(
            session,
            dialogue,
            service,
            turn,
            now,
            typed=typed if refused else None,
            fresh=refused and previous is not None and previous.fresh,
        )

    def cancel(
        self, session: Session, dialogue: Dialogue, *, now: datetime | None = None
    ) -> ServicePage:
        service = self._service(session, dialogue)
        turn = self.runtime.cancel(session, dialogue, now=now)
        return self._keep(session, dialogue, service, turn, now)

    def follow_language(self, dialogue: Dialogue, lang: str) -> None:
        """The page language changed mid-service: the next question comes in ``lang``.

        Only this dialogue changes; the registry keeps the language the citizen chose on
        their own page, so switching the page to read it once does not change their SMS."""
        dialogue.lang = lang
        if dialogue.flow is not None:
            dialogue.flow["lang"] = lang

    def forget(self, session: Session, dialogue: Dialogue, *, now: datetime | None = None) -> None:
        """End the dialogue (an open question is recorded as cancelled)."""
        if self.runtime.in_service(dialogue):
            self._cancel_quietly(session, dialogue, now)
        self.runtime.close(session, dialogue)

    # -- internals --------------------------------------------------------------------------

    def _service(self, session: Session, dialogue: Dialogue) -> Service:
        if not self.runtime.in_service(dialogue) or dialogue.service_id is None:
            raise NothingToAnswer(dialogue.key)
        service = service_by_id(session, dialogue.service_id)
        if service is None:
            self.runtime.close(session, dialogue)
            raise NothingToAnswer(dialogue.key)
        return service

    def _cancel_quietly(self, session: Session, dialogue: Dialogue, now: datetime | None) -> None:
        with suppress(LookupError):  # its service was removed: nothing left to cancel
            self.runtime.cancel(session, dialogue, now=now)
        dialogue.flow = None
        dialogue.service_id = None

    def _keep(
        self,
        session: Session,
        dialogue: Dialogue,
        service: Service,
        turn: Turn,
        now: datetime | None,
        *,
        typed: str | None = None,
        fresh: bool = False,
    ) -> ServicePage:
        previous = self.page(dialogue)
        seq = (previous.seq + 1) if previous is not None else 1
        ask = turn.ask
        question = None
        if ask is not None:
            question = Question(
                var=ask.var,
                text=ask.text,
                kind=ask.kind,
                options=ask.options,
                error=ask.error,
                max_length=ask.max_length,
                typed=typed,
            )
        says = tuple(m.text for m in turn.messages if isinstance(m, Say) and m.text)
        page = ServicePage(
            service_id=service.id,
            lang=turn.lang,
            seq=seq,
            says=says if not turn.finished else (),
            question=question,
            answer=final_answer(turn.messages) if turn.finished else None,
            outcome=turn.end.outcome if turn.end is not None else None,
            application_ref=_application_ref(service, dialogue) if turn.finished else None,
            fresh=fresh and not turn.finished,
        )
        dialogue.meta = {"page": page.to_dict()}
        self.runtime.save(session, dialogue, now=now)
        return page


def _application_ref(service: Service, dialogue: Dialogue) -> str | None:
    """The reference of the application the finished service filed, if it filed one (the
    definition's ``apply`` steps say under which name the engine saved it)."""
    variables = (dialogue.flow or {}).get("vars") or {}
    for step in definition_of(service).steps:
        if isinstance(step, ApplyStep):
            saved = variables.get(step.apply.save)
            if isinstance(saved, dict) and saved.get("ref"):
                return str(saved["ref"])
    return None


# -- one-time codes ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeSent:
    phone: str


PORTAL_OTP_TEXT = entry("otp_portal")
KIOSK_OTP_TEXT = entry("otp_kiosk")


def send_code(
    session: Session,
    limiter: Limiter,
    settings: Settings,
    phone: str,
    *,
    purpose: str,
    client: str,
    lang: str,
    operator: str = "",
    now: datetime | None = None,
) -> CodeSent | OtpRefused:
    """Issue a one-time code and queue it to ``phone`` as an OTP SMS, in the citizen's own
    language when the registry knows it; refused as ``citizens.request_otp`` decides (per
    phone, per client address, per number range, per day)."""
    code = citizens.request_otp(session, limiter, settings, phone, purpose, client=client, now=now)
    if isinstance(code, OtpRefused):
        return code
    ttl_seconds = settings.otp_ttl_seconds
    known = citizens.find(session, phone)
    language = known.language if known is not None and known.language else lang
    texts = KIOSK_OTP_TEXT if purpose == OTP_PURPOSE_KIOSK else PORTAL_OTP_TEXT
    text = (texts.get(language) or texts["en"]).format(
        code=code, minutes=max(1, round(ttl_seconds / 60)), operator=operator
    )
    messaging.queue_sms(session, to_phone=phone, text=text, kind="otp")
    return CodeSent(phone=phone)


def check_code(
    session: Session,
    limiter: Limiter,
    settings: Settings,
    phone: str,
    code: str,
    *,
    purpose: str,
    client: str,
    now: datetime | None = None,
) -> bool | GuessesRefused:
    """True once for the right code; too many wrong tries burn it, and too many wrong codes
    for the phone or from the address refuse checks for a while (``citizens.check_otp``)."""
    digits = clean(code).replace(" ", "")
    if not (digits.isascii() and digits.isdigit() and len(digits) == 6):
        return False
    return citizens.check_otp(
        session, limiter, settings, phone, purpose, digits, client=client, now=now
    )
