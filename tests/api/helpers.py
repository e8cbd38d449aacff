"""Small helpers shared by the API tests: log a citizen in, talk SMS, authorise a department."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from seva.gateway import Gateway
from seva.messaging import service as messaging
from seva.messaging.service import MessageView


def outbox(gateway: Gateway, phone: str) -> list[MessageView]:
    with gateway.session() as session:
        return messaging.inbox(session, phone, limit=1000)


def last_code(gateway: Gateway, phone: str) -> str:
    """The code in the newest OTP SMS queued to ``phone``, as the handset would show it."""
    texts = [m.text for m in outbox(gateway, phone) if m.kind == "otp"]
    assert texts, f"no OTP SMS was queued to {phone}"
    found = re.search(r"\b(\d{6})\b", texts[-1])
    assert found, texts[-1]
    return found.group(1)


def login(client: TestClient, gateway: Gateway, phone: str) -> str:
    sent = client.post("/api/v1/auth/otp", json={"phone": phone})
    assert sent.status_code == 202, sent.text
    verified = client.post(
        "/api/v1/auth/verify", json={"phone": phone, "code": last_code(gateway, phone)}
    )
    assert verified.status_code == 200, verified.text
    token: str = verified.json()["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sms(client: TestClient, text: str, sender: str) -> str:
    response = client.get("/channels/sms/kannel", params={"from": sender, "text": text})
    assert response.status_code == 200, response.text
    return response.text


def start(
    client: TestClient,
    department: str,
    service: str,
    *,
    token: str | None = None,
    lang: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"department": department, "service": service}
    if lang is not None:
        body["lang"] = lang
    response = client.post("/api/v1/sessions", json=body, headers=bearer(token) if token else {})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def answer(
    client: TestClient, conversation: str, text: str, *, token: str | None = None
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/sessions/{conversation}/answer",
        json={"text": text},
        headers=bearer(token) if token else {},
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def error_of(response: Any) -> dict[str, Any]:
    """The ``error`` object of a JSON error response (asserting the one shape)."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "field"} <= set(body["error"]), body
    error: dict[str, Any] = body["error"]
    return error
