"""The server-rendered pages of the web channel: the citizen portal, the CSC kiosk and the
phone simulator, each in its own module."""

from __future__ import annotations

from fastapi import APIRouter

from seva.web import kiosk, portal, sim

router = APIRouter(include_in_schema=False)
router.include_router(portal.router)
router.include_router(kiosk.router)
router.include_router(sim.router)
