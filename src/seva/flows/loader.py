"""Reading service definitions from YAML/JSON, with errors that name the line and the field.

A department developer edits these files by hand, so a mistake must point at the spot:
``ration.yaml:14 steps.2.type: Input should be 'text', 'digits', …``. PyYAML's node tree
gives each mapping key its line; pydantic's error locations are mapped back onto it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from seva.flows.schema import STEP_KINDS, CrossCheckError, ServiceDefinition

MAX_SOURCE_BYTES = 512 * 1024
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when PyYAML was built with it: several times faster, same node marks."""


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path or '(top)'}: {self.message}"


class DefinitionError(ValueError):
    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(
            f"  {source}:{p.line or '?'} {p.path or '(top)'}: {p.message}" for p in problems
        )
        super().__init__(f"{source} is not a valid service definition:\n{lines}")


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


def parse_definition(text: str, source: str = "<definition>") -> ServiceDefinition:
    """Validate one definition; raises DefinitionError listing every problem found."""
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
    try:
        definition = ServiceDefinition.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            cross = (error.get("ctx") or {}).get("error")
            if isinstance(cross, CrossCheckError):
                for path, message in cross.problems:
                    parts = tuple(path.split("."))
                    problems.append(Problem(path, _line_for(lines, parts), message))
                continue
            parts = _strip_tags(error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(Problem(".".join(parts), _line_for(lines, parts), message))
    else:
        if not problems:
            return definition
    raise DefinitionError(source, problems)


def read_definitions(path: Path) -> list[tuple[Path, str, ServiceDefinition]]:
    """Every ``*.yaml``/``*.yml``/``*.json`` under ``path`` (or the file itself), validated."""
    files = sorted(
        p
        for p in ([path] if path.is_file() else path.rglob("*"))
        if p.suffix in (".yaml", ".yml", ".json") and p.is_file()
    )
    found: list[tuple[Path, str, ServiceDefinition]] = []
    for file in files:
        text = file.read_text(encoding="utf-8")
        found.append((file, text, parse_definition(text, str(file))))
    return found


def dump(definition: ServiceDefinition) -> dict[str, Any]:
    """The JSON form stored in the database (defaults dropped, so it reads like the source)."""
    return definition.model_dump(mode="json", exclude_none=True)
