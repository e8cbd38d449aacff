"""The OpenAPI document is part of the contract: it parses, documents the APIs, and /docs and
/redoc serve it with viewers of their own."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from seva.demo.seed import SeedReport


def test_openapi_documents_the_app_and_department_apis(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.text)
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path, method in (
        ("/api/v1/auth/otp", "post"),
        ("/api/v1/auth/verify", "post"),
        ("/api/v1/departments", "get"),
        ("/api/v1/services", "get"),
        ("/api/v1/sessions", "post"),
        ("/api/v1/sessions/{conversation}/answer", "post"),
        ("/api/v1/sessions/{conversation}", "delete"),
        ("/api/v1/me", "get"),
        ("/api/v1/me/language", "put"),
        ("/api/v1/me/applications", "get"),
        ("/api/v1/applications/{ref}", "get"),
        ("/api/v1/dept/services", "get"),
        ("/api/v1/dept/services/{slug}", "put"),
        ("/api/v1/dept/datasets/{name}", "put"),
        ("/api/v1/dept/applications", "get"),
        ("/api/v1/dept/applications/{ref}/status", "post"),
        ("/api/v1/dept/offices", "post"),
        ("/api/v1/dept/citizens/{phone}", "get"),
        ("/api/v1/dept/keys", "post"),
        ("/api/v1/dept/keys/{prefix}", "delete"),
    ):
        assert method in paths.get(path, {}), f"{method.upper()} {path} is not documented"

    answer = paths["/api/v1/sessions/{conversation}/answer"]["post"]
    schema = answer["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ConversationOut"}
    upload = paths["/api/v1/dept/services/{slug}"]["put"]
    assert {"application/yaml", "application/json"} <= set(upload["requestBody"]["content"])
    assert "problems" in json.dumps(document["components"]["schemas"]["DefinitionErrorDetail"])
    schemes = document["components"]["securitySchemes"]
    assert {"CitizenToken", "DepartmentKey", "DepartmentKeyHeader"} <= set(schemes)
    keys = paths["/api/v1/dept/keys"]["get"]
    assert {"DepartmentKey", "DepartmentKeyHeader"} <= {k for s in keys["security"] for k in s}


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_interactive_docs_are_served(client: TestClient, seeded: SeedReport, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert 'data-openapi-url="/openapi.json"' in response.text
    # The viewers' files are the package's own, and each is there.
    scripts = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', response.text)
    assert scripts and all(src.startswith("/static/") for src in scripts)
    for src in scripts:
        assert client.get(src).status_code == 200, src
