"""``seva demo`` (everything on embedded defaults, seeded) and ``seva serve`` (production).

Only ``seva demo`` runs on the demo's settings (``SEVA_ENV=demo``): the built-in secret key,
the phone simulator, an SMSC simulator in place of an operator's, loopback allowed to call the
operator routes. ``seva serve`` refuses them.
"""

from __future__ import annotations

import os
import time

import typer
import uvicorn
from rich.table import Table
from sqlalchemy import make_url

from seva.cli import common
from seva.cli.common import console
from seva.db.migrate import upgrade
from seva.settings import get_settings

LOOPBACK = "127.0.0.1, ::1"


def _own_address(host: str) -> str:
    from seva.outbound import numeric_address

    address = numeric_address(host)
    if address is None or address.is_unspecified:
        return "127.0.0.1"
    return str(address)


def demo(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on"),
    port: int = typer.Option(8000, "--port", help="HTTP port"),
) -> None:
    """Start a seeded demo gateway: portal, phone simulator, live status and API docs."""
    from seva.channels.operators import OPERATORS

    started = time.perf_counter()
    os.environ.setdefault("SEVA_ENV", "demo")
    os.environ.setdefault("SEVA_SMS_DISPATCH", "1")
    os.environ.setdefault("SEVA_SIP", "1")
    for operator in OPERATORS:  # the README's curl examples play the operators from here
        os.environ.setdefault(f"SEVA_{operator.name.upper()}_ALLOW", LOOPBACK)
    os.environ["SEVA_BASE_URL"] = f"http://{host}:{port}"
    # The bundled services call the demo's stand-in backend on this gateway itself: that one
    # address is allowed beside the public ones (seva.outbound refuses loopback otherwise).
    os.environ.setdefault("SEVA_OUTBOUND_ALLOW", _own_address(host))
    get_settings.cache_clear()
    settings = common.settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)

    from seva.app import create_app
    from seva.demo.seed import DEMO_APPLICATION, DEMO_CITIZEN, DEMO_PASSWORD, seed

    app = create_app(settings)
    with app.state.gateway.session() as session:
        report = seed(session)

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
    table.add_row("SMS (Kannel get-url)", f"{base}/channels/sms/kannel?from=%p&to=%P&text=%a")
    table.add_row("USSD (Africa's Talking)", f"{base}/channels/ussd/africastalking")
    table.add_row("Operator routes", f"from {settings.kannel_allow} (SEVA_<OPERATOR>_ALLOW)")
    if settings.sms_dispatch:
        table.add_row(
            "SMPP",
            f"SMSC simulator on 127.0.0.1:{settings.smsc_sim_port} (seva/seva)"
            if not settings.smsc
            else "binds from SEVA_SMSC",
        )
    if settings.sip:
        table.add_row(
            "Voice",
            f"SIP on udp {settings.sip_host}:{settings.sip_port} (calls from "
            f"{settings.sip_trunks}); TwiML {base}/channels/voice/twiml, "
            f"Exotel {base}/channels/voice/exotel",
        )
    table.add_row("Data", make_url(settings.effective_database_url).render_as_string())
    table.add_row(
        "Try", f"SMS 'STATUS {DEMO_APPLICATION}' from {DEMO_CITIZEN}; 'RATION 1234567890'"
    )
    logins = ", ".join(u for u, _r, _d in report.officials)
    table.add_row("Logins", f"{logins}  (password {DEMO_PASSWORD})")
    console.print(table)
    # Keys on lines of their own, never wrapped or cut, so they can be copied whole.
    for code, key in report.api_keys.items():
        console.print(f"API key {code:<10} {key}  (shown once)", soft_wrap=True, highlight=False)
    console.print(
        f"[dim]{len(report.departments)} departments, {len(report.services)} services; "
        f"ready in {time.perf_counter() - started:.1f} s[/dim]"
    )
    # log_config=None: uvicorn's lines go through Seva's redacting log handler (seva.logs).
    uvicorn.run(app, host=host, port=port, log_level="warning", log_config=None)


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
