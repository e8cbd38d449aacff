"""``seva services``: validate and load service definitions."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from seva.cli.common import console, err, session
from seva.flows.loader import DefinitionError, read_definitions
from seva.flows.service import ServiceLoadError, definition_of, keywords_by_service, live_services
from seva.tenancy import service as tenancy

app = typer.Typer(help="Service definitions (YAML/JSON).", no_args_is_help=True)


@app.command("check")
def check(path: Path = typer.Argument(..., exists=True)) -> None:
    """Validate definitions without loading them."""
    try:
        found = read_definitions(path)
    except DefinitionError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    for file, _text, definition in found:
        console.print(f"[green]ok[/green] {file}: {definition.department}/{definition.service}")


@app.command("load")
def load(path: Path = typer.Argument(..., exists=True)) -> None:
    """Validate and load a definition file, or every *.yaml/*.json under a folder."""
    from seva.flows.service import load_service
    from seva.outbound import UrlPolicy
    from seva.settings import get_settings

    urls = UrlPolicy.from_setting(get_settings().outbound_allow)

    try:
        found = read_definitions(path)
        with session() as s:
            for file, text, definition in found:
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
