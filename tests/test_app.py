"""Operational endpoints and cross-cutting behaviour of the HTTP app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

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
