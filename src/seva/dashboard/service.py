"""Counting today's transactions for the live status page, ``/status.json`` and the stream.

"Today" is the Indian calendar day (Asia/Kolkata). The day's UTC range is computed here in
Python and every query is a plain range scan on ``transactions.created_at`` with ``GROUP BY``
on text columns, so the same SQL runs on SQLite and PostgreSQL without date functions. The 24
hourly buckets are one pass of ``SUM(CASE …)`` over the same range, one column per hour.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, insert, select
from sqlalchemy.orm import Session

from seva.clock import IST
from seva.dashboard.models import Transaction
from seva.db.base import utcnow
from seva.flows import service as services
from seva.tenancy import service as tenancy

CHANNELS = ("sms", "ussd", "voice", "web", "kiosk", "app")
"""Shown even at zero so the channel chart keeps its shape through a quiet morning."""
OUTCOMES = ("completed", "failed", "timeout", "cancelled")
TOP_SERVICES = 10


@dataclass(frozen=True, slots=True)
class Day:
    """One Indian calendar day as a half-open UTC range."""

    day: date
    start: datetime
    end: datetime

    def hour_start(self, hour: int) -> datetime:
        """Start of IST hour ``hour`` (a fixed +05:30 offset: India has no daylight saving)."""
        return self.start + timedelta(hours=hour)


def ist_day(now: datetime | None = None) -> Day:
    local = (now or utcnow()).astimezone(IST)
    midnight = datetime(local.year, local.month, local.day, tzinfo=IST)
    start = midnight.astimezone(ZoneInfo("UTC"))
    return Day(day=local.date(), start=start, end=start + timedelta(days=1))


@dataclass(frozen=True, slots=True)
class Count:
    key: str
    count: int


@dataclass(frozen=True, slots=True)
class DepartmentCount:
    code: str
    name: dict[str, str]
    count: int


@dataclass(frozen=True, slots=True)
class ServiceCount:
    department: str
    service: str
    title: dict[str, str]
    count: int


@dataclass(frozen=True, slots=True)
class LiveDepartment:
    code: str
    name: dict[str, str]
    services: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the status page shows; ``numbers()`` is what a change is detected on."""

    day: str
    generated_at: str
    transactions_today: int
    completed_today: int
    services_live: int
    departments_live: int
    by_channel: list[Count] = field(default_factory=list)
    by_department: list[DepartmentCount] = field(default_factory=list)
    by_service: list[ServiceCount] = field(default_factory=list)
    by_outcome: list[Count] = field(default_factory=list)
    hourly: list[int] = field(default_factory=list)
    live: list[LiveDepartment] = field(default_factory=list)
    timezone: str = "Asia/Kolkata"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def numbers(self) -> dict[str, Any]:
        data = self.as_dict()
        data.pop("generated_at")
        return data


def _today(day: Day) -> ColumnElement[bool]:
    return and_(Transaction.created_at >= day.start, Transaction.created_at < day.end)


def _grouped(session: Session, day: Day, column: Any) -> dict[str, int]:
    rows = session.execute(
        select(column, func.count(Transaction.id)).where(_today(day)).group_by(column)
    )
    return {str(key): int(count) for key, count in rows}


def by_channel(session: Session, day: Day) -> list[Count]:
    found = _grouped(session, day, Transaction.channel)
    keys = list(CHANNELS) + sorted(k for k in found if k not in CHANNELS)
    return [Count(key, found.get(key, 0)) for key in keys]


def by_outcome(session: Session, day: Day) -> list[Count]:
    found = _grouped(session, day, Transaction.outcome)
    keys = list(OUTCOMES) + sorted(k for k in found if k not in OUTCOMES)
    return [Count(key, found.get(key, 0)) for key in keys]


def by_department(session: Session, day: Day) -> list[DepartmentCount]:
    found = _grouped(session, day, Transaction.department)
    names = _department_names(session, list(found))
    ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))
    return [DepartmentCount(code, names.get(code, {"en": code}), count) for code, count in ranked]


def by_service(session: Session, day: Day, limit: int = TOP_SERVICES) -> list[ServiceCount]:
    counted = func.count(Transaction.id)
    rows = session.execute(
        select(Transaction.department, Transaction.service, counted)
        .where(_today(day))
        .group_by(Transaction.department, Transaction.service)
        .order_by(counted.desc(), Transaction.department, Transaction.service)
        .limit(limit)
    ).all()
    titles = _service_titles(session, {(str(d), str(s)) for d, s, _ in rows})
    return [
        ServiceCount(str(d), str(s), titles.get((str(d), str(s)), {"en": str(s)}), int(n))
        for d, s, n in rows
    ]


def hourly(session: Session, day: Day) -> list[int]:
    """Transactions per IST hour of ``day``: 24 numbers from one scan of the day's rows."""
    columns = [
        func.coalesce(
            func.sum(
                case(
                    (
                        and_(
                            Transaction.created_at >= day.hour_start(hour),
                            Transaction.created_at < day.hour_start(hour + 1),
                        ),
                        1,
                    ),
                    else_=0,
                )
            ),
            0,
        )
        for hour in range(24)
    ]
    row = session.execute(select(*columns).where(_today(day))).one()
    return [int(value) for value in row]


def live_services(session: Session) -> list[LiveDepartment]:
    """Active services per active department, in the order the USSD menu lists them."""
    counts = services.active_service_counts(session)
    return [
        LiveDepartment(d.code, dict(d.name), counts[d.id])
        for d in tenancy.menu_departments(session)
        if d.id in counts
    ]


def _department_names(session: Session, codes: list[str]) -> dict[str, dict[str, str]]:
    found = tenancy.departments_by_code(session, codes)
    return {code: dict(department.name) for code, department in found.items()}


def _service_titles(
    session: Session, wanted: set[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, str]]:
    """Titles by (department code, slug): transactions name departments by code."""
    departments = tenancy.departments_by_code(session, {code for code, _ in wanted})
    keys = {
        (code, slug): (departments[code].id, slug) for code, slug in wanted if code in departments
    }
    found = services.service_titles(session, set(keys.values()))
    return {pair: found[key] for pair, key in keys.items() if key in found}


def record_transaction(
    session: Session, *, channel: str, department: str, service: str, outcome: str
) -> None:
    """Count one finished conversation; written with the change it finished (a Core insert
    in the session's transaction: every finished conversation on every channel writes one)."""
    session.connection().execute(
        _RECORD, {"channel": channel, "department": department, "service": service,
                  "outcome": outcome},
    )  # fmt: skip


_RECORD = insert(Transaction)


def snapshot(session: Session, now: datetime | None = None) -> Snapshot:
    now = now or utcnow()
    day = ist_day(now)
    outcomes = by_outcome(session, day)
    live = live_services(session)
    return Snapshot(
        day=day.day.isoformat(),
        generated_at=now.isoformat(timespec="seconds"),
        transactions_today=sum(c.count for c in outcomes),
        completed_today=next((c.count for c in outcomes if c.key == "completed"), 0),
        services_live=sum(d.services for d in live),
        departments_live=len(live),
        by_channel=by_channel(session, day),
        by_department=by_department(session, day),
        by_service=by_service(session, day),
        by_outcome=outcomes,
        hourly=hourly(session, day),
        live=live,
    )
