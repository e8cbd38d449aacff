"""The ``seva`` command: one typer sub-app per command group."""

from __future__ import annotations

import typer

from seva.cli import db, demo, dept, dispatch, janus, services, sms, smsc

app = typer.Typer(
    name="seva",
    help="Seva: one service definition, every channel (SMS, USSD, voice, web, kiosk, app).",
    no_args_is_help=True,
    add_completion=False,
)
app.command("demo")(demo.demo)
app.command("serve")(demo.serve)
app.command("dispatch")(dispatch.dispatch)
app.command("smsc-sim")(smsc.smsc_sim)
app.command("janus-config")(janus.janus_config_command)
app.add_typer(db.app, name="db")
app.add_typer(dept.app, name="dept")
app.add_typer(services.app, name="services")
app.add_typer(sms.app, name="sms")
