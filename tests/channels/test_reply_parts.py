"""How many SMS parts the gateway's own replies take, in every shipped language.

A reply in an Indian script goes out in UCS-2: 70 characters in one part, 67 a part when
longer, where English gets 160 and 153. Each part is billed, and a long reply arrives in
pieces on a basic phone, so the replies the gateway sends most are held to a budget: the
unknown-keyword reply and the language confirmation to one part in every language, the others
to the parts they take now (``BUDGET``), so a change that lengthens one fails here.

A language not in the table yet (a catalog that has just landed) is held to the most any
recorded language takes for that reply; add its row when it ships.

Parts per language as recorded, with all thirteen languages shipped::

    kind           en  hi bn mr te ta gu ur kn or ml pa as
    help            3   6  6  6  6  6  6  6  6  6  6  6  6
    unknown         1   1  1  1  1  1  1  1  1  1  1  1  1
    languages       3   3  3  3  3  3  3  3  3  3  3  3  3
    language_set    1   1  1  1  1  1  1  1  1  1  1  1  1
    stop            1   2  2  2  2  2  2  2  2  2  2  2  2
    start           1   1  1  1  1  1  1  1  1  1  1  1  1
    stop_one        1   2  2  2  2  2  2  2  2  2  2  2  2
    start_one       1   2  2  2  2  2  2  2  2  2  2  2  2
    call_times      1   2  2  2  2  2  2  2  2  2  2  2  2
    call_booked     1   2  2  2  2  2  2  2  2  2  2  2  2
    first_prompt    1   1  1  1  1  2  1  1  1  1  2  1  1
    long_prompt     1   2  2  2  2  2  2  2  2  2  2  2  2

``languages`` is the ``LANG`` list (13 languages by code and own name); ``stop_one`` and
``start_one`` name the department with the longest name in the language; ``first_prompt`` is
the first question of each demo service but the complaint's (``long_prompt``, a menu of
problems): in Tamil and Malayalam the crop menu of MANDI takes two parts (81 and 74
characters); ``call_times`` offers the free times to talk to an official and ``call_booked``
is the SMS with the join link, counted as if the gateway were at ``BASE_URL``.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from seva import i18n
from seva.channels import sms as sms_channel
from seva.demo.seed import SeedReport
from seva.flows import calls
from seva.flows import service as services
from seva.flows.service import definition_of
from seva.gateway import Gateway
from seva.i18n.languages import NAMES
from seva.settings import Settings
from seva.sms_text import measure
from seva.tenancy import service as tenancy
from tests.channels.test_sms import sms

SHIPPED = list(i18n.shipped())

ONE_PART = ("unknown", "language_set")
"""Replies that take one part in every language, recorded or not."""
LONG_PROMPTS = ("COMPLAINT",)
"""Services whose first question (a menu of five problems) takes two parts in UCS-2."""
KINDS = (
    "help",
    "languages",
    "stop",
    "start",
    "stop_one",
    "start_one",
    "call_times",
    "call_booked",
    "first_prompt",
    "long_prompt",
)
BUDGET: dict[str, tuple[int, ...]] = {
    # help, languages, stop, start, stop_one, start_one, call_times, call_booked,
    # first_prompt, long_prompt
    "en": (3, 3, 1, 1, 1, 1, 1, 1, 1, 1),
    "hi": (6, 3, 2, 1, 2, 2, 2, 2, 1, 2),
    "bn": (6, 3, 2, 1, 2, 2, 2, 2, 1, 2),
    "mr": (6, 3, 2, 1, 2, 2, 2, 2, 1, 2),
    "te": (6, 3, 2, 1, 2, 2, 2, 2, 1, 2),
    "ta": (6, 3, 2, 1, 2, 2, 2, 2, 2, 2),
    "gu": (6, 3, 2, 1, 2, 2, 2, 2, 1, 2),
    "ur": (6, 3, 2, 1, 2, 2, 2, 2, 1, 2),
    "kn": (6, 3, 2, 1, 2, 2, 2, 2, 1, 2),
    "or": (6, 3, 2, 1, 2, 2, 2, 2, 1, 2),
    "ml": (6, 3, 2, 1, 2, 2, 2, 2, 2, 2),
    "pa": (6, 3, 2, 1, 2, 2, 2, 2, 1, 2),
    "as": (6, 3, 2, 1, 2, 2, 2, 2, 1, 2),
}
BASE_URL = "https://seva.gov.in"
"""The join link of a booked call is counted as if the gateway were here: the test server's
address (``http://127.0.0.1:<port>``) is not what a citizen gets."""


def budget(lang: str, kind: str) -> int:
    if kind in ONE_PART:
        return 1
    at = KINDS.index(kind)
    if lang in BUDGET:
        return BUDGET[lang][at]
    return max(row[at] for row in BUDGET.values())


def test_the_table_names_every_kind() -> None:
    assert all(len(row) == len(KINDS) for row in BUDGET.values())


def _longest_named(gateway: Gateway, lang: str, *, taking_calls: bool = False) -> str:
    """The code of the department whose name is longest in ``lang`` (of those whose
    officials take calls, with ``taking_calls``)."""
    with gateway.session() as session:
        departments = [
            d
            for d in tenancy.all_departments(session)
            if d.active and (not taking_calls or calls.takes_calls(session, d))
        ]
        return max(departments, key=lambda d: len(d.display_name(lang))).code


def replies(
    client: TestClient, gateway: Gateway, settings: Settings, lang: str
) -> dict[str, list[str]]:
    """Every reply of the table, as a citizen who chose ``lang`` gets it by SMS."""
    phone = f"98112{list(NAMES).index(lang):05d}"

    def say(text: str) -> str:
        return sms(client, text, sender=phone)

    got: dict[str, list[str]] = {kind: [] for kind in (*KINDS, *ONE_PART)}
    got["language_set"].append(say(f"LANG {lang.upper()}"))
    got["help"].append(say("HELP"))
    got["unknown"] += [say("hello"), say("ABCDEFGHIJKLMNOPQRSTUVWXYZ")]
    got["languages"].append(say("LANG"))
    got["stop"].append(say("STOP"))
    got["start"].append(say("START"))
    one = _longest_named(gateway, lang)
    got["stop_one"].append(say(f"STOP {one}"))
    got["start_one"].append(say(f"START {one}"))
    with gateway.session() as session:
        keywords = [
            definition.keywords[0]
            for service in services.live_services(session)
            if (definition := definition_of(service)).keywords
        ]
    for keyword in keywords:
        got["long_prompt" if keyword in LONG_PROMPTS else "first_prompt"].append(say(keyword))
        say("CANCEL")
    taking = _longest_named(gateway, lang, taking_calls=True)
    got["call_times"].append(say(f"CALL {taking}"))
    booked = say("1")
    assert "/call/a/" in booked, booked
    got["call_booked"].append(booked.replace(settings.base_url, BASE_URL))
    return got


def _every_language_listed(monkeypatch: pytest.MonkeyPatch, lang: str) -> str:
    """The ``LANG`` reply as it will read when all thirteen languages ship."""
    monkeypatch.setattr(sms_channel, "shipped", lambda: tuple(NAMES))
    return sms_channel.languages_text(lang)


@pytest.mark.parametrize("lang", SHIPPED)
def test_replies_stay_within_their_parts(
    client: TestClient,
    gateway: Gateway,
    settings: Settings,
    seeded: SeedReport,
    monkeypatch: pytest.MonkeyPatch,
    lang: str,
) -> None:
    got = replies(client, gateway, settings, lang)
    assert got["language_set"] == [i18n.text("sms_lang_set", lang)]
    got["languages"].append(_every_language_listed(monkeypatch, lang))
    parts = {
        kind: max(measure(text).parts for text in texts) for kind, texts in got.items() if texts
    }
    print(f"\n{lang}: " + ", ".join(f"{kind} {count}" for kind, count in parts.items()))
    over = {
        kind: (count, budget(lang, kind), got[kind])
        for kind, count in parts.items()
        if count > budget(lang, kind)
    }
    assert not over, f"{lang}: replies longer than their budget (parts, budget, texts): {over}"
