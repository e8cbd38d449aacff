"""The service-definition format (``seva: 1``), validated on load.

A department developer writes one YAML (or JSON) file per service. The format borrows from
RapidPro's goflow the idea of a flow as a list of typed steps that read and write named
results, and drops what makes goflow hard to write by hand (node UUIDs, routers, exits and
categories): steps run top to bottom, ``goto`` jumps to a step ``id``, and a step is known by
the one key that names its type::

    seva: 1
    service: ration-card-status
    department: FOOD
    title: {en: Ration card status, hi: राशन कार्ड की स्थिति}
    keywords: [RATION]
    local_keywords: {hi: [राशन], ta: [ரேஷன்]}
    steps:
      - ask: card_no
        type: digits
        length: 10-12
        prompt: {en: Enter your ration card number, hi: अपना राशन कार्ड नंबर दर्ज करें}
      - lookup: {dataset: ration-cards, key: "{card_no}", save: card}
      - end: {en: "Card {card_no}: {card.status}", hi: "कार्ड {card_no}: {card.status}"}

Every citizen-facing text is a mapping of language code to string and must carry each language
the service declares (English and Hindi by default). ``local_keywords`` gives the keyword as
citizens type it in their own scripts, carried into the other Indian scripts unless
``transliterate: false`` (``seva.flows.keywords``). ``docs/service-format.md`` is the
reference for every step and field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from seva.flows.keywords import MAX_WORDS, Word, words_of
from seva.flows.keywords import problem as word_problem
from seva.flows.templating import placeholders
from seva.i18n.languages import NAMES

FORMAT_VERSION = 1
NAME_RE = r"^[a-z][a-z0-9_]{0,39}$"
RESERVED_VARS = frozenset({"phone", "seva"})
"""Context the runtime provides (``seva.*`` holds gateway settings such as ``base_url``):
no step may save under these names, or a backend's answer saved as ``seva`` would be trusted
as a gateway setting inside the next call's URL."""


def _not_reserved(name: str) -> str:
    if name in RESERVED_VARS:
        raise ValueError(f"{name!r} is reserved for what the gateway fills in")
    return name


Name = Annotated[str, Field(pattern=NAME_RE), AfterValidator(_not_reserved)]
"""A step id or a variable name."""
VAR_PATH_RE = r"^[a-z][a-z0-9_]{0,39}(\.[a-z0-9_]{1,40}){0,4}$"
"""A saved variable, or a field inside one (``found.times``)."""
MAX_OPTIONS = 9
"""Each option is one key on a phone."""
SLUG_RE = r"^[a-z0-9][a-z0-9-]{1,62}$"
KEYWORD_RE = re.compile(r"^[A-Z][A-Z0-9]{1,19}$")
LANGUAGES = NAMES
"""The languages a service may speak, by code, each with its own name."""

Text = dict[str, str]
"""A citizen-facing string per language code."""


class CrossCheckError(ValueError):
    """Problems that span steps (unknown goto targets, missing translations), each with a path."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def as_text(value: Any) -> Any:
    """A bare string is shorthand for an English-only text (any other value is left for the
    model to check): how a definition, a saved label and a translation file read one."""
    if isinstance(value, str):
        return {"en": value}
    return value


LocalText = Annotated[Text, Field(min_length=1)]


class Option(_Model):
    value: str = Field(min_length=1, max_length=64)
    label: LocalText
    goto: str | None = None

    _label = field_validator("label", mode="before")(as_text)


class Condition(_Model):
    var: str = Field(min_length=1, max_length=80)
    op: Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "empty", "not_empty"] = "eq"
    value: str | float | int | list[str] | None = None


class Case(_Model):
    when: Condition | None = None
    """No ``when`` means "otherwise"; it must come last."""
    goto: str


class _Step(_Model):
    id: Name | None = None


class SayStep(_Step):
    say: LocalText

    _say = field_validator("say", mode="before")(as_text)


class EndStep(_Step):
    end: LocalText
    outcome: Literal["completed", "failed"] = "completed"

    _end = field_validator("end", mode="before")(as_text)


AskType = Literal[
    "text", "digits", "number", "choice", "yes_no", "date", "phone", "pincode", "message"
]
"""``message``: the citizen's own words. Spoken and recorded on a phone call (the value is a
``voice:…`` reference to the recording, fetched through the voice API); typed on every other
channel (the value is the text)."""
DEFAULT_RECORD_SECONDS = 60


class AskStep(_Step):
    ask: Name
    type: AskType = "text"
    prompt: LocalText
    options: list[Option] = Field(default_factory=list)
    length: str | int | None = None
    """``10`` or ``10-12``: allowed number of characters (digits) in the answer."""
    min: float | None = None
    max: float | None = None
    pattern: str | None = Field(default=None, max_length=200)
    error: LocalText | None = None
    retries: int | None = Field(default=None, ge=1, le=10)
    profile: bool | str = False
    """Keep the answer in the citizen registry (under this name, or ``ask``'s) and skip the
    question next time when the citizen has let this department use it."""
    seconds: int | None = Field(default=None, ge=5, le=300)
    """``message`` only: the longest recording a caller may leave (60 by default)."""
    options_from: str | None = Field(default=None, pattern=VAR_PATH_RE)
    """``choice`` only: the options are a list an earlier step saved under this name, each
    ``{value, label}`` (a label is a text, or one string for every language); the first nine
    are offered. The free times of ``call_times`` are such a list."""
    inline: bool = False
    """``choice`` only: short options (times, dates) that follow the question on one line
    where a message is paid for (SMS: ``Question, reply 1-5: 1) … 2) …``)."""

    _prompt = field_validator("prompt", "error", mode="before")(as_text)

    @field_validator("length")
    @classmethod
    def _length(cls, value: str | int | None) -> str | int | None:
        if isinstance(value, str) and not re.fullmatch(r"\d{1,3}(-\d{1,3})?", value):
            raise ValueError("length must be a number or a range like 10-12")
        return value

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _options(self) -> AskStep:
        if self.options_from is not None and self.options:
            raise ValueError("a choice takes its options either from options or options_from")
        if self.type == "choice" and self.options_from is None and len(self.options) < 2:
            raise ValueError("a choice question needs at least two options (or options_from)")
        if self.type != "choice" and (self.options or self.options_from or self.inline):
            raise ValueError("options, options_from and inline are only for type: choice")
        if len(self.options) > MAX_OPTIONS:
            raise ValueError("at most 9 options, so each is one key on a phone")
        if self.seconds is not None and self.type != "message":
            raise ValueError("seconds is only for type: message")
        if self.type == "message" and self.profile is not False:
            raise ValueError("a message cannot be kept in the citizen's profile")
        return self

    @property
    def record_seconds(self) -> int:
        return self.seconds or DEFAULT_RECORD_SECONDS

    @property
    def length_range(self) -> tuple[int, int] | None:
        if self.length is None:
            return None
        if isinstance(self.length, int):
            return self.length, self.length
        low, _, high = self.length.partition("-")
        return int(low), int(high or low)

    @property
    def profile_field(self) -> str | None:
        if self.profile is False:
            return None
        return self.ask if self.profile is True else self.profile


class MenuStep(_Step):
    """Shorthand for a choice question whose options jump to other steps."""

    menu: Name
    prompt: LocalText
    options: list[Option] = Field(min_length=2, max_length=9)

    _prompt = field_validator("prompt", mode="before")(as_text)


class BranchStep(_Step):
    branch: list[Case] = Field(min_length=1)

    @field_validator("branch")
    @classmethod
    def _otherwise_last(cls, cases: list[Case]) -> list[Case]:
        for case in cases[:-1]:
            if case.when is None:
                raise ValueError("a case without 'when' (otherwise) must be the last one")
        return cases


class GotoStep(_Step):
    goto: str


class CallSpec(_Model):
    url: str = Field(pattern=r"^(https?://|\{seva\.base_url\}/)")
    method: Literal["GET", "POST"] = "POST"
    body: dict[str, str] = Field(default_factory=dict)
    """Fields sent as JSON; values are templates (``"{card_no}"``)."""
    save: Name
    timeout: float | None = Field(default=None, gt=0, le=30)
    retries: int | None = Field(default=None, ge=0, le=5)
    on_error: str | None = None
    error: LocalText | None = None

    _error = field_validator("error", mode="before")(as_text)


class CallStep(_Step):
    call: CallSpec


class LookupSpec(_Model):
    dataset: str = Field(pattern=SLUG_RE)
    key: str = Field(min_length=1)
    save: Name
    on_missing: str | None = None
    missing: LocalText | None = None

    _missing = field_validator("missing", mode="before")(as_text)


class LookupStep(_Step):
    lookup: LookupSpec


class ApplySpec(_Model):
    kind: str = Field(default="", max_length=64)
    fields: list[str] = Field(default_factory=list)
    status: str | LocalText = "Received"
    """The new application's status: a name (a suggested one, ``Received``, reaches each
    citizen in their language from the gateway's catalog; any other reads as written), or a
    text per language like any other (``{en: Registered, hi: पंजीकृत}``), kept in English
    with the others as its translations."""
    save: Name = "application"

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | Text) -> str | Text:
        for name in [value] if isinstance(value, str) else value.values():
            if not 1 <= len(" ".join(name.split())) <= 64:
                raise ValueError("a status is 1-64 characters")
        return value

    @property
    def status_name(self) -> str:
        """The status as the department's records keep it (English)."""
        return self.status if isinstance(self.status, str) else self.status.get("en", "")

    @property
    def status_texts(self) -> Text:
        """The status in the service's other languages."""
        if isinstance(self.status, str):
            return {}
        return {lang: text for lang, text in self.status.items() if lang != "en"}


class ApplyStep(_Step):
    apply: ApplySpec


class StatusSpec(_Model):
    ref: str = Field(min_length=1)
    save: Name = "app"
    on_missing: str | None = None
    missing: LocalText | None = None

    _missing = field_validator("missing", mode="before")(as_text)


class StatusStep(_Step):
    """Finds an application by reference (the built-in STATUS service)."""

    status: StatusSpec


class NearbySpec(_Model):
    pincode: str = Field(min_length=1)
    kind: Literal["office", "csc", "any"] = "any"
    limit: int = Field(default=3, ge=1, le=5)
    save: Name = "places"
    on_missing: str | None = None
    missing: LocalText | None = None

    _missing = field_validator("missing", mode="before")(as_text)


class NearbyStep(_Step):
    """Lists the nearest offices/CSCs to a pincode (the built-in NEAR service)."""

    nearby: NearbySpec


class BookingSpec(_Model):
    """What every step about calls with the department's officials shares. The citizen is
    the conversation's (a call needs their phone: a conversation without one is told to log
    in), the department the service's. When there is nothing to act on (no free time, no
    booked call, a time taken meanwhile) the flow goes to ``on_missing`` after telling the
    citizen why, or ends with ``missing`` (else the gateway's own words for it)."""

    save: Name
    on_missing: str | None = None
    missing: LocalText | None = None

    _missing = field_validator("missing", mode="before")(as_text)


class CallTimesSpec(BookingSpec):
    save: Name = "times"
    """A list of ``{value: ISO start, label: IST time}`` for ``options_from``."""
    limit: int = Field(default=5, ge=1, le=MAX_OPTIONS)
    days: int = Field(default=7, ge=1, le=90)
    moving: bool = False
    """Times for a booked call to move to: the time it holds counts as free, except its own
    start (moving there would be no move)."""
    call: str = ""
    """With ``moving``: the booked call (``{call}``, the value of a ``my_calls`` choice);
    empty: the citizen's next call with the department."""


class CallTimesStep(_Step):
    """The department's next free times to talk to an official."""

    call_times: CallTimesSpec


class BookCallSpec(BookingSpec):
    slot: str = Field(min_length=1)
    """The start to book: a template, usually the ``{slot}`` chosen from ``call_times``."""
    save: Name = "call"
    """``{call.text}``: the booking told in the citizen's language (the join link, or that it
    is coming by SMS); ``{call.when}``, ``{call.link}``, ``{call.ref}``."""


class BookCallStep(_Step):
    book_call: BookCallSpec


class MoveCallSpec(BookingSpec):
    slot: str = Field(min_length=1)
    call: str = ""
    """The booked call to move (``{call}``); empty: the citizen's next call."""
    save: Name = "moved"


class MoveCallStep(_Step):
    """Moves a booked call; a refused move leaves the citizen with the time they had."""

    move_call: MoveCallSpec


class CancelCallSpec(BookingSpec):
    call: str = ""
    save: Name = "cancelled"


class CancelCallStep(_Step):
    cancel_call: CancelCallSpec


class MyCallsSpec(BookingSpec):
    save: Name = "calls"
    """A list of ``{value: the call's reference, label: IST time}`` for ``options_from``."""
    limit: int = Field(default=5, ge=1, le=MAX_OPTIONS)


class MyCallsStep(_Step):
    """The citizen's booked calls with the department, soonest first."""

    my_calls: MyCallsSpec


BOOKING_STEPS = (CallTimesStep, BookCallStep, MoveCallStep, CancelCallStep, MyCallsStep)


STEP_KINDS = (
    "say",
    "ask",
    "menu",
    "branch",
    "goto",
    "call",
    "lookup",
    "apply",
    "status",
    "nearby",
    "call_times",
    "book_call",
    "move_call",
    "cancel_call",
    "my_calls",
    "end",
)


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        found = [kind for kind in STEP_KINDS if kind in value]
        if len(found) == 1:
            return found[0]
        return None
    for kind in STEP_KINDS:
        if isinstance(value, _STEP_CLASSES[kind]):
            return kind
    return None


Step = Annotated[
    Annotated[SayStep, Tag("say")]
    | Annotated[AskStep, Tag("ask")]
    | Annotated[MenuStep, Tag("menu")]
    | Annotated[BranchStep, Tag("branch")]
    | Annotated[GotoStep, Tag("goto")]
    | Annotated[CallStep, Tag("call")]
    | Annotated[LookupStep, Tag("lookup")]
    | Annotated[ApplyStep, Tag("apply")]
    | Annotated[StatusStep, Tag("status")]
    | Annotated[NearbyStep, Tag("nearby")]
    | Annotated[CallTimesStep, Tag("call_times")]
    | Annotated[BookCallStep, Tag("book_call")]
    | Annotated[MoveCallStep, Tag("move_call")]
    | Annotated[CancelCallStep, Tag("cancel_call")]
    | Annotated[MyCallsStep, Tag("my_calls")]
    | Annotated[EndStep, Tag("end")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step needs exactly one of: " + ", ".join(STEP_KINDS),
    ),
]

_STEP_CLASSES: dict[str, type[_Step]] = {
    "say": SayStep,
    "ask": AskStep,
    "menu": MenuStep,
    "branch": BranchStep,
    "goto": GotoStep,
    "call": CallStep,
    "lookup": LookupStep,
    "apply": ApplyStep,
    "status": StatusStep,
    "nearby": NearbyStep,
    "call_times": CallTimesStep,
    "book_call": BookCallStep,
    "move_call": MoveCallStep,
    "cancel_call": CancelCallStep,
    "my_calls": MyCallsStep,
    "end": EndStep,
}


class UssdPlacement(_Model):
    order: int = Field(default=100, ge=0, le=999)
    hidden: bool = False


class ServiceDefinition(_Model):
    seva: Literal[1] = Field(description="Format version of this file.")
    service: str = Field(pattern=SLUG_RE)
    department: str = Field(pattern=r"^[A-Z][A-Z0-9]{1,15}$")
    title: LocalText
    description: LocalText | None = None
    keywords: list[str] = Field(default_factory=list, max_length=10)
    local_keywords: dict[str, Annotated[list[str], Field(min_length=1, max_length=MAX_WORDS)]] = (
        Field(default_factory=dict, max_length=len(LANGUAGES))
    )
    """The keyword in other languages, each in its own script (``{hi: [राशन]}``):
    ``seva.flows.keywords``."""
    transliterate: bool = True
    """Carry ``local_keywords`` into the Indian scripts none of them is written in."""
    ussd: UssdPlacement = Field(default_factory=UssdPlacement)
    languages: list[str] = Field(default_factory=lambda: ["en", "hi"], min_length=1)
    steps: list[Step] = Field(min_length=1, max_length=200)

    _title = field_validator("title", "description", mode="before")(as_text)

    @field_validator("keywords", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [v.strip().upper() if isinstance(v, str) else v for v in value]
        return value

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        for keyword in value:
            if not KEYWORD_RE.match(keyword):
                raise ValueError(
                    f"keyword {keyword!r} must be 2-20 letters/digits starting with a letter"
                )
        return value

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        for lang in value:
            if lang not in LANGUAGES:
                raise ValueError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
        if "en" not in value:
            raise ValueError("English (en) is required as the fallback language")
        return value

    @model_validator(mode="after")
    def _cross_check(self) -> ServiceDefinition:
        problems = list(self._problems())
        if problems:
            raise CrossCheckError(problems)
        return self

    def _problems(self) -> Iterator[tuple[str, str]]:
        ids: dict[str, int] = {}
        for index, step in enumerate(self.steps):
            if step.id is not None:
                if step.id in ids:
                    where = f"steps.{ids[step.id]}"
                    yield f"steps.{index}.id", f"id {step.id!r} is already used by {where}"
                ids[step.id] = index
        for index, step in enumerate(self.steps):
            for target in _targets(step):
                if target not in ids:
                    yield f"steps.{index}", f"goto {target!r} names no step id"
            for where, text in _texts(step):
                missing = [lang for lang in self.languages if not text.get(lang)]
                if missing:
                    yield f"steps.{index}.{where}", f"missing language(s) {', '.join(missing)}"
                for lang, body in text.items():
                    if lang not in LANGUAGES:
                        yield f"steps.{index}.{where}.{lang}", f"unknown language {lang!r}"
                    try:
                        placeholders(body)
                    except ValueError as exc:
                        yield f"steps.{index}.{where}.{lang}", str(exc)
        for lang, words in self.local_keywords.items():
            for index, word in enumerate(words):
                wrong = word_problem(word, lang)
                if wrong is not None:
                    yield f"local_keywords.{lang}.{index}", wrong
        for where, heading in (("title", self.title), ("description", self.description)):
            if heading is not None:
                missing = [lang for lang in self.languages if not heading.get(lang)]
                if missing:
                    yield where, f"missing language(s) {', '.join(missing)}"

    def index_of(self, step_id: str) -> int:
        for index, step in enumerate(self.steps):
            if step.id == step_id:
                return index
        raise KeyError(step_id)

    @property
    def local_words(self) -> tuple[Word, ...]:
        """Every word the service is found by beside its keywords (``seva.flows.keywords``)."""
        return words_of(self.local_keywords, self.transliterate)

    @property
    def files_applications(self) -> bool:
        """The service may file an application, whose every status change is sent to its
        citizen by SMS: a promise of updates that needs a number to keep."""
        return any(isinstance(step, ApplyStep) for step in self.steps)


def _targets(step: _Step) -> list[str]:
    match step:
        case AskStep(options=options) | MenuStep(options=options):
            return [o.goto for o in options if o.goto]
        case BranchStep(branch=cases):
            return [c.goto for c in cases]
        case GotoStep(goto=target):
            return [target]
        case CallStep(call=spec):
            return [spec.on_error] if spec.on_error else []
        case LookupStep(lookup=spec) | StatusStep(status=spec) | NearbyStep(nearby=spec):
            return [spec.on_missing] if spec.on_missing else []
        case CallTimesStep() | BookCallStep() | MoveCallStep() | CancelCallStep() | MyCallsStep():
            booking = booking_spec(step)
            return [booking.on_missing] if booking.on_missing else []
    return []


def booking_spec(step: _Step) -> BookingSpec:
    """The spec of a step about calls (``BOOKING_STEPS``)."""
    spec = getattr(step, _step_kind(step) or "", None)
    if not isinstance(spec, BookingSpec):
        raise TypeError(f"{type(step).__name__} is not a step about calls")
    return spec


def _texts(step: _Step) -> list[tuple[str, Text]]:
    found: list[tuple[str, Text]] = []
    match step:
        case SayStep(say=text):
            found.append(("say", text))
        case EndStep(end=text):
            found.append(("end", text))
        case AskStep() | MenuStep():
            found.append(("prompt", step.prompt))
            if isinstance(step, AskStep) and step.error:
                found.append(("error", step.error))
            found += [(f"options.{i}.label", o.label) for i, o in enumerate(step.options)]
        case CallStep(call=spec) if spec.error:
            found.append(("call.error", spec.error))
        case LookupStep(lookup=spec) if spec.missing:
            found.append(("lookup.missing", spec.missing))
        case StatusStep(status=spec) if spec.missing:
            found.append(("status.missing", spec.missing))
        case NearbyStep(nearby=spec) if spec.missing:
            found.append(("nearby.missing", spec.missing))
        case ApplyStep(apply=spec) if isinstance(spec.status, dict):
            found.append(("apply.status", spec.status))
        case CallTimesStep() | BookCallStep() | MoveCallStep() | CancelCallStep() | MyCallsStep():
            booking = booking_spec(step)
            if booking.missing:
                found.append((f"{_step_kind(step)}.missing", booking.missing))
    return found
