"""Request and response bodies of the citizen app API (``/api/v1``), as OpenAPI documents them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from seva.flows.events import Ask, End, Message, Say
from seva.flows.schema import SLUG_RE


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- login ----------------------------------------------------------------------------------


class OtpRequest(_In):
    phone: str = Field(min_length=1, max_length=32, examples=["+919900000001"])


class OtpSent(BaseModel):
    phone: str
    """The number the code went to, in E.164."""
    expires_in: int
    """Seconds the code stays valid."""
    retry_after: int
    """Seconds before another code may be asked for."""


class VerifyRequest(_In):
    phone: str = Field(min_length=1, max_length=32, examples=["+919900000001"])
    code: str = Field(min_length=1, max_length=12, examples=["123456"])


class TokenOut(BaseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type name
    expires_in: int
    """Seconds the token is valid; log in again afterwards."""
    phone: str


# -- catalogue ------------------------------------------------------------------------------


class UssdPlacementOut(BaseModel):
    order: int
    hidden: bool


class ServiceOut(BaseModel):
    department: str
    slug: str
    title: dict[str, str]
    """Title per language code (at least ``en``; ``hi`` for every bundled service)."""
    description: dict[str, str] | None
    keywords: list[str]
    languages: list[str]
    ussd: UssdPlacementOut


class DepartmentOut(BaseModel):
    code: str
    name: dict[str, str]
    languages: list[str]
    services: list[ServiceOut]


# -- conversations --------------------------------------------------------------------------


class StartRequest(_In):
    department: str = Field(min_length=2, max_length=16, examples=["FOOD"])
    service: str = Field(pattern=SLUG_RE, examples=["ration-card-status"])
    lang: str | None = Field(default=None, min_length=2, max_length=8, examples=["hi"])
    """This conversation's language; without it the citizen's registered language (or
    English)."""


class AnswerRequest(_In):
    text: str = Field(max_length=1600, examples=["1234567890"])


class ChoiceOut(BaseModel):
    key: str
    """What a keypad user would press: ``1`` … ``9``; sending it, the value or the label
    answers the question."""
    value: str
    label: str


class Question(BaseModel):
    var: str
    text: str
    kind: str
    """``text``, ``digits``, ``number``, ``choice``, ``yes_no``, ``date``, ``phone`` or
    ``pincode``: lets the app pick a keyboard or draw buttons."""
    options: list[ChoiceOut]
    error: str | None
    """Why the previous answer was refused, to show above the question."""
    attempt: int


class SayOut(BaseModel):
    type: Literal["say"] = "say"
    text: str


class AskOut(BaseModel):
    type: Literal["ask"] = "ask"
    var: str
    text: str
    kind: str
    options: list[ChoiceOut]
    error: str | None
    attempt: int


class EndOut(BaseModel):
    type: Literal["end"] = "end"
    text: str
    outcome: str
    """``completed``, ``failed``, ``timeout`` or ``cancelled``."""


MessageOut = Annotated[SayOut | AskOut | EndOut, Field(discriminator="type")]


class ConversationOut(BaseModel):
    id: str
    """Keep it to answer; it stops working when the conversation ends or times out."""
    messages: list[MessageOut]
    question: Question | None
    finished: bool
    answer: str | None
    """The final answer as one text: exactly what SMS and USSD send for the same inputs."""
    lang: str


def question_out(ask: Ask) -> Question:
    return Question(
        var=ask.var,
        text=ask.text,
        kind=ask.kind,
        options=[ChoiceOut(key=c.key, value=c.value, label=c.label) for c in ask.options],
        error=ask.error,
        attempt=ask.attempt,
    )


def message_out(message: Message) -> SayOut | AskOut | EndOut:
    match message:
        case Say(text=text):
            return SayOut(text=text)
        case Ask():
            return AskOut(**question_out(message).model_dump())
        case End(text=text, outcome=outcome):
            return EndOut(text=text, outcome=outcome)
    raise TypeError(f"not a message: {message!r}")


# -- the citizen ----------------------------------------------------------------------------


class LanguageOut(BaseModel):
    """A language Seva speaks, for an app's language chooser."""

    code: str
    name: str
    """In its own script (``தமிழ்``): what a chooser shows, whatever the app's language."""
    english: str
    direction: str
    """``rtl`` for Urdu: lay its texts out right to left."""


class LanguageRequest(_In):
    lang: str = Field(min_length=2, max_length=8, examples=["hi"])


class ConsentOut(BaseModel):
    department: str
    department_name: dict[str, str]
    fields: list[str]
    """Profile fields this department may use (given to it, or to be asked once)."""


class MeOut(BaseModel):
    phone: str
    language: str | None
    profile: dict[str, str]
    consents: list[ConsentOut]


class StatusOut(BaseModel):
    """What the STATUS keyword answers, on every channel."""

    ref: str
    status: str
    """In the reader's language (see ``lang``)."""
    status_code: str | None = None
    """A suggested status's stable code (``approved``), the same in every language; null
    for a status in the department's own words."""
    service: str
    department: str
    department_name: dict[str, str]
    updated: str
    """``DD-MM-YYYY``, as the SMS shows it."""
    note: str
