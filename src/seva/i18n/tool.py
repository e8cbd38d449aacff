"""``make catalog``: keep the translations in step with the English catalog.

English (``en/LC_MESSAGES/seva.po``) is the source: a new message is added there first, by key.
This tool then rewrites every other language's catalog so that each English entry is present
(empty where not yet translated, so Poedit and Weblate list it as to do), each carries the
current English as a comment for its translator, and entries English no longer has are dropped;
a translation whose English changed since is marked fuzzy (shown, but flagged for review,
and not used until a translator clears the flag). It then reports per language what is left.

Babel's own ``pybabel extract/update`` expects English source strings as message ids; Seva's
ids are keys, so the update step is this short function over Babel's catalog objects instead.
"""

from __future__ import annotations

import argparse
import io
import re
import sys

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po

from seva.i18n import DOMAIN, SOURCE, po_path, shipped

_ENGLISH = "English: "
REVIEW = "review"
_NOISE = re.compile(
    r'^"(?:POT-Creation-Date|PO-Revision-Date|Report-Msgid-Bugs-To|Last-Translator|'
    r'Language-Team|Generated-By): [^"]*"\n',
    re.M,
)
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)(?:[:!][^}]*)?\}")


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def load(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.is_file():
        return Catalog(locale=lang, domain=DOMAIN)
    with path.open("rb") as handle:
        return read_po(handle, locale=lang, domain=DOMAIN)


def save(catalog: Catalog, lang: str) -> None:
    path = po_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog.header_comment = (
        f"# Seva's message catalog: {lang}.\n"
        "# Keys are message ids; English is in en/LC_MESSAGES/seva.po. `make catalog` keeps\n"
        "# this file in step with it."
    )
    catalog.project = "Seva"
    catalog.version = "VERSION"  # read back as "Seva", it would be written "Seva Seva"
    catalog.fuzzy = False
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, sort_output=True, no_location=True)
    text = tidy(buffer.getvalue().decode("utf-8")).replace("Seva VERSION", "Seva")
    path.write_text(text, encoding="utf-8")


def tidy(text: str) -> str:
    """A written catalog without the header lines that change on every run and say nothing
    a translator needs (dates, placeholders, the generator's name)."""
    return _NOISE.sub("", text)


def message(
    key: str,
    string: str,
    *,
    english: str | None = None,
    fuzzy: bool = False,
    notes: list[str] | None = None,
) -> Message:
    flags = {"python-brace-format"} if placeholders(english or string) else set()
    if fuzzy:
        flags.add("fuzzy")
    comments = [_ENGLISH + _one_line(english)] if english is not None else []
    return Message(key, string, flags=flags, auto_comments=comments, user_comments=notes or [])


def to_review(entry: Message) -> bool:
    """A translation its translator asked a reviewer to look at (``# review: …`` above it):
    used, since a citizen is better served by it than by English, and counted by
    ``make catalog`` until a reviewer removes the note."""
    return any(note.startswith(REVIEW) for note in entry.user_comments)


def sync(lang: str, source: Catalog) -> tuple[int, int, int]:
    """Bring one translation in step with English; returns how many entries are untranslated,
    fuzzy (the English changed) and marked for review by their translator."""
    old = load(lang)
    fresh = Catalog(locale=lang, domain=DOMAIN)
    for entry in source:
        if not entry.id:
            continue
        english = str(entry.string)
        before = old.get(entry.id)
        string = str(before.string) if before is not None and before.string else ""
        was = _was_english(before)
        fuzzy = bool(string) and (
            (before is not None and before.fuzzy)
            or (was is not None and _squeeze(was) != _squeeze(english))
        )
        notes = list(before.user_comments) if before is not None else []
        fresh[entry.id] = message(str(entry.id), string, english=english, fuzzy=fuzzy, notes=notes)
    save(fresh, lang)
    untranslated = sum(1 for m in fresh if m.id and not m.string)
    fuzzy_count = sum(1 for m in fresh if m.id and m.fuzzy)
    review = sum(1 for m in fresh if m.id and m.string and to_review(m))
    return untranslated, fuzzy_count, review


def _one_line(text: str) -> str:
    return text.replace("\n", " ")


def _squeeze(text: str) -> str:
    """The text without whitespace: Babel wraps comments where it likes, so the English kept
    in a comment is compared without the spaces and line breaks the wrapping moved."""
    return "".join(text.split())


def _was_english(entry: Message | None) -> str | None:
    if entry is None:
        return None
    comments = list(entry.auto_comments)
    for at, comment in enumerate(comments):
        if comment.startswith(_ENGLISH):
            return " ".join([comment[len(_ENGLISH) :], *comments[at + 1 :]])
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seva.i18n.tool", description=__doc__)
    parser.add_argument("--add", metavar="LANG", help="start a catalog for a new language")
    args = parser.parse_args(argv)
    source = load(SOURCE)
    save(source, SOURCE)
    languages = [lang for lang in shipped() if lang != SOURCE]
    if args.add and args.add not in languages:
        languages.append(args.add)
    total = sum(1 for m in source if m.id)
    print(f"{SOURCE}: {total} messages")
    for lang in languages:
        untranslated, fuzzy, review = sync(lang, source)
        print(
            f"{lang}: {total - untranslated - fuzzy} translated, {untranslated} to translate, "
            f"{fuzzy} changed in English since, {review} marked for review"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
