"""Every inbound answer is cleaned before anything reads it; ASCII text takes a quicker way
through ``clean``, which must give what the character-by-character reading gives."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from seva.flows.answers import MAX_ANSWER, clean


def by_category(text: str) -> str:
    """What ``clean`` means: each character by its Unicode category."""
    out: list[str] = []
    for ch in text[:MAX_ANSWER]:
        category = unicodedata.category(ch)
        if category.startswith("C") and ch not in "\t\n\r\u200c\u200d":
            continue
        out.append(str(unicodedata.decimal(ch)) if category == "Nd" else ch)
    return " ".join("".join(out).split())


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=MAX_ANSWER + 20))
def test_ascii_text_is_cleaned_as_each_character_would_be(text: str) -> None:
    assert clean(text) == by_category(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_cleaned_as_each_character_would_be(text: str) -> None:
    assert clean(text) == by_category(text)


def test_what_cleaning_does() -> None:
    assert clean("  RATION\x00 12\t34\r\n\x7f ") == "RATION 12 34"
    assert clean("राशन १२३४") == "राशन 1234"
    assert clean("\x1b[31mred\x1b[0m") == "[31mred[0m"
