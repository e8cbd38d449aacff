"""Driving the officials' pages the way a browser does: log in, read the form's CSRF token."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from seva.demo.seed import DEMO_PASSWORD

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def login(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> None:
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf": csrf_of(form.text), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def sms(client: TestClient, text: str, sender: str = "9811000001") -> str:
    response = client.get("/channels/sms/kannel", params={"from": sender, "text": text})
    assert response.status_code == 200, response.text
    return response.text
