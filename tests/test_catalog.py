"""The message catalog is complete and is the only place the gateway's words live.

Fails when a shipped language lacks an entry English has, when a translation's placeholders
differ from English (a ``{code}`` lost in Hindi would send a citizen a broken SMS), when code
or a template asks for a key the catalog does not have, or when a module, template or browser
script carries citizen-facing words of its own instead of a catalog key.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from seva import i18n
from seva.i18n import tool

SRC = Path(i18n.__file__).resolve().parents[1]
TRANSLATIONS = [lang for lang in i18n.shipped() if lang != i18n.SOURCE]

# Dicts keyed by language that are not words to translate, as (module, name): none today, as
# each language's own name and its provider and voice codes live in the languages table.
NOT_WORDS: set[tuple[str, str]] = set()


def english() -> dict[str, str]:
    return dict(i18n.messages(i18n.SOURCE))


def test_english_and_hindi_ship() -> None:
    assert {"en", "hi"} <= set(i18n.shipped())
    assert len(english()) > 400


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_every_entry_is_translated(lang: str) -> None:
    catalog = tool.load(lang)
    missing = sorted(key for key in english() if not i18n.messages(lang).get(key))
    fuzzy = sorted(str(m.id) for m in catalog if m.id and m.fuzzy)
    assert not missing, f"{lang} lacks {len(missing)} entries, e.g. {missing[:5]}"
    assert not fuzzy, f"{lang} has entries to review: {fuzzy[:5]}"


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_placeholders_are_the_same_in_every_language(lang: str) -> None:
    wrong = {
        key: (tool.placeholders(text), tool.placeholders(i18n.messages(lang)[key]))
        for key, text in english().items()
        if key in i18n.messages(lang)
        and tool.placeholders(text) != tool.placeholders(i18n.messages(lang)[key])
    }
    assert not wrong


def test_every_text_formats_with_its_own_placeholders() -> None:
    for lang in i18n.shipped():
        for key, text in i18n.messages(lang).items():
            values = dict.fromkeys(tool.placeholders(text), "x")
            text.format(**values)  # a stray brace raises here, not in front of a citizen


def test_catalog_files_are_as_make_catalog_writes_them(tmp_path: Path) -> None:
    """A hand edit that `make catalog` would rewrite (a missing English comment, a stale one,
    an unsorted entry) shows up here rather than as a noisy diff later."""
    for lang in TRANSLATIONS:
        catalog = tool.load(lang)
        for message in catalog:
            if not message.id:
                continue
            english_text = english()[str(message.id)]
            assert tool._was_english(message) is not None, message.id
            squeezed = tool._squeeze(tool._was_english(message) or "")
            assert squeezed == tool._squeeze(english_text), message.id
        assert sorted(str(m.id) for m in catalog if m.id) == sorted(english())


def _python_files() -> list[Path]:
    return [p for p in SRC.rglob("*.py") if "migrations" not in p.parts]


def test_no_module_carries_its_own_citizen_facing_texts() -> None:
    found = []
    for path in _python_files():
        rel = str(path.relative_to(SRC))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign):
                target = node.targets[0] if isinstance(node, ast.Assign) else node.target
                if (rel, getattr(target, "id", "")) in NOT_WORDS and node.value is not None:
                    allowed.add(id(node.value))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Dict) or id(node) in allowed:
                continue
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value in i18n.shipped()
                    and isinstance(value, ast.Constant | ast.JoinedStr)
                    and (not isinstance(value, ast.Constant) or str(value.value).strip())
                ):
                    found.append(f"{rel}:{node.lineno}")
                    break
    assert not found, f"texts outside the catalog at {found}"


# How code and templates ask for a message: ``text("key", …)``, ``entry("key")``,
# ``ui("key", …)`` and an answer's ``refused("key", …)`` in modules, ``t('key')`` in templates.
_PY_KEY = re.compile(r"""\b(?:text|entry|ui|refused)\(\s*["']([a-z][a-z0-9_]*)["']""")
_HTML_KEY = re.compile(r"""\bt\(\s*["']([a-z][a-z0-9_]*)["']""")


def test_every_key_asked_for_is_in_the_catalog() -> None:
    asked: dict[str, str] = {}
    for path in [*_python_files(), *SRC.rglob("*.html")]:
        pattern = _HTML_KEY if path.suffix == ".html" else _PY_KEY
        for key in pattern.findall(path.read_text(encoding="utf-8")):
            asked.setdefault(key, str(path.relative_to(SRC)))
    assert len(asked) > 300
    # ``t('role_' ~ name)`` asks for a family of keys: at least one must exist.
    missing = {
        key: where
        for key, where in asked.items()
        if key not in english()
        and not (key.endswith("_") and any(k.startswith(key) for k in english()))
    }
    assert not missing


# Words a template may carry as they are: names, units and codes that read the same in every
# language the gateway ships.
# A keyword (RATION) and a date's form (DD-MM-YYYY) are typed as they are in every language.
_SAME_EVERYWHERE = {
    *("SMS", "SHA-256", "IST", "KB", "KiB", "English", "हिन्दी", "Seva", "OTP"),
    *("RATION", "DD-MM-YYYY"),
}


def _template_words(source: str) -> list[str]:
    stripped = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", source, flags=re.S)
    stripped = re.sub(r"<(script|style)\b.*?</\1>", " ", stripped, flags=re.S)
    texts = re.findall(r">([^<]+)<", stripped)
    attributes = re.findall(r'\b(?:placeholder|title|aria-label|alt)="([^"]*)"', stripped)
    words = []
    for text in [*texts, *attributes]:
        for word in re.findall(r"[^\W\d_][\w'-]*", text):
            if len(word) > 1 and word not in _SAME_EVERYWHERE:
                words.append(word)
    return words


def test_templates_carry_no_words_of_their_own() -> None:
    found = {
        str(path.relative_to(SRC)): words
        for path in SRC.rglob("*.html")
        if "vendor" not in path.parts
        and (words := _template_words(path.read_text(encoding="utf-8")))
    }
    assert not found


# -- the browser scripts ----------------------------------------------------------------------
#
# A script writes words a person reads (a status, a button it makes) only from texts the page
# handed it from the catalog (the call page's ``config.words``, the simulator's data-*
# attributes). The scan below reads each script's string literals (a template literal's fixed
# parts one by one; comments and regular expressions skipped) and fails on any that reads like
# English: two words in a row, a capitalised word standing first, or a word beside a ``${…}``.

# What a script may carry as it is, with why.
_SCRIPT_LITERALS = {
    ("web/static/sim.js", "bubble "),  # CSS classes: `bubble ${direction}`
    ("web/static/sim.js", "delivery sms-"),  # CSS classes: `delivery sms-${status}`
    ("web/static/status.js", "use strict"),  # a directive
    ("web/static/sms_cost.js", "use strict"),
    ("web/static/apidocs.js", "use strict"),
    # /docs is Swagger UI for developers, English throughout like the API it documents; this
    # names its request-body box after the "Request body" heading it draws above it.
    ("web/static/apidocs.js", "Request body"),
}
_REGEX_MAY_FOLLOW = set("(,=:[!&|?{};")
_TWO_WORDS = re.compile(r"\b[A-Za-z][a-z']+\s+[a-z][a-z']+")
_LEADING_WORD = re.compile(r"^\s*[A-Z][a-z]+(?=$|[\s.,…:;!?])")
_BESIDE_A_VALUE = re.compile(r"(?:^|\s)\(?[a-z]{3,}\b")


def _js_quoted(src: str, at: int, out: list[tuple[str, str]]) -> int:
    quote, end, text = src[at], at + 1, []
    while end < len(src) and src[end] != quote:
        step = 2 if src[end] == "\\" else 1
        text.append(src[end : end + step])
        end += step
    out.append(("quoted", "".join(text)))
    return end + 1


def _js_template(src: str, at: int, out: list[tuple[str, str]]) -> int:
    end, text = at + 1, []
    while end < len(src):
        if src[end] == "\\":
            text.append(src[end : end + 2])
            end += 2
        elif src[end] == "`":
            out.append(("template", "".join(text)))
            return end + 1
        elif src.startswith("${", end):
            out.append(("template", "".join(text)))
            text = []
            end = _js_code(src, end + 2, out, inside=True)
        else:
            text.append(src[end])
            end += 1
    return end


def _js_regex(src: str, at: int) -> int:
    end, in_class = at + 1, False
    while end < len(src):
        if src[end] == "\\":
            end += 2
            continue
        if src[end] == "/" and not in_class:
            break
        in_class = (in_class or src[end] == "[") and src[end] != "]"
        end += 1
    end += 1
    while end < len(src) and src[end].isalpha():  # flags
        end += 1
    return end


def _js_code(src: str, at: int, out: list[tuple[str, str]], *, inside: bool = False) -> int:
    """Walks code from ``at`` (to the ``}`` that closes a ``${`` when ``inside``), collecting
    string literals into ``out``; returns where it stopped."""
    depth, previous = 0, ""
    while at < len(src):
        char = src[at]
        if src.startswith("//", at):
            newline = src.find("\n", at)
            at = len(src) if newline < 0 else newline
            continue
        if src.startswith("/*", at):
            at = src.index("*/", at) + 2
            continue
        if char in "'\"":
            at, previous = _js_quoted(src, at, out), char
            continue
        if char == "`":
            at, previous = _js_template(src, at, out), char
            continue
        if char == "/" and (
            previous in _REGEX_MAY_FOLLOW
            or not previous
            or re.search(r"\b(?:return|typeof)\s*$", src[:at])
        ):
            at, previous = _js_regex(src, at), "/"
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            if inside and depth == 0:
                return at + 1
            depth -= 1
        if not char.isspace():
            previous = char
        at += 1
    return at


def _script_words(source: str) -> list[str]:
    """The string literals of a script that read like words for a person."""
    literals: list[tuple[str, str]] = []
    _js_code(source, 0, literals)
    return [
        text
        for kind, text in literals
        if _TWO_WORDS.search(text)
        or _LEADING_WORD.search(text)
        or (kind == "template" and re.search(r"\s", text) and _BESIDE_A_VALUE.search(text))
    ]


def test_the_script_scan_finds_words_and_passes_code() -> None:
    """The scan itself: it must see English where a script writes it, and nothing in what
    scripts carry for the machine (ids, events, MIME types, URLs, regular expressions)."""
    script = r"""
    // Waiting for the other side: a comment, not a word on the page.
    /* Block comments too. */
    const TYPES = ["application/pdf", "image/jpeg"];
    const url = `${scheme}://${location.host}/rtc/ws?${query}`;
    const field = text.replace(/\{([a-z_]+)\}/g, (whole, name) => values[name] ?? whole);
    socket.addEventListener("message", handle);
    setStatus("Connecting…");
    setStatus(`${peer.name || "The other side"} left the call`);
    video.title = `${name} (screen)`;
    button.textContent = "Remove";
    line.textContent = `${name} delivered ✓`;
    throw new Error("the meeting server cannot be reached");
    const half = size / 2, again = total / 4;
    """
    assert _script_words(script) == [
        "Connecting…",
        "The other side",
        " left the call",
        " (screen)",
        "Remove",
        " delivered ✓",
        "the meeting server cannot be reached",
    ]


def test_scripts_write_no_words_of_their_own() -> None:
    found = {
        rel: words
        for path in SRC.rglob("*.js")
        if "vendor" not in path.parts
        and (rel := str(path.relative_to(SRC)))
        and (
            words := [
                word
                for word in _script_words(path.read_text(encoding="utf-8"))
                if (rel, word) not in _SCRIPT_LITERALS
            ]
        )
    }
    assert not found, f"words outside the catalog: {found}"


def test_no_module_picks_its_wording_by_comparing_a_language() -> None:
    """``if lang == "hi": return "…"`` keeps a translation outside the catalog, where
    ``make catalog`` cannot see it and a new language cannot add to it."""
    found = []
    languages = set(i18n.shipped()) - {i18n.SOURCE}
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and any(
                isinstance(side, ast.Constant) and side.value in languages
                for side in [node.left, *node.comparators]
            ):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not found
