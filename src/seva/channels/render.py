"""Turning engine messages into plain text: the shared form of SMS and USSD screens.

Options are numbered so a keypad can answer them, one a line; an answer refused by the engine
is shown above the question again. Where each message is paid for (SMS), a choice of short
options (``Ask.inline``: the free times to talk to an official) follows its question on one
line, ``Call with FOOD (IST), reply 1-5: 1) 30-11 10:00 2) …``, so it fits one message.
"""

from __future__ import annotations

from collections.abc import Iterable

from seva import i18n
from seva.flows.events import Ask, End, Message, Say


def ask_text(ask: Ask, *, inline_lang: str | None = None) -> str:
    """``inline_lang``: put an inline choice on one line, worded in that language."""
    lines = []
    if ask.error:
        lines.append(ask.error)
    if inline_lang is not None and ask.inline and ask.options:
        lines.append(_one_line(ask, inline_lang))
        return "\n".join(lines)
    lines.append(ask.text)
    lines += [f"{choice.key}. {choice.label}" for choice in ask.options]
    return "\n".join(lines)


def _one_line(ask: Ask, lang: str) -> str:
    choices = " ".join(f"{choice.key}) {choice.label}" for choice in ask.options)
    question = ask.text.strip().rstrip(":").rstrip()
    key = "book_inline_choice" if len(ask.options) > 1 else "book_inline_single"
    return i18n.text(key, lang, question=question, n=len(ask.options), choices=choices)


def plain(messages: Iterable[Message], *, inline_lang: str | None = None) -> str:
    parts: list[str] = []
    for message in messages:
        match message:
            case Say(text=text) | End(text=text):
                parts.append(text)
            case Ask():
                parts.append(ask_text(message, inline_lang=inline_lang))
    return "\n".join(p for p in parts if p)


def final_answer(messages: Iterable[Message]) -> str | None:
    """The answer a finished conversation gave: its last says and its end, as one text."""
    items = list(messages)
    if not items or not isinstance(items[-1], End):
        return None
    return plain(items)
