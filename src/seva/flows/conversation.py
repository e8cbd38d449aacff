"""The rules of a conversation: what a citizen's next message does to what is open.

A citizen has one open conversation per channel: nothing, or a service's question (the free
times to talk to an official, "reply 1-5", are such a question: ``seva.flows.calls``); or the
conversation they had just timed out. Each message is one of a few kinds (a keyword that
starts something, a command that answers on the side, ``CANCEL``, any other reply). What
happens is looked up in ``RULES``, a table a citizen could learn from one page of help, and
the same table serves every channel; the channels only say which kind of message they
received and render what the engine answers.

The rules, in words:

* a keyword starts a new conversation; whatever was open is dropped and the reply says so
  ("Your COMPLAINT request was left unfinished"). While a question wants free text, a message
  that happens to begin with a keyword is that text: a complaint may well start with "CALL";
* a keyword whose service finishes in that one message (``STATUS TEST-0001``) answers on the
  side and leaves the open conversation as it was (``Turn.finished`` tells the runtime);
* an open question owns the next reply: an answer in range takes it, anything else is
  refused and the question asked again (``CALL FOOD``, then ``1``, books the first time even
  when a complaint was open before it);
* ``HELP``, ``STOP``/``START``, ``LANG`` and ``DOCS`` answer on the side and change nothing
  that is open;
* ``CANCEL`` ends what is open, and says so when nothing was;
* after a timeout, a reply that would have continued the conversation is told that it timed
  out and how to start again, rather than being taken for an unknown keyword.

On the other channels the same facts hold in their own form: the app API names a
conversation that timed out (``timed_out``, in the citizen's language) instead of a bare "not
found"; a USSD hop carries the session's whole history, so a session Seva let lapse while the
operator still held it is rebuilt from that history rather than lost; a phone call is one
conversation from dial to hang-up.

Pure: no I/O, no clock, no database; ``tests/flows/test_conversation.py`` checks the table
cell by cell and the channels against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

AGAIN = "again"
"""Where a dialogue keeps what the citizen sends to start its service again when that is not
the service's keyword (``CALL FOOD`` starts the gateway's call booking for FOOD)."""
TIMED_OUT = "timed_out"
"""Where a fresh dialogue says what had just timed out: ``name`` and ``again`` (the keyword
that starts it again)."""


class Open(StrEnum):
    """What a citizen's conversation on one channel holds when a message arrives."""

    NOTHING = "nothing"
    QUESTION = "question"
    """A service asked something with a form (a number, a date, a choice)."""
    FREE_TEXT = "free_text"
    """A service asked for the citizen's own words."""
    TIMED_OUT = "timed_out"
    """The conversation that was open expired before this message."""


class Said(StrEnum):
    """What kind of message arrived."""

    KEYWORD = "keyword"
    """Starts something: a service keyword, ``CALL FOOD``, ``CALL MOVE``."""
    COMMAND = "command"
    """Answers on the side: ``HELP``, ``STOP``, ``START``, ``LANG HI``, ``DOCS``."""
    CANCEL = "cancel"
    REPLY = "reply"
    """Anything else."""


class Do(StrEnum):
    START = "start"
    ANSWER = "answer"
    ASIDE = "aside"
    CANCEL = "cancel"
    NOTHING_OPEN = "nothing_open"
    UNKNOWN = "unknown"
    TIMED_OUT = "timed_out"
    """Say what timed out and how to start it again."""


@dataclass(frozen=True, slots=True)
class Rule:
    do: Do
    drops: bool = False
    """What was open is dropped, and the citizen is told it was left unfinished (unless the
    new thing finishes in this one message: then it was an aside and nothing is dropped)."""


RULES: dict[tuple[Open, Said], Rule] = {
    (Open.NOTHING, Said.KEYWORD): Rule(Do.START),
    (Open.NOTHING, Said.COMMAND): Rule(Do.ASIDE),
    (Open.NOTHING, Said.CANCEL): Rule(Do.NOTHING_OPEN),
    (Open.NOTHING, Said.REPLY): Rule(Do.UNKNOWN),
    (Open.QUESTION, Said.KEYWORD): Rule(Do.START, drops=True),
    (Open.QUESTION, Said.COMMAND): Rule(Do.ASIDE),
    (Open.QUESTION, Said.CANCEL): Rule(Do.CANCEL),
    (Open.QUESTION, Said.REPLY): Rule(Do.ANSWER),
    (Open.FREE_TEXT, Said.KEYWORD): Rule(Do.ANSWER),
    (Open.FREE_TEXT, Said.COMMAND): Rule(Do.ASIDE),
    (Open.FREE_TEXT, Said.CANCEL): Rule(Do.CANCEL),
    (Open.FREE_TEXT, Said.REPLY): Rule(Do.ANSWER),
    (Open.TIMED_OUT, Said.KEYWORD): Rule(Do.START),
    (Open.TIMED_OUT, Said.COMMAND): Rule(Do.ASIDE),
    (Open.TIMED_OUT, Said.CANCEL): Rule(Do.TIMED_OUT),
    (Open.TIMED_OUT, Said.REPLY): Rule(Do.TIMED_OUT),
}


def decide(open_: Open, said: Said) -> Rule:
    """The rule for ``said`` arriving while ``open_`` is open (the table is complete)."""
    return RULES[(open_, said)]
