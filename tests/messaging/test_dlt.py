"""DLT rules: entity IDs, headers and suffixes, template matching and mismatch explanations."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seva.messaging.dlt import (
    CompiledTemplate,
    compile_template,
    display_sender,
    explain_mismatch,
    find_template,
    validate_entity_id,
    validate_header,
    validate_template_id,
)

TEMPLATE_ID = "1107161234567890123"
APPROVED = compile_template(
    "Dear {#var#}, your application {#alphanumeric#} is approved. -SEVAGV",
    template_id=TEMPLATE_ID,
)


# Entity and template IDs ------------------------------------------------------------------


def test_entity_id_is_nineteen_digits() -> None:
    assert validate_entity_id(" 1201159100000012345 ") == "1201159100000012345"


@pytest.mark.parametrize(
    ("entity_id", "reason"),
    [
        ("120115910000001234", "18 digits"),
        ("12011591000000123456", "20 digits"),
        ("12011591000000123AB", "not all digits"),
        ("१२०११५९१०००००१२३४५६", "not all digits"),
        ("", "empty"),
    ],
)
def test_bad_entity_id_says_what_is_wrong(entity_id: str, reason: str) -> None:
    with pytest.raises(ValueError, match="19 digits") as raised:
        validate_entity_id(entity_id)
    assert reason in str(raised.value)


@pytest.mark.parametrize("template_id", ["1107161234567890123", "123456789012", "7"])
def test_template_id_accepts_dlt_and_msdg_lengths(template_id: str) -> None:
    assert validate_template_id(template_id) == template_id


@pytest.mark.parametrize("template_id", ["", "1107-1612", "1" * 31, "TEMPLATE"])
def test_bad_template_id_is_refused(template_id: str) -> None:
    with pytest.raises(ValueError, match="template ID"):
        validate_template_id(template_id)


# Headers and the sender the citizen sees --------------------------------------------------


@pytest.mark.parametrize(
    ("header", "category", "normalised"),
    [
        ("SEVAGV", "government", "SEVAGV"),
        ("sevagv", "transactional", "SEVAGV"),
        (" SevaGv ", "service_implicit", "SEVAGV"),
        ("SEVAGV", "service_explicit", "SEVAGV"),
        ("567890", "promotional", "567890"),
    ],
)
def test_header_is_normalised(header: str, category: str, normalised: str) -> None:
    assert validate_header(header, category) == normalised


@pytest.mark.parametrize(
    ("header", "category", "reason"),
    [
        ("SEVAGV", "promotional", "alphabetic"),
        ("567890", "transactional", "numeric"),
        ("567890", "government", "reserves for promotional"),
        ("SEVA", "government", "6 letters"),
        ("SEVAG1", "service_implicit", "6 letters"),
        ("5678901", "promotional", "6 digits"),
        ("", "transactional", "6 letters"),
    ],
)
def test_header_category_mismatch_is_refused(header: str, category: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_header(header, category)


def test_unknown_category_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="promotional, transactional, service_implicit"):
        validate_header("SEVAGV", "otp")


@pytest.mark.parametrize(
    ("header", "category", "shown"),
    [
        ("sevagv", "government", "SEVAGV-G"),
        ("SEVAGV", "transactional", "SEVAGV-T"),
        ("SEVAGV", "service_implicit", "SEVAGV-S"),
        # TCCCPR 2025 amendment: service explicit became promotional, header kept.
        ("SEVAGV", "service_explicit", "SEVAGV-P"),
        ("567890", "promotional", "567890-P"),
    ],
)
def test_display_sender_appends_the_category_suffix(header: str, category: str, shown: str) -> None:
    assert display_sender(header, category) == shown


def test_display_sender_refuses_an_invalid_pair() -> None:
    with pytest.raises(ValueError, match="alphabetic"):
        display_sender("SEVAGV", "promotional")


# Matching ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "text", "values"),
    [
        (
            "Dear {#var#}, your OTP is {#numeric#}. -SEVAGV",
            "Dear Ram, your OTP is 4321. -SEVAGV",
            ["Ram", "4321"],
        ),
        ("{#var#} is your OTP", "4321 is your OTP", ["4321"]),
        ("Your OTP is {#var#}", "Your OTP is 4321", ["4321"]),
        ("{#var#}", "anything at all", ["anything at all"]),
        ("{#var#}", "", [""]),
        ("", "", []),
        ("No variables here.", "No variables here.", []),
        (
            "Pay Rs.{#var#} (incl. tax) by {#var#}? Call $1 [now]*+|^",
            "Pay Rs.250 (incl. tax) by 5 May? Call $1 [now]*+|^",
            ["250", "5 May"],
        ),
        ("Line one\nLine {#var#}", "Line one\nLine two", ["two"]),
        ("Line one\r\nLine {#var#}", "Line one\nLine two", ["two"]),
        ("Line one\nLine {#var#}", "Line one\r\nLine two", ["two"]),
        ("प्रिय {#var#}, आपका आवेदन स्वीकृत है।", "प्रिय सुनीता, आपका आवेदन स्वीकृत है।", ["सुनीता"]),
        ("Hi {#var#}!", "Hi !", [""]),
        (
            "Visit {#url#} or call {#cbn#} or mail {#email#}",
            "Visit https://seva.gov.in/a or call 1800111555 or mail help@seva.gov.in",
            ["https://seva.gov.in/a", "1800111555", "help@seva.gov.in"],
        ),
        ("Code {#urlott#} ref {#number#}", "Code seva.app/x ref 12", ["seva.app/x", "12"]),
    ],
)
def test_matching_text_yields_its_variables(body: str, text: str, values: list[str]) -> None:
    template = compile_template(body)
    assert template.match(text)
    assert template.variables(text) == values


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("Your OTP is {#var#}. -SEVAGV", "Your OTP is 4321 -SEVAGV"),  # full stop dropped
        ("Your OTP is {#var#}. -SEVAGV", "Your  OTP is 4321. -SEVAGV"),  # doubled space
        ("Your  OTP is {#var#}", "Your OTP is 4321"),  # template's doubled space is fixed text
        ("Your OTP is {#var#}. -SEVAGV", "your OTP is 4321. -SEVAGV"),  # case differs
        ("Line one\nLine {#var#}", "Line one Line two"),  # line break is fixed text
        ("Your OTP is {#var#}", "Your OTP is 4321\n5678"),  # no line break inside a variable
        ("Your OTP is {#var#}. -SEVAGV", "Your OTP is 4321. -SEVAGV "),  # trailing space
        ("", "x"),
        ("Pay Rs.{#var#} now", "Pay Rsx250 now"),  # "." is not a wildcard
        ("Total (approx) {#var#}", "Total approx 5"),  # "(" is not a group
    ],
)
def test_fixed_text_must_match_exactly(body: str, text: str) -> None:
    template = compile_template(body)
    assert not template.match(text)
    assert template.variables(text) is None


@pytest.mark.parametrize(
    ("tag", "limit"),
    [
        ("{#var#}", 30),
        ("{#numeric#}", 30),
        ("{#number#}", 30),
        ("{#alphanumeric#}", 40),
        ("{#url#}", 30),
        ("{#urlott#}", 30),
        ("{#cbn#}", 30),
        ("{#email#}", 30),
    ],
)
def test_each_variable_kind_has_its_length_limit(tag: str, limit: int) -> None:
    template = compile_template(f"Ref {tag} ok")
    assert template.match(f"Ref {'x' * limit} ok")
    assert not template.match(f"Ref {'x' * (limit + 1)} ok")


def test_length_counts_characters_not_bytes() -> None:
    template = compile_template("नाम {#var#} है")
    assert template.match("नाम " + "क" * 30 + " है")
    assert not template.match("नाम " + "क" * 31 + " है")


def test_adjacent_variables_share_their_room_and_split_left_first() -> None:
    template = compile_template("Ref {#var#}{#numeric#} ok")
    text = "Ref " + "a" * 45 + "12 ok"
    assert template.variables(text) == ["a" * 30, "a" * 15 + "12"]
    assert not template.match("Ref " + "a" * 61 + " ok")


def test_a_match_is_found_when_the_earliest_placement_is_wrong() -> None:
    # The first "a" cannot end variable 1: variable 2 would then need three characters.
    template = compile_template("{#var#}a{#var#}", limits={"var": 2})
    assert template.match("aaaa")
    assert template.variables("aaaa") == ["a", "aa"]
    assert not template.match("aaaaaa")


def test_limits_can_be_raised_for_an_operator_that_allows_more() -> None:
    long_url = "https://seva.gov.in/track/" + "x" * 30
    default = compile_template("Track at {#url#}")
    wider = compile_template("Track at {#url#}", limits={"url": 60})
    assert not default.match(f"Track at {long_url}")
    assert wider.variables(f"Track at {long_url}") == [long_url]


@pytest.mark.parametrize("limits", [{"link": 60}, {"url": -1}])
def test_bad_limits_are_refused(limits: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"kind|negative"):
        compile_template("Track at {#url#}", limits=limits)


@pytest.mark.parametrize("tag", ["{#Var#}", "{#var1#}", "{#VAR#}", "{#date#}", "{##}"])
def test_misspelt_variable_is_refused_when_compiling(tag: str) -> None:
    with pytest.raises(ValueError, match="not a DLT variable"):
        compile_template(f"Your OTP is {tag}")


def test_compile_checks_the_template_id() -> None:
    with pytest.raises(ValueError, match="template ID"):
        compile_template("Hello {#var#}", template_id="12AB")


def test_compiled_template_is_an_immutable_value() -> None:
    assert isinstance(APPROVED, CompiledTemplate)
    assert APPROVED == compile_template(APPROVED.body, template_id=TEMPLATE_ID)
    with pytest.raises(AttributeError):
        APPROVED.body = "changed"  # type: ignore[misc]


def test_mismatch_on_a_template_with_many_short_separators_is_answered() -> None:
    # A single backtracking regex tries every way to place the spaces here: seconds for
    # seven variables, and about ten times longer for each variable more.
    template = compile_template(" ".join(["{#var#}"] * 7) + " -SEVAGV")
    text = "a " * 60 + "-SEVAGX"
    assert not template.match(text)
    assert template.variables(text) is None
    assert "differs" in explain_mismatch(template, text)
    assert template.match("a " * 20 + "-SEVAGV")


def test_one_template_against_a_large_bulk_send() -> None:
    texts = [
        f"Dear Citizen {n}, your application APP{n:08d} is approved. -SEVAGV" for n in range(2000)
    ]
    assert all(APPROVED.match(text) for text in texts)
    assert APPROVED.variables(texts[7]) == ["Citizen 7", "APP00000007"]


# Finding a template -------------------------------------------------------------------------

OTP = compile_template(
    "{#numeric#} is your OTP for Seva. -SEVAGV", template_id="1107000000000000001"
)
RECEIPT = compile_template(
    "Receipt {#var#} for Rs {#numeric#}. -SEVAGV", template_id="1107000000000000002"
)


def test_find_template_picks_the_one_that_matches() -> None:
    templates = [OTP, RECEIPT, APPROVED]
    assert find_template(templates, "Receipt R-17 for Rs 250. -SEVAGV") is RECEIPT
    assert find_template(templates, "4321 is your OTP for Seva. -SEVAGV") is OTP
    assert (
        find_template(iter(templates), "Dear Ram, your application A1 is approved. -SEVAGV")
        is APPROVED
    )


def test_find_template_returns_none_when_nothing_matches() -> None:
    assert find_template([OTP, RECEIPT], "4321 is your OTP for Seva") is None
    assert find_template([], "anything") is None


# Explaining a mismatch ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "explanation"),
    [
        (
            "Dear Ram, your applicaton A1 is approved. -SEVAGV",
            "fixed text differs after ', your applicat': the template has 'ion ', "
            "the text has 'on A1 is approved. -SEVAGV'",
        ),
        (
            "Dearest Ram, your application A1 is approved. -SEVAGV",
            "fixed text differs after 'Dear': the template has ' ', the text has 'est Ram, your",
        ),
        (
            "Hello Ram, your application A1 is approved. -SEVAGV",
            "fixed text differs at the very start: the template has 'Dear '",
        ),
        (
            "Dear Ram your application A1 is approved. -SEVAGV",
            "the fixed text ', your application ' that follows variable 1 ({#var#}) "
            "is not in the text",
        ),
        (
            "Dear Ram, your application " + "A" * 41 + " is approved. -SEVAGV",
            "variable 2 ({#alphanumeric#}) would be 41 characters long; DLT allows at most 40",
        ),
        (
            "Dear Ra\nm, your application A1 is approved. -SEVAGV",
            "variable 1 ({#var#}) would have to contain a line break",
        ),
        (
            "Dear Ram, your application A1 is approved. -SEVAGV Thanks",
            "the text goes on after the end of the template: ' Thanks'",
        ),
        (
            "Dear Ram, your application A1 is approved.",
            "fixed text differs after ' is approved.': the template goes on with ' -SEVAGV' "
            "but the text ends",
        ),
    ],
)
def test_explain_mismatch_says_where_the_text_departs(text: str, explanation: str) -> None:
    sentence = explain_mismatch(APPROVED, text)
    assert sentence.startswith(f"text does not match template {TEMPLATE_ID}: ")
    assert explanation in sentence


def test_explain_mismatch_names_adjacent_variables_together() -> None:
    template = compile_template("Ref {#var#}{#var#} ok")
    sentence = explain_mismatch(template, "Ref " + "a" * 61 + " ok")
    assert (
        "variables 1 to 2 would together be 61 characters long; they allow at most 60" in sentence
    )


def test_explain_mismatch_without_template_id_and_for_a_match() -> None:
    template = compile_template("Hello")
    assert explain_mismatch(template, "Hello there") == (
        "text does not match the template: the text goes on after the end of the template: ' there'"
    )
    assert explain_mismatch(APPROVED, "Dear R, your application 1 is approved. -SEVAGV") == (
        f"text matches template {TEMPLATE_ID}"
    )


def test_explain_mismatch_shows_line_breaks_visibly() -> None:
    template = compile_template("Line one\nLine {#var#}")
    assert explain_mismatch(template, "Line one Line two") == (
        "text does not match the template: fixed text differs after 'Line one': "
        "the template has '\\nLine ', the text has ' Line two'"
    )


# The matcher agrees with a plain regular expression -----------------------------------------

_PIECES = st.text(alphabet="ab \n.", max_size=3)
_TAGS = st.sampled_from(["{#var#}", "{#numeric#}", "{#alphanumeric#}"])


@st.composite
def _templates(draw: st.DrawFn) -> str:
    parts = [draw(_PIECES)]
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        parts.append(draw(_TAGS))
        parts.append(draw(_PIECES))
    return "".join(parts)


def _reference(body: str, limits: dict[str, int]) -> re.Pattern[str]:
    """The obvious regular expression: correct, but it backtracks, so only for small cases."""
    pattern = re.sub(
        r"\\\{\\\#(\w+)\\\#\\\}", lambda m: f"[^\\n]{{0,{limits[m.group(1)]}}}", re.escape(body)
    )
    return re.compile(pattern)


_LIMITS = {"var": 2, "numeric": 3, "alphanumeric": 1}


@st.composite
def _cases(draw: st.DrawFn) -> tuple[str, str]:
    """A template and a text: random, or the template filled in (values may run too long)."""
    body = draw(_templates())
    if draw(st.booleans()):
        return body, draw(st.text(alphabet="ab \n.", max_size=14))
    filled = re.sub(
        r"\{#(\w+)#\}",
        lambda m: draw(st.text(alphabet="ab \n.", max_size=_LIMITS[m.group(1)] + 1)),
        body,
    )
    return body, filled


@settings(max_examples=500)
@given(case=_cases())
def test_matcher_agrees_with_a_backtracking_regex(case: tuple[str, str]) -> None:
    body, text = case
    limits = _LIMITS
    template = compile_template(body, limits=limits)
    expected = _reference(body, limits).fullmatch(text) is not None
    assert template.match(text) is expected
    values = template.variables(text)
    assert (values is not None) is expected
    if values is not None:
        # The values put back into the template give the text, each within its limit.
        rebuilt = iter(values)
        assert re.sub(r"\{#\w+#\}", lambda _: next(rebuilt), body) == text
        assert all(
            len(v) <= limits[k] for v, k in zip(values, template.variable_kinds, strict=True)
        )
    if not expected:
        assert explain_mismatch(template, text).startswith("text does not match the template: ")
