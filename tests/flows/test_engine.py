"""The sans-IO flow engine: events out for input in, effects resolved by the caller, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seva.flows.engine import Flow, FlowState, FlowStateError
from seva.flows.events import (
    Ask,
    BookCall,
    CallWebhook,
    CreateApplication,
    EffectResult,
    End,
    FindCallTimes,
    LookupRow,
    RememberField,
    Say,
)
from seva.flows.loader import DefinitionError, parse_definition

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

RATION = """
seva: 1
service: ration
department: FOOD
title: {en: Ration, hi: राशन}
keywords: [RATION]
steps:
  - ask: card_no
    type: digits
    length: 10-12
    prompt: {en: "Card number?", hi: "कार्ड नंबर?"}
  - lookup:
      dataset: cards
      key: "{card_no}"
      save: card
      missing: {en: "No card {card_no}.", hi: "कार्ड {card_no} नहीं मिला।"}
  - end: {en: "Card {card_no}: {card.status}", hi: "कार्ड {card_no}: {card.status}"}
"""

MENU = """
seva: 1
service: menu-demo
department: MCD
title: {en: Menu, hi: मेनू}
steps:
  - say: {en: Welcome, hi: स्वागत}
  - ask: name
    profile: true
    prompt: {en: "Name?", hi: "नाम?"}
  - menu: topic
    prompt: {en: "Topic?", hi: "विषय?"}
    options:
      - {value: tax, label: {en: Tax, hi: कर}, goto: tax}
      - {value: water, label: {en: Water, hi: पानी}, goto: water}
  - id: tax
    call: {url: "https://dept.example/tax", body: {who: "{name}"}, save: tax, on_error: down}
  - end: {en: "{name}: tax {tax.due}", hi: "{name}: कर {tax.due}"}
  - id: water
    ask: ok
    type: yes_no
    prompt: {en: "Report water logging?", hi: "जल भराव की शिकायत?"}
  - branch:
      - when: {var: ok, op: eq, value: "yes"}
        goto: reported
  - end: {en: Not reported, hi: दर्ज नहीं}
  - id: reported
    end: {en: "Reported by {name}", hi: "{name} द्वारा दर्ज"}
  - id: down
    end: {en: Backend down, hi: बैकएंड बंद}
    outcome: failed
"""


def start(source: str, **kwargs: object) -> tuple[Flow, list[object]]:
    definition = parse_definition(source)
    flow, events = Flow.start(definition, revision=1, lang="en", now=NOW, **kwargs)  # type: ignore[arg-type]
    return flow, list(events)


def test_question_then_effect_then_answer() -> None:
    flow, events = start(RATION)
    assert events == [Ask(var="card_no", text="Card number?", kind="digits")]
    events = list(flow.receive("1234567890", NOW))
    assert events == [LookupRow(dataset="cards", key="1234567890")]
    assert flow.phase == "effect"
    events = list(flow.resolve(EffectResult(ok=True, data={"status": "Active"}), NOW))
    assert events == [End(text="Card 1234567890: Active", outcome="completed")]
    assert flow.finished


def test_keyword_arguments_answer_the_first_question() -> None:
    _flow, events = start(RATION, args=["1234567890"])
    assert events == [LookupRow(dataset="cards", key="1234567890")]


def test_wrong_answer_repeats_the_question_with_why_then_gives_up() -> None:
    flow, _ = start(RATION, max_attempts=3)
    first = flow.receive("12ab", NOW)
    assert isinstance(first[0], Ask) and first[0].error == "Please enter digits only."
    second = flow.receive("123", NOW)
    assert isinstance(second[0], Ask) and second[0].error == "Please enter 10 to 12 digits."
    assert second[0].attempt == 3
    last = flow.receive("x", NOW)
    assert isinstance(last[0], End) and last[0].outcome == "failed"


def test_missing_lookup_row_ends_with_the_services_message() -> None:
    flow, _ = start(RATION)
    flow.receive("1234567890", NOW)
    assert flow.resolve(EffectResult(ok=True, data=None), NOW) == [
        End(text="No card 1234567890.", outcome="failed")
    ]


def test_hindi_prompts_and_indic_digits() -> None:
    definition = parse_definition(RATION)
    flow, events = Flow.start(definition, revision=1, lang="hi", now=NOW)
    assert events == [Ask(var="card_no", text="कार्ड नंबर?", kind="digits")]
    assert flow.receive("१२३४५६७८९०", NOW) == [LookupRow(dataset="cards", key="1234567890")]


def test_menu_goto_webhook_and_branch() -> None:
    flow, events = start(MENU)
    assert isinstance(events[0], Say) and events[0].text == "Welcome"
    assert isinstance(events[1], Ask) and events[1].var == "name"
    events = flow.receive("Asha", NOW)
    assert events[0] == RememberField(field="name", value="Asha")
    ask = events[1]
    assert isinstance(ask, Ask) and [c.label for c in ask.options] == ["Tax", "Water"]
    events = flow.receive("1", NOW)
    assert events == [
        CallWebhook(url="https://dept.example/tax", method="POST", body={"who": "Asha"})
    ]
    assert flow.resolve(EffectResult(ok=True, data={"due": "500"}), NOW) == [
        End(text="Asha: tax 500")
    ]


def test_webhook_failure_goes_to_on_error() -> None:
    flow, _ = start(MENU)
    flow.receive("Asha", NOW)
    flow.receive("tax", NOW)
    assert flow.resolve(EffectResult(ok=False, reason="HTTP 503"), NOW) == [
        End(text="Backend down", outcome="failed")
    ]


def test_yes_no_and_branch_in_words() -> None:
    flow, _ = start(MENU)
    flow.receive("Asha", NOW)
    events = flow.receive("Water", NOW)
    assert isinstance(events[0], Ask) and [c.label for c in events[0].options] == ["Yes", "No"]
    assert flow.receive("haan", NOW) == [End(text="Reported by Asha")]


def test_profile_field_already_known_is_not_asked() -> None:
    _flow, events = start(MENU, profile={"name": "Asha"})
    assert isinstance(events[1], Ask) and events[1].var == "topic"


def test_session_expires_by_the_clock_passed_in() -> None:
    flow, _ = start(RATION, ttl=timedelta(minutes=5))
    assert flow.next_deadline() == NOW + timedelta(minutes=5)
    assert flow.handle_timer(NOW + timedelta(minutes=4)) == []
    assert flow.handle_timer(NOW + timedelta(minutes=5)) == [
        End(text="Your session timed out. Please start again.", outcome="timeout")
    ]
    with pytest.raises(FlowStateError):
        flow.receive("1234567890", NOW)


def test_state_round_trips_through_json() -> None:
    import json

    definition = parse_definition(MENU)
    flow, _ = Flow.start(definition, revision=1, lang="en", now=NOW)
    flow.receive("Asha", NOW)
    restored = FlowState.from_dict(json.loads(json.dumps(flow.state.to_dict())))
    again = Flow(definition, restored)
    assert again.receive("2", NOW)[0] == Ask(
        var="ok", text="Report water logging?", kind="yes_no", options=_yes_no_choices()
    )


def _yes_no_choices() -> tuple[object, ...]:
    from seva.flows.events import Choice

    return (Choice(key="1", value="yes", label="Yes"), Choice(key="2", value="no", label="No"))


def test_calls_in_the_wrong_phase_are_refused() -> None:
    flow, _ = start(RATION)
    with pytest.raises(FlowStateError):
        flow.resolve(EffectResult(ok=True), NOW)
    flow.receive("1234567890", NOW)
    with pytest.raises(FlowStateError):
        flow.receive("again", NOW)


MENU_DEFINITION = parse_definition(MENU)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(max_size=40) | st.sampled_from(["1", "2", "yes", "no", "²", "१"]), max_size=8)
)
def test_any_input_sequence_never_crashes(inputs: list[str]) -> None:
    flow, _ = Flow.start(MENU_DEFINITION, revision=1, lang="en", now=NOW)
    for text in inputs:
        if flow.finished:
            break
        if flow.phase == "effect":
            flow.resolve(EffectResult(ok=True, data={"due": "1"}), NOW)
            continue
        events = flow.receive(text, NOW)
        assert events, "every input gets an answer"
        assert all(isinstance(e, Ask | Say | End | RememberField | CallWebhook) for e in events)


def test_a_question_may_allow_more_tries_than_the_default() -> None:
    source = RATION.replace("    length: 10-12\n", "    length: 10-12\n    retries: 5\n")
    flow, _ = start(source, max_attempts=3)
    for _ in range(4):
        assert isinstance(flow.receive("x", NOW)[0], Ask)
    last = flow.receive("x", NOW)[0]
    assert isinstance(last, End) and last.outcome == "failed"


TIP = """
seva: 1
service: tip
department: MCD
title: {en: Tip, hi: सूचना}
keywords: [TIP]
steps:
  - ask: what
    type: message
    length: 3-300
    seconds: 90
    prompt: {en: "What happened?", hi: "क्या हुआ?"}
  - end: {en: "Noted: {what_label}", hi: "दर्ज: {what_label}"}
"""


def test_a_message_is_typed_text_or_a_recording() -> None:
    flow, events = start(TIP)
    # The step's length (3-300) is the most a form lets the citizen type.
    assert events == [
        Ask(var="what", text="What happened?", kind="message", seconds=90, max_length=300)
    ]
    # Typed (SMS, USSD, the web): the words themselves, within the step's length.
    assert flow.receive("ok", NOW) == [
        Ask(var="what", text="What happened?", kind="message", seconds=90,
            error="Please enter 3 to 300 characters.", attempt=2, max_length=300)
    ]  # fmt: skip
    done = flow.receive("The shop at gate 3 sells ration grain", NOW)
    assert flow.state.vars["what"] == "The shop at gate 3 sells ration grain"
    assert isinstance(done[-1], End)

    # Spoken on a call: the recording's reference, and a label a caller can hear.
    spoken, _ = start(TIP)
    [end] = spoken.receive_recording("voice:" + "ab" * 16, 12.4, NOW)
    assert spoken.state.vars["what"] == "voice:" + "ab" * 16
    assert end == End(text="Noted: voice message, 12 seconds")


def test_a_recording_answers_only_a_message_question() -> None:
    flow, _ = start(RATION)
    with pytest.raises(FlowStateError):
        flow.receive_recording("voice:" + "ab" * 16, 3.0, NOW)
    # Typed text that looks like a reference stays text: it never becomes a recording.
    tip, _ = start(TIP)
    tip.receive("voice:" + "cd" * 16, NOW)
    assert tip.state.vars["what"] == "voice:" + "cd" * 16
    assert "what_label" not in tip.state.vars


@pytest.mark.parametrize(
    ("step", "error"),
    [
        ("{ask: a, type: text, seconds: 30, prompt: {en: A, hi: A}}", "seconds is only for"),
        ("{ask: a, type: message, seconds: 2, prompt: {en: A, hi: A}}", "greater than or equal"),
        ("{ask: a, type: message, seconds: 600, prompt: {en: A, hi: A}}", "less than or equal"),
        ("{ask: a, type: message, profile: true, prompt: {en: A, hi: A}}", "profile"),
    ],
)
def test_message_step_limits(step: str, error: str) -> None:
    source = TIP.replace(
        """  - ask: what
    type: message
    length: 3-300
    seconds: 90
    prompt: {en: "What happened?", hi: "क्या हुआ?"}""",
        f"  - {step}",
    ).replace("{what_label}", "")
    with pytest.raises(Exception, match=error):
        parse_definition(source)


def test_a_form_never_gives_up_where_a_paid_channel_does() -> None:
    for channel in ("web", "kiosk", "app"):
        flow, _ = start(RATION, max_attempts=3, channel=channel)
        for attempt in range(2, 12):
            [ask] = flow.receive("", NOW)
            assert isinstance(ask, Ask) and ask.attempt == attempt, channel
        assert flow.receive("1234567890", NOW) == [LookupRow(dataset="cards", key="1234567890")]
    # A question's own retries are a cap too, and only where tries cost.
    source = RATION.replace("    length: 10-12\n", "    length: 10-12\n    retries: 1\n")
    assert isinstance(start(source, channel="web")[0].receive("x", NOW)[0], Ask)
    for channel in ("sms", "ussd", "voice", "", "missed"):
        flow, _ = start(RATION, max_attempts=3, channel=channel)
        flow.receive("", NOW)
        flow.receive("", NOW)
        [end] = flow.receive("", NOW)
        assert isinstance(end, End) and end.outcome == "failed", channel


@pytest.mark.parametrize(
    ("lang", "channel", "expected"),
    [
        ("en", "sms", "Please send an answer."),
        ("en", "web", "Please enter an answer."),
        ("hi", "ussd", "कृपया उत्तर भेजें।"),
        ("hi", "app", "कृपया उत्तर लिखें।"),
    ],
)
def test_a_refusal_is_worded_for_the_channel(lang: str, channel: str, expected: str) -> None:
    definition = parse_definition(RATION)
    flow, _ = Flow.start(definition, revision=1, lang=lang, now=NOW, channel=channel)
    [ask] = flow.receive("  ", NOW)
    assert isinstance(ask, Ask) and ask.error == expected


def test_a_refusal_without_a_form_wording_and_a_services_own_read_the_same() -> None:
    for channel in ("sms", "web"):
        flow, _ = start(RATION, channel=channel)
        [ask] = flow.receive("12ab", NOW)
        assert isinstance(ask, Ask) and ask.error == "Please enter digits only."
    own = RATION.replace(
        "    length: 10-12\n",
        '    length: 10-12\n    error: {en: "Card numbers are on page 1", hi: "पहले पन्ने पर"}\n',
    )
    for channel in ("sms", "web"):
        flow, _ = start(own, channel=channel)
        [ask] = flow.receive("12ab", NOW)
        assert isinstance(ask, Ask) and ask.error == "Card numbers are on page 1"


FILING = """
seva: 1
service: filing
department: MCD
title: {en: Filing, hi: आवेदन}
steps:
  - ask: name
    prompt: {en: "Name?", hi: "नाम?"}
  - apply: {kind: complaint, fields: [name]}
  - end: {en: "Filed {application.ref}", hi: "दर्ज {application.ref}"}
"""


def test_an_application_with_no_phone_to_tell_asks_for_one_first() -> None:
    flow, _ = start(FILING, channel="web", context={"phone": ""})
    [ask] = flow.receive("Asha", NOW)
    assert ask == Ask(
        var="phone", text="Your mobile number, for SMS updates on this application", kind="phone"
    )
    [again] = flow.receive("12345", NOW)
    assert isinstance(again, Ask) and again.error == "Please enter a valid 10-digit mobile number."
    [effect] = flow.receive("098110 00123", NOW)
    assert effect == CreateApplication(
        kind="complaint", status="Received", data={"name": "Asha"}, contact="+919811000123"
    )
    # The typed number is kept apart from the phone the channel vouches for.
    assert flow.state.vars["phone"] == ""
    [end] = flow.resolve(EffectResult(ok=True, data={"ref": "MCD-1"}), NOW)
    assert end == End(text="Filed MCD-1")


def test_a_known_phone_is_not_asked_for() -> None:
    flow, _ = start(FILING, channel="web", context={"phone": "+919811000123"})
    [effect] = flow.receive("Asha", NOW)
    assert effect == CreateApplication(kind="complaint", status="Received", data={"name": "Asha"})


BOOKING = """
seva: 1
service: visit
department: FOOD
title: {en: Visit, hi: मुलाक़ात}
steps:
  - id: times
    call_times: {save: times, limit: 3}
  - ask: slot
    type: choice
    options_from: times
    inline: true
    prompt: {en: "When?", hi: "कब?"}
  - book_call: {slot: "{slot}", on_missing: times}
  - end: {en: "{call.text} ({slot_label})", hi: "{call.text} ({slot_label})"}
"""

TIMES = [
    {"value": "2026-11-30T04:30:00+00:00", "label": "30-11 10:00"},
    {"value": "2026-11-30T04:45:00+00:00", "label": {"en": "30-11 10:15", "hi": "30-11 10:15"}},
    {"value": "", "label": "skipped: no value"},
    "skipped: not a pair",
]


def test_a_choice_offers_the_options_an_earlier_step_saved() -> None:
    flow, events = start(BOOKING)
    assert events == [FindCallTimes(limit=3, days=7)]
    [ask] = flow.resolve(EffectResult(ok=True, data=TIMES), NOW)
    assert isinstance(ask, Ask) and ask.inline and ask.kind == "choice"
    assert [(c.key, c.label) for c in ask.options] == [("1", "30-11 10:00"), ("2", "30-11 10:15")]
    refused = flow.receive("3", NOW)
    assert isinstance(refused[0], Ask) and refused[0].error == "Please choose a number from 1 to 2."
    assert flow.receive("2", NOW) == [BookCall(starts="2026-11-30T04:45:00+00:00")]
    # Taken meanwhile: the reason is said and the flow goes back for the times free now.
    again = flow.resolve(EffectResult(ok=True, data=None, refusal="Taken."), NOW)
    assert again == [Say(text="Taken.", personal=True), FindCallTimes(limit=3, days=7)]
    flow.resolve(EffectResult(ok=True, data=TIMES[:1]), NOW)
    flow.receive("1", NOW)
    [end] = flow.resolve(EffectResult(ok=True, data={"text": "Booked."}), NOW)
    assert end == End(text="Booked. (30-11 10:00)")


def test_nothing_to_offer_ends_with_the_gateways_reason() -> None:
    flow, _ = start(BOOKING)
    [end] = flow.resolve(EffectResult(ok=True, data=None, refusal="No free times."), NOW)
    assert end == End(text="No free times.", outcome="failed")
    flow, _ = start(BOOKING)
    [end] = flow.resolve(EffectResult(ok=False, reason="no phone", refusal="Log in."), NOW)
    assert end == End(text="Log in.", outcome="failed")
    # A saved list with nothing usable in it: there is nothing to ask.
    flow, _ = start(BOOKING)
    [end] = flow.resolve(EffectResult(ok=True, data=TIMES[2:]), NOW)
    assert isinstance(end, End) and end.outcome == "failed"


@pytest.mark.parametrize(
    ("step", "error"),
    [
        ("{ask: x, type: choice, prompt: Q}", "at least two options (or options_from)"),
        ("{ask: x, type: text, options_from: xs, prompt: Q}", "only for type: choice"),
        (
            "{ask: x, type: choice, options_from: xs, options: [{value: a, label: A}], prompt: Q}",
            "either from options or options_from",
        ),
        ("{book_call: {slot: '{x}', on_missing: nowhere}}", "goto 'nowhere' names no step id"),
    ],
)
def test_choices_from_saved_lists_and_call_steps_are_checked_on_load(step: str, error: str) -> None:
    source = (
        f"seva: 1\nservice: x-y\ndepartment: FOOD\ntitle: X\nlanguages: [en]\nsteps:\n  - {step}\n"
    )
    with pytest.raises(DefinitionError) as raised:
        parse_definition(source)
    assert error in str(raised.value)
