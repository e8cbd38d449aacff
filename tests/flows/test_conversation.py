"""The conversation rules (``seva.flows.conversation``): the table itself, then a citizen
texting through each rule, checked by what they are told and what is left in the database.

Each scenario is a list of (message, what the reply must contain); ``"!"`` before a fragment
means it must not be there. Every scenario starts at Monday 30 November 2026, 09:00 IST, when
FOOD's officials have times to offer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product

import pytest
from sqlalchemy import func, select

from seva.applications.models import Application
from seva.demo.seed import SeedReport
from seva.flows.conversation import RULES, Do, Open, Said, decide
from seva.gateway import Gateway
from seva.rtc.models import Appointment

MONDAY_9 = datetime(2026, 11, 30, 3, 30, tzinfo=UTC)


def test_the_table_has_a_rule_for_every_message_in_every_state() -> None:
    assert set(RULES) == set(product(Open, Said))


@pytest.mark.parametrize(
    ("open_", "said", "do", "drops"),
    [
        (Open.QUESTION, Said.KEYWORD, Do.START, True),
        (Open.FREE_TEXT, Said.KEYWORD, Do.ANSWER, False),  # free text may begin with a keyword
        (Open.QUESTION, Said.REPLY, Do.ANSWER, False),
        (Open.QUESTION, Said.COMMAND, Do.ASIDE, False),
        (Open.TIMED_OUT, Said.REPLY, Do.TIMED_OUT, False),
        (Open.TIMED_OUT, Said.KEYWORD, Do.START, False),
        (Open.NOTHING, Said.CANCEL, Do.NOTHING_OPEN, False),
    ],
)
def test_rules(open_: Open, said: Said, do: Do, drops: bool) -> None:
    rule = decide(open_, said)
    assert (rule.do, rule.drops) == (do, drops)


COMPLAINT_TO_PIN = [("COMPLAINT", "What is the problem"), ("1", "PIN code of the place")]

SCENARIOS: dict[str, list[tuple[str, str]]] = {
    "the times to book own the next reply, even with a question open before": [
        *COMPLAINT_TO_PIN,
        (
            "CALL FOOD",
            "(Your COMPLAINT request was left unfinished.)\nCall with FOOD (IST), reply 1-5",
        ),
        ("1", "booked"),
        ("110092", "not a Seva keyword"),  # the complaint was dropped, not answered
    ],
    "HELP answers aside and the question stays open": [
        *COMPLAINT_TO_PIN,
        ("HELP", "\nRATION - "),
        ("110092", "Your full name"),
    ],
    "STOP and START answer aside": [
        *COMPLAINT_TO_PIN,
        ("STOP FOOD", "!PIN code"),
        ("START FOOD", "!PIN code"),
        ("110092", "Your full name"),
    ],
    "a lookup that finishes at once is an aside": [
        *COMPLAINT_TO_PIN,
        ("RATION 1234567890", "Ration card 1234567890 (Sunita Devi)"),
        ("110092", "Your full name"),
    ],
    "a language change answers aside and the question continues in it": [
        *COMPLAINT_TO_PIN,
        ("LANG HI", "हिन्दी"),
        ("110092", "आपका पूरा नाम"),
    ],
    "DOCS answers aside": [*COMPLAINT_TO_PIN, ("DOCS", "!PIN"), ("110092", "Your full name")],
    "a keyword that asks something replaces the open question and says so": [
        *COMPLAINT_TO_PIN,
        ("MANDI", "(Your COMPLAINT request was left unfinished.)\nChoose the crop"),
        ("1", "Wheat at Azadpur"),
    ],
    "the times to book ask again for anything but one of their numbers": [
        ("CALL FOOD", "reply 1-5: 1) 30-11 10:00"),
        ("yes", "Please choose a number from 1 to 5.\nCall with FOOD (IST), reply 1-5: 1)"),
        ("9", "Please choose a number from 1 to 5."),
        ("2", "booked for 30-11 10:15"),
    ],
    "CANCEL ends the booking": [
        ("CALL FOOD", "reply 1-5"),
        ("CANCEL", "Cancelled."),
        ("1", "not a Seva keyword"),
    ],
    "CANCEL with nothing open says so": [("CANCEL", "Nothing to cancel")],
    "CALL CANCEL finishes at once, so it is an aside": [
        ("CALL FOOD", "reply 1-5"),
        ("1", "booked for 30-11 10:00"),
        *COMPLAINT_TO_PIN,
        ("CALL CANCEL", "Your call on 30-11 10:00 is cancelled. Send CALL FOOD"),
        ("110092", "Your full name"),
    ],
    "the times to book are one Hindi message line too": [
        ("LANG HI", "हिन्दी"),
        ("CALL FOOD", "FOOD से कॉल (IST), 1-5 में से एक भेजें: 1) 30-11 10:00 2) 30-11 10:15"),
        ("1", "30-11 10:00 पर तय है"),
    ],
    "a new booking replaces a booking": [
        ("CALL FOOD", "Call with FOOD"),
        ("CALL TRANSPORT", "(Your CALL FOOD request was left unfinished.)\nCall with TRANSPORT"),
    ],
    "free text may begin with a keyword": [
        *COMPLAINT_TO_PIN,
        ("110092", "Your full name"),
        ("Asha Rani", "Describe the place"),
        ("RATION shop lane behind the temple", "Register complaint"),
    ],
}


def _walk(gateway: Gateway, phone: str, steps: list[tuple[str, str]], now: datetime) -> None:
    for number, (message, wanted) in enumerate(steps):
        with gateway.session() as session:
            reply = gateway.sms.handle(session, phone=phone, text=message, now=now).text
        if wanted.startswith("!"):
            assert wanted[1:] not in reply, (number, message, reply)
        else:
            assert wanted in reply, (number, message, reply)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_sms_scenarios(gateway: Gateway, seeded: SeedReport, name: str) -> None:
    phone = f"+91981170{list(SCENARIOS).index(name):04d}"
    _walk(gateway, phone, SCENARIOS[name], MONDAY_9)


def test_the_collision_books_the_call_and_files_no_complaint(
    gateway: Gateway, seeded: SeedReport
) -> None:
    phone = "+919811799001"
    with gateway.session() as session:
        before = session.scalar(select(func.count()).select_from(Application))
    _walk(
        gateway,
        phone,
        SCENARIOS["the times to book own the next reply, even with a question open before"],
        MONDAY_9,
    )
    with gateway.session() as session:
        booked = session.scalars(select(Appointment)).all()
        assert [a.channel for a in booked if a.status == "booked"][-1:] == ["sms"]
        assert session.scalar(select(func.count()).select_from(Application)) == before


@pytest.mark.parametrize(
    ("started", "reply", "told"),
    [
        ("COMPLAINT", "2", "Your COMPLAINT request timed out. Send COMPLAINT to start again."),
        ("CALL FOOD", "1", "Your CALL FOOD request timed out. Send CALL FOOD to start again."),
    ],
)
def test_a_reply_after_a_timeout_is_told_what_timed_out(
    gateway: Gateway, seeded: SeedReport, started: str, reply: str, told: str
) -> None:
    phone = "+919811799002"
    later = MONDAY_9 + timedelta(seconds=gateway.settings.session_ttl_seconds + 1)
    _walk(gateway, phone, [(started, "")], MONDAY_9)
    _walk(gateway, phone, [(reply, told), (reply, "not a Seva keyword")], later)


def test_a_keyword_after_a_timeout_just_starts(gateway: Gateway, seeded: SeedReport) -> None:
    phone = "+919811799003"
    later = MONDAY_9 + timedelta(seconds=gateway.settings.session_ttl_seconds + 1)
    _walk(gateway, phone, [("COMPLAINT", "")], MONDAY_9)
    _walk(gateway, phone, [("MANDI", "!timed out")], later)
