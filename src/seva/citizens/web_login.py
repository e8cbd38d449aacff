"""The citizen logged in to a browser: the portal's one-time-code login keeps their phone in
the signed session cookie; the locker's and the call pages read it from here."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from seva.citizens import service as citizens
from seva.citizens.models import Citizen

SESSION_CITIZEN = "citizen_phone"


def citizen_phone(request: Request) -> str | None:
    phone = request.session.get(SESSION_CITIZEN)
    return str(phone) if phone else None


def current_citizen(request: Request, session: Session) -> Citizen | None:
    """The citizen logged in to this browser, from the registry (made on first use)."""
    phone = citizen_phone(request)
    return citizens.get_or_create(session, phone) if phone else None
