"""The flow engine: a sans-IO state machine that runs one conversation with one citizen.

Input in, events out. The engine never touches a socket, a database or a clock: the caller
passes ``now``, performs the effects the engine asks for (webhook calls, dataset lookups,
creating an application) and hands back their results, and stores ``state`` (plain JSON) where
it likes — the database or Redis. That is what lets SMS, USSD, voice, the web and the API run
the very same conversation, and lets tests run one without sleeping or serving HTTP.

Phases and the calls each accepts are a table (h11's ``_state.py`` style)::

    input  --receive-->  running  --(Ask)-->    input
                                  --(Effect)--> effect  --resolve-->  running
                                  --(End)-->    done
    input/effect  --handle_timer (expired) / cancel-->  done

What differs between channels is a property of the conversation, not of the page or the SMS
that renders it, so it lives here (``Medium``, one per channel): on a paid or session-bound
channel (SMS, USSD, a call) each try costs the citizen money or a session, so a question gives
up after its retries; at a form (the web portal, the CSC kiosk, the app) the citizen corrects the
answer in place, so it never gives up, and a refusal reads as a form error ("Please enter an
answer.") instead of a reply to a message ("Please send an answer.").

A service that files an application sends its status changes to the citizen by SMS. When the
conversation has no phone (an anonymous visitor on the web or in the app), the engine asks for a
mobile number just before it files, checked as any ``phone`` answer is, and the application is
filed with it (``CreateApplication.contact``) so the updates have somewhere to go.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from seva.flows import messages
from seva.flows.answers import Accepted, Refusal, longest, parse
from seva.flows.events import (
    Ask,
    BookCall,
    CallWebhook,
    CancelCall,
    Choice,
    CreateApplication,
    Effect,
    EffectResult,
    End,
    Event,
    FindApplication,
    FindCallTimes,
    FindNearby,
    ListCalls,
    LookupRow,
    MoveCall,
    Outcome,
    RememberField,
    Say,
)
from seva.flows.schema import (
    BOOKING_STEPS,
    MAX_OPTIONS,
    RESERVED_VARS,
    ApplyStep,
    AskStep,
    BookCallStep,
    BranchStep,
    CallStep,
    CallTimesStep,
    CancelCallStep,
    Condition,
    EndStep,
    GotoStep,
    LookupStep,
    MenuStep,
    MoveCallStep,
    MyCallsStep,
    NearbyStep,
    Option,
    SayStep,
    ServiceDefinition,
    StatusStep,
    Text,
    as_text,
    booking_spec,
)
from seva.flows.templating import lookup, placeholders, render

Phase = Literal["input", "effect", "done"]
MAX_STEPS_PER_TURN = 500
"""A goto loop with no question in it would spin forever; end it as a service error."""

_ALLOWED: dict[Phase, frozenset[str]] = {
    "input": frozenset({"receive", "handle_timer", "cancel"}),
    "effect": frozenset({"resolve", "handle_timer", "cancel"}),
    "done": frozenset(),
}


@dataclass(frozen=True, slots=True)
class Medium:
    """How a channel's citizen answers, as far as the conversation is concerned."""

    capped: bool
    """Each try costs money or a session (an SMS, a USSD session, a call): a question gives up
    after its retries (``AskStep.retries``, else the gateway's ``max_retries``)."""
    form: bool
    """The citizen types into a form and corrects the answer in place: refusals read as form
    errors (the ``_form`` variant of their catalog entry, where there is one)."""


MESSAGING = Medium(capped=True, form=False)
FORM = Medium(capped=False, form=True)
MEDIA: dict[str, Medium] = {
    "sms": MESSAGING,
    "ussd": MESSAGING,
    "voice": MESSAGING,
    "web": FORM,
    "kiosk": FORM,
    "app": FORM,
}
"""Channels by name (``Dialogue.channel``); one not listed is treated as messaging, the side
that ends a conversation rather than leaving it open."""


def medium(channel: str) -> Medium:
    return MEDIA.get(channel, MESSAGING)


CONTACT = AskStep.model_construct(
    ask="phone", type="phone", prompt=messages.CONTACT_PROMPT, options=[], profile=False
)
"""The question a conversation with no phone is asked before it files an application. Its
answer is kept apart from ``phone`` (the number the channel vouches for), so nothing trusts a
typed number as the caller's own."""


class FlowStateError(RuntimeError):
    """A call the current phase does not accept (e.g. ``receive`` after the flow ended)."""


@dataclass(slots=True, kw_only=True)
class FlowState:
    """Everything needed to resume a conversation; ``to_dict`` is JSON-serialisable."""

    service: str
    department: str
    revision: int
    lang: str
    expires_at: str
    pc: int = 0
    phase: Phase = "input"
    vars: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    attempts: int = 0
    outcome: str | None = None
    last_ask: dict[str, Any] | None = None
    contact: str | None = None
    """The mobile number a conversation without a phone gave for its application's updates."""
    asking_contact: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A copy sharing nothing with this state, made through JSON (which it must survive
        anyway): a fraction of the cost of ``dataclasses.asdict``'s recursion, on every turn."""
        fields = {name: getattr(self, name) for name in _STATE_FIELDS}
        copied: dict[str, Any] = json.loads(json.dumps(fields, ensure_ascii=False))
        return copied

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlowState:
        return cls(**data)


_STATE_FIELDS = tuple(f.name for f in fields(FlowState))


class Flow:
    """One conversation: drive it with ``start``, ``receive``, ``resolve``, ``handle_timer``."""

    def __init__(
        self,
        definition: ServiceDefinition,
        state: FlowState,
        *,
        ttl: timedelta = timedelta(minutes=5),
        max_attempts: int = 3,
        region: str = "IN",
        channel: str = "",
    ) -> None:
        self.definition = definition
        self.state = state
        self.ttl = ttl
        self.max_attempts = max_attempts
        self.region = region
        self.medium = medium(channel)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        definition: ServiceDefinition,
        *,
        revision: int,
        lang: str,
        now: datetime,
        ttl: timedelta = timedelta(minutes=5),
        max_attempts: int = 3,
        region: str = "IN",
        channel: str = "",
        profile: dict[str, str] | None = None,
        context: dict[str, Any] | None = None,
        args: list[str] | None = None,
    ) -> tuple[Flow, list[Event]]:
        """Begin the service; ``args`` answer its first questions (``RATION 1234567890``)."""
        if lang not in definition.languages:
            lang = "en"
        state = FlowState(
            service=definition.service,
            department=definition.department,
            revision=revision,
            lang=lang,
            expires_at=(now + ttl).isoformat(),
            vars=dict(context or {}),
            profile=dict(profile or {}),
            args=list(args or []),
        )
        flow = cls(
            definition, state, ttl=ttl, max_attempts=max_attempts, region=region, channel=channel
        )
        return flow, flow._run(now)

    # -- inputs -------------------------------------------------------------------------

    @property
    def phase(self) -> Phase:
        return self.state.phase

    @property
    def finished(self) -> bool:
        return self.state.phase == "done"

    def next_deadline(self) -> datetime | None:
        if self.finished:
            return None
        return datetime.fromisoformat(self.state.expires_at)

    def expired(self, now: datetime) -> bool:
        deadline = self.next_deadline()
        return deadline is not None and now >= deadline

    def receive(self, text: str, now: datetime) -> list[Event]:
        """The citizen's answer to the last question."""
        self._check("receive")
        step = self._step()
        if not isinstance(step, AskStep | MenuStep):
            raise FlowStateError("waiting for input but the current step asks nothing")
        self._touch(now)
        return self._answer(step, text, now)

    def receive_recording(self, ref: str, seconds: float, now: datetime) -> list[Event]:
        """The caller's spoken answer to a ``message`` question, stored as ``ref``.

        Kept apart from :meth:`receive` so typed text can never pose as a recording."""
        self._check("receive")
        step = self._step()
        if not isinstance(step, AskStep) or step.type != "message":
            raise FlowStateError("the current question does not take a recording")
        self._touch(now)
        self.state.vars[step.ask] = ref
        label = messages.pick(messages.VOICE_MESSAGE, self.state.lang)
        self.state.vars[f"{step.ask}_label"] = label.format(seconds=round(seconds))
        self.state.attempts = 0
        self.state.pc += 1
        return self._run(now)

    def resolve(self, result: EffectResult, now: datetime) -> list[Event]:
        """The outcome of the effect the engine last asked for."""
        self._check("resolve")
        step = self._step()
        self.state.phase = "input"
        events: list[Event] = []
        match step:
            case CallStep(call=spec):
                if result.ok:
                    self.state.vars[spec.save] = result.data
                    self.state.pc += 1
                elif spec.on_error:
                    self.state.pc = self.definition.index_of(spec.on_error)
                else:
                    return self._finish(self._t(spec.error or messages.SERVICE_ERROR), "failed")
            case LookupStep(lookup=spec) | StatusStep(status=spec) | NearbyStep(nearby=spec):
                return self._found(result, spec.save, spec.on_missing, spec.missing, now)
            case _ if isinstance(step, BOOKING_STEPS):
                booking = booking_spec(step)
                return self._found(result, booking.save, booking.on_missing, booking.missing, now)
            case ApplyStep(apply=spec):
                if not result.ok:
                    return self._finish(self._t(messages.SERVICE_ERROR), "failed")
                self.state.vars[spec.save] = result.data
                self.state.pc += 1
            case _:
                raise FlowStateError("an effect result arrived for a step that asked for none")
        return events + self._run(now)

    def _found(
        self,
        result: EffectResult,
        save: str,
        on_missing: str | None,
        missing: Text | None,
        now: datetime,
    ) -> list[Event]:
        """A step that finds something (a row, an application, free times): saved and on to
        the next step; when nothing was found, on to ``on_missing`` after the gateway's
        reason (if it gave one), or the end with ``missing``."""
        if not result.ok:
            return self._finish(self._failure(result), "failed")
        if result.data is not None:
            self.state.vars[save] = result.data
            self.state.pc += 1
            return self._run(now)
        if not on_missing:
            return self._finish(self._missing(missing, result), "failed")
        self.state.pc = self.definition.index_of(on_missing)
        return self._refused(result) + self._run(now)

    def _failure(self, result: EffectResult) -> str:
        """What the citizen is told when an effect failed: the gateway's reason in their
        words when it gave one, else that the service is not working."""
        return result.refusal or self._t(messages.SERVICE_ERROR)

    def _missing(self, own: Text | None, result: EffectResult) -> str:
        """What the citizen is told when nothing was found: the step's own words, else the
        gateway's reason, else "not found"."""
        if own:
            return self._t(own)
        return result.refusal or self._t(messages.NOT_FOUND)

    def _refused(self, result: EffectResult) -> list[Event]:
        """The gateway's reason, said before the flow goes on at ``on_missing``."""
        return [Say(text=result.refusal, personal=True)] if result.refusal else []

    def handle_timer(self, now: datetime) -> list[Event]:
        """End the conversation if it has waited past its deadline; else nothing."""
        if self.finished or not self.expired(now):
            return []
        return self._finish(self._t(messages.TIMED_OUT), "timeout")

    def cancel(self) -> list[Event]:
        self._check("cancel")
        return self._finish(self._t(messages.CANCELLED), "cancelled")

    # -- the interpreter ----------------------------------------------------------------

    def _check(self, call: str) -> None:
        if call not in _ALLOWED[self.state.phase]:
            raise FlowStateError(f"{call}() is not allowed while the flow is {self.state.phase}")

    def _touch(self, now: datetime) -> None:
        self.state.expires_at = (now + self.ttl).isoformat()

    def _step(self) -> Any:
        if self.state.asking_contact:
            return CONTACT
        return self.definition.steps[self.state.pc]

    def _templated(self, text: Text) -> bool:
        chosen = text.get(self.state.lang) or text.get("en") or ""
        return "{" in chosen and bool(placeholders(chosen))

    def _t(self, text: Text) -> str:
        lang = self.state.lang
        chosen = text.get(lang) or text.get("en") or ""
        return render(chosen, self.state.vars)

    def _finish(self, text: str, outcome: Outcome) -> list[Event]:
        self.state.phase = "done"
        self.state.outcome = outcome
        self.state.args = []
        return [End(text=text, outcome=outcome)]

    def _run(self, now: datetime) -> list[Event]:
        events: list[Event] = []
        for _ in range(MAX_STEPS_PER_TURN):
            if self.state.pc >= len(self.definition.steps):
                events += self._finish(self._t(messages.DONE), "completed")
                return events
            step = self._step()
            match step:
                case SayStep(say=text):
                    events.append(Say(text=self._t(text), personal=self._templated(text)))
                    self.state.pc += 1
                case EndStep(end=text, outcome=outcome):
                    events += self._finish(self._t(text), outcome)
                    return events
                case GotoStep(goto=target):
                    self.state.pc = self.definition.index_of(target)
                case BranchStep(branch=cases):
                    chosen = self._branch(cases)
                    self.state.pc = (
                        self.state.pc + 1 if chosen is None else self.definition.index_of(chosen)
                    )
                case ApplyStep() if self._wants_contact():
                    self.state.asking_contact = True
                    self.state.attempts = 0
                    events.append(self._ask(CONTACT))
                    return events
                case AskStep(options_from=str()) if not self._options(step):
                    # The list it offers is empty: a flow that does not check for that
                    # (``on_missing``) has nothing to ask.
                    events += self._finish(self._t(messages.NOT_FOUND), "failed")
                    return events
                case AskStep() | MenuStep():
                    known = self._known(step)
                    if known is not None and isinstance(step, AskStep):
                        self.state.vars[step.ask] = known
                        self.state.pc += 1
                        continue
                    if self.state.args:
                        answer = self._take_args(step)
                        events += self._answer(step, answer, now)
                        return events
                    self.state.attempts = 0
                    events.append(self._ask(step))
                    return events
                case _:
                    effect = self._effect(step)
                    self.state.phase = "effect"
                    events.append(effect)
                    return events
        events += self._finish(self._t(messages.SERVICE_ERROR), "failed")
        return events

    def _wants_contact(self) -> bool:
        """An application is about to be filed and nobody can be told about it."""
        return not self.state.vars.get("phone") and not self.state.contact

    def _known(self, step: AskStep | MenuStep) -> str | None:
        if isinstance(step, AskStep) and step.profile_field:
            return self.state.profile.get(step.profile_field)
        return None

    def _take_args(self, step: AskStep | MenuStep) -> str:
        if isinstance(step, AskStep) and step.type in ("text", "message"):
            answer = " ".join(self.state.args)
            self.state.args = []
            return answer
        return self.state.args.pop(0)

    def _options(self, step: AskStep | MenuStep) -> list[Option]:
        if isinstance(step, AskStep) and step.type == "yes_no":
            return [
                Option(value="yes", label=messages.YES),
                Option(value="no", label=messages.NO),
            ]
        if isinstance(step, AskStep) and step.options_from is not None:
            return saved_options(lookup(self.state.vars, step.options_from))
        return list(step.options)

    def _as_ask(self, step: AskStep | MenuStep) -> AskStep:
        """The question as ``answers.parse`` reads it: a menu as a choice, and a choice whose
        options come from a saved list with that list as its options."""
        if isinstance(step, MenuStep):
            return AskStep(ask=step.menu, type="choice", prompt=step.prompt, options=step.options)
        if step.options_from is not None:
            return step.model_copy(update={"options": self._options(step)})
        return step

    def _ask(self, step: AskStep | MenuStep, error: str | None = None) -> Ask:
        kind = "choice" if isinstance(step, MenuStep) else step.type
        choices = tuple(
            Choice(key=str(i), value=o.value, label=self._t(o.label))
            for i, o in enumerate(self._options(step), start=1)
        )
        self.state.phase = "input"
        ask = Ask(
            var=step.menu if isinstance(step, MenuStep) else step.ask,
            text=self._t(step.prompt),
            kind=kind,
            options=choices,
            error=error,
            attempt=self.state.attempts + 1,
            seconds=step.record_seconds
            if isinstance(step, AskStep) and kind == "message"
            else None,
            personal=self._templated(step.prompt)
            or (isinstance(step, AskStep) and step.options_from is not None),
            max_length=longest(step) if isinstance(step, AskStep) else None,
            inline=isinstance(step, AskStep) and step.inline,
        )
        self.state.last_ask = {"var": ask.var, "text": ask.text, "kind": kind}
        if ask.seconds is not None:
            self.state.last_ask["seconds"] = ask.seconds
        return ask

    def _answer(self, step: AskStep | MenuStep, text: str, now: datetime) -> list[Event]:
        as_ask = self._as_ask(step)
        result = parse(as_ask, text, region=self.region, today=_today(now))
        if not isinstance(result, Accepted):
            self.state.attempts += 1
            self.state.args = []
            allowed = (step.retries if isinstance(step, AskStep) else None) or self.max_attempts
            if self.medium.capped and self.state.attempts >= allowed:
                return self._finish(self._t(messages.TOO_MANY_TRIES), "failed")
            return [self._ask(step, error=self._refusal(result))]
        if self.state.asking_contact:
            self.state.contact = result.value
            self.state.asking_contact = False
            self.state.attempts = 0
            return self._run(now)
        events: list[Event] = []
        var = as_ask.ask
        self.state.vars[var] = result.value
        if result.label is not None:
            self.state.vars[f"{var}_label"] = self._label(step, result.value)
        self.state.attempts = 0
        if isinstance(step, AskStep) and step.profile_field:
            self.state.profile[step.profile_field] = result.value
            events.append(RememberField(field=step.profile_field, value=result.value))
        if result.goto:
            self.state.pc = self.definition.index_of(result.goto)
        else:
            self.state.pc += 1
        return events + self._run(now)

    def _refusal(self, refusal: Refusal) -> str:
        """Why the answer was refused, worded for the channel (``Medium.form``); the service's
        own words are filled in from the conversation as its other texts are."""
        wording = refusal.wording(self.state.lang, form=self.medium.form)
        return render(wording, self.state.vars) if refusal.own is not None else wording

    def _label(self, step: AskStep | MenuStep, value: str) -> str:
        for option in self._options(step):
            if option.value == value:
                return self._t(option.label)
        return value

    def _branch(self, cases: list[Any]) -> str | None:
        """The target of the first case that holds; None falls through to the next step."""
        for case in cases:
            if case.when is None or _holds(case.when, self.state.vars):
                return str(case.goto)
        return None

    def _effect(self, step: Any) -> Effect:
        v = self.state.vars
        match step:
            case CallStep(call=spec):
                return CallWebhook(
                    url=render(spec.url, v, _url_escape),
                    method=spec.method,
                    body={k: render(t, v) for k, t in spec.body.items()},
                    timeout=spec.timeout,
                    retries=spec.retries,
                )
            case LookupStep(lookup=spec):
                return LookupRow(dataset=spec.dataset, key=render(spec.key, v).strip())
            case ApplyStep(apply=spec):
                fields = spec.fields or [
                    k for k in v if not k.endswith("_label") and k not in RESERVED_VARS
                ]
                data = {k: render("{" + k + "}", v) for k in fields if k in v}
                kind = spec.kind or self.definition.service
                return CreateApplication(
                    kind=kind,
                    status=spec.status_name,
                    status_texts=spec.status_texts,
                    data=data,
                    contact=self.state.contact,
                )
            case StatusStep(status=spec):
                return FindApplication(ref=render(spec.ref, v).strip().upper())
            case NearbyStep(nearby=spec):
                return FindNearby(
                    pincode=render(spec.pincode, v).strip(), kind=spec.kind, limit=spec.limit
                )
            case CallTimesStep(call_times=spec):
                return FindCallTimes(
                    limit=spec.limit,
                    days=spec.days,
                    moving=spec.moving,
                    call=render(spec.call, v).strip(),
                )
            case BookCallStep(book_call=spec):
                return BookCall(starts=render(spec.slot, v).strip())
            case MoveCallStep(move_call=spec):
                return MoveCall(
                    starts=render(spec.slot, v).strip(), call=render(spec.call, v).strip()
                )
            case CancelCallStep(cancel_call=spec):
                return CancelCall(call=render(spec.call, v).strip())
            case MyCallsStep(my_calls=spec):
                return ListCalls(limit=spec.limit)
        raise FlowStateError(f"step {self.state.pc} has no known type")


def saved_options(saved: Any) -> list[Option]:
    """A saved list of ``{value, label}`` as a choice's options (``options_from``): entries
    that are not such pairs are skipped, and the first nine kept (one key each on a phone).
    A label is a text by language or one string for all of them."""
    if not isinstance(saved, list):
        return []
    options: list[Option] = []
    for item in saved:
        if not isinstance(item, dict):
            continue
        value, label = item.get("value"), item.get("label")
        if not isinstance(value, str | int) or not str(value) or len(str(value)) > 64:
            continue
        if isinstance(label, str | int) and str(label):
            text = as_text(str(label))
        elif isinstance(label, dict) and all(isinstance(t, str) for t in label.values()):
            text = {str(lang): str(t) for lang, t in label.items() if t}
        else:
            continue
        if "en" not in text and text:
            text["en"] = next(iter(text.values()))
        if text:
            options.append(Option.model_construct(value=str(value), label=text, goto=None))
        if len(options) == MAX_OPTIONS:
            break
    return options


def _url_escape(name: str, value: str) -> str:
    """Citizen answers are percent-encoded inside URLs; gateway settings are trusted."""
    return value if name.startswith("seva.") else quote(value, safe="")


def _today(now: datetime) -> date:
    return now.date()


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _holds(condition: Condition, variables: dict[str, Any]) -> bool:
    actual = lookup(variables, condition.var)
    expected = condition.value
    op = condition.op
    if op == "empty":
        return actual in (None, "", [], {})
    if op == "not_empty":
        return actual not in (None, "", [], {})
    if op == "in":
        options = expected if isinstance(expected, list) else [expected]
        return str(actual).casefold() in {str(o).casefold() for o in options}
    a, b = _number(actual), _number(expected)
    if a is not None and b is not None:
        left: Any = a
        right: Any = b
    else:
        left = "" if actual is None else str(actual).casefold()
        right = "" if expected is None else str(expected).casefold()
    try:
        match op:
            case "eq":
                return bool(left == right)
            case "ne":
                return bool(left != right)
            case "lt":
                return bool(left < right)
            case "le":
                return bool(left <= right)
            case "gt":
                return bool(left > right)
            case "ge":
                return bool(left >= right)
    except TypeError:
        return False
    return False


__all__ = [
    "MEDIA",
    "Ask",
    "Choice",
    "CreateApplication",
    "EffectResult",
    "End",
    "FindApplication",
    "FindNearby",
    "Flow",
    "FlowState",
    "FlowStateError",
    "LookupRow",
    "Medium",
    "RememberField",
    "Say",
]
