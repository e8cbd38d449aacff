"""``seva janus-config``: write the Janus configuration Seva's meetings expect.

Janus's stock configuration turns on every plugin and transport with demo secrets; Seva needs
only VideoRoom, the WebSocket API for browsers and the admin API for itself, with token auth
on and secrets that match ``SEVA_JANUS_ADMIN_SECRET``.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import typer

from seva.cli import common
from seva.cli.common import err
from seva.rtc.janus import DEBIAN_LIBDIR, janus_config, other_libraries
from seva.settings import revealed


def janus_config_command(
    out: Path = typer.Option(..., "--out", help="Folder for the .jcfg files (created)"),
    ip: str = typer.Option(
        ..., "--ip", help="Address Janus listens on (WebSocket API and admin API)"
    ),
    public_ip: str = typer.Option(
        "", "--public-ip", help="Janus's public address when it sits behind 1:1 NAT"
    ),
    rtp_ports: str = typer.Option("20000-40000", "--rtp-ports", help="UDP range for media"),
    libdir: str = typer.Option(DEBIAN_LIBDIR, "--libdir", help="Janus's library folder"),
) -> None:
    """Write janus.jcfg and friends; run Janus with ``janus -F OUT -C OUT/janus.jcfg``."""
    settings = common.settings()
    secret = revealed(settings.janus_admin_secret)
    made = not secret
    if not secret:
        secret = secrets.token_urlsafe(24)
    plugins, transports = other_libraries(libdir)
    out.mkdir(parents=True, exist_ok=True)
    files = janus_config(
        configs_folder=str(out.resolve()),
        admin_secret=secret,
        admin_key=revealed(settings.janus_admin_key) or secret,
        ip=ip,
        rtp_ports=rtp_ports,
        nat_1_1=public_ip or None,
        libdir=libdir,
        other_plugins=plugins,
        other_transports=transports,
    )
    for name, text in files.items():
        path = out / name
        path.write_text(text)
        path.chmod(0o600)
        err.print(f"wrote {path}")
    err.print(f"start Janus with: janus -F {out} -C {out / 'janus.jcfg'}")
    err.print("and give Seva these settings:")
    print(f"SEVA_JANUS_ADMIN_URL=http://{ip}:7088/admin")
    print(f"SEVA_JANUS_WS_URL=ws://{public_ip or ip}:8188/")
    if made:
        print(f"SEVA_JANUS_ADMIN_SECRET={secret}")
