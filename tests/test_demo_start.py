"""A newcomer's first start of ``seva demo``: a busy or wrong address is one clear line before
anything else happens, the start-up lines name the ports actually bound (the SMSC simulator's
and SIP's move when 2775 or 5060 are taken), and a restart says how to get an API key."""

from __future__ import annotations

import io
import re
import shlex
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from seva.app import create_app
from seva.cli import app as cli
from seva.cli.demo import DemoServer, key_command, listen_refusal, print_banner
from seva.demo.seed import SeedReport
from seva.gateway import Gateway, build_gateway
from seva.settings import Settings, get_settings
from seva.tenancy import service as tenancy
from tests.channels.voice.messages import options


@pytest.fixture
def busy_tcp() -> Iterator[int]:
    """A loopback TCP port something else is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def busy_udp() -> Iterator[int]:
    """A loopback UDP port something else holds (as another SIP server holds 5060)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def run() -> Iterator[CliRunner]:
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_a_busy_http_port_is_refused_saying_what_to_do(busy_tcp: int) -> None:
    refusal = listen_refusal("127.0.0.1", busy_tcp)
    assert refusal is not None
    assert refusal.startswith(f"port {busy_tcp} on 127.0.0.1 is in use — stop what is using it")
    assert re.search(r"run `make demo PORT=\d+`", refusal)


def test_a_free_port_is_not_refused() -> None:
    with socket.socket() as sock:  # a port just freed, as the demo's own will be
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert listen_refusal("127.0.0.1", port) is None


@pytest.mark.parametrize(
    "host",
    [
        "192.0.2.1",  # a documentation address: no interface of this machine has it
        "x" * 64 + ".example",  # not a name at all (a label is at most 63 characters)
    ],
)
def test_a_wrong_host_is_refused_in_a_sentence(host: str) -> None:
    refusal = listen_refusal(host, 8000)
    assert refusal is not None and refusal.startswith(f"--host {host}")
    assert "127.0.0.1" in refusal and "0.0.0.0" in refusal


def test_the_demo_stops_on_a_busy_port_before_migrating(
    run: CliRunner, busy_tcp: int, tmp_path: Path
) -> None:
    result = run.invoke(
        cli, ["demo", "--port", str(busy_tcp)], env={"SEVA_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 1
    assert f"port {busy_tcp} on 127.0.0.1 is in use" in result.output
    assert "Errno" not in result.output and "Traceback" not in result.output
    assert "API key" not in result.output
    assert not (tmp_path / "seva.db").exists()  # nothing migrated, nothing seeded


@pytest.mark.parametrize(
    "loop",
    [
        "asyncio",
        pytest.param(
            "uvloop",
            # uvloop leaves the transport of a refused bind to the garbage collector, which
            # warns of it; the port the demo then binds is closed on shutdown all the same.
            marks=pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
        ),
    ],
)
def test_the_banner_names_the_ports_the_demo_moved_to(
    settings: Settings, database_url: str, busy_tcp: int, busy_udp: int, loop: str
) -> None:
    """With the SMSC simulator's and SIP's ports taken, the lines printed once the server is
    up name the ports bound instead, and why (uvloop, which ``seva demo`` runs on, words
    its bind errors differently)."""
    demo = settings.model_copy(
        update={
            "env": "demo",
            "sms_dispatch": True,
            "sip": True,
            "smsc_sim_port": busy_tcp,
            "sip_port": busy_udp,
        }
    )
    gateway = build_gateway(demo, database_url=database_url)
    out = Console(file=io.StringIO(), record=True, width=240)
    report = SeedReport(departments=["TRANSPORT", "FOOD"])  # a restart: no keys made
    server: DemoServer

    def ready() -> None:
        print_banner(out, demo, gateway, report, listen="127.0.0.1")
        server.should_exit = True

    config = uvicorn.Config(
        create_app(demo, gateway=gateway), host="127.0.0.1", port=0, loop=loop, log_config=None
    )
    server = DemoServer(config, on_started=ready)
    try:
        server.run()
    finally:
        gateway.close()
    assert server.started
    text = out.export_text()
    smsc = re.search(rf"SMSC simulator .* on 127\.0\.0\.1:(\d+) \({busy_tcp} was in use\)", text)
    sip = re.search(rf"SIP on udp 127\.0\.0\.1:(\d+) \({busy_udp} was in use\)", text)
    assert smsc and sip, text
    assert int(smsc[1]) not in (busy_tcp, 0) and int(sip[1]) not in (busy_udp, 0)
    assert "SEVA_ENV=demo" in text and "dept key TRANSPORT" in text
    assert gateway.listening == {}  # the lifespan let go of both on shutdown


def test_a_port_that_did_not_move_is_printed_plainly(settings: Settings, database_url: str) -> None:
    demo = settings.model_copy(update={"env": "demo", "sip": True, "sip_port": 0})
    gateway = build_gateway(demo, database_url=database_url)
    out = Console(file=io.StringIO(), record=True, width=240)
    try:
        with TestClient(create_app(demo, gateway=gateway)):
            sip = gateway.listening["sip"]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
                phone.settimeout(10)
                phone.bind(("127.0.0.1", 0))
                phone.sendto(options(), (sip.host, sip.port))
                answer = phone.recv(4096)
            print_banner(out, demo, gateway, SeedReport(), listen="127.0.0.1")
    finally:
        gateway.close()
    assert answer.startswith(b"SIP/2.0 200 ")
    text = out.export_text()
    assert f"SIP on udp 127.0.0.1:{sip.port}, calls from" in text
    assert "was in use" not in text and "SMSC simulator" not in text


def test_listening_on_every_interface_says_what_other_machines_need(
    settings: Settings, gateway: Gateway
) -> None:
    out = Console(file=io.StringIO(), record=True, width=240)
    print_banner(out, settings, gateway, SeedReport(), listen="0.0.0.0")
    port = settings.base_url.rsplit(":", 1)[1]
    assert (
        "on every interface (0.0.0.0); for browsers on other machines set "
        f"SEVA_BASE_URL=http://<this machine's address>:{port}"
    ) in out.export_text()


def test_a_restart_prints_the_command_that_gives_a_key(
    run: CliRunner, settings: Settings, tmp_path: Path
) -> None:
    """Keys are shown once, at the first start; the command a later start prints instead,
    pasted as it is, issues a working key."""
    env = {"SEVA_DATA_DIR": str(tmp_path), "SEVA_ENV": "demo"}
    added = run.invoke(
        cli, ["dept", "add", "TRANSPORT", "--name", "Transport", "--sender-id", "TRNSPT"], env=env
    )
    assert added.exit_code == 0, added.output

    command = key_command(settings.model_copy(update={"data_dir": tmp_path}), "TRANSPORT")
    words = shlex.split(command)
    assignments = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
    assert assignments == {"SEVA_ENV": "demo", "SEVA_DATA_DIR": str(tmp_path)}
    args = words[len(assignments) + 1 :]  # after the program
    assert args == ["dept", "key", "TRANSPORT"]
    issued = run.invoke(cli, args, env=assignments)
    assert issued.exit_code == 0, issued.output
    [key] = re.findall(r"sk_\S+", issued.output)

    get_settings.cache_clear()
    gateway = build_gateway(Settings(env="demo", data_dir=tmp_path))
    try:
        with gateway.session() as session:
            department = tenancy.authenticate_api_key(session, key)
            assert department is not None and department.code == "TRANSPORT"
    finally:
        gateway.close()


def test_the_key_command_names_an_unknown_department(run: CliRunner, tmp_path: Path) -> None:
    result = run.invoke(cli, ["dept", "key", "NOPE"], env={"SEVA_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "no department NOPE" in result.output


def test_the_demos_own_data_needs_no_data_dir_in_the_command(settings: Settings) -> None:
    command = key_command(settings.model_copy(update={"data_dir": Path("./var")}), "FOOD")
    assert command.startswith("SEVA_ENV=demo ") and command.endswith(" dept key FOOD")
    assert "SEVA_DATA_DIR" not in command
