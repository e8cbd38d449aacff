"""``POST /api/v1/messages`` answers the same through its lean path (``messaging.send_front``)
as through the declared FastAPI route, and the lean path is the one that answers a
well-formed send."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from seva.demo.seed import SeedReport
from seva.messaging import send_front

SEND = send_front.PATH
TEXT = "Your ration card is ready for collection."
OTHER_KEY = "sk_" + "x" * 40


@pytest.fixture
def route_calls(client: TestClient) -> Iterator[list[str]]:
    """The paths the declared send route was asked to answer."""
    app: Any = client.app
    (route,) = [
        r
        for r in app.routes
        if isinstance(r, Route) and r.path == SEND and "POST" in (r.methods or ())
    ]
    declared = route.app
    calls: list[str] = []

    async def counted(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["path"])
        await declared(scope, receive, send)

    route.app = counted
    yield calls
    route.app = declared


def _cases(seeded: SeedReport, tag: str) -> list[tuple[str, dict[str, str], Any]]:
    """(name, headers, JSON body or raw bytes): sends answered 202, 200, 401, 413, 422, 400."""
    food = {"Authorization": f"Bearer {seeded.api_keys['FOOD']}"}
    as_header = {"X-API-Key": seeded.api_keys["MCD"]}
    once = food | {"Idempotency-Key": f"same-{tag}"}
    return [
        ("single", food, {"to": "+919811000001", "text": TEXT}),
        ("header key", as_header, {"to": "9811000002", "text": TEXT, "kind": "otp"}),
        ("campaign", food, {"to": ["9811000003", "9811000004"], "text": TEXT, "kind": "bulk"}),
        ("texts", food, {"to": ["9811000005", "9811000006"], "texts": ["a", "b"]}),
        ("first of key", once, {"to": "9811000007", "text": TEXT}),
        ("replay", once, {"to": "9811000007", "text": TEXT}),
        ("reuse, other text", once, {"to": "9811000007", "text": "changed"}),
        ("otp to three", food, {"to": ["9811000008", "9811000009", "9811000010"], "text": "1"}),
        ("invalid number", food, {"to": ["12", "9811000011"], "text": TEXT}),
        (
            "unknown key",
            {"Authorization": f"Bearer {OTHER_KEY}"},
            {"to": "9811000012", "text": TEXT},
        ),
        ("no key", {}, {"to": "9811000013", "text": TEXT}),
        ("basic auth", {"Authorization": "Basic eDp5"}, {"to": "9811000013", "text": TEXT}),
        ("bad idempotency", food | {"Idempotency-Key": "a b"}, {"to": "9811000014"}),
        ("extra field", food, {"to": "9811000015", "text": TEXT, "colour": "red"}),
        ("not json", food, b"{"),
        ("not a send", food, b"[]"),
        ("too large", food, b" " * (8 * 1024 * 1024 + 1)),
    ]


def _post(client: TestClient, headers: dict[str, str], body: Any) -> Any:
    if isinstance(body, bytes):
        headers = headers | {"Content-Type": "application/json"}
        return client.post(SEND, content=body, headers=headers)
    return client.post(SEND, json=body, headers=headers)


def _seen(response: Any) -> tuple[int, Any, str | None, str]:
    """What a client reads, without what differs between two sends (ids, times)."""
    body = response.json()
    body.pop("batch_id", None)
    if "scheduled_at" in body:  # a time in the same form
        body["scheduled_at"] = re.sub(r"\d", "0", body["scheduled_at"])
    for message in body.get("messages") or []:
        message.pop("id")
    if "error" in body:
        body["error"]["message"] = re.sub(r"batch \d+", "batch N", body["error"]["message"])
    return (
        response.status_code,
        body,
        response.headers.get("www-authenticate"),
        response.headers["content-type"],
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_send_answers_the_same_on_both_paths(
    client: TestClient, seeded: SeedReport, route_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lean = [(name, _seen(_post(client, h, b))) for name, h, b in _cases(seeded, "lean")]
    # Well-formed sends were answered before the route (which is asked only for the others).
    assert len(route_calls) == 7, route_calls
    monkeypatch.setattr(send_front, "PATH", "/nowhere")
    declared = [(name, _seen(_post(client, h, b))) for name, h, b in _cases(seeded, "route")]
    assert len(route_calls) == 7 + len(declared)
    assert lean == declared
    statuses = {name: seen[0] for name, seen in lean}
    assert statuses["single"] == 202 and statuses["replay"] == 200
    assert statuses["unknown key"] == 401 and statuses["too large"] == 413
    assert lean[0][1][2] is None  # no challenge on success


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_lean_send_keeps_the_request_id_and_the_policy_headers(
    client: TestClient, seeded: SeedReport, route_calls: list[str]
) -> None:
    headers = {"Authorization": f"Bearer {seeded.api_keys['FOOD']}", "X-Request-ID": "req-42"}
    answer = client.post(SEND, json={"to": "9811000020", "text": TEXT}, headers=headers)
    assert answer.status_code == 202 and route_calls == []
    assert answer.headers["x-request-id"] == "req-42"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"


async def _raw_send(app: Any, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, bytes]:
    """One request straight to the ASGI app, its header bytes exactly as given (a test
    client would re-encode them)."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": SEND,
        "raw_path": SEND.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 8000),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    answer: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        answer.append(message)

    await app(scope, receive, send)
    return answer[0]["status"], b"".join(m.get("body", b"") for m in answer[1:])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_header_bytes_a_client_could_send_are_answered_as_the_route_does(
    client: TestClient, seeded: SeedReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = seeded.api_keys["FOOD"].encode()
    body = b'{"to": "9811000021", "text": "Your card is ready."}'
    odd = [
        [(b"authorization", b"Bearer " + key), (b"idempotency-key", b"\xff")],
        [(b"authorization", b"Bearer \xa0"), (b"x-api-key", key)],
        [(b"authorization", b"Bearer \xff\xfe")],
    ]

    def statuses() -> list[int]:
        return [client.portal.call(_raw_send, client.app, h, body)[0] for h in odd]

    lean = statuses()
    monkeypatch.setattr(send_front, "PATH", "/nowhere")
    assert lean == statuses() == [400, 202, 401]
