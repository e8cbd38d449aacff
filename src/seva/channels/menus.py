"""What a keypad menu lists, shared by USSD and the phone: the departments with live services,
and each department's services, in the order departments chose, followed by the gateway's
call services where the department takes calls; and what counts as a key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from seva.flows import calls
from seva.flows import service as services
from seva.flows.models import Service
from seva.flows.service import definition_of
from seva.tenancy import service as tenancy
from seva.tenancy.models import Department


def listed(service: Service) -> bool:
    """Shown in keypad menus unless its definition hides it (``ussd: {hidden: true}``)."""
    return not bool(definition_of(service).ussd.hidden)


def menu_departments(session: Session) -> list[Department]:
    live = {s.department_id for s in services.services_memo(session).live if listed(s)}
    return [d for d in tenancy.departments(session).listed if d.id in live]


def menu_services(session: Session, department_id: int) -> list[Service]:
    own, _ = services.services_memo(session).live_menu(department_id)
    return [s for s in own if listed(s)]


def department_menu(
    session: Session,
    department: Department,
    phone: str | None,
    now: datetime,
    *,
    booked: bool | None = None,
) -> list[Service]:
    """A department's menu for this caller: its own services, then booking a call with an
    official where its officials take calls, and the caller's booked calls with it, if any
    (``seva.flows.calls``). ``booked=False``: the caller is known to have no booked call
    (the first menu asked), so that is not asked again."""
    own, gateway = services.services_memo(session).live_menu(department.id)
    offered = calls.offered(session, department, phone, now, rows=gateway, booked=booked)
    return [s for s in own if listed(s)] + offered


def gateway_service(service: Service) -> bool:
    """One of the gateway's call services rather than the department's own."""
    return service.slug in services.GATEWAY_SERVICES


def menu_key(value: str, count: int) -> bool:
    """``value`` is a menu number from 1 to ``count`` (ASCII digits only: ``²`` is a digit
    to ``str.isdigit`` but not to ``int``)."""
    return value.isascii() and value.isdigit() and 1 <= int(value) <= count
