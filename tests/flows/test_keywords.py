"""A service's keyword in the Indian scripts: what a department may give, what is derived, how
typed words meet them, and which loads are refused."""

from __future__ import annotations

import pytest

from seva.demo.seed import SeedReport
from seva.flows import keywords
from seva.flows.loader import DefinitionError, parse_definition
from seva.flows.service import ServiceLoadError, WordTaken, find_by_keyword, load_service
from seva.gateway import Gateway

SERVICE = """\
seva: 1
service: pension-status
department: {department}
title: {{en: Pension status, hi: पेंशन की स्थिति}}
keywords: [PENSION]
local_keywords: {words}
steps:
  - end: {{en: "Pension: credited on the 1st.", hi: "पेंशन: हर महीने की 1 तारीख को।"}}
"""


def definition(words: str, department: str = "MCD") -> str:
    return SERVICE.format(words=words, department=department)


def test_spellings_of_one_word_share_a_skeleton() -> None:
    ration = keywords.skeleton("राशन")
    assert ration == "RSN"
    # Tamil as it is usually written (ஷ, or ச for the s sound), Bengali and Assamese as
    # their writers spell it, Malayalam with its chillu letter, Punjabi with its nukta.
    for typed in ("ரேஷன்", "ரேசன்", "রেশন", "ৰেচন", "റേഷൻ", "ਰਾਸ਼ਨ", "રેશન", "రేషన్"):
        assert keywords.skeleton(typed) == ration, typed
    assert keywords.skeleton("மண்டி") == keywords.skeleton("ਮੰਡੀ") == keywords.skeleton("मंडी")
    assert keywords.skeleton("नजदीक") == keywords.skeleton("नज़दीक")
    assert keywords.skeleton("راشن") == "" and keywords.skeleton("RATION") == ""
    assert keywords.lenient("पापा") is None  # one class: too short to find anything by


def test_words_are_carried_into_the_brahmic_scripts_not_given() -> None:
    words = {w.text: w for w in keywords.words_of({"hi": ["राशन"], "ta": ["ரேஷன்"]})}
    assert not words["राशन"].derived and not words["ரேஷன்"].derived
    derived = {w.lang: w.text for w in words.values() if w.derived}
    # Tamil was given, so no letter-for-letter Tamil; Urdu is not a Brahmic script.
    assert derived == {
        "bn": "রাশন",
        "pa": "ਰਾਸ਼ਨ",
        "gu": "રાશન",
        "or": "ରାଶନ",
        "te": "రాశన",
        "kn": "ರಾಶನ",
        "ml": "രാശന",
    }
    assert {w.skeleton for w in words.values()} == {"RSN"}
    # Gurmukhi writes the nasal after a short vowel as tippi.
    assert "ਮੰਡੀ" in {w.text for w in keywords.words_of({"hi": ["मंडी"]})}
    only_given = keywords.words_of({"hi": ["राशन"], "ur": ["راشن"]}, transliterate=False)
    assert [w.text for w in only_given] == ["राशन", "راشن"]
    assert keywords.words_of({"ur": ["راشن"]}) == keywords.words_of({"ur": ["راشن"]}, False)


def test_typed_words_are_folded() -> None:
    assert keywords.fold("न\u200dज़दीक") == keywords.fold("नज़दीक")  # ZWJ, and ज़ as one code point
    # An Arabic keyboard's kaf and yeh, and a short-vowel mark, read as Urdu writes the word.
    assert keywords.fold("شكايت") == keywords.fold("شِکایت") == "شکایت"


@pytest.mark.parametrize(
    ("words", "complaint"),
    [
        ("{hi: [राशन कार्ड]}", "more than one word"),
        ("{hi: [राशनराशनराशनराशनराशनराशन]}", "longer than 20 letters"),
        ("{hi: [ரேஷன்]}", "Hindi keywords are letters of Devanagari"),
        ("{ta: [राशन]}", "Tamil keywords are letters of the Tamil script"),
        ("{hi: [राशन१]}", "Hindi keywords are letters of Devanagari"),
        ("{ur: [pension]}", "Urdu keywords are letters of the Urdu (Arabic) script"),
        ("{hi: [हिंदी]}", "the name of a language"),
        ("{ta: [தமிழ்]}", "the name of a language"),
        ("{hi: [मदद]}", "one of the gateway's commands"),
        ("{en: [PENSION]}", "English keywords are written in keywords"),
        ("{xx: [राशन]}", "unknown language 'xx'"),
    ],
)
def test_a_word_must_be_one_word_of_its_languages_script(words: str, complaint: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        parse_definition(definition(words), "pension.yaml")
    (problem,) = raised.value.problems
    assert complaint in problem.message
    assert problem.path.startswith("local_keywords.") and problem.line == 6


def load(gateway: Gateway, text: str) -> None:
    with gateway.session() as session:
        load_service(session, parse_definition(text), urls=gateway.runtime.outbound.policy)


def found(gateway: Gateway, word: str, *, lenient: bool = True) -> str | None:
    with gateway.session() as session:
        service = find_by_keyword(session, word, lenient=lenient)
        return service.slug if service is not None else None


def test_a_word_another_service_gives_is_refused_at_load(
    gateway: Gateway, seeded: SeedReport
) -> None:
    with pytest.raises(WordTaken, match="Hindi keyword राशन is already used by FOOD/ration"):
        load(gateway, definition("{hi: [पेंशन, राशन]}"))
    with pytest.raises(ServiceLoadError, match=r"Urdu keyword راشن .* FOOD/ration-card-status"):
        load(gateway, definition("{ur: [راشن]}"))
    assert found(gateway, "पेंशन") is None  # nothing of the refused service was kept
    assert found(gateway, "राशन") == "ration-card-status"


def test_a_given_word_takes_over_one_only_derived(gateway: Gateway, seeded: SeedReport) -> None:
    assert found(gateway, "রাশন") == "ration-card-status"  # derived from राशन
    assert found(gateway, "பாவ") == "mandi-price"  # derived from भाव
    # पाव is பாவ in Tamil too: that derived word stays with the mandi price; রাশন given in
    # Bengali is this service's from now on.
    load(gateway, definition("{hi: [पाव], bn: [রাশন]}"))
    assert found(gateway, "রাশন") == "pension-status"
    assert found(gateway, "பாவ") == "mandi-price"
    assert found(gateway, "पाव") == "pension-status"
    assert found(gateway, "राशन") == "ration-card-status"


def test_a_lenient_match_needs_exactly_one_service(gateway: Gateway, seeded: SeedReport) -> None:
    assert found(gateway, "ரேசன்") == "ration-card-status"  # like राशन, ரேஷன்
    assert found(gateway, "ரேசன்", lenient=False) is None
    # Another department's रासन has the same skeleton: the lenient match finds two services
    # and so neither; each service's own words still find it.
    load(gateway, definition("{hi: [रासन]}", department="MCD"))
    assert found(gateway, "ரேசன்") is None
    assert found(gateway, "ரேஷன்") == "ration-card-status"
    assert found(gateway, "रासन") == "pension-status"


def test_an_urdu_word_finds_its_service_once_given(gateway: Gateway, seeded: SeedReport) -> None:
    load(gateway, definition("{hi: [पेंशन]}"))
    assert found(gateway, "पेंशन") == "pension-status"
    assert found(gateway, "پنشن") is None  # Urdu is not derived from Hindi
    load(gateway, definition("{hi: [पेंशन], ur: [پنشن]}"))
    assert found(gateway, "پنشن") == "pension-status"
    # Loading it again without its words frees them.
    load(gateway, definition("{}"))
    assert found(gateway, "پنشن") is None and found(gateway, "पेंशन") is None
