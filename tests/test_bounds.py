"""No number a client puts in a request reaches a 500.

Two checks keep a new route from bringing the 500 back: every number any route reads (path,
query, header, form and JSON-body fields) declares both bounds, and every route with a number
in its path or query answers 4xx to numbers no database column holds — in its own form: JSON
for the APIs, a page for a browser.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from typing import Any

import annotated_types
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel

from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from tests.api.helpers import bearer, login
from tests.console.pages import login as official_login
from tests.web.test_citizen import log_in as citizen_log_in

# The demo's routes (the simulator) are walked too.
pytestmark = pytest.mark.demo_routes

EDGES = (2**63, 10**30, -(2**63) - 1, -1, 0, 2**31, 2**63 - 1)
"""Past SQLite's INTEGER, far past it, below it, below 1, 0, past PostgreSQL's INTEGER, and
the largest BIGINT."""
APP_PHONE = "+919811000901"
PORTAL_PHONE = "+919811000902"
API_PREFIXES = ("/api/", "/channels/", "/esms/")


def api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """Every route with its full path, those of included routers too."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path is not None:
            yield context.path, route


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _is_number(annotation: Any) -> bool:
    if annotation in (int, float):
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        return _is_number(typing.get_args(annotation)[0])
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return any(_is_number(arg) for arg in typing.get_args(annotation))
    return False


def _bounded(annotation: Any, metadata: list[Any]) -> bool:
    """Both bounds, on the parameter or inside its type (``RowId | None`` keeps them in the
    ``Annotated`` member of the union)."""
    found = list(metadata)
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is typing.Annotated:
            for item in arg.__metadata__:
                found.extend(getattr(item, "metadata", [item]))
    low = any(isinstance(m, annotated_types.Ge | annotated_types.Gt) for m in found)
    high = any(isinstance(m, annotated_types.Le | annotated_types.Lt) for m in found)
    return low and high


def _models_in(annotation: Any, seen: frozenset[int] = frozenset()) -> Iterator[type[BaseModel]]:
    """The Pydantic models a type is or holds (``list[Office]``, ``Office | None``)."""
    if id(annotation) in seen:
        return
    seen = seen | {id(annotation)}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _models_in(arg, seen)


def _model_fields(
    model: type[BaseModel], where: str, seen: frozenset[type[BaseModel]] = frozenset()
) -> Iterator[tuple[str, Any, list[Any]]]:
    seen = seen | {model}
    for name, info in model.model_fields.items():
        yield f"{where}.{name}", info.annotation, list(info.metadata)
        for inner in _models_in(info.annotation):
            if inner not in seen:
                yield from _model_fields(inner, f"{where}.{name}", seen)


def parameters(route: APIRoute) -> Iterator[tuple[str, str, Any, list[Any]]]:
    """``(kind, name, annotation, constraints)`` of every value a request fills in."""
    for dependant in _dependants(route.dependant):
        for kind in ("path", "query", "header", "cookie", "body"):
            for param in getattr(dependant, f"{kind}_params"):
                info = param.field_info
                yield kind, param.name, info.annotation, list(info.metadata)
                for model in _models_in(info.annotation):
                    for name, inner, metadata in _model_fields(model, param.name):
                        yield kind, name, inner, metadata


def _app(client: TestClient) -> FastAPI:
    app = client.app
    assert isinstance(app, FastAPI)
    return app


def test_every_number_a_request_carries_is_bounded(client: TestClient) -> None:
    """An unbounded ``int`` lets a client send one its column cannot hold, which fails in the
    database driver (a 500) instead of being refused with a 4xx."""
    unbounded = [
        f"{sorted(route.methods)} {path}: {kind} {name}"
        for path, route in api_routes(_app(client))
        for kind, name, annotation, metadata in parameters(route)
        if _is_number(annotation) and not _bounded(annotation, metadata)
    ]
    assert unbounded == [], "give these a type from seva.params:\n" + "\n".join(unbounded)


def _numbers_in_url(app: FastAPI) -> Iterator[tuple[str, str, set[str], set[str]]]:
    """``(method, path, numeric path params, numeric query params)``."""
    for path, route in api_routes(app):
        found: dict[str, set[str]] = {"path": set(), "query": set()}
        for kind, name, annotation, _ in parameters(route):
            if kind in found and _is_number(annotation):
                found[kind].add(name)
        if found["path"] or found["query"]:
            for method in sorted(route.methods):
                yield method, path, found["path"], found["query"]


@pytest.fixture
def signed_in(client: TestClient, gateway: Gateway, seeded: SeedReport) -> list[dict[str, str]]:
    """Headers for the department API, the app API and a browser. The client's cookies are
    those of a department admin in the console and a citizen on the portal, so a request gets
    past every route's login to where it reads its numbers."""
    token = login(client, gateway, APP_PHONE)
    official_login(client, "food.admin")
    citizen_log_in(client, gateway, PORTAL_PHONE)
    return [
        {"X-API-Key": seeded.api_keys["FOOD"], "Accept": "application/json"},
        bearer(token) | {"Accept": "application/json"},
        {"Accept": "text/html,application/xhtml+xml"},
    ]


def _fill(path: str, numbers: set[str], value: int) -> str:
    """The path with ``value`` for its numbers and a well-formed room/code for the rest."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        return str(value) if name in numbers else "a0000000000"

    return re.sub(r"\{([^}]+)\}", one, path)


def test_numbers_no_column_holds_are_refused_with_a_4xx(
    client: TestClient, signed_in: list[dict[str, str]]
) -> None:
    """``/api/v1/voice/notices/9223372036854775808`` and its kind answered 500; a browser's
    request for a page with such a number gets a page back, not the APIs' JSON."""
    routes = list(_numbers_in_url(_app(client)))
    assert routes, "no route takes a number: the walk over the app's routes is broken"
    failures = []
    for method, path, numbers, queries in routes:
        for value in EDGES:
            url = _fill(path, numbers, value)
            query = {name: str(value) for name in queries}
            for headers in signed_in:
                where = f"{method} {url} {query} Accept: {headers['Accept']}"
                try:
                    response = client.request(method, url, params=query, headers=headers)
                except Exception as exc:  # the test client raises what would have been a 500
                    failures.append(f"{where}: {exc!r}")
                    continue
                status, kind = response.status_code, response.headers.get("content-type", "")
                if status >= 500:
                    failures.append(f"{where}: {status}")
                elif (
                    400 <= status < 500
                    and "html" in headers["Accept"]
                    and not path.startswith(API_PREFIXES)
                    and not kind.startswith("text/html")
                ):
                    failures.append(f"{where}: {status} as {kind}, not a page")
    assert failures == [], "\n".join(failures)


def test_a_browser_gets_the_page_in_its_language(
    client: TestClient, signed_in: list[dict[str, str]]
) -> None:
    page = client.get("/console/recordings/9223372036854775808", headers=signed_in[2])
    assert page.status_code == 400
    assert "This address is not valid." in page.text
    bad_query = client.get("/sim/inbox?after=-1", headers=signed_in[2])
    assert bad_query.status_code == 400
    assert "Something in what was sent is not valid." in bad_query.text
    hindi = client.get("/me/locker/0/file?lang=hi", headers=signed_in[2])
    assert hindi.status_code == 400
    assert "यह पता सही नहीं है।" in hindi.text
    api = client.get("/api/v1/me/documents/9223372036854775808/file", headers=signed_in[1])
    assert api.status_code == 400
    assert api.json()["error"]["field"] == "document_id"
