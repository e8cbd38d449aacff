"""What a keypad menu lists, shared by USSD and the phone: the departments with live services,
and each department's services, in the order departments chose; and what counts as a key."""

from __future__ import annotations

from sqlalchemy.orm import Session

from seva.flows import service as services
from seva.flows.models import Service
from seva.flows.service import definition_of
from seva.tenancy import service as tenancy
from seva.tenancy.models import Department


def listed(service: Service) -> bool:
    """Shown in keypad menus unless its definition hides it (``ussd: {hidden: true}``)."""
    return not bool(definition_of(service).ussd.hidden)


def menu_departments(session: Session) -> list[Department]:
    live = {s.department_id for s in services.live_services(session) if listed(s)}
    return [d for d in tenancy.menu_departments(session) if d.id in live]


def menu_services(session: Session, department_id: int) -> list[Service]:
    return [s for s in services.live_services(session, department_id) if listed(s)]


def menu_key(value: str, count: int) -> bool:
    """``value`` is a menu number from 1 to ``count`` (ASCII digits only: ``²`` is a digit
    to ``str.isdigit`` but not to ``int``)."""
    return value.isascii() and value.isdigit() and 1 <= int(value) <= count
