"""``seva demo`` (everything on embedded defaults, seeded) and ``seva serve`` (production).

Only ``seva demo`` runs on the demo's settings (``SEVA_ENV=demo``): the built-in secret key,
the phone simulator, an SMSC simulator in place of an operator's, loopback allowed to call the
operator routes. ``seva serve`` refuses them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import make_url

from seva.cli import common
from seva.cli.common import console, err
from seva.db.migrate import upgrade
from seva.gateway import Gateway, Listening
from seva.settings import Settings, get_settings

if TYPE_CHECKING:
    from seva.demo.seed import SeedReport

LOOPBACK = "127.0.0.1, ::1"
DEFAULT_DATA_DIR = Path("./var")


def _own_address(host: str) -> str:
    from seva.outbound import numeric_address

    address = numeric_address(host)
    if address is None or address.is_unspecified:
        return "127.0.0.1"
    return str(address)


def _every_interface(host: str) -> bool:
    from seva.outbound import numeric_address

    address = numeric_address(host)
    return address is not None and address.is_unspecified


def _base_url(host: str, port: int) -> str:
    """The demo's links: its own address; listening on every interface, 127.0.0.1 unless
    SEVA_BASE_URL names the address other machines reach it by."""
    if _every_interface(host):
        return os.environ.get("SEVA_BASE_URL") or f"http://127.0.0.1:{port}"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def listen_refusal(host: str, port: int) -> str | None:
    """Why the demo could not listen on ``host:port`` now, as a sentence saying what to do; or
    None. Asked before migrating and seeding, so a busy port is one clear line rather than a
    raw ``[Errno 98]`` after the start-up output."""
    try:
        refused = _bind_error(host, port)
    except (socket.gaierror, UnicodeError):
        refused = OSError(errno.EADDRNOTAVAIL, "no such address")
    if refused is None:
        return None
    if refused.errno == errno.EADDRNOTAVAIL:
        return (
            f"--host {host} is not an address or name of this machine; use 127.0.0.1 (this "
            "machine only) or 0.0.0.0 (every interface)"
        )
    other = _other_port(host, port)
    retry = f"run `make demo PORT={other}` (or `seva demo --port {other}`)"
    if refused.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use — stop what is using it or {retry}"
    if refused.errno == errno.EACCES:
        return f"port {port} needs administrator rights on this machine — {retry}"
    return f"cannot listen on {host} port {port}: {refused.strerror or refused} — {retry}"


def _bind_error(host: str, port: int) -> OSError | None:
    """Bind as uvicorn will (address reuse on, one socket per address the host resolves to,
    IPv6 ones IPv6-only) and let go at once: the error it would meet, if any."""
    found = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE | socket.AI_NUMERICSERV
    )
    for family, kind, proto, _name, address in found:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                return exc
    return None


def _other_port(host: str, busy: int) -> int:
    """A port to suggest instead: the first free one of 8080–8099 (8080 if none is)."""
    for candidate in range(8080, 8100):
        if candidate != busy and _bind_error(host, candidate) is None:
            return candidate
    return 8080


def seva_command() -> str:
    """How this process was started (``.venv/bin/seva`` under ``make demo``), so a command
    the banner suggests can be pasted as it is."""
    program = sys.argv[0] if sys.argv else ""
    return shlex.quote(program) if Path(program).name == "seva" else "seva"


def key_command(settings: Settings, code: str) -> str:
    """The command that issues a new API key for department ``code`` on the demo's data."""
    where = (
        ""
        if settings.data_dir == DEFAULT_DATA_DIR
        else f"SEVA_DATA_DIR={shlex.quote(str(settings.data_dir))} "
    )
    return f"SEVA_ENV=demo {where}{seva_command()} dept key {code}"


def _at(listening: Listening) -> str:
    """``host:port``, and the port asked for when it moved: "127.0.0.1:40123 (5060 was in
    use)"."""
    where = f"{listening.host}:{listening.port}"
    if listening.moved:
        return f"{where} ({listening.asked} {listening.why_moved})"
    return where


def print_banner(
    out: Console, settings: Settings, gateway: Gateway, report: SeedReport, *, listen: str
) -> None:
    """Where everything is, printed once the app is listening: the SMSC simulator's and the
    SIP endpoint's ports are the ones the lifespan bound (any free port when 2775 or 5060 was
    taken), so a softphone pointed at them reaches this gateway and not another server."""
    from seva.demo.seed import DEMO_APPLICATION, DEMO_CITIZEN, DEMO_PASSWORD

    base = settings.base_url
    table = Table(title="Seva demo", show_header=False, box=None)
    table.add_row("Portal", f"{base}/")
    table.add_row(
        "Phone simulator", f"{base}/sim  (SMS to {settings.shortcode}, dial {settings.ussd_code})"
    )
    table.add_row("CSC kiosk", f"{base}/kiosk")
    table.add_row("Officials' console", f"{base}/console")
    table.add_row("Admin (onboarding)", f"{base}/admin")
    table.add_row("Live status", f"{base}/status")
    table.add_row("API docs", f"{base}/docs")
    if _every_interface(listen) and urlsplit(base).hostname == "127.0.0.1":
        table.add_row(
            "Listening",
            f"on every interface ({listen}); for browsers on other machines set "
            f"SEVA_BASE_URL=http://<this machine's address>:{urlsplit(base).port}",
        )
    table.add_row("SMS (Kannel get-url)", f"{base}/channels/sms/kannel?from=%p&to=%P&text=%a")
    table.add_row("USSD (Africa's Talking)", f"{base}/channels/ussd/africastalking")
    table.add_row("Operator routes", f"from {settings.kannel_allow} (SEVA_<OPERATOR>_ALLOW)")
    smsc = gateway.listening.get("smsc_sim")
    if smsc is not None:
        table.add_row("SMPP", f"SMSC simulator (login seva/seva) on {_at(smsc)}")
    elif settings.sms_dispatch:
        table.add_row("SMPP", "binds from SEVA_SMSC")
    sip = gateway.listening.get("sip")
    if sip is not None:
        table.add_row(
            "Voice",
            f"SIP on udp {_at(sip)}, calls from {settings.sip_trunks}; "
            f"TwiML {base}/channels/voice/twiml, Exotel {base}/channels/voice/exotel",
        )
    table.add_row("Data", make_url(settings.effective_database_url).render_as_string())
    table.add_row(
        "Try", f"SMS 'STATUS {DEMO_APPLICATION}' from {DEMO_CITIZEN}; 'RATION 1234567890'"
    )
    logins = ", ".join(u for u, _r, _d in report.officials)
    table.add_row("Logins", f"{logins}  (password {DEMO_PASSWORD})")
    out.print(table)
    # Keys on lines of their own, never wrapped or cut, so they can be copied whole.
    for code, key in report.api_keys.items():
        out.print(f"API key {code:<10} {key}  (shown once)", soft_wrap=True, highlight=False)
    keyless = [code for code in report.departments if code not in report.api_keys]
    if keyless:
        # Keys are made (and shown) at the first start only; their secrets are not kept.
        example = "TRANSPORT" if "TRANSPORT" in keyless else keyless[0]
        out.print(
            "API keys were shown at the first start; a new one for a department: "
            f"{key_command(settings, example)}",
            soft_wrap=True,
            highlight=False,
        )


class DemoServer(uvicorn.Server):
    """uvicorn that calls ``on_started`` once the lifespan has run and the HTTP port is
    bound: only then are the SMSC simulator's and SIP's ports known."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()


def demo(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="HTTP port"),
) -> None:
    """Start a seeded demo gateway: portal, phone simulator, live status and API docs."""
    from seva.channels.operators import OPERATORS

    started = time.perf_counter()
    refusal = listen_refusal(host, port)
    if refusal is not None:  # before migrating and seeding: nothing printed that is then void
        err.print(f"[red]{escape(refusal)}[/red]", soft_wrap=True, highlight=False)
        raise typer.Exit(1)
    os.environ.setdefault("SEVA_ENV", "demo")
    os.environ.setdefault("SEVA_SMS_DISPATCH", "1")
    os.environ.setdefault("SEVA_SIP", "1")
    for operator in OPERATORS:  # the README's curl examples play the operators from here
        os.environ.setdefault(f"SEVA_{operator.name.upper()}_ALLOW", LOOPBACK)
    os.environ["SEVA_BASE_URL"] = _base_url(host, port)
    # The bundled services call the demo's stand-in backend on this gateway itself: that one
    # address is allowed beside the public ones (seva.outbound refuses loopback otherwise).
    os.environ.setdefault("SEVA_OUTBOUND_ALLOW", _own_address(host))
    get_settings.cache_clear()
    settings = common.settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)

    from seva.app import create_app
    from seva.demo.seed import seed

    app = create_app(settings)
    gateway: Gateway = app.state.gateway
    with gateway.session() as session:
        report = seed(session)

    def ready() -> None:
        print_banner(console, settings, gateway, report, listen=host)
        console.print(
            f"[dim]{len(report.departments)} departments, {len(report.services)} services; "
            f"ready in {time.perf_counter() - started:.1f} s[/dim]"
        )

    # log_config=None: uvicorn's lines go through Seva's redacting log handler (seva.logs).
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", log_config=None)
    server = DemoServer(config, on_started=ready)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: stopped as asked
        server.run()
    if not server.started:
        raise typer.Exit(1)


def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes"),
    forwarded_allow_ips: str = typer.Option(
        "127.0.0.1",
        "--forwarded-allow-ips",
        envvar="FORWARDED_ALLOW_IPS",
        help="Proxies whose X-Forwarded-For is believed (comma-separated; never '*': "
        "rate limits and allow-lists go by the client address)",
    ),
) -> None:
    """Run the gateway alone (run `seva db upgrade` first). Reads SEVA_* settings."""
    common.settings(serving=True)  # fail early on bad settings, e.g. the built-in key
    os.environ["SEVA_WORKERS"] = str(workers)  # the workers' settings say how many share
    uvicorn.run(
        "seva.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        log_config=None,  # its lines go through Seva's redacting log handler (seva.logs)
    )
