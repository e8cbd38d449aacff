"""Calls to a department's backend: signed, retried, timed out, and logged without secrets.

The backend is a real HTTP server on loopback that records what it received.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from seva.channels.smpp.asyncio.client import RouteConfig
from seva.channels.smpp.asyncio.engine import SmsEngine
from seva.demo.backend import verify
from seva.flows.loader import parse_definition
from seva.flows.service import load_service
from seva.gateway import Gateway
from seva.messaging.service import CallbackDue
from seva.outbound import BACKEND, BACKEND_LIMIT, CALLBACKS
from seva.tenancy import service as tenancy


class Backend:
    """Answers POST /bill with a scripted list of (status, body, delay) replies."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, Any, float]] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Event()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                backend.received.append((dict(self.headers.items()), body))
                backend.arrived.set()
                status, payload, delay = (
                    backend.replies.pop(0) if backend.replies else (200, {}, 0.0)
                )
                time.sleep(delay)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the gateway gave up waiting, as it should

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backend() -> Iterator[Backend]:
    server = Backend()
    yield server
    server.close()


def bill_service(url: str) -> str:
    return f"""
seva: 1
service: water-bill
department: JAL
title: {{en: Water bill, hi: पानी का बिल}}
keywords: [WATER]
steps:
  - ask: consumer
    type: digits
    length: 6
    prompt: {{en: Consumer number, hi: उपभोक्ता संख्या}}
  - call:
      url: "{url}/bill"
      body: {{consumer: "{{consumer}}", phone: "{{phone}}"}}
      save: bill
      timeout: 0.5
      retries: 1
      error: {{en: Billing is offline., hi: बिलिंग अभी बंद है।}}
  - end:
      en: "Consumer {{consumer}}: Rs {{bill.due}} due."
      hi: "उपभोक्ता {{consumer}}: Rs {{bill.due}} देय।"
"""


@pytest.fixture
def jal(gateway: Gateway, backend: Backend) -> str:
    with gateway.session() as session:
        department = tenancy.create_department(
            session, code="JAL", name={"en": "Jal Board", "hi": "जल बोर्ड"}, sender_id="JALBRD"
        )
        load_service(
            session,
            parse_definition(bill_service(backend.url)),
            department=department,
            urls=gateway.runtime.outbound.policy,
        )
        secret: str = department.webhook_secret
    return secret


def sms(client: TestClient, text: str) -> str:
    return client.get("/channels/sms/kannel", params={"from": "9811000555", "text": text}).text


def test_signed_request_and_reply_fields(client: TestClient, backend: Backend, jal: str) -> None:
    backend.replies.append((200, {"due": "340"}, 0.0))
    assert sms(client, "WATER 123456") == "Consumer 123456: Rs 340 due."
    headers, body = backend.received[0]
    assert json.loads(body) == {"consumer": "123456", "phone": "+919811000555"}
    assert headers["X-Seva-Service"] == "water-bill"
    assert headers["X-Seva-Channel"] == "sms"
    assert verify(jal, headers["X-Seva-Timestamp"], body, headers["X-Seva-Signature"])
    assert not verify(
        "another-secret", headers["X-Seva-Timestamp"], body, headers["X-Seva-Signature"]
    )


def test_a_hop_that_calls_the_backend_calls_it_once_and_counts_once(
    client: TestClient, backend: Backend, jal: str
) -> None:
    """On the embedded database a hop starts on the event loop, which may not wait on a
    backend: it stops before the call, rolls back and runs again in a thread. The citizen
    sees one answer, the backend one request, the metrics one service started."""
    labels = {"channel": "sms", "department": "JAL", "service": "water-bill"}

    def started() -> float:
        return REGISTRY.get_sample_value("seva_services_started_total", labels) or 0.0

    before = started()
    backend.replies.append((200, {"due": "75"}, 0.0))
    assert sms(client, "WATER 123456") == "Consumer 123456: Rs 75 due."
    assert len(backend.received) == 1
    assert started() - before == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the loop's own hops
def test_the_node_answers_others_while_a_hop_waits_on_a_backend(
    live: str, backend: Backend, jal: str
) -> None:
    backend.replies.append((200, {"due": "75"}, 0.4))
    answers: list[str] = []

    def citizen() -> None:
        fields = {"from": "9811000555", "text": "WATER 123456"}
        answers.append(httpx.get(f"{live}/channels/sms/kannel", params=fields, timeout=10).text)

    sender = threading.Thread(target=citizen)
    sender.start()
    try:
        assert backend.arrived.wait(10)
        started = time.perf_counter()
        assert httpx.get(f"{live}/healthz", timeout=5).status_code == 200
        assert time.perf_counter() - started < 0.3  # not after the backend's 0.4 s
    finally:
        sender.join(10)
    assert answers == ["Consumer 123456: Rs 75 due."]


def test_server_error_is_retried(client: TestClient, backend: Backend, jal: str) -> None:
    backend.replies += [(503, {}, 0.0), (200, {"due": "90"}, 0.0)]
    assert sms(client, "WATER 123456") == "Consumer 123456: Rs 90 due."
    assert len(backend.received) == 2


@pytest.mark.parametrize(
    "replies",
    [
        [(200, {}, 1.0), (200, {}, 1.0)],  # too slow, twice
        [(404, {"error": "no"}, 0.0)],  # a client error is not retried
        [(200, b"<html>not json</html>", 0.0)],
    ],
    ids=["timeout", "not-found", "not-json"],
)
def test_failures_end_with_the_services_message(
    client: TestClient, backend: Backend, jal: str, replies: list[tuple[int, Any, float]]
) -> None:
    backend.replies += replies
    assert sms(client, "WATER 123456") == "Billing is offline."
    assert len(backend.received) == len(replies)


def test_logs_name_the_call_but_never_the_secret(
    client: TestClient, backend: Backend, jal: str
) -> None:
    backend.replies.append((200, {"due": "1"}, 0.0))
    with capture_logs() as logs:
        sms(client, "WATER 123456")
    calls = [entry for entry in logs if entry["event"] == "webhook"]
    assert calls and calls[0]["status"] == 200 and calls[0]["department"] == "JAL"
    signature = backend.received[0][0]["X-Seva-Signature"]
    flat = json.dumps(logs, default=str)
    assert jal not in flat and signature not in flat


def test_a_broken_callback_url_does_not_stop_the_departments_services(
    gateway: Gateway, client: TestClient, backend: Backend, jal: str
) -> None:
    """Status callbacks to a dead address open the department's *callbacks* circuit; its
    citizens' service, whose backend is healthy, still answers."""
    dead = socket.create_server(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # connections to it are refused
    unused = RouteConfig(name="none", host="127.0.0.1", port=port, system_id="x", password="x")
    engine = SmsEngine(gateway, [unused])  # never started: only its callback poster is used
    heads = gateway.runtime.outbound.bulkheads
    with gateway.session() as session:
        department = tenancy.department_by_code(session, "JAL")
        assert department is not None
        department_id = department.id

    async def post_failing_callbacks() -> None:
        async with gateway.runtime.outbound.async_client(timeout=2) as http:
            for n in range(heads.failures_to_open):
                due = CallbackDue(n + 1, f"http://127.0.0.1:{port}/status", "{}", jal, "JAL")
                await engine._post(http, replace(due, department_id=department_id))

    asyncio.run(post_failing_callbacks())
    assert heads.state("JAL", CALLBACKS) == "open"
    backend.replies.append((200, {"due": "340"}, 0.0))
    assert sms(client, "WATER 123456") == "Consumer 123456: Rs 340 due."
    assert heads.state("JAL", BACKEND) == "closed"


def test_a_backend_answer_over_the_cap_is_a_failed_call_not_an_outage(
    gateway: Gateway, client: TestClient, backend: Backend, jal: str
) -> None:
    huge = json.dumps({"due": "1", "pad": "x" * (BACKEND_LIMIT + 10)}).encode()
    backend.replies.append((200, huge, 0.0))
    with capture_logs() as logs:
        assert sms(client, "WATER 123456") == "Billing is offline."
    failed = [entry for entry in logs if entry["event"] == "webhook_failed"]
    assert failed and failed[0]["reason"] == "response too large"
    assert len(backend.received) == 1  # not retried
    assert gateway.runtime.outbound.bulkheads._circuits[("JAL", BACKEND)].failures == 0
