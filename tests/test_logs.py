"""Logs never give a citizen or a secret away: the redaction itself, then the real output of a
gateway (uvicorn's access log included) serving an SMS pull, a USSD hop, a department webhook
and an SMPP submit."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from seva import logs
from seva.app import create_app
from seva.demo.seed import SeedReport
from seva.flows.loader import parse_definition
from seva.flows.service import load_service
from seva.gateway import Gateway
from seva.logs import mask_phone, redact, redact_text
from seva.messaging import service as queue
from seva.messaging.service import Send
from seva.settings import Settings
from seva.tenancy import service as tenancy
from tests.conftest import free_port
from tests.flows.test_webhooks import Backend

SMPP_PASSWORD = "smpp3141"  # SMPP allows 8 characters
KANNEL_SECRET = "kannel-secret-2718"
WAIT = 15.0


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("GET /channels/sms/kannel?from=9811000321&text=DOCS&secret=abc HTTP/1.1",
         "GET /channels/sms/kannel?from=***&text=***&secret=*** HTTP/1.1"),
        ("smpp://seva:s3cret@10.20.0.5:2775?name=airtel", "smpp://seva:***@10.20.0.5:2775?name=***"),
        ("s3://AKIAEXAMPLE:wJalr@minio:9000/locker", "s3://AKIAEXAMPLE:***@minio:9000/locker"),
        ("call from +919811000321", "call from +91*******321"),
        ("deliver_sm from 919811000321", "deliver_sm from 91*******321"),
        ("a national 9811000321", "a national *******321"),
        ("+12025550123", "+1*******123"),
        ("Authorization: Bearer sk_live_4f3a9c1d", "Authorization: Bearer ***"),
        ("password=hunter2 token: abc123", "password=*** token: ***"),
        # Not phone numbers, not URLs: left alone.
        ("template 1107161000000000001 at 2026-12-07T03:20:02Z", None),
        ("Are you sure?yes", None),
        ("ref TEST-0001, 4 parts", None),
    ],
)  # fmt: skip
def test_redacted_text(line: str, shown: str | None) -> None:
    assert redact_text(line) == (line if shown is None else shown)


def test_secret_fields_and_nested_values_are_redacted() -> None:
    line = redact(None, "info", {
        "event": "webhook", "api_key": "sk_1", "X-Seva-Signature": "ab", "keywords": ["TAX"],
        "headers": {"Authorization": "Bearer x", "to": "+919811000321"},
        "to": ["+919811000322"], "parts": 2, "url": "https://u:p@h/x?phone=1",
    })  # fmt: skip
    assert line == {
        "event": "webhook", "api_key": "[redacted]", "X-Seva-Signature": "[redacted]",
        "keywords": ["TAX"], "headers": {"Authorization": "[redacted]", "to": "+91*******321"},
        "to": ["+91*******322"], "parts": 2, "url": "https://u:***@h/x?phone=***",
    }  # fmt: skip
    assert mask_phone("+919811000321") == "+91*******321"


# --- a real gateway's output -------------------------------------------------------------


@pytest.fixture
def smsc_port() -> Iterator[int]:
    """``seva smsc-sim`` in its own process, with one account."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "seva.cli.smsc", "--port", str(port), "--receipt-delay", "0.05",
         "--account", f"seva:{SMPP_PASSWORD}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60  # importing takes a while on a busy machine
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "no simulator"
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def settings(settings: Settings, smsc_port: int) -> Settings:
    return settings.model_copy(
        update={
            "smsc": SecretStr(f"smpp://seva:{SMPP_PASSWORD}@127.0.0.1:{smsc_port}"),
            "sms_dispatch": True,
            "log_level": "debug",
            "env": "production",  # JSON lines
        }
    )


@pytest.fixture
def output(settings: Settings, gateway: Gateway, seeded: SeedReport) -> Iterator[io.StringIO]:
    """Everything the gateway logs while served by uvicorn (access log on) on loopback."""
    app = create_app(settings, gateway=gateway)
    written = io.StringIO()
    logs.configure(settings.env, level=settings.log_level, stream=written)
    port = int(settings.base_url.rsplit(":", 1)[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info", log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    until(lambda: server.started)
    try:
        yield written
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        logs.configure("test")


def until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.02)


def submitted(text: str) -> list[str]:
    """The (masked) destinations of the SMPP submits logged so far."""
    lines = [json.loads(line) for line in text.splitlines()]
    return [line["to"] for line in lines if line["event"] == "smpp.submit"]


def water_service(url: str) -> str:
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
      url: "{url}/bill/{{consumer}}"
      body: {{phone: "{{phone}}"}}
      save: bill
  - end: {{en: "Rs {{bill.due}} due.", hi: "Rs {{bill.due}} देय।"}}
"""


def test_a_gateways_log_output_names_no_citizen_and_no_secret(
    settings: Settings, gateway: Gateway, output: io.StringIO
) -> None:
    backend = Backend()
    try:
        with gateway.session() as session:
            department = tenancy.create_department(
                session, code="JAL", name={"en": "Jal Board", "hi": "जल बोर्ड"}, sender_id="JALBRD"
            )
            load_service(
                session,
                parse_definition(water_service(backend.url)),
                department=department,
                urls=gateway.runtime.outbound.policy,
            )
            webhook_secret = department.webhook_secret
        backend.replies.append((200, {"due": "340"}, 0.0))
        with httpx.Client(base_url=settings.base_url, timeout=WAIT) as client:
            pulled = client.get("/channels/sms/kannel", params={
                "from": "9811000321", "to": "166", "text": "RATION 1234567890",
                "secret": KANNEL_SECRET})  # fmt: skip
            assert pulled.text.startswith("Ration card 1234567890")
            hop = client.post("/channels/ussd/africastalking", data={
                "sessionId": "log-1", "serviceCode": "*166#", "phoneNumber": "+919811000322",
                "text": ""})  # fmt: skip
            assert hop.text.startswith("CON ")
            billed = client.get("/channels/sms/kannel", params={
                "from": "9811000323", "to": "166", "text": "WATER 555123"})  # fmt: skip
            assert billed.text == "Rs 340 due."
        with gateway.session() as session:
            queue.send(session, Send(to=["+919811000324"], text="Camp on Sunday", kind="bulk"))
        gateway.notify_sms()
        until(lambda: "91*******324" in submitted(output.getvalue()))
    finally:
        backend.close()
    signature = backend.received[0][0]["X-Seva-Signature"]
    text = output.getvalue()
    lines: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines()]
    events: dict[str, dict[str, Any]] = {}
    for line in lines:
        events.setdefault(line["event"], line)  # the first of each

    # Each exchange left its line, with the citizen's number masked …
    assert events["sms.pull"]["phone"] == "+91*******321"
    assert events["ussd.hop"]["phone"] == "+91*******322"
    assert events["webhook"]["url"] == backend.url and events["webhook"]["status"] == 200
    assert "91*******324" in submitted(text)
    # The operators' callbacks write that line instead of an access line (whose query string
    # would be masked, see above); other requests keep theirs.
    assert not [line for line in lines if "/channels/sms/kannel" in line["event"]]
    # … and nothing anywhere gives away a number, an answer or a secret.
    for number in ("9811000321", "9811000322", "9811000323", "9811000324"):
        assert number not in text
    for secret in (KANNEL_SECRET, SMPP_PASSWORD, webhook_secret, signature, "555123",
                   settings.secret_key.get_secret_value()):  # fmt: skip
        assert secret not in text


def test_a_commands_lines_are_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``seva dispatch`` and the other commands log through the same redaction as the app."""
    import structlog

    from seva.cli import common
    from seva.settings import get_settings

    monkeypatch.setenv("SEVA_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("SEVA_ENV", "production")
    get_settings.cache_clear()
    structlog.reset_defaults()  # as a fresh process starts
    try:
        common.settings(serving=True)
        structlog.get_logger("seva.test").warning("sms.mo_failed", source="919811000325")
    finally:
        get_settings.cache_clear()
        logs.configure("test")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["source"] == "91*******325"


def test_new_request_ids_are_unique_tell_nothing_and_a_forked_worker_draws_its_own() -> None:
    ids = [logs.request_id_of(b"") for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    # No shared prefix or visible counter: an id says nothing of the process or its traffic.
    assert len({i[:12] for i in ids}) == 1000 and len({i[-12:] for i in ids}) == 1000
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # a worker forked from this process
        os.write(write, logs.request_id_of(b"").encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    theirs = os.read(read, 64).decode()
    os.close(read)
    assert len(theirs) == 32 and theirs not in ids
