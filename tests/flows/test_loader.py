"""Service definitions: every bundled one is valid and bilingual; mistakes name line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from seva.demo.seed import SERVICES_DIR
from seva.flows.loader import DefinitionError, parse_definition, read_definitions
from seva.flows.templating import render

GOOD = """\
seva: 1
service: water-bill
department: JAL
title: {en: Water bill, hi: पानी का बिल}
keywords: [water]
steps:
  - ask: consumer_no
    type: digits
    length: 8
    prompt: {en: Consumer number, hi: उपभोक्ता संख्या}
  - end: {en: "Bill for {consumer_no}", hi: "{consumer_no} का बिल"}
"""


def problems(source: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(source, "bill.yaml")
    return [(p.line, p.path, p.message) for p in caught.value.problems]


def test_bundled_services_are_valid_and_in_english_and_hindi() -> None:
    found = read_definitions(SERVICES_DIR)
    assert len(found) >= 8
    for _path, _text, definition in found:
        assert {"en", "hi"} <= set(definition.languages)
        assert definition.title["hi"]


def test_keywords_are_uppercased() -> None:
    assert parse_definition(GOOD).keywords == ["WATER"]


def test_unknown_question_type_names_its_line() -> None:
    (line, path, message), *_ = problems(GOOD.replace("type: digits", "type: digitz"))
    assert (line, path) == (8, "steps.0.type")
    assert "'digits'" in message


def test_missing_hindi_and_unknown_goto_are_both_reported() -> None:
    source = GOOD.replace(", hi: उपभोक्ता संख्या", "").replace(
        "  - end:", "  - goto: nowhere\n  - end:"
    )
    found = problems(source)
    assert (10, "steps.0.prompt", "missing language(s) hi") in found
    assert (11, "steps.1", "goto 'nowhere' names no step id") in found


def test_a_step_with_two_kinds_is_refused() -> None:
    source = GOOD.replace("  - end:", "  - say: {en: a, hi: b}\n    end:")
    (line, path, message), *_ = problems(source)
    assert (line, path) == (11, "steps.1")
    assert "exactly one of" in message


def test_duplicate_keys_bad_yaml_and_bad_placeholders() -> None:
    assert problems(GOOD.replace("keywords: [water]", "keywords: [water]\nkeywords: [x]"))[0][
        :2
    ] == (6, "keywords")
    assert "not valid YAML" in problems("seva: 1\nsteps: [")[0][2]
    bad = problems(GOOD.replace('"Bill for {consumer_no}"', '"Bill for {consumer_no.__class__"'))
    assert bad[0][1] == "steps.1.end.en" and "unbalanced brace" in bad[0][2]


def test_invalid_regex_and_keyword(tmp_path: Path) -> None:
    assert "regular expression" in problems(GOOD.replace("length: 8", "pattern: '[0-9'"))[0][2]
    assert "keyword" in problems(GOOD.replace("[water]", "['1 water']"))[0][2]


def test_templating_cannot_reach_attributes() -> None:
    context = {"name": "Asha", "card": {"status": "Active"}}
    assert render("{name}: {card.status} {name.__class__} {{x}}", context) == "Asha: Active  {x}"


def test_an_apply_status_is_a_name_or_a_text_in_every_language() -> None:
    apply = "  - apply: {status: %s}\n  - end:"
    named = parse_definition(GOOD.replace("  - end:", apply % "Meter checked"))
    assert named.steps[1].apply.status_name == "Meter checked"  # type: ignore[union-attr]
    texts = parse_definition(GOOD.replace("  - end:", apply % "{en: Meter checked, hi: मीटर जाँचा}"))
    assert texts.steps[1].apply.status_texts == {"hi": "मीटर जाँचा"}  # type: ignore[union-attr]
    assert (11, "steps.1.apply.status", "missing language(s) hi") in problems(
        GOOD.replace("  - end:", apply % "{en: Meter checked}")
    )
