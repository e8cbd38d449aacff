"""Turning engine messages into plain text: the shared form of SMS and USSD screens.

Options are numbered so a keypad can answer them; an answer refused by the engine is shown
above the question again.
"""

from __future__ import annotations

from collections.abc import Iterable

from seva.flows.events import Ask, End, Message, Say


def ask_text(ask: Ask) -> str:
    lines = []
    if ask.error:
        lines.append(ask.error)
    lines.append(ask.text)
    lines += [f"{choice.key}. {choice.label}" for choice in ask.options]
    return "\n".join(lines)


def plain(messages: Iterable[Message]) -> str:
    parts: list[str] = []
    for message in messages:
        match message:
            case Say(text=text) | End(text=text):
                parts.append(text)
            case Ask():
                parts.append(ask_text(message))
    return "\n".join(p for p in parts if p)


def final_answer(messages: Iterable[Message]) -> str | None:
    """The answer a finished conversation gave: its last says and its end, as one text."""
    items = list(messages)
    if not items or not isinstance(items[-1], End):
        return None
    return plain(items)
