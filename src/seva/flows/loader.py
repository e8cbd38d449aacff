"""Reading service definitions from YAML/JSON, with errors that name the line and the field.

A department developer edits these files by hand, so a mistake must point at the spot:
``ration.yaml:14 steps.2.type: Input should be 'text', 'digits', …``. PyYAML's node tree
gives each mapping key its line; pydantic's error locations are mapped back onto it.

Translations kept beside a definition (``ration.ta.po``, see ``seva.flows.translations``) are
merged into its texts before it is validated; what they get wrong is reported at their own
file and line, and what is only odd about them comes back as warnings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from seva.flows import translations as po
from seva.flows.schema import STEP_KINDS, CrossCheckError, ServiceDefinition

MAX_SOURCE_BYTES = 512 * 1024
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when PyYAML was built with it: several times faster, same node marks."""


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int | None
    message: str
    file: str = ""
    """A translation file the problem is in (``line`` is then its line); empty for the
    definition itself."""

    def __str__(self) -> str:
        if self.file:
            return f"{self.file}:{self.line or '?'} {self.message}"
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path or '(top)'}: {self.message}"

    def located(self, source: str) -> str:
        if self.file:
            return str(self)
        return f"{source}:{self.line or '?'} {self.path or '(top)'}: {self.message}"


class DefinitionError(ValueError):
    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p.located(source)}" for p in problems)
        super().__init__(f"{source} is not a valid service definition:\n{lines}")


@dataclass(frozen=True, slots=True)
class Parsed:
    definition: ServiceDefinition
    warnings: list[Problem] = field(default_factory=list)
    """What is odd but harmless, in the translation files (an entry for a text the service
    no longer has, an inline text that wins over an entry)."""


def _problem(note: po.Note) -> Problem:
    return Problem("", note.line, note.message, note.source)


def _lines(
    node: yaml.Node,
    prefix: tuple[str, ...],
    out: dict[tuple[str, ...], int],
    problems: list[Problem],
) -> None:
    out.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            path = (*prefix, key)
            if key in seen:
                problems.append(
                    Problem(".".join(path), key_node.start_mark.line + 1, "this key appears twice")
                )
            seen.add(key)
            out[path] = key_node.start_mark.line + 1
            _lines(value_node, path, out, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*prefix, str(index)), out, problems)


def _line_for(lines: dict[tuple[str, ...], int], path: tuple[str, ...]) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def _strip_tags(loc: tuple[int | str, ...]) -> tuple[str, ...]:
    """Drop pydantic's union-tag element after ``steps.N`` so paths match the file."""
    parts = [str(p) for p in loc]
    if len(parts) >= 3 and parts[0] == "steps" and parts[1].isdigit() and parts[2] in STEP_KINDS:
        del parts[2]
    return tuple(parts)


def parse_definition(
    text: str, source: str = "<definition>", translations: Sequence[po.Translation] = ()
) -> ServiceDefinition:
    """Validate one definition; raises DefinitionError listing every problem found."""
    return parse_service(text, source, translations).definition


@dataclass(frozen=True, slots=True)
class Raw:
    """A definition as YAML/JSON data, before validation, with the line of each key."""

    data: dict[str, Any]
    lines: dict[tuple[str, ...], int]
    problems: list[Problem]
    """Duplicate keys (the data keeps the last)."""


def read_raw(text: str, source: str = "<definition>") -> Raw:
    """The file's data and lines; raises DefinitionError when it is not a YAML/JSON mapping."""
    if len(text.encode("utf-8", "replace")) > MAX_SOURCE_BYTES:
        raise DefinitionError(source, [Problem("", None, "file is larger than 512 KiB")])
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise DefinitionError(
            source, [Problem("", line, f"not valid YAML/JSON: {reason}")]
        ) from None
    if not isinstance(data, dict) or node is None:
        raise DefinitionError(
            source, [Problem("", 1, "expected a mapping with seva, service, steps")]
        )
    lines: dict[tuple[str, ...], int] = {}
    problems: list[Problem] = []
    _lines(node, (), lines, problems)
    return Raw(data, lines, problems)


def parse_service(
    text: str, source: str = "<definition>", translations: Sequence[po.Translation] = ()
) -> Parsed:
    """Validate one definition with ``translations`` merged into its texts; raises
    DefinitionError listing every problem found, returns the warnings with it."""
    raw = read_raw(text, source)
    data, lines, problems = raw.data, raw.lines, list(raw.problems)
    notes = po.merge(data, translations)
    problems += [_problem(note) for note in notes if note.error]
    warnings = [_problem(note) for note in notes if not note.error]
    files = {translation.lang: translation.source for translation in translations}
    reported = {note.path for note in notes if note.error and note.path}
    try:
        definition = ServiceDefinition.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            cross = (error.get("ctx") or {}).get("error")
            if isinstance(cross, CrossCheckError):
                for path, message in cross.problems:
                    if path in reported:
                        continue  # said already, at the translation file's line
                    parts = tuple(path.split("."))
                    message = _untranslated(message, files)
                    problems.append(Problem(path, _line_for(lines, parts), message))
                continue
            parts = _strip_tags(error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(Problem(".".join(parts), _line_for(lines, parts), message))
    else:
        if not problems:
            return Parsed(definition, warnings)
    raise DefinitionError(source, problems)


def _untranslated(message: str, files: dict[str, str]) -> str:
    """A missing language that a translation file brings: say which file lacks the text."""
    prefix = "missing language(s) "
    if not message.startswith(prefix):
        return message
    named = [files[lang] for lang in message[len(prefix) :].split(", ") if lang in files]
    return f"{message} (no translation in {', '.join(named)})" if named else message


@dataclass(frozen=True, slots=True)
class ServiceFile:
    """A definition file as read: its text, the definition with the translations beside it
    merged in, the translation files, and what they raised short of an error."""

    path: Path
    source: str
    definition: ServiceDefinition
    translations: list[Path]
    warnings: list[Problem]


def read_service(file: Path) -> ServiceFile:
    """One definition file and the ``<name>.<lang>.po`` files next to it."""
    text = file.read_text(encoding="utf-8")
    beside = po.files_beside(file)
    translations = []
    for path in beside:
        try:
            translations.append(po.read(path))
        except po.TranslationError as exc:
            raise DefinitionError(str(file), [_problem(note) for note in exc.notes]) from None
    parsed = parse_service(text, str(file), translations)
    return ServiceFile(file, text, parsed.definition, beside, parsed.warnings)


def read_services(path: Path) -> list[ServiceFile]:
    """Every ``*.yaml``/``*.yml``/``*.json`` under ``path`` (or the file itself), validated,
    each with its translations."""
    files = sorted(
        p
        for p in ([path] if path.is_file() else path.rglob("*"))
        if p.suffix in (".yaml", ".yml", ".json") and p.is_file()
    )
    return [read_service(file) for file in files]


def read_definitions(path: Path) -> list[tuple[Path, str, ServiceDefinition]]:
    """As ``read_services``, without the warnings."""
    return [(found.path, found.source, found.definition) for found in read_services(path)]


def dump(definition: ServiceDefinition) -> dict[str, Any]:
    """The JSON form stored in the database (defaults dropped, so it reads like the source)."""
    return definition.model_dump(mode="json", exclude_none=True)
