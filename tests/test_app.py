"""Operational endpoints and cross-cutting behaviour of the HTTP app."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route, WebSocketRoute

from seva.app import create_app
from seva.settings import Settings


def test_healthz_reports_the_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] in ("sqlite", "postgresql")


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "lb-1234"})
    assert given.headers["x-request-id"] == "lb-1234"
    hostile = client.get("/healthz", headers={"X-Request-ID": "ab; drop table"})
    assert hostile.headers["x-request-id"] != "ab; drop table"
    assert len(hostile.headers["x-request-id"]) == 32


def test_production_refuses_the_demo_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.delenv("SEVA_SECRET_KEY")
    with pytest.raises(ValidationError, match="SEVA_SECRET_KEY"):
        Settings(env="production")
    assert Settings(env="production", secret_key="x" * 40).env == "production"


def test_unknown_api_path_is_a_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def _sample(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "12345", path)


@pytest.mark.demo_routes
def test_no_route_is_hidden_behind_an_earlier_one(settings: Settings) -> None:
    """The app tries its routes in order (``app._include`` puts the busiest first): a route
    whose every request an earlier route would take (same method, its path matched) could
    never answer. A literal path before a parameter in the same place is what keeps
    ``/console/sms/dlt`` from being read as message ``dlt``."""
    app = create_app(settings)
    routes = [route for route in app.routes if isinstance(route, Route | WebSocketRoute)]
    assert any(route.path == "/api/v1/messages" for route in routes)
    hidden = []
    for i, later in enumerate(routes):
        for earlier in routes[:i]:
            if type(earlier) is not type(later) and WebSocketRoute in (type(earlier), type(later)):
                continue
            shared = (getattr(earlier, "methods", None) or {"WS"}) & (
                getattr(later, "methods", None) or {"WS"}
            )
            if shared and earlier.path_regex.match(_sample(later.path)):
                hidden.append(f"{sorted(shared)} {later.path} behind {earlier.path}")
    assert hidden == []
