"""The server-rendered pages of the web channel: the citizen portal and the CSC kiosk, each in
its own module. The phone simulator (``web.sim``) is a demo tool, mounted by ``app`` only for
the demo."""

from __future__ import annotations

from fastapi import APIRouter

from seva.web import kiosk, portal

routers: list[APIRouter] = [portal.router, kiosk.router]
