"""``seva db``: schema migrations."""

from __future__ import annotations

import typer

from seva.cli.common import console, settings
from seva.db import migrate

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    url = settings().effective_database_url
    migrate.upgrade(url, revision)
    console.print(f"[green]database is at {revision}[/green]")


@app.command()
def check() -> None:
    """Fail if the models have changes that no migration covers."""
    migrate.check(settings().effective_database_url)
    console.print("[green]models and migrations agree[/green]")
