"""A service's translations beside its definition: ``ration.yaml`` and ``ration.ta.po``.

A department adds a language without touching the service: a translator takes the gettext
catalog ``seva services strings ration.yaml --lang ta`` writes, fills it in with the tools
they know (Poedit, Weblate, a text editor), and puts it next to the definition as
``<name>.<lang>.po``. Loading the definition (``seva services load``, ``check``, the bundled
services) reads every such file and merges it into the definition's texts before they are
validated, so the result is exactly as if the texts had been written inline.

* ``msgid`` is the English text as the definition writes it, placeholders and all, so the
  translator sees the English; ``msgctxt``, optional, is a step ``id`` and limits the entry to
  that step (the same English translated two ways in two steps).
* Inline texts win: a language the definition already spells out for a text is kept, and a
  file entry that says otherwise is reported. Adding a file can therefore only add
  translations, never change what a service already says.
* The file's language joins the service's ``languages``, so, as for an inline language, every
  text needs it: a text the file leaves untranslated (or fuzzy) is an error naming the text.
* An entry whose English no text has (the English changed, or the step went) is reported as a
  warning, not an error: the text it was for is caught by the rule above if it lost its
  translation, and an entry left over from a removed text harms nothing.
* A translation may use other placeholders than the English (a dataset's ``{card.status_hi}``
  for ``{card.status}``); a difference is reported as a warning, a malformed one is an error.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import PoFileError, read_po, write_po

from seva.flows.schema import LANGUAGES, as_text
from seva.flows.templating import placeholders
from seva.i18n.tool import tidy

MAX_PO_BYTES = 512 * 1024
SUFFIX = ".po"
_STEP_TEXTS = ("say", "end")
_SPEC_TEXTS = {"call": "error", "lookup": "missing", "status": "missing", "nearby": "missing"}


@dataclass(frozen=True, slots=True)
class Entry:
    msgid: str
    msgstr: str
    context: str | None
    line: int | None


@dataclass(frozen=True, slots=True)
class Translation:
    """One language's catalog for one service, as read from ``source``."""

    lang: str
    source: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class Note:
    """Something about a translation file, at a line of it."""

    source: str
    line: int | None
    message: str
    error: bool = False
    path: str = ""
    """The definition's text the entry went into (``steps.1.lookup.missing.ta``), for an
    error the definition's own validation would report again there."""

    def __str__(self) -> str:
        return f"{self.source}:{self.line or '?'} {self.message}"


class TranslationError(ValueError):
    def __init__(self, notes: list[Note]) -> None:
        self.notes = notes
        super().__init__("\n".join(f"  {note}" for note in notes))


@dataclass(slots=True)
class Slot:
    """A citizen-facing text in a definition's raw data: ``holder[key]`` is a bare English
    string or a mapping of language to text."""

    path: tuple[str, ...]
    step_id: str | None
    holder: dict[str, Any]
    key: str

    @property
    def english(self) -> str | None:
        value = self.holder[self.key]
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and isinstance(value.get("en"), str):
            return str(value["en"])
        return None

    def get(self, lang: str) -> str | None:
        value = self.holder[self.key]
        found = value.get(lang) if isinstance(value, dict) else None
        return found if isinstance(found, str) and found else None

    def put(self, lang: str, text: str) -> None:
        value = self.holder[self.key]
        texts = dict(as_text(value))
        texts[lang] = text
        self.holder[self.key] = texts


def slots(data: dict[str, Any]) -> Iterator[Slot]:
    """Every citizen-facing text of a definition's raw (not yet validated) data, in file order;
    the same texts ``schema._texts`` checks once it is, and the title and description."""
    for key in ("title", "description"):
        if data.get(key) is not None:
            yield Slot((key,), None, data, key)
    steps = data.get("steps")
    if not isinstance(steps, list):
        return
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        step_id = step.get("id") if isinstance(step.get("id"), str) else None
        at = ("steps", str(index))
        for key in _STEP_TEXTS:
            if key in step and step[key] is not None:
                yield Slot((*at, key), step_id, step, key)
        if "ask" in step or "menu" in step:
            for key in ("prompt", "error"):
                if step.get(key) is not None:
                    yield Slot((*at, key), step_id, step, key)
            options = step.get("options")
            for number, option in enumerate(options if isinstance(options, list) else []):
                if isinstance(option, dict) and option.get("label") is not None:
                    path = (*at, "options", str(number), "label")
                    yield Slot(path, step_id, option, "label")
        for kind, key in _SPEC_TEXTS.items():
            spec = step.get(kind)
            if isinstance(spec, dict) and spec.get(key) is not None:
                yield Slot((*at, kind, key), step_id, spec, key)
        apply = step.get("apply")
        if isinstance(apply, dict) and apply.get("status") is not None:
            yield Slot((*at, "apply", "status"), step_id, apply, "status")


def files_beside(definition: Path) -> list[Path]:
    """The ``<name>.<lang>.po`` files next to ``definition``, by language."""
    prefix = definition.stem + "."
    return sorted(
        path
        for path in definition.parent.iterdir()
        if path.is_file()
        and path.name.startswith(prefix)
        and path.name.endswith(SUFFIX)
        and "." not in path.name[len(prefix) : -len(SUFFIX)]
    )


def lang_of(path: Path) -> str:
    return path.name[: -len(SUFFIX)].rsplit(".", 1)[-1]


def parse(data: bytes, lang: str, source: str) -> Translation:
    """One translation file; a language Seva does not know, an oversized file or one gettext
    cannot read raise ``TranslationError``."""
    if lang not in LANGUAGES:
        known = ", ".join(LANGUAGES)
        raise TranslationError([Note(source, None, f"{lang!r} is not a language ({known})", True)])
    if lang == "en":
        raise TranslationError([Note(source, None, "English is the definition itself", True)])
    if len(data) > MAX_PO_BYTES:
        raise TranslationError([Note(source, None, "file is larger than 512 KiB", True)])
    try:
        catalog = read_po(io.BytesIO(data), locale=lang, ignore_obsolete=True, abort_invalid=True)
    except (PoFileError, UnicodeDecodeError, ValueError) as exc:
        raise TranslationError(
            [Note(source, None, f"not a gettext catalog: {exc}", True)]
        ) from None
    entries = tuple(
        Entry(str(message.id), str(message.string), message.context, message.lineno)
        for message in catalog
        if message.id and isinstance(message.id, str) and message.string and not message.fuzzy
    )
    return Translation(lang, source, entries)


def read(path: Path) -> Translation:
    return parse(path.read_bytes(), lang_of(path), path.name)


def merge(data: dict[str, Any], translations: Sequence[Translation]) -> list[Note]:
    """Merge ``translations`` into a definition's raw ``data`` in place; returns the warnings
    (entries no text has, inline texts that win over an entry, placeholders that differ) and
    the errors (malformed placeholders), which the caller tells apart by ``error``."""
    notes: list[Note] = []
    found = list(slots(data))
    steps = {slot.step_id for slot in found if slot.step_id is not None}
    languages = data.get("languages")
    declared = list(languages) if isinstance(languages, list) else ["en", "hi"]
    for translation in translations:
        by_key = {(entry.context, entry.msgid): entry for entry in translation.entries}
        used: set[tuple[str | None, str]] = set()
        for slot in found:
            english = slot.english
            if english is None:
                continue
            key = (slot.step_id, english) if (slot.step_id, english) in by_key else (None, english)
            entry = by_key.get(key)
            if entry is None:
                continue
            used.add(key)
            where = ".".join((*slot.path, translation.lang))
            notes += _check(translation, entry, where)
            inline = slot.get(translation.lang)
            if inline is None:
                slot.put(translation.lang, entry.msgstr)
            elif inline != entry.msgstr:
                where = ".".join(slot.path)
                notes.append(
                    Note(
                        translation.source,
                        entry.line,
                        f"{where} has its own {translation.lang} text, which is used instead",
                    )
                )
        for key, entry in by_key.items():
            if key in used:
                continue
            context, msgid = key
            if context is not None and context not in steps:
                message = f"msgctxt {context!r} names no step id of the service"
            elif context is not None:
                message = f"step {context!r} has no text {_short(msgid)!r}"
            else:
                message = f"the service has no text {_short(msgid)!r}"
            notes.append(Note(translation.source, entry.line, message))
        if translation.lang not in declared:
            declared.append(translation.lang)
    if translations:
        data["languages"] = declared
    return notes


def _check(translation: Translation, entry: Entry, where: str) -> list[Note]:
    try:
        theirs = placeholders(entry.msgstr)
    except ValueError as exc:
        return [Note(translation.source, entry.line, f"msgstr: {exc}", True, where)]
    try:
        ours = placeholders(entry.msgid)
    except ValueError:
        return []  # the definition's own text is reported by its validation
    if sorted(set(theirs)) != sorted(set(ours)):
        english = ", ".join("{" + name + "}" for name in sorted(set(ours))) or "none"
        translated = ", ".join("{" + name + "}" for name in sorted(set(theirs))) or "none"
        message = f"placeholders {translated} differ from the English {english}"
        return [Note(translation.source, entry.line, message)]
    return []


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(slots=True)
class _Draft:
    msgid: str
    context: str | None
    string: str = ""
    locations: list[tuple[str, int]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def template(
    data: dict[str, Any],
    *,
    source: str,
    lines: dict[tuple[str, ...], int],
    lang: str | None = None,
    existing: Translation | None = None,
    project: str = "",
) -> str:
    """The gettext catalog a translator starts from: every text of the definition once, by its
    English, with where it is (file and line) and a ``python-brace-format`` flag where it has
    placeholders. With ``lang``, a ``.po`` filled with what the definition already says in
    that language and what ``existing`` (that language's file so far) translates, so writing
    it again after the definition changed keeps the work done; else a ``.pot``.

    Two texts with the same English that already read differently in ``lang`` get an entry
    each, told apart by their step id (``msgctxt``); translations of English the definition no
    longer has are kept as obsolete (``#~``) entries."""
    known = (
        {(entry.context, entry.msgid): entry.msgstr for entry in existing.entries}
        if (existing is not None)
        else {}
    )
    drafts: dict[tuple[str | None, str], _Draft] = {}
    for slot in slots(data):
        english = slot.english
        if english is None:
            continue
        string = ""
        if lang is not None:
            string = (
                slot.get(lang)
                or known.get((slot.step_id, english))
                or known.get((None, english))
                or ""
            )
        plain = drafts.get((None, english))
        if plain is None:
            drafts[(None, english)] = plain = _Draft(english, None, string)
        elif string and plain.string and string != plain.string and slot.step_id is not None:
            own = drafts.setdefault((slot.step_id, english), _Draft(english, slot.step_id, string))
            own.locations.append((source, _line(lines, slot.path)))
            own.paths.append(".".join(slot.path))
            continue
        elif string and not plain.string:
            plain.string = string
        plain.locations.append((source, _line(lines, slot.path)))
        plain.paths.append(".".join(slot.path))
    catalog = Catalog(locale=lang, project=project, fuzzy=False)
    for draft in drafts.values():
        flags = {"python-brace-format"} if _has_placeholders(draft.msgid) else set()
        catalog[draft.msgid] = Message(
            draft.msgid,
            draft.string,
            locations=draft.locations,
            flags=flags,
            auto_comments=draft.paths,
            context=draft.context,
        )
    # Translations of texts the service no longer has stay at the end, commented out as
    # gettext's obsolete entries, for the translator to reuse; loading ignores them.
    written = {draft.msgid for draft in drafts.values()}
    for (context, msgid), string in known.items():
        if msgid not in written:
            catalog.obsolete[(msgid, context) if context else msgid] = Message(
                msgid, string, context=context
            )
    catalog.header_comment = (
        f"# Translations of the service {project or source}.\n"
        f"# msgid is the English as {source} writes it; msgctxt, where present, a step id.\n"
        "# Save as <name>.<lang>.po next to the definition: Seva merges it when loading."
    )
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, omit_header=False, include_lineno=True)
    text = tidy(buffer.getvalue().decode("utf-8"))
    return text.replace(
        f'"Project-Id-Version: {project} VERSION', f'"Project-Id-Version: {project}'
    )


def _line(lines: dict[tuple[str, ...], int], path: tuple[str, ...]) -> int:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get((), 1)


def _has_placeholders(text: str) -> bool:
    try:
        return bool(placeholders(text))
    except ValueError:
        return False
