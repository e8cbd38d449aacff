"""Safe ``{placeholder}`` templating for prompts and webhook bodies.

Only dotted names are looked up in a plain mapping (``{card.status}``); there is no attribute
access, indexing, format spec or expression, so a template written by a department, or a value
a citizen typed, can never execute code (``str.format`` would allow ``{x.__class__}``).
``{{`` and ``}}`` stand for literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")


def placeholders(template: str) -> list[str]:
    """The names a template uses; raises ValueError for a malformed one."""
    names: list[str] = []
    for match in _TOKEN.finditer(template):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            raise ValueError(f"unbalanced brace at position {match.start()} (write {{{{ or }}}})")
        if not _NAME.match(name.strip()):
            raise ValueError(f"{{{name}}} is not a placeholder name (letters, digits, _ and .)")
        names.append(name.strip())
    return names


def lookup(context: Mapping[str, Any], name: str) -> Any:
    value: Any = context
    for part in name.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif (
            isinstance(value, list) and part.isascii() and part.isdigit() and int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            return None
    return value


def stringify(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ", ".join(stringify(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {stringify(v)}" for k, v in value.items())
    return str(value)


def render(
    template: str,
    context: Mapping[str, Any],
    escape: Callable[[str, str], str] | None = None,
) -> str:
    """Fill placeholders; unknown names render empty. Malformed braces are kept verbatim.

    ``escape(name, value)`` transforms each value, e.g. to percent-encode it inside a URL.
    """

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = match.group(1)
        if name is None or not _NAME.match(name.strip()):
            return token
        value = stringify(lookup(context, name.strip()))
        return escape(name.strip(), value) if escape else value

    return _TOKEN.sub(substitute, template)
