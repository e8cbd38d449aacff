"""A service's translations beside its definition (``name.<lang>.po``): merged into its texts
on load, inline texts winning, what does not fit reported at its line, and a catalog to start
a language from (``seva services strings``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from seva.citizens import service as citizens
from seva.cli import app
from seva.demo.seed import SERVICES_DIR, SeedReport
from seva.flows.engine import Flow
from seva.flows.events import Ask, EffectResult, End
from seva.flows.loader import DefinitionError, dump, read_raw, read_service, read_services
from seva.flows.schema import _texts
from seva.flows.translations import slots
from seva.gateway import Gateway
from tests.applications.lookups import sms

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)

WATER = """\
seva: 1
service: water-bill
department: JAL
title: {en: Water bill, hi: पानी का बिल}
steps:
  - ask: consumer_no
    type: digits
    length: 8
    prompt: {en: Consumer number, hi: उपभोक्ता संख्या}
  - lookup:
      dataset: bills
      key: "{consumer_no}"
      save: bill
      missing: {en: "No bill for {consumer_no}.", hi: "{consumer_no} का कोई बिल नहीं।"}
  - id: paid
    say: {en: "Thank you.", hi: "धन्यवाद।"}
  - end:
      en: "Bill {consumer_no}: Rs {bill.due} by {bill.date}."
      hi: "बिल {consumer_no}: {bill.date} तक {bill.due} रु।"
"""

TAMIL = """\
msgid "Water bill"
msgstr "தண்ணீர் கட்டணம்"

msgid "Consumer number"
msgstr "நுகர்வோர் எண்"

msgid "No bill for {consumer_no}."
msgstr "{consumer_no} க்கு கட்டணம் இல்லை."

msgctxt "paid"
msgid "Thank you."
msgstr "நன்றி."

#, python-brace-format
msgid "Bill {consumer_no}: Rs {bill.due} by {bill.date}."
msgstr "கட்டணம் {consumer_no}: {bill.date} க்குள் ரூ {bill.due}."
"""


def service_with(tmp_path: Path, po: dict[str, str], source: str = WATER) -> Path:
    path = tmp_path / "water.yaml"
    path.write_text(source, encoding="utf-8")
    for lang, text in po.items():
        (tmp_path / f"water.{lang}.po").write_text(text, encoding="utf-8")
    return path


def run(path: Path, lang: str, answer: str, bill: dict[str, str]) -> list[str]:
    """What a citizen of ``lang`` reads: the question, then the answer for ``bill``."""
    definition = read_service(path).definition
    flow, events = Flow.start(definition, revision=1, lang=lang, now=NOW)
    texts = [event.text for event in events if isinstance(event, Ask)]
    flow.receive(answer, NOW)
    events = flow.resolve(EffectResult(ok=True, data=bill), NOW)
    return texts + [e.text for e in events if isinstance(e, End)]


def problems(path: Path) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        read_service(path)
    return [str(problem) for problem in caught.value.problems]


def test_a_tamil_file_beside_the_service_answers_in_tamil(tmp_path: Path) -> None:
    path = service_with(tmp_path, {"ta": TAMIL})
    found = read_service(path)
    assert found.warnings == []
    assert found.definition.languages == ["en", "hi", "ta"]
    assert found.definition.title["ta"] == "தண்ணீர் கட்டணம்"
    bill = {"due": "412", "date": "15-12-2026"}
    # Placeholders in the translation are filled like the English ones, in the translation's
    # own order.
    assert run(path, "ta", "12345678", bill) == [
        "நுகர்வோர் எண்",
        "கட்டணம் 12345678: 15-12-2026 க்குள் ரூ 412.",
    ]
    assert run(path, "hi", "12345678", bill) == [
        "उपभोक्ता संख्या",
        "बिल 12345678: 15-12-2026 तक 412 रु।",
    ]
    assert run(path, "en", "12345678", bill)[-1] == "Bill 12345678: Rs 412 by 15-12-2026."


def test_an_entry_for_a_text_the_service_does_not_have_is_a_warning(tmp_path: Path) -> None:
    stale = TAMIL + '\nmsgid "Old consumer number"\nmsgstr "பழைய எண்"\n'
    stale += '\nmsgctxt "gone"\nmsgid "Thank you."\nmsgstr "நன்றி!"\n'
    found = read_service(service_with(tmp_path, {"ta": stale}))
    assert [str(warning) for warning in found.warnings] == [
        "water.ta.po:18 the service has no text 'Old consumer number'",
        "water.ta.po:22 msgctxt 'gone' names no step id of the service",
    ]
    assert found.definition.languages == ["en", "hi", "ta"]

    result = CliRunner().invoke(app, ["services", "check", str(tmp_path / "water.yaml")])
    assert result.exit_code == 0, result.output
    assert "warning water.ta.po:18 the service has no text 'Old consumer number'" in result.output


def test_a_text_the_file_leaves_out_is_an_error_naming_the_file(tmp_path: Path) -> None:
    partial = TAMIL.replace('msgstr "நுகர்வோர் எண்"', 'msgstr ""')
    assert problems(service_with(tmp_path, {"ta": partial})) == [
        "line 9: steps.0.prompt: missing language(s) ta (no translation in water.ta.po)"
    ]
    fuzzy = TAMIL.replace('msgid "Consumer number"', '#, fuzzy\nmsgid "Consumer number"')
    assert problems(service_with(tmp_path, {"ta": fuzzy}))[0].endswith(
        "(no translation in water.ta.po)"
    )


def test_inline_texts_win_and_a_file_that_disagrees_is_reported(tmp_path: Path) -> None:
    hindi = 'msgid "Consumer number"\nmsgstr "ग्राहक संख्या"\n'
    found = read_service(service_with(tmp_path, {"hi": hindi}))
    assert found.definition.steps[0].prompt["hi"] == "उपभोक्ता संख्या"  # type: ignore[union-attr]
    assert [str(w) for w in found.warnings] == [
        "water.hi.po:1 steps.0.prompt has its own hi text, which is used instead"
    ]


def test_placeholders_a_translation_changes_are_reported_and_broken_ones_refused(
    tmp_path: Path,
) -> None:
    renamed = TAMIL.replace("{bill.due}.", "{bill.amount}.")
    found = read_service(service_with(tmp_path, {"ta": renamed}))
    assert [str(w) for w in found.warnings] == [
        "water.ta.po:15 placeholders {bill.amount}, {bill.date}, {consumer_no} differ from "
        "the English {bill.date}, {bill.due}, {consumer_no}"
    ]
    broken = TAMIL.replace("{consumer_no} க்கு", "{consumer_no க்கு")
    assert problems(service_with(tmp_path, {"ta": broken})) == [
        "water.ta.po:7 msgstr: unbalanced brace at position 0 (write {{ or }})"
    ]


def test_a_step_id_context_translates_one_steps_text(tmp_path: Path) -> None:
    twice = WATER.replace("  - end:\n", '  - say: {en: "Thank you.", hi: "शुक्रिया।"}\n  - end:\n')
    assert twice != WATER
    plain = TAMIL + '\nmsgid "Thank you."\nmsgstr "மிக்க நன்றி."\n'
    definition = read_service(service_with(tmp_path, {"ta": plain}, twice)).definition
    assert definition.steps[2].say["ta"] == "நன்றி."  # type: ignore[union-attr]
    assert definition.steps[3].say["ta"] == "மிக்க நன்றி."  # type: ignore[union-attr]


def test_files_seva_cannot_use_are_refused(tmp_path: Path) -> None:
    assert problems(service_with(tmp_path, {"xx": TAMIL})) == [
        "water.xx.po:? 'xx' is not a language (en, hi, bn, mr, te, ta, gu, ur, kn, or, ml, pa, as)"
    ]
    (tmp_path / "water.xx.po").unlink()
    assert problems(service_with(tmp_path, {"ta": "this is not a po file"}))[0].startswith(
        "water.ta.po:? not a gettext catalog"
    )


def test_every_text_the_schema_checks_is_one_a_file_can_translate() -> None:
    """The loader finds texts in the raw file, before validation; it must find all of them."""
    for found in read_services(SERVICES_DIR):
        raw = read_raw(found.source, str(found.path))
        walked = {".".join(slot.path) for slot in slots(raw.data)}
        checked = {
            f"steps.{index}.{where}"
            for index, step in enumerate(found.definition.steps)
            for where, _text in _texts(step)
        }
        checked |= {"title"} | ({"description"} if found.definition.description else set())
        assert checked <= walked, found.path


def test_the_demo_complaint_ships_its_hindi_in_a_po_file() -> None:
    path = SERVICES_DIR / "mcd-complaint.yaml"
    # Its keyword in Hindi (local_keywords: शिकायत) is a word citizens type, not a text.
    texts = [
        line
        for line in path.read_text("utf-8").splitlines()
        if not line.startswith("local_keywords:")
    ]
    assert not any("हिन्दी" in line or "शिकायत" in line for line in texts)
    found = read_service(path)
    assert SERVICES_DIR / "mcd-complaint.hi.po" in found.translations
    assert found.warnings == []
    assert found.definition.languages[:2] == ["en", "hi"]
    texts = json.dumps(dump(found.definition), ensure_ascii=False)
    assert "शिकायत {application.ref} दर्ज: {pincode} पर {category_label}।" in texts
    status = found.definition.steps[6].apply.status  # type: ignore[union-attr]
    assert {"en": "Registered", "hi": "पंजीकृत"}.items() <= status.items()


HINDI_WALK = [
    "समस्या क्या है\n1. कूड़ा नहीं उठा\n2. स्ट्रीट लाइट खराब\n3. जल भराव\n4. टूटी सड़क",
    "स्थान का पिन कोड",
    "आपका पूरा नाम",
    "स्थान बताएँ (लैंडमार्क, गली)",
    "110092 पर 'कूड़ा नहीं उठा' शिकायत दर्ज करें?\n1. हाँ\n2. नहीं",
    "शिकायत {ref} दर्ज: 110092 पर कूड़ा नहीं उठा। जानने के लिए STATUS {ref} भेजें।",
]


def test_the_demo_complaint_answers_a_hindi_citizen_by_sms_as_it_did_inline(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    phone = "+919811700401"
    with gateway.session() as session:
        citizens.set_language(session, citizens.get_or_create(session, phone), "hi")
    answers = ["COMPLAINT", "1", "110092", "आशा", "मंदिर के गेट के पास", "हाँ"]
    replies = [sms(client, answer, phone) for answer in answers]
    ref = replies[-1].split()[1]
    assert replies == [text.replace("{ref}", ref) for text in HINDI_WALK]
    declined = ["SHIKAYAT", "टूटी सड़क", "110092", "मंदिर के पास", "नहीं"]
    assert [sms(client, answer, phone) for answer in declined][-1] == (
        "शिकायत दर्ज नहीं की गई। फिर से शुरू करने के लिए COMPLAINT भेजें।"
    )


def test_strings_writes_a_catalog_to_start_a_language_and_keeps_the_work_done(
    tmp_path: Path,
) -> None:
    path = service_with(tmp_path, {})
    runner = CliRunner()
    template = runner.invoke(app, ["services", "strings", str(path)])
    assert template.exit_code == 0, template.output
    pot = read_po(template.stdout.splitlines())
    assert [(m.id, m.string) for m in pot if m.id][:2] == [
        ("Water bill", ""),
        ("Consumer number", ""),
    ]
    ending = pot.get("Bill {consumer_no}: Rs {bill.due} by {bill.date}.")
    assert ending is not None and "python-brace-format" in ending.flags
    assert ending.locations == [("water.yaml", 17)]

    # Hindi: what the definition says inline is filled in.
    hindi = runner.invoke(app, ["services", "strings", str(path), "--lang", "hi"])
    assert 'msgid "Consumer number"\nmsgstr "उपभोक्ता संख्या"' in hindi.stdout

    # Tamil: a translator fills in part, the service gains a step, the catalog is written again.
    written = runner.invoke(app, ["services", "strings", str(path), "--lang", "ta", "--write"])
    assert written.exit_code == 0, written.output
    po = tmp_path / "water.ta.po"
    filled = po.read_text("utf-8").replace(
        'msgid "Consumer number"\nmsgstr ""', 'msgid "Consumer number"\nmsgstr "நுகர்வோர் எண்"'
    )
    filled = filled.replace('msgid "Water bill"\nmsgstr ""', 'msgid "Water bill"\nmsgstr "தண்ணீர்"')
    po.write_text(filled, encoding="utf-8")
    changed = WATER.replace(
        "  - id: paid", '  - say: {en: "One moment.", hi: "एक क्षण।"}\n  - id: paid'
    )
    path.write_text(changed.replace("Consumer number", "Consumer no."), encoding="utf-8")
    again = runner.invoke(app, ["services", "strings", str(path), "--lang", "ta", "--write"])
    assert again.exit_code == 0, again.output
    with po.open("rb") as handle:
        catalog = read_po(handle)
    assert catalog.get("Water bill").string == "தண்ணீர்"  # type: ignore[union-attr]
    assert catalog.get("One moment.") is not None
    assert catalog.get("Consumer no.").string == ""  # type: ignore[union-attr]
    # The English changed: the translation done stays, as an obsolete entry to reuse.
    assert catalog.obsolete["Consumer number"].string == "நுகர்வோர் எண்"
    assert '\n#~ msgid "Consumer number"\n#~ msgstr "நுகர்வோர் எண்"\n' in po.read_text("utf-8")

    refused = runner.invoke(app, ["services", "strings", str(path), "--lang", "xx"])
    assert refused.exit_code == 2


def test_the_merged_definition_uploads_through_the_department_api_with_its_tamil(
    client: TestClient, gateway: Gateway, seeded: SeedReport, tmp_path: Path
) -> None:
    """The department API takes one file: ``seva services merged`` is that file."""
    source = WATER.replace("department: JAL", "department: FOOD").replace(
        "title:", "keywords: [PAANI]\ntitle:"
    )
    path = service_with(tmp_path, {"ta": TAMIL}, source)
    result = CliRunner().invoke(app, ["services", "merged", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["languages"] == ["en", "hi", "ta"]
    uploaded = client.put(
        "/api/v1/dept/services/water-bill",
        content=result.stdout.encode(),
        headers={
            "Authorization": f"Bearer {seeded.api_keys['FOOD']}",
            "Content-Type": "application/json",
        },
    )
    assert uploaded.status_code == 201, uploaded.text
    phone = "+919811700403"
    with gateway.session() as session:
        citizens.set_language(session, citizens.get_or_create(session, phone), "ta")
    assert sms(client, "PAANI", phone) == "நுகர்வோர் எண்"
