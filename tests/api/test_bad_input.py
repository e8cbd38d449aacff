"""Whatever a client sends, the API answers with a 4xx JSON error, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seva.demo.seed import SeedReport
from tests.api.helpers import error_of

JSON_POSTS = (
    "/api/v1/auth/otp",
    "/api/v1/auth/verify",
    "/api/v1/sessions",
)


@pytest.mark.parametrize("url", JSON_POSTS)
def test_malformed_json_is_a_400(client: TestClient, seeded: SeedReport, url: str) -> None:
    for raw in (b"{", b'{"phone": }', b"\xff\xfe", b"[]", b'"text"', b"null", b"{}"):
        response = client.post(url, content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (url, raw, response.text)
        error_of(response)


def test_json_endpoints_want_json(client: TestClient, seeded: SeedReport) -> None:
    as_form = client.post("/api/v1/auth/otp", data={"phone": "9811000701"})
    assert as_form.status_code == 400
    as_text = client.post(
        "/api/v1/auth/otp",
        content=json.dumps({"phone": "9811000701"}),
        headers={"Content-Type": "text/plain"},
    )
    assert as_text.status_code == 400
    error_of(as_text)
    office = client.post(
        "/api/v1/dept/offices",
        content=b"name=x",
        headers={"X-API-Key": seeded.api_keys["FOOD"], "Content-Type": "text/yaml"},
    )
    assert office.status_code == 400
    error_of(office)


def test_oversize_json_bodies_are_413(client: TestClient, seeded: SeedReport) -> None:
    padded = json.dumps({"phone": "9811000701", "pad": "x" * 20_000})
    response = client.post(
        "/api/v1/auth/otp", content=padded, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"

    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    chunked = client.post(
        "/api/v1/sessions/abcdefghijkl/answer",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert chunked.status_code == 413
    error_of(chunked)

    status = client.post(
        "/api/v1/dept/applications/TEST-0001/status",
        json={"status": "Approved", "note": "x" * 70_000},
        headers={"X-API-Key": seeded.api_keys["FOOD"]},
    )
    assert status.status_code == 413
    error_of(status)


def test_unknown_paths_and_methods_answer_json(client: TestClient, seeded: SeedReport) -> None:
    assert client.get("/api/v1/nothing-here").status_code == 404
    error_of(client.get("/api/v1/nothing-here"))
    wrong_method = client.patch("/api/v1/sessions")
    assert wrong_method.status_code == 405
    error_of(wrong_method)
    long_ref = client.get("/api/v1/applications/" + "A" * 500)
    assert 400 <= long_ref.status_code < 500
    error_of(long_ref)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "phone": json_values | st.text(max_size=30),
        "code": json_values,
        "department": json_values | st.sampled_from(["FOOD", "MCD", "food"]),
        "service": json_values | st.sampled_from(["ration-card-status", "../etc"]),
        "lang": json_values | st.sampled_from(["hi", "en", "xx"]),
        "text": json_values,
    },
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(url=st.sampled_from(JSON_POSTS), body=bodies)
def test_no_json_body_reaches_a_500(
    client: TestClient, seeded: SeedReport, url: str, body: dict[str, object]
) -> None:
    response = client.post(url, json=body)
    assert response.status_code < 500, (url, body, response.text)
    if response.status_code >= 400:
        error_of(response)
