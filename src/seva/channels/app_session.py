"""The app channel: a citizen runs a service from the mobile app, the PWA or a partner's app.

Transport-free like ``SmsPull``: ``AppConversations`` takes the service the app picked and the
citizen's typed answers, and returns the engine's messages for the JSON API in
``seva.channels.api`` to serialise. A conversation is keyed by a random, unguessable id the app
keeps; one started by a logged-in citizen carries their phone (so the registry, "data collected
once" and their language apply) and answers only to that citizen.

The final answer is ``render.plain`` of the final turn, the very text SMS and USSD send, so
the same inputs give the same answer on every channel.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from seva import i18n
from seva.channels.render import final_answer
from seva.flows import conversation
from seva.flows.answers import clean
from seva.flows.events import Ask, Choice
from seva.flows.models import Service
from seva.flows.runtime import Runtime, Turn
from seva.flows.store import Dialogue

CHANNEL = "app"
MAX_ANSWER = 1600
"""As for SMS: longer is not a citizen typing an answer."""


class ConversationGone(LookupError):
    """No live conversation has this id: never started, finished, cancelled or timed out."""


class ConversationTimedOut(ConversationGone):
    """The conversation timed out; ``message`` names it for the citizen, in their language."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(key)
        self.message = message


class NotYourConversation(PermissionError):
    """The conversation belongs to another citizen."""


@dataclass(frozen=True, slots=True)
class AppReply:
    id: str
    lang: str
    turn: Turn | None
    """None when the app only asked for the open question again."""
    question: Ask | None

    @property
    def finished(self) -> bool:
        return self.turn is not None and self.turn.finished

    @property
    def answer(self) -> str | None:
        return final_answer(self.turn.messages) if self.turn is not None else None


def new_id() -> str:
    return secrets.token_urlsafe(24)


class AppConversations:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def start(
        self,
        session: Session,
        service: Service,
        *,
        phone: str | None,
        lang: str | None = None,
        now: datetime | None = None,
    ) -> AppReply:
        """Begin ``service``; ``lang`` overrides the citizen's registered language for this one
        conversation only (the registry changes through ``PUT /me/language``)."""
        runtime = self.runtime
        dialogue = runtime.open(session, CHANNEL, new_id(), phone=phone, now=now)
        if lang is not None:
            dialogue.lang = lang
        turn = runtime.start(session, dialogue, service, now=now)
        return self._finish(session, dialogue, turn, now)

    def answer(
        self,
        session: Session,
        key: str,
        text: str,
        *,
        phone: str | None,
        now: datetime | None = None,
    ) -> AppReply:
        dialogue = self._resume(session, key, phone, now)
        try:
            turn = self.runtime.answer(session, dialogue, clean(text[:MAX_ANSWER]), now=now)
        except LookupError:  # the service was removed under the conversation
            self.runtime.close(session, dialogue)
            raise ConversationGone(key) from None
        return self._finish(session, dialogue, turn, now)

    def cancel(
        self, session: Session, key: str, *, phone: str | None, now: datetime | None = None
    ) -> AppReply:
        dialogue = self._resume(session, key, phone, now)
        try:
            turn = self.runtime.cancel(session, dialogue, now=now)
        except LookupError:
            self.runtime.close(session, dialogue)
            raise ConversationGone(key) from None
        return self._finish(session, dialogue, turn, now)

    def current(
        self, session: Session, key: str, *, phone: str | None, now: datetime | None = None
    ) -> AppReply:
        """The open question again (an app that was closed and reopened)."""
        dialogue = self._resume(session, key, phone, now)
        question = _ask_from(dialogue.meta.get("question"))
        return AppReply(id=key, lang=dialogue.lang, turn=None, question=question)

    # -- internals --------------------------------------------------------------------------

    def _resume(
        self, session: Session, key: str, phone: str | None, now: datetime | None
    ) -> Dialogue:
        dialogue = self.runtime.open(session, CHANNEL, key, now=now)
        lapsed = dialogue.meta.get(conversation.TIMED_OUT)
        if lapsed:
            name = str(lapsed.get("title") or lapsed.get("name", ""))
            lang = str(lapsed.get("lang", dialogue.lang))
            raise ConversationTimedOut(key, i18n.text("app_timed_out", lang, name=name))
        if not self.runtime.in_service(dialogue):
            raise ConversationGone(key)
        if dialogue.phone is not None and dialogue.phone != phone:
            raise NotYourConversation(key)
        return dialogue

    def _finish(
        self, session: Session, dialogue: Dialogue, turn: Turn, now: datetime | None
    ) -> AppReply:
        if turn.finished:
            dialogue.flow = None
            dialogue.service_id = None
            self.runtime.close(session, dialogue)
        else:
            dialogue.meta["question"] = _ask_to(turn.ask)
            self.runtime.save(session, dialogue, now=now)
        return AppReply(id=dialogue.key, lang=turn.lang, turn=turn, question=turn.ask)


def _ask_to(ask: Ask | None) -> dict[str, Any] | None:
    if ask is None:
        return None
    return {
        "var": ask.var,
        "text": ask.text,
        "kind": ask.kind,
        "options": [{"key": c.key, "value": c.value, "label": c.label} for c in ask.options],
        "error": ask.error,
        "attempt": ask.attempt,
    }


def _ask_from(data: Any) -> Ask | None:
    if not isinstance(data, dict):
        return None
    return Ask(
        var=str(data["var"]),
        text=str(data["text"]),
        kind=str(data["kind"]),
        options=tuple(Choice(**option) for option in data.get("options", [])),
        error=data.get("error"),
        attempt=int(data.get("attempt", 1)),
    )
