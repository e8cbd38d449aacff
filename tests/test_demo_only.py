"""What only ``seva demo`` may do, and every other entry point refuses: run on the built-in
secret key (anyone could sign an official's session with it), serve the demo-only routes
(``/sim`` shows any number's login codes), and stand an SMSC simulator in for the operator's
(messages marked delivered that never left)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from seva.app import create_app, start_sms, stop_sms
from seva.channels.smpp.pdu import BindTransceiver, CommandStatus
from seva.cli import app as cli
from seva.demo.seed import SeedReport
from seva.gateway import Gateway, build_gateway
from seva.settings import Settings, get_settings
from tests.channels.smpp_sim.test_simulator import Esme
from tests.conftest import free_port

SEVA = Path(sys.executable).parent / "seva"

TAX = "/demo/backend/property-tax/12345678"


def test_demo_routes_are_off_unless_a_test_asks(client: TestClient, seeded: SeedReport) -> None:
    assert client.get("/sim").status_code == 404
    assert client.post("/sim/sms", data={"text": "HELP"}).status_code == 404
    assert client.get(TAX).status_code == 404
    assert 'href="/sim"' not in client.get("/").text


@pytest.mark.demo_routes
def test_a_test_that_asks_gets_them(client: TestClient, seeded: SeedReport) -> None:
    assert client.get("/sim").status_code == 200
    assert client.get(TAX).status_code == 401  # there, and wants the gateway's signature
    assert 'href="/sim"' in client.get("/").text


@pytest.mark.parametrize("env", ["demo", "development", "production"])
def test_the_demo_alone_serves_them(
    env: str, settings: Settings, gateway: Gateway, seeded: SeedReport
) -> None:
    with TestClient(create_app(settings.model_copy(update={"env": env}), gateway=gateway)) as c:
        assert c.get("/sim").status_code == (200 if env == "demo" else 404)
        assert c.get(TAX).status_code == (401 if env == "demo" else 404)


def test_sms_dispatch_without_an_smsc_does_not_start_a_simulator(
    settings: Settings, gateway: Gateway
) -> None:
    """Even settings that slipped past validation: the simulator starts for the demo only."""
    dispatching = settings.model_copy(update={"sms_dispatch": True})
    with (
        pytest.raises(RuntimeError, match="SEVA_SMSC"),
        TestClient(create_app(dispatching, gateway=gateway)),
    ):
        pass
    assert gateway.smsc_sim is None and gateway.sms_engine is None


@pytest.mark.asyncio
async def test_the_demos_smsc_takes_only_its_own_login(
    settings: Settings, database_url: str
) -> None:
    """The demo binds its simulator with the simulator's account; a wrong password is
    refused over a real SMPP bind on loopback, as an operator's SMSC would refuse it."""
    demo = settings.model_copy(update={"env": "demo", "sms_dispatch": True, "smsc_sim_port": 0})
    gateway = build_gateway(demo, database_url=database_url)
    try:
        await start_sms(gateway)
        assert gateway.smsc_sim.stats.binds >= 1  # the gateway's own bind
        host, port = gateway.smsc_sim.address
        esme = Esme(*await asyncio.open_connection(host, port))
        refused = await esme.bind(BindTransceiver, "seva", "wrong")
        assert refused.command_status == CommandStatus.ESME_RINVPASWD
        await esme.close()
    finally:
        await stop_sms(gateway)
        gateway.close()


@pytest.fixture
def run() -> Iterator[CliRunner]:
    """The ``seva`` command with settings read afresh from the variables each test gives."""
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


NO_KEY = {"SEVA_SECRET_KEY": None, "SEVA_ENV": None, "SEVA_SMSC": None, "SEVA_SMS_DISPATCH": None}


@pytest.mark.parametrize(
    "command",
    [
        ["serve"],
        ["dispatch"],
        ["db", "upgrade"],
        ["dept", "list"],
        ["services", "list"],
        ["janus-config", "--ip", "10.0.0.5"],
    ],
)
def test_every_command_but_the_demo_refuses_the_built_in_secret(
    run: CliRunner, command: list[str], tmp_path: Path
) -> None:
    if command[0] == "janus-config":
        command = [*command, "--out", str(tmp_path / "janus")]
    result = run.invoke(cli, command, env=NO_KEY | {"SEVA_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "SEVA_SECRET_KEY" in result.output
    assert "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["serve"], ["dispatch"]])
def test_serving_commands_refuse_the_demo_environment(
    run: CliRunner, command: list[str], tmp_path: Path
) -> None:
    env = NO_KEY | {"SEVA_ENV": "demo", "SEVA_DATA_DIR": str(tmp_path)}
    result = run.invoke(cli, command, env=env)
    assert result.exit_code == 2
    assert "SEVA_ENV=demo is for `seva demo` only" in result.output


def test_serve_refuses_sms_dispatch_without_an_smsc(run: CliRunner, tmp_path: Path) -> None:
    env = NO_KEY | {"SEVA_SECRET_KEY": "k" * 40, "SEVA_SMS_DISPATCH": "1"}
    result = run.invoke(cli, ["serve"], env=env | {"SEVA_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "SEVA_SMS_DISPATCH=1 needs SEVA_SMSC" in result.output


def test_the_demo_answers_the_readmes_curl_lines(tmp_path: Path) -> None:
    """``seva demo`` as a newcomer runs it: the operator routes take loopback, so the README's
    curl lines (Kannel, Africa's Talking, TwiML) work without any setting."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEVA_")} | {
        "SEVA_DATA_DIR": str(tmp_path),
        "SEVA_SIP": "0",
        "SEVA_SMSC_SIM_PORT": "0",
    }
    with (tmp_path / "demo.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(SEVA), "demo", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90  # migrate and seed on a busy machine
        while True:
            assert proc.poll() is None, (tmp_path / "demo.log").read_text()
            assert time.monotonic() < deadline, "seva demo did not answer /healthz"
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=30) as client:
            sms = client.get(
                "/channels/sms/kannel",
                params={"from": "9900000001", "to": "166", "text": "STATUS TEST-0001"},
            )
            assert sms.status_code == 200 and sms.text.startswith("Application TEST-0001")
            ussd = client.post(
                "/channels/ussd/africastalking",
                data={"sessionId": "demo1", "serviceCode": "*166#",
                      "phoneNumber": "+919900000002", "text": ""},
            )  # fmt: skip
            assert ussd.status_code == 200 and ussd.text.startswith("CON ")
            call = client.post(
                "/channels/voice/twiml", data={"CallSid": "demo1", "From": "+919900000003"}
            )
            assert call.status_code == 200 and "<Gather" in call.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
