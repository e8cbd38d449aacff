"""``seva dept``: onboard departments, their officials and API keys."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from seva.cli.common import console, err, session
from seva.flows import datasets
from seva.tenancy import service as tenancy
from seva.tenancy.models import Role

app = typer.Typer(help="Departments, officials and API keys.", no_args_is_help=True)


@app.command("add")
def add(
    code: str = typer.Argument(..., help="Short code, e.g. HEALTH"),
    name: str = typer.Option(..., "--name", help="English name"),
    name_hi: str = typer.Option("", "--name-hi", help="Hindi name"),
    sender_id: str = typer.Option(..., "--sender-id", help="SMS header, e.g. HLTHDP"),
    admin: str = typer.Option("", "--admin", help="Username of a department admin to create"),
    admin_password: str = typer.Option("", "--admin-password", hide_input=True),
) -> None:
    """Create a department and its first API key (shown once)."""
    names = {"en": name} | ({"hi": name_hi} if name_hi else {})
    try:
        with session() as s:
            department = tenancy.create_department(s, code=code, name=names, sender_id=sender_id)
            issued = tenancy.issue_api_key(s, department, label="created by seva dept add")
            if admin:
                tenancy.create_official(
                    s,
                    username=admin,
                    name=f"{name} admin",
                    role=Role.DEPARTMENT_ADMIN,
                    password=admin_password or typer.prompt("Admin password", hide_input=True),
                    department=department,
                )
    except tenancy.TenancyError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"[green]department {department.code} created[/green]")
    console.print(f"API key (shown once, store it now): [bold]{issued.secret}[/bold]")


@app.command("list")
def list_departments() -> None:
    """Departments on this gateway."""
    table = Table("code", "name", "sender", "languages")
    with session() as s:
        for d in tenancy.menu_departments(s, include_inactive=True):
            table.add_row(d.code, d.display_name("en"), d.sender_id, ", ".join(d.languages))
    console.print(table)


@app.command("key")
def new_key(code: str, label: str = typer.Option("", "--label")) -> None:
    """Issue another API key for department CODE (shown once)."""
    with session() as s:
        department = tenancy.department_by_code(s, code)
        if department is None:
            err.print(f"[red]no department {code}[/red]")
            raise typer.Exit(2)
        issued = tenancy.issue_api_key(s, department, label=label)
    # On one line whatever the terminal's width, so it can be copied whole.
    console.print(f"API key (shown once): [bold]{issued.secret}[/bold]", soft_wrap=True)


@app.command("revoke-key")
def revoke_key(code: str, prefix: str) -> None:
    """Revoke the API key whose public prefix (sk_…) is PREFIX."""
    with session() as s:
        department = tenancy.department_by_code(s, code)
        if department is None or not tenancy.revoke_api_key(s, department, prefix):
            err.print("[red]no such active key[/red]")
            raise typer.Exit(2)
    console.print(f"[green]revoked {prefix}[/green]")


@app.command("official")
def add_official(
    code: str,
    username: str,
    role: Role = typer.Option(Role.OFFICER, "--role"),
    name: str = typer.Option("", "--name"),
    password: str = typer.Option(..., "--password", prompt=True, hide_input=True),
) -> None:
    """Add an official (officer, department admin or CSC operator) to department CODE."""
    try:
        with session() as s:
            department = tenancy.department_by_code(s, code)
            if department is None:
                raise tenancy.TenancyError(f"no department {code}")
            tenancy.create_official(
                s,
                username=username,
                name=name or username,
                role=role,
                password=password,
                department=department,
            )
    except tenancy.TenancyError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"[green]{username} ({role.value}) added to {code}[/green]")


@app.command("password")
def set_password(
    username: str,
    password: str = typer.Option(
        ..., "--password", prompt=True, hide_input=True, confirmation_prompt=True
    ),
) -> None:
    """Give official USERNAME a new password; their open logins end."""
    try:
        with session() as s:
            official = tenancy.official_by_username(s, username)
            if official is None:
                raise tenancy.TenancyError(f"no official {username}")
            tenancy.set_password(s, official, password)
            tenancy.audit(s, "password_set", official=official, by="cli")
    except tenancy.TenancyError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"[green]new password set for {username}; their logins have ended[/green]")


@app.command("deactivate")
def deactivate(username: str) -> None:
    """Stop official USERNAME logging in; their open logins end at once."""
    with session() as s:
        official = tenancy.official_by_username(s, username)
        if official is None:
            err.print(f"[red]no official {username}[/red]")
            raise typer.Exit(2)
        tenancy.deactivate_official(s, official)
        tenancy.audit(s, "official_deactivated", official=official, by="cli")
    console.print(f"[green]{username} deactivated; their logins have ended[/green]")


@app.command("dataset")
def upload_dataset(
    code: str,
    name: str,
    path: Path = typer.Argument(..., exists=True, dir_okay=False),
    key: str = typer.Option("", "--key", help="Key column (default: the first)"),
) -> None:
    """Upload (replace) CSV dataset NAME for department CODE."""
    try:
        with session() as s:
            department = tenancy.department_by_code(s, code)
            if department is None:
                raise datasets.DatasetError(f"no department {code}")
            dataset = datasets.upload_csv(
                s, department.id, name, path.read_text("utf-8"), key or None
            )
    except datasets.DatasetError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"[green]{dataset.row_count} rows loaded into {code}/{name}[/green]")
