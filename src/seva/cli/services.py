"""``seva services``: validate and load service definitions, and start their translations."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from seva.cli.common import console, err, session
from seva.flows import translations
from seva.flows.loader import (
    DefinitionError,
    ServiceFile,
    dump,
    read_raw,
    read_service,
    read_services,
)
from seva.flows.schema import LANGUAGES
from seva.flows.service import ServiceLoadError, definition_of, keywords_by_service, live_services
from seva.tenancy import service as tenancy

app = typer.Typer(help="Service definitions (YAML/JSON).", no_args_is_help=True)


def _warn(found: list[ServiceFile]) -> None:
    for item in found:
        for warning in item.warnings:
            err.print(f"[yellow]warning[/yellow] {escape(str(warning))}", soft_wrap=True)


def _languages(item: ServiceFile) -> str:
    extra = [translations.lang_of(path) for path in item.translations]
    return f" (translations: {', '.join(extra)})" if extra else ""


@app.command("check")
def check(path: Path = typer.Argument(..., exists=True)) -> None:
    """Validate definitions (with the <name>.<lang>.po translations beside them) without
    loading them."""
    try:
        found = read_services(path)
    except DefinitionError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    _warn(found)
    for item in found:
        definition = item.definition
        console.print(
            f"[green]ok[/green] {item.path}: {definition.department}/{definition.service}"
            + _languages(item)
        )


@app.command("strings")
def strings(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="A definition file."),
    lang: str | None = typer.Option(
        None, "--lang", help="Write a .po for this language (else a .pot template)."
    ),
    write: bool = typer.Option(
        False, "--write", help="Save it as <name>.<lang>.po next to the definition."
    ),
) -> None:
    """The texts of a service as a gettext catalog for a translator: every text once, by its
    English. With --lang, what the definition and that language's file already translate is
    filled in, so running it again after the service changed keeps the work done."""
    if lang is not None and (lang not in LANGUAGES or lang == "en"):
        known = ", ".join(code for code in LANGUAGES if code != "en")
        err.print(f"[red]--lang is one of {known}[/red]")
        raise typer.Exit(2)
    if write and lang is None:
        err.print("[red]--write needs --lang[/red]")
        raise typer.Exit(2)
    target = path.with_name(f"{path.stem}.{lang}{translations.SUFFIX}")
    try:
        raw = read_raw(path.read_text(encoding="utf-8"), str(path))
        existing = translations.read(target) if lang is not None and target.is_file() else None
    except DefinitionError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    except translations.TranslationError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    project = f"{raw.data.get('department', '')}/{raw.data.get('service', '')}"
    text = translations.template(
        raw.data, source=path.name, lines=raw.lines, lang=lang, existing=existing, project=project
    )
    if not write:
        typer.echo(text, nl=False)
        return
    target.write_text(text, encoding="utf-8")
    console.print(f"[green]wrote[/green] {target}")


@app.command("merged")
def merged(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="A definition file."),
) -> None:
    """The definition with the <name>.<lang>.po translations beside it merged in, as JSON:
    what to upload through the department API or the admin page, which take one file."""
    try:
        item = read_service(path)
    except DefinitionError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    _warn([item])
    typer.echo(json.dumps(dump(item.definition), ensure_ascii=False, indent=2))


@app.command("load")
def load(path: Path = typer.Argument(..., exists=True)) -> None:
    """Validate and load a definition file, or every *.yaml/*.json under a folder, each with
    the <name>.<lang>.po translations beside it."""
    from seva.flows.service import load_service
    from seva.outbound import UrlPolicy
    from seva.settings import get_settings

    urls = UrlPolicy.from_setting(get_settings().outbound_allow)

    try:
        found = read_services(path)
        _warn(found)
        with session() as s:
            for item in found:
                file, text, definition = item.path, item.source, item.definition
                service = load_service(s, definition, source=text, urls=urls)
                console.print(
                    f"[green]loaded[/green] {file}: {definition.department}/{service.slug} "
                    f"revision {service.revision}, keywords {', '.join(definition.keywords) or '-'}"
                )
    except (DefinitionError, ServiceLoadError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command("list")
def list_services() -> None:
    """Live services with their keywords."""
    table = Table("department", "service", "rev", "keywords", "title")
    with session() as s:
        keywords = keywords_by_service(s)
        for service in live_services(s):
            department = tenancy.department_by_id(s, service.department_id)
            table.add_row(
                department.code if department else "?",
                service.slug,
                str(service.revision),
                ", ".join(keywords.get(service.id, [])),
                definition_of(service).title["en"],
            )
    console.print(table)
