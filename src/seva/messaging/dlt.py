"""TRAI DLT rules for commercial SMS in India: entity IDs, headers and content templates.

Follows the Telecom Commercial Communications Customer Preference Regulations, 2018 (TRAI
TCCCPR 2018) as amended in 2025 (header suffixes, end of the "service explicit" category) and
the operators' DLT scrubbing rules that put them into practice. Operators refuse a commercial
SMS unless the sender's entity, its header and the exact content template are registered on
DLT, so a department's message that would be scrubbed is better refused here, with a sentence
that says why, than silently dropped by an operator.

What this module accepts, and the sources for each rule:

* Entity ID: 19 ASCII digits (every DLT platform issues 19-digit principal entity IDs).
* Header (sender ID): promotional headers are 6 digits (the first digit names the customer
  preference category, 0-8); transactional, service and government headers are 6 letters.
  Letters are accepted in any case and stored upper case: all government headers in use are
  upper case, and MSDG documents sender IDs as 6 characters.
* Display suffix: since the TCCCPR 2025 amendment (in force 6 May 2025) operators append the
  template's type to the header the citizen sees: ``-P`` promotional, ``-S`` service,
  ``-T`` transactional, ``-G`` government. The amendment retired "service explicit"; such
  templates were migrated to promotional, keep their alphabetic header and show ``-P``.
* Template variables: ``{#var#}`` (case-sensitive) holds at most 30 characters, English or
  Unicode alike. TRAI's variable-tagging directions added typed tags, which are accepted
  too: ``{#numeric#}`` (also written ``{#number#}`` on some portals) 30, ``{#alphanumeric#}``
  40, and ``{#url#}``, ``{#urlott#}``, ``{#cbn#}``, ``{#email#}`` 30 (no operator documents a
  different limit for these; pass ``limits`` to :func:`compile_template` if yours does).
  A variable may be empty, never holds a line break, and its character class (digits only
  for ``numeric``…) is not enforced here: operators apply those rules unevenly (dates and
  amounts are routinely sent in ``alphanumeric``), and a wrong guess would block messages
  the operator delivers. Anything else written like a tag (``{#Var#}``, ``{#var1#}``) is
  refused when the template is compiled, because DLT portals reject such templates.
* Fixed text is compared exactly, character for character and case-sensitively: operators
  reject a message whose fixed text differs by one space, a doubled space, a full stop or a
  line break. The one normalisation is line endings: CRLF and lone CR become LF in both the
  template and the text, because HTML forms submit every line break as CRLF.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "DEFAULT_VARIABLE_LIMITS",
    "Category",
    "CompiledTemplate",
    "compile_template",
    "display_sender",
    "explain_mismatch",
    "find_template",
    "validate_entity_id",
    "validate_header",
    "validate_template_id",
]


class Category(StrEnum):
    """A DLT content template's category; it decides the header type and display suffix."""

    PROMOTIONAL = "promotional"
    TRANSACTIONAL = "transactional"
    SERVICE_IMPLICIT = "service_implicit"
    SERVICE_EXPLICIT = "service_explicit"
    GOVERNMENT = "government"


_SUFFIX = {
    Category.PROMOTIONAL: "P",
    Category.TRANSACTIONAL: "T",
    Category.SERVICE_IMPLICIT: "S",
    # TCCCPR 2025 amendment: service-explicit templates became promotional.
    Category.SERVICE_EXPLICIT: "P",
    Category.GOVERNMENT: "G",
}

DEFAULT_VARIABLE_LIMITS: Mapping[str, int] = {
    "var": 30,
    "numeric": 30,
    "number": 30,
    "alphanumeric": 40,
    "url": 30,
    "urlott": 30,
    "cbn": 30,
    "email": 30,
}

_ENTITY_ID = re.compile(r"[0-9]{19}")
_TEMPLATE_ID = re.compile(r"[0-9]{1,30}")
_NUMERIC_HEADER = re.compile(r"[0-9]{6}")
_ALPHA_HEADER = re.compile(r"[A-Za-z]{6}")
# Anything shaped like a tag; known names are variables, the rest is a registration mistake.
_TAG = re.compile(r"\{#([^#{}\n]{0,40})#\}")
_CONTEXT = 30


def validate_entity_id(entity_id: str) -> str:
    """The entity ID without surrounding spaces, or ValueError saying what is wrong."""
    value = entity_id.strip()
    if not _ENTITY_ID.fullmatch(value):
        raise ValueError(
            f"a DLT entity ID is 19 digits; {_quote(value[:40])} is {_describe(value)}"
        )
    return value


def validate_template_id(template_id: str) -> str:
    """The template ID without surrounding spaces, or ValueError saying what is wrong.

    DLT platforms issue 19-digit template IDs; 1 to 30 digits are accepted because some
    aggregators and older MSDG accounts carry shorter ones (MSDG documents 12 or 19).
    """
    value = template_id.strip()
    if not _TEMPLATE_ID.fullmatch(value):
        raise ValueError(
            f"a DLT template ID is a number of up to 30 digits (usually 19); "
            f"{_quote(value[:40])} is {_describe(value)}"
        )
    return value


def _category(category: str) -> Category:
    try:
        return Category(category)
    except ValueError:
        names = ", ".join(c.value for c in Category)
        raise ValueError(f"unknown DLT category {category!r}; use one of {names}") from None


def validate_header(header: str, category: str) -> str:
    """The header normalised for ``category``, or ValueError with the reason.

    A promotional template can only go out from a numeric header and every other category
    only from an alphabetic one, so the pair is checked together.
    """
    kind = _category(category)
    value = header.strip()
    if kind is Category.PROMOTIONAL:
        if _NUMERIC_HEADER.fullmatch(value):
            return value
        if _ALPHA_HEADER.fullmatch(value):
            raise ValueError(
                f"header {_quote(value)} is alphabetic, but promotional templates are sent "
                "from a 6-digit numeric header; alphabetic headers carry transactional, "
                "service and government templates"
            )
        raise ValueError(f"a promotional header is 6 digits; {_quote(value)} is not")
    if _ALPHA_HEADER.fullmatch(value):
        return value.upper()
    if _NUMERIC_HEADER.fullmatch(value):
        raise ValueError(
            f"header {_quote(value)} is numeric, which DLT reserves for promotional "
            f"templates; a {kind.value} template needs a 6-letter header"
        )
    raise ValueError(f"a {kind.value} header is 6 letters (A-Z); {_quote(value)} is not")


def display_sender(header: str, category: str) -> str:
    """The sender a citizen's phone shows, e.g. ``SEVAGV-G`` (operators add a circle prefix)."""
    return f"{validate_header(header, category)}-{_SUFFIX[_category(category)]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledTemplate:
    """A DLT content template prepared for matching many messages quickly.

    The template is held as fixed segments separated by gaps; a gap is one variable or a
    run of adjacent variables (``{#var#}{#var#}`` is one gap of up to 60 characters, split
    left-first when values are extracted, since any split is as good as another).

    Matching never backtracks exponentially. A single regular expression such as
    ``^A([^\\n]{0,30})B([^\\n]{0,30})C$`` has no nested quantifiers but still tries every
    way of placing ``B``, ``C``… in the text before it gives up, which is up to 31**k paths
    for k variables: a mismatching message against a template with short fixed parts
    (``{#var#} {#var#} {#var#}…``) takes seconds with seven variables and about ten times
    longer for each one more. Instead:

    1. ``pattern`` puts each gap and the fixed text after it in an atomic group with a
       lazy quantifier: it takes the earliest place the next fixed text fits and never
       revisits it, so it runs in time linear in the text. When it matches, the message
       matches, and that is the common case.
    2. Otherwise a dynamic programme over text positions decides: it keeps the set of
       positions where each fixed segment can end (at most a window of ``max + 1``
       positions) and finds the next segment's occurrences with ``str.find``, so it is
       linear in the text too, and exact.
    """

    body: str
    template_id: str
    segments: tuple[str, ...]
    variable_kinds: tuple[str, ...]
    variable_limits: tuple[int, ...]
    gap_sizes: tuple[int, ...]
    gap_limits: tuple[int, ...]
    pattern: re.Pattern[str] = field(repr=False, compare=False)

    def match(self, text: str) -> bool:
        """True if an operator's scrubber would accept ``text`` for this template."""
        text = _normalise(text)
        if self.pattern.match(text) is not None:
            return True
        return self._spans(text) is not None

    def variables(self, text: str) -> list[str] | None:
        """The value of each variable in order, or None if ``text`` does not match."""
        text = _normalise(text)
        found = self.pattern.match(text)
        if found is not None:
            if len(self.gap_sizes) == len(self.variable_kinds):
                return list(found.groups())
            spans = [found.span(i + 1) for i in range(len(self.gap_limits))]
        else:
            solved = self._spans(text)
            if solved is None:
                return None
            spans = solved
        values: list[str] = []
        limits = iter(self.variable_limits)
        for (start, end), size in zip(spans, self.gap_sizes, strict=True):
            for _ in range(size):
                take = min(end - start, next(limits))
                values.append(text[start : start + take])
                start += take
        return values

    def _spans(self, text: str) -> list[tuple[int, int]] | None:
        """Where each gap lies in ``text`` for one valid reading, or None if there is none."""
        segments = self.segments
        if not self.gap_limits:
            return [] if text == segments[0] else None
        if not text.startswith(segments[0]):
            return None
        reachable = [len(segments[0])]
        back: list[dict[int, tuple[int, int]]] = []
        last = len(self.gap_limits)
        for index in range(1, last + 1):
            step = _advance(
                text, reachable, segments[index], self.gap_limits[index - 1], index == last
            )
            if not step:
                return None
            back.append(step)
            reachable = sorted(step)
        spans: list[tuple[int, int]] = []
        position = len(text)
        for step in reversed(back):
            start, end = step[position]
            spans.append((start, end))
            position = start
        spans.reverse()
        return spans


def _advance(
    text: str, reachable: list[int], segment: str, limit: int, final: bool
) -> dict[int, tuple[int, int]]:
    """Where ``segment`` can end after a gap of at most ``limit`` characters (no line break).

    Returns ``{end of segment: (gap start, gap end)}``; ``reachable`` is sorted.
    """
    low = reachable[0]
    high = reachable[-1] + limit  # the latest the gap may end
    if final:
        start = len(text) - len(segment)
        candidates = [start] if low <= start <= high and text.endswith(segment) else []
    else:
        candidates = []
        stop = min(high + len(segment), len(text))
        found = text.find(segment, low, stop)
        while found != -1:
            candidates.append(found)
            found = text.find(segment, found + 1, stop)
    result: dict[int, tuple[int, int]] = {}
    for gap_end in candidates:
        newline = text.rfind("\n", low, gap_end)
        earliest = max(gap_end - limit, newline + 1 if newline >= 0 else low)
        at = bisect.bisect_left(reachable, earliest)
        if at < len(reachable) and reachable[at] <= gap_end:
            result[gap_end + len(segment)] = (reachable[at], gap_end)
    return result


def compile_template(
    body: str, *, template_id: str = "", limits: Mapping[str, int] | None = None
) -> CompiledTemplate:
    """Prepare a registered DLT template body for matching; ValueError if DLT would reject it.

    ``limits`` overrides the maximum length per variable kind (keys as in
    :data:`DEFAULT_VARIABLE_LIMITS`, e.g. ``{"url": 60}``).
    """
    if template_id:
        template_id = validate_template_id(template_id)
    table = dict(DEFAULT_VARIABLE_LIMITS)
    if limits is not None:
        for kind, value in limits.items():
            if kind not in DEFAULT_VARIABLE_LIMITS:
                raise ValueError(f"unknown DLT variable kind {kind!r}")
            if value < 0:
                raise ValueError(f"the limit for {{#{kind}#}} cannot be negative")
            table[kind] = value
    text = _normalise(body)
    segments: list[str] = []
    kinds: list[str] = []
    gap_sizes: list[int] = []
    gap_limits: list[int] = []
    position = 0
    previous_end = -1
    for tag in _TAG.finditer(text):
        name = tag.group(1)
        if name not in table:
            known = ", ".join(f"{{#{kind}#}}" for kind in DEFAULT_VARIABLE_LIMITS)
            raise ValueError(
                f"{_quote(tag.group(0))} is not a DLT variable; DLT recognises only "
                f"{known} (lower case, exactly as written)"
            )
        kinds.append(name)
        if tag.start() == previous_end:
            gap_sizes[-1] += 1
            gap_limits[-1] += table[name]
        else:
            segments.append(text[position : tag.start()])
            gap_sizes.append(1)
            gap_limits.append(table[name])
        position = previous_end = tag.end()
    segments.append(text[position:])
    return CompiledTemplate(
        body=body,
        template_id=template_id,
        segments=tuple(segments),
        variable_kinds=tuple(kinds),
        variable_limits=tuple(table[kind] for kind in kinds),
        gap_sizes=tuple(gap_sizes),
        gap_limits=tuple(gap_limits),
        pattern=_build_pattern(segments, gap_limits),
    )


def _build_pattern(segments: list[str], gap_limits: list[int]) -> re.Pattern[str]:
    parts = [r"\A", re.escape(segments[0])]
    last = len(gap_limits)
    for index, limit in enumerate(gap_limits, start=1):
        gap = f"([^\\n]{{0,{limit}}}?)"
        if index < last:
            parts.append(f"(?>{gap}{re.escape(segments[index])})")
        else:
            parts.append(f"{gap}{re.escape(segments[index])}")
    parts.append(r"\Z")
    return re.compile("".join(parts))


def find_template(templates: Iterable[CompiledTemplate], text: str) -> CompiledTemplate | None:
    """The first template ``text`` matches, or None."""
    for template in templates:
        if template.match(text):
            return template
    return None


def explain_mismatch(template: CompiledTemplate, text: str) -> str:
    """One sentence saying where ``text`` first departs from ``template``."""
    name = f"template {template.template_id}" if template.template_id else "the template"
    text = _normalise(text)
    if template.match(text):
        return f"text matches {name}"
    head = f"text does not match {name}: "
    segments = template.segments
    first = segments[0]
    if not text.startswith(first):
        same = _common_prefix(first, text, 0)
        return head + _differs(first, same, text, same, at_start=True)
    if not template.gap_limits:
        extra = text[len(first) :]
        return head + f"the text goes on after the end of the template: {_quote(_clip(extra))}"
    reachable = [len(first)]
    last = len(template.gap_limits)
    for index in range(1, last + 1):
        segment = segments[index]
        limit = template.gap_limits[index - 1]
        step = _advance(text, reachable, segment, limit, index == last)
        if not step:
            return head + _explain_gap(template, text, reachable, index)
        reachable = sorted(step)
    return head + "it differs from the template"  # unreachable: match() was False


def _explain_gap(template: CompiledTemplate, text: str, reachable: list[int], index: int) -> str:
    """Why segment ``index`` cannot follow gap ``index`` from any ``reachable`` position."""
    segment = template.segments[index]
    limit = template.gap_limits[index - 1]
    final = index == len(template.gap_limits)
    variables = _variable_label(template, index)
    low = reachable[0]
    # The fixed text is there, just too far away: the gap is too long or crosses a line.
    if final:
        start = len(text) - len(segment)
        beyond = start if start >= low and text.endswith(segment) else -1
    else:
        beyond = text.find(segment, low)
    if beyond != -1:
        unbroken = [p for p in reachable if p <= beyond and "\n" not in text[p:beyond]]
        if not unbroken:
            return f"{variables} would have to contain a line break, which DLT does not allow"
        length = beyond - unbroken[-1]
        if template.gap_sizes[index - 1] == 1:
            return f"{variables} would be {length} characters long; DLT allows at most {limit}"
        return f"{variables} would together be {length} characters long; they allow at most {limit}"
    # Otherwise find the placement that gets furthest into the fixed text.
    best_same, best_at = -1, low
    for start in reachable:
        newline = text.find("\n", start)
        end = min(start + limit, len(text) if newline == -1 else newline)
        for gap_end in range(start, end + 1):
            same = _common_prefix(segment, text, gap_end)
            if same > best_same:
                best_same, best_at = same, gap_end
    if final and best_same == len(segment):
        extra = text[best_at + len(segment) :]
        return f"the text goes on after the end of the template: {_quote(_clip(extra))}"
    if best_same == 0:
        return (
            f"the fixed text {_quote(_clip(segment))} that follows {variables} is not in the text"
        )
    return _differs(segment, best_same, text, best_at + best_same, at_start=False)


def _differs(fixed: str, same: int, text: str, at: int, *, at_start: bool) -> str:
    expected = _quote(_clip(fixed[same:]))
    if same == 0 and at_start:
        where = "fixed text differs at the very start"
    else:
        where = f"fixed text differs after {_quote(fixed[max(0, same - _CONTEXT) : same])}"
    if at >= len(text):
        return f"{where}: the template goes on with {expected} but the text ends"
    return f"{where}: the template has {expected}, the text has {_quote(_clip(text[at:]))}"


def _variable_label(template: CompiledTemplate, index: int) -> str:
    first = sum(template.gap_sizes[: index - 1])
    size = template.gap_sizes[index - 1]
    kinds = template.variable_kinds[first : first + size]
    if size == 1:
        return f"variable {first + 1} ({{#{kinds[0]}#}})"
    return f"variables {first + 1} to {first + size}"


def _common_prefix(fixed: str, text: str, at: int) -> int:
    same = 0
    limit = min(len(fixed), len(text) - at)
    while same < limit and fixed[same] == text[at + same]:
        same += 1
    return same


def _normalise(text: str) -> str:
    if "\r" in text:
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _clip(value: str) -> str:
    return value if len(value) <= _CONTEXT else value[:_CONTEXT] + "…"


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("\n", "\\n").replace("'", "\\'") + "'"


def _describe(value: str) -> str:
    if not value:
        return "empty"
    if not value.isascii() or not value.isdigit():
        return "not all digits"
    return f"{len(value)} digits"
