"""Every route × every role: the app's own route list against ``table.TABLE``.

The routes are read from the application (FastAPI 0.165 keeps an included router as one
``_IncludedRouter`` entry of ``app.routes``, flattened here through its ``include_context``), so
a route added without a decision about who may use it fails ``test_every_route_has_an_entry``,
and an entry left behind by a removed route fails it too. Then each role, logged in the way its
people log in, calls every route with department A's and citizen A's things in its path
(``world``), and each answer is classed as allowed or denied (``table``'s docstring says how).
Two more walls are checked on the way: a role that is neither department A's nor citizen A
changes none of their rows (``WATCHED``), and no answer to it shows their things (``leaks``),
even from a route it may use, such as its own department's list. One test per role keeps each
role's logins and writes to itself; the database is fresh for each.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx  # what starlette.testclient speaks
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import Mount, Route
from starlette.websockets import WebSocketDisconnect

from seva.app import create_app
from seva.db.base import Base
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.settings import Settings
from tests.authz.table import DESTROY, READ, SESSION, TABLE, WRITE, Call, Entry, Skip
from tests.authz.world import CITIZEN_A, Caller, Who, World, build, sign_in

# The demo's routes are mounted so that each of them has an entry too (a category not run).
pytestmark = pytest.mark.demo_routes

CONFIG_RE = re.compile(r"data-config='([^']+)'")
LOGIN_PAGES = ("/login", "/citizen/login")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves; ``WS`` for WebSockets and ``MOUNT`` for
    mounted applications (the static files)."""

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for route in routes:
            context = getattr(route, "include_context", None)
            if context is not None:
                yield from walk(context.included_router.routes, prefix + context.prefix)
            elif isinstance(route, APIWebSocketRoute):
                yield "WS", prefix + route.path
            elif isinstance(route, APIRoute | Route):
                for method in sorted(route.methods or ()):
                    if method != "HEAD":
                        yield method, prefix + route.path
            elif isinstance(route, Mount):
                yield "MOUNT", prefix + route.path
            else:
                raise AssertionError(f"a kind of route the matrix does not know: {route!r}")

    return set(walk(list(app.routes), ""))


def test_every_route_has_an_entry(settings: Settings) -> None:
    app = create_app(settings)
    try:
        served = app_routes(app)
    finally:
        app.state.gateway.close()
    assert len(served) > 100  # the flattening found the included routers
    missing = sorted(served - TABLE.keys())
    gone = sorted(TABLE.keys() - served)
    assert not missing, f"routes with no entry in tests/authz/table.py: {missing}"
    assert not gone, f"entries in tests/authz/table.py for routes the app no longer has: {gone}"


@pytest.mark.parametrize("category", list(Skip), ids=lambda c: c.name.lower())
def test_routes_with_their_own_authentication(category: Skip) -> None:
    routes = sorted(key for key, entry in TABLE.items() if entry.allowed is category)
    assert routes
    pytest.skip(f"{len(routes)} routes: {category.value}")


@dataclass
class Context:
    client: TestClient
    world: World
    caller: Caller

    def fill(self, text: str) -> str:
        values = self.world.values()
        return PLACEHOLDER.sub(
            lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), text
        )

    def filled(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.fill(value)
        if isinstance(value, dict):
            return {k: self.filled(v) for k, v in value.items()}
        return value

    def call_token(self, path: str) -> str | None:
        """The join token in the caller's own view of a call or meeting page, if it gets one."""
        page = self.client.get(path, headers=self.caller.headers, follow_redirects=False)
        found = CONFIG_RE.search(page.text) if page.status_code == 200 else None
        if found is None:
            return None
        return str(json.loads(html.unescape(found.group(1)))["token"])


def outcome(response: httpx.Response) -> str:
    if response.status_code >= 500:
        return f"error {response.status_code}"
    if response.status_code in (401, 403, 404):
        return "denied"
    sent_to = urlsplit(response.headers.get("location", "")).path if response.is_redirect else ""
    # A login form's own next step (the code was sent: enter it) is not a refusal.
    if sent_to in LOGIN_PAGES and response.request.url.path not in LOGIN_PAGES:
        return "denied"
    return "allowed"


def socket_outcome(context: Context) -> str:
    """The signalling socket with the token the caller's own page of A's meeting gave it."""
    token = context.call_token(context.fill("/meet/{meeting}")) or "none"
    try:
        with context.client.websocket_connect(f"/rtc/ws?token={token}") as socket:
            socket.receive_json()
    except WebSocketDisconnect as exc:
        return "denied" if exc.code in (4401, 4403) else f"closed {exc.code}"
    return "allowed"


@dataclass(frozen=True)
class Watched:
    """Rows of department A (``owner`` department) or of citizen A (``owner`` citizen) that a
    role with no business there must leave as they were, whatever the route answered: a
    route that lets B in on its own department but writes into A's is caught here."""

    table: str
    owner: str
    volatile: tuple[str, ...] = ()
    """Columns that change without anyone acting on the row (last use, last seen)."""
    new_rows: bool = False
    """Whether others may add rows for A (a citizen's application to A, a certificate any
    department issues into citizen A's locker)."""


WATCHED = (
    Watched("api_keys", "department", ("last_used_at",)),
    Watched("datasets", "department"),
    Watched("dlt_headers", "department"),
    Watched("dlt_templates", "department"),
    Watched("offices", "department"),
    Watched("officials", "department"),
    Watched("services", "department"),
    Watched("sms_accounts", "department"),
    Watched("voice_notices", "department"),
    Watched("rtc_meetings", "department"),
    Watched("applications", "department", new_rows=True),
    Watched("citizens", "citizen", ("last_seen_at",)),
    Watched("profile_fields", "citizen"),
    Watched("consents", "citizen"),
    Watched("rtc_appointments", "citizen"),
    Watched("locker_documents", "citizen", new_rows=True),
)
STRANGERS = frozenset({Who.ANONYMOUS, Who.CITIZEN_B, Who.CSC, Who.OFFICIAL_B, Who.KEY_B})
"""Roles that are neither department A's nor citizen A: they may change nothing of either,
and no answer to them may show A's things."""
OUTSIDERS = {"department": STRANGERS | {Who.CITIZEN_A}, "citizen": STRANGERS}


def owned_by_a(gateway: Gateway, who: Who) -> dict[str, dict[Any, dict[str, Any]]]:
    """Department A's and citizen A's watched rows, by primary key, as ``who`` must leave them."""
    out: dict[str, dict[Any, dict[str, Any]]] = {}
    with gateway.session() as session:
        department_id = session.scalar(
            select(Base.metadata.tables["departments"].c.id).where(
                Base.metadata.tables["departments"].c.code == "FOOD"
            )
        )
        citizens = Base.metadata.tables["citizens"]
        citizen_id = session.scalar(select(citizens.c.id).where(citizens.c.phone == CITIZEN_A))
        for watched in WATCHED:
            if who not in OUTSIDERS[watched.owner]:
                continue
            table = Base.metadata.tables[watched.table]
            if watched.owner == "department":
                where = table.c.department_id == department_id
            else:
                column = "id" if watched.table == "citizens" else "citizen_id"
                where = table.c[column] == citizen_id
            key = list(table.primary_key.columns)
            rows = session.execute(select(table).where(where)).mappings()
            out[watched.table] = {
                tuple(row[c.name] for c in key): {
                    k: v for k, v in row.items() if k not in watched.volatile
                }
                for row in rows
            }
    return out


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    found = []
    for watched in WATCHED:
        old, new = before.get(watched.table), after.get(watched.table)
        if old is None or new is None:
            continue
        for key, row in old.items():
            if new.get(key) != row:
                found.append(f"{watched.table} {key}: {row} became {new.get(key)}")
        if not watched.new_rows:
            found.extend(f"{watched.table}: row {key} added" for key in new.keys() - old.keys())
    return found


def leaks(context: Context, key: tuple[str, str], response: httpx.Response) -> list[str]:
    """A's things in an answer to a stranger, other than what its own request named."""
    call = TABLE[key].call
    asked = context.fill(call.path or key[1]) + repr(context.filled(call.json))
    asked += repr(context.filled(call.form)) + repr(call.params)
    return [
        f"the answer shows {what}"
        for what, secret in context.world.secrets().items()
        if secret in response.text and secret not in asked
    ]


def phase(key: tuple[str, str], entry: Entry) -> int:
    if entry.call.phase is not None:
        return entry.call.phase
    return READ if key[0] in ("GET", "WS", "MOUNT") else WRITE


def request(context: Context, key: tuple[str, str], call: Call) -> httpx.Response:
    method, path = key
    kwargs: dict[str, Any] = {
        "params": call.params,
        "json": context.filled(call.json),
        "files": call.files,
        "content": call.content,
        "headers": context.caller.headers | (call.headers or {}),
        "follow_redirects": False,
    }
    if call.form is not None:
        kwargs["data"] = context.filled(call.form) | {"csrf": context.caller.csrf}
    if call.prepare is not None:
        kwargs.update(call.prepare(context))
    if method == "MOUNT":
        method, path = "GET", path + "/seva.css"
    return context.client.request(method, context.fill(call.path or path), **kwargs)


_OPENAPI: dict[str, Any] = {}


def reuse_openapi(app: FastAPI) -> None:
    """Build the OpenAPI document once per run: FastAPI keeps it per app, each test here has
    an app of its own, and building it takes seconds on a loaded machine. Replacing
    ``app.openapi`` is FastAPI's documented way to supply the document."""
    if not _OPENAPI:
        _OPENAPI.update(app.openapi())
    app.openapi = lambda: _OPENAPI  # type: ignore[method-assign]


@pytest.mark.parametrize("who", list(Who), ids=lambda w: w.name.lower())
def test_each_role_reaches_exactly_what_its_entries_allow(
    client: TestClient, gateway: Gateway, seeded: SeedReport, who: Who
) -> None:
    assert isinstance(client.app, FastAPI)
    reuse_openapi(client.app)
    world = build(gateway, seeded)
    context = Context(client, world, sign_in(client, gateway, world, who))
    before = owned_by_a(gateway, who)
    runnable = [(k, e) for k, e in TABLE.items() if not isinstance(e.allowed, Skip)]
    runnable.sort(key=lambda item: phase(*item))
    assert {phase(*item) for item in runnable} <= {READ, WRITE, DESTROY, SESSION}
    wrong = []
    for key, entry in runnable:
        assert isinstance(entry.allowed, frozenset)
        expected = "allowed" if who in entry.allowed else "denied"
        if key[0] == "WS":
            got, detail = socket_outcome(context), ""
        else:
            response = request(context, key, entry.call)
            got = outcome(response)
            detail = f"{response.status_code} {response.headers.get('location', '')}"
            detail += f" {response.text[:160]!r}"
        if got != expected:
            wrong.append(f"{key[0]} {key[1]}: expected {expected}, got {got} ({detail.strip()})")
        if key[0] != "WS" and who in STRANGERS and not entry.shows_a:
            wrong.extend(f"{key[0]} {key[1]}: {leak}" for leak in leaks(context, key, response))
    wrong.extend(changes(before, owned_by_a(gateway, who)))
    assert not wrong, f"{who.value}:\n" + "\n".join(wrong)
