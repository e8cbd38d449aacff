"""What the browser is told: every page runs only Seva's own scripts, cannot be framed, and
gets camera, microphone and screen capture only where a call or the simulator needs them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from seva.app import create_app
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.settings import Settings
from tests.console.pages import login

SRC = Path(__file__).resolve().parents[2] / "src" / "seva"


def policy(response: object) -> dict[str, str]:
    """The Content-Security-Policy as {directive: sources}."""
    header = response.headers["content-security-policy"]  # type: ignore[attr-defined]
    return dict(part.strip().partition(" ")[::2] for part in header.split(";"))


def assert_page_headers(response: object, *, allowed: set[str]) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["content-type"].startswith("text/html")
    csp = policy(response)
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    features = dict(item.strip().split("=", 1) for item in headers["permissions-policy"].split(","))
    for feature in ("camera", "microphone", "display-capture"):
        assert features[feature] == ("(self)" if feature in allowed else "()"), feature


def test_portal_console_and_status_pages_carry_the_policy(
    client: TestClient, seeded: SeedReport
) -> None:
    for path in ("/", "/citizen/login", "/status", "/call", "/kiosk", "/login"):
        assert_page_headers(client.get(path), allowed=set())
    login(client, "food.admin")
    for path in ("/console", "/console/sms", "/console/calls", "/console/meetings"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_page_headers(response, allowed=set())


def test_the_call_room_may_use_camera_microphone_and_screen(
    client: TestClient, settings: Settings, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    form = client.get("/console/meetings").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    created = client.post(
        "/console/meetings",
        data={"title": "Ward review", "csrf": token.group(1)},
        follow_redirects=False,
    )
    room = client.get(created.headers["location"])
    assert room.status_code == 200 and 'id="call"' in room.text
    assert_page_headers(room, allowed={"camera", "microphone", "display-capture"})
    csp = policy(room)
    socket = settings.base_url.replace("http://", "ws://")
    assert csp["connect-src"] == f"'self' {socket}"
    assert "blob:" in csp["media-src"]


def test_with_janus_the_call_room_may_reach_its_websocket(
    gateway: Gateway, settings: Settings, seeded: SeedReport
) -> None:
    janus = settings.model_copy(update={"janus_ws_url": "wss://janus.example.gov.in/ws"})
    with TestClient(create_app(janus, gateway=gateway)) as client:
        login(client, "food.admin")
        form = client.get("/console/meetings").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token is not None
        created = client.post(
            "/console/meetings",
            data={"title": "Big", "csrf": token.group(1)},
            follow_redirects=False,
        )
        room = client.get(created.headers["location"])
        assert "wss://janus.example.gov.in" in policy(room)["connect-src"]
        # Only the call room: other pages connect to Seva alone.
        assert "janus" not in client.get("/console").headers["content-security-policy"]


@pytest.mark.demo_routes
def test_the_phone_simulator_may_use_the_microphone_only(
    client: TestClient, seeded: SeedReport
) -> None:
    assert_page_headers(client.get("/sim"), allowed={"microphone"})


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        ("/api/v1/messages", "post", {"to": "9811000001", "text": "Camp on Sunday."}),
        ("/api/v1/messages", "post", {"to": "12", "text": "x"}),
        ("/healthz", "get", None),
        ("/static/seva.css", "get", None),
        ("/static/rtc/call.js", "get", None),
        ("/openapi.json", "get", None),
    ],
)
def test_every_response_has_nosniff(
    client: TestClient, seeded: SeedReport, path: str, method: str, body: object
) -> None:
    headers = {"Authorization": f"Bearer {seeded.api_keys['FOOD']}"}
    response = client.request(method, path, json=body, headers=headers)
    assert response.status_code < 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in response.headers  # for pages, not data


def test_the_api_docs_run_only_seva_s_files(client: TestClient, seeded: SeedReport) -> None:
    """Swagger UI and ReDoc are served from the package: the strict policy, plus ``data:``
    images (Swagger UI's icons); ReDoc's own ``<style>`` elements by a nonce per response."""
    docs = client.get("/docs")
    assert_page_headers(docs, allowed=set())
    assert policy(docs)["img-src"] == "'self' data:"
    assert "https:" not in docs.headers["content-security-policy"]

    nonces = []
    for _ in range(2):
        redoc = client.get("/redoc")
        csp = policy(redoc)
        header = redoc.headers["content-security-policy"]
        assert "https:" not in header and "unsafe-inline" not in header
        assert csp["script-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
        assert redoc.headers["x-frame-options"] == "DENY"
        nonce = re.search(r"'nonce-([^']+)'", csp["style-src"])
        assert nonce is not None
        assert f'data-style-nonce="{nonce.group(1)}"' in redoc.text  # handed to ReDoc
        nonces.append(nonce.group(1))
    assert nonces[0] != nonces[1]


def test_no_template_has_inline_script_or_style() -> None:
    """The policy forbids inline code: a template with some would break in every browser."""
    inline = re.compile(
        r"<script(?![^>]*\ssrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.I
    )
    for template in SRC.rglob("templates/*.html"):
        found = inline.search(template.read_text("utf-8"))
        assert found is None, f"{template.relative_to(SRC)}: {found.group(0) if found else ''}"
