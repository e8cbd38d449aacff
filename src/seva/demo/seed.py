"""Seeding the demo gateway. Idempotent: run at every ``seva demo`` start, it adds what is
missing and reloads the bundled service definitions, leaving citizens' data alone."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from seva.applications import service as applications
from seva.citizens import service as citizens
from seva.directory import service as directory
from seva.flows import datasets
from seva.flows.loader import read_definitions
from seva.flows.service import load_service
from seva.messaging import msdg
from seva.messaging import service as messaging
from seva.outbound import UrlPolicy
from seva.rtc import service as rtc
from seva.rtc.models import Availability
from seva.tenancy import service as tenancy
from seva.tenancy.models import Role

HERE = Path(__file__).parent
SERVICES_DIR = HERE / "services"
DATA_DIR = HERE / "data"

DEMO_CITIZEN = "+919900000001"
DEMO_APPLICATION = "TEST-0001"
DEMO_PASSWORD = "seva-demo-1"  # noqa: S105 - the demo's published login, refused in production


@dataclass
class SeedReport:
    departments: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    api_keys: dict[str, str] = field(default_factory=dict)
    """Department code → API key, only for keys created by this run (shown once)."""
    officials: list[tuple[str, str, str]] = field(default_factory=list)


def seed(session: Session) -> SeedReport:
    report = SeedReport()
    specs: list[dict[str, Any]] = yaml.safe_load((DATA_DIR / "departments.yaml").read_text("utf-8"))
    for spec in specs:
        department = tenancy.department_by_code(session, spec["code"])
        if department is None:
            department = tenancy.create_department(
                session,
                code=spec["code"],
                name=spec["name"],
                sender_id=spec["sender_id"],
                ussd_order=spec.get("ussd_order", 100),
            )
            report.api_keys[department.code] = tenancy.issue_api_key(
                session, department, label="demo"
            ).secret
            for item in spec.get("datasets", []):
                text = (DATA_DIR / item["file"]).read_text("utf-8")
                datasets.upload_csv(session, department.id, item["name"], text, item["key"])
        report.departments.append(department.code)
        if "sms" in spec:
            _sms(session, department.id, spec["sms"])
    for _path, source, definition in read_definitions(SERVICES_DIR):
        # The bundled services call only the gateway itself ({seva.base_url}/demo/backend).
        service = load_service(session, definition, source=source, builtin=True, urls=UrlPolicy())
        report.services.append(f"{definition.department}/{service.slug}")
    _pincodes(session)
    _offices(session)
    _officials(session, report)
    _call_hours(session)
    _application(session)
    return report


def _sms(session: Session, department_id: int, spec: dict[str, Any]) -> None:
    """DLT entity, headers and templates, and an MSDG login (the demo's published one)."""
    account = messaging.ensure_account(session, department_id)
    account.entity_id = spec["entity_id"]
    for header in spec.get("headers", []):
        messaging.register_header(session, department_id, header["header"], header["category"])
    for template in spec.get("templates", []):
        messaging.register_template(session, department_id, **template)
    login = spec.get("msdg")
    if login and account.msdg_username is None:
        account.msdg_username = login["username"]
        account.msdg_password_hash = messaging.stored_password_hash(
            msdg.sha1_hex(login["password"])
        )
        account.msdg_secure_key = login["secure_key"]


def _pincodes(session: Session) -> None:
    with (DATA_DIR / "pincodes.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            directory.add_pincode(
                session,
                pincode=row["pincode"],
                place=row["place"],
                district=row["district"],
                lat=float(row["lat"]),
                lon=float(row["lon"]),
            )


def _offices(session: Session) -> None:
    if directory.has_offices(session):
        return
    codes = {d.code: d.id for d in tenancy.all_departments(session)}
    with (DATA_DIR / "offices.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            directory.add_office(
                session,
                department_id=codes[row["department"]],
                name=row["name"],
                kind=row["kind"],
                address=row["address"],
                pincode=row["pincode"],
                lat=float(row["lat"]),
                lon=float(row["lon"]),
                phone=row["phone"] or None,
                hours=row["hours"],
            )


_OFFICIALS = (
    ("admin", "Gateway Administrator", Role.GATEWAY_ADMIN, None),
    ("food.admin", "Food Department Admin", Role.DEPARTMENT_ADMIN, "FOOD"),
    ("mcd.officer", "Ward Officer, MCD", Role.OFFICER, "MCD"),
    ("transport.officer", "Licensing Officer", Role.OFFICER, "TRANSPORT"),
    ("csc.laxminagar", "CSC Operator, Laxmi Nagar", Role.CSC_OPERATOR, "SEVA"),
)


@lru_cache(maxsize=1)
def _demo_password_hash() -> str:
    """scrypt is slow on purpose; the demo's shared password is hashed once per process."""
    return tenancy.hash_password(DEMO_PASSWORD)


def _officials(session: Session, report: SeedReport) -> None:
    for username, name, role, code in _OFFICIALS:
        department = tenancy.department_by_code(session, code) if code else None
        if tenancy.official_by_username(session, username) is None:
            tenancy.create_official(
                session,
                username=username,
                name=name,
                role=role,
                password=DEMO_PASSWORD,
                password_hash=_demo_password_hash(),
                department=department,
            )
        report.officials.append((username, role.value, code or "all"))


_CALL_HOURS = ("food.admin", "transport.officer", "mcd.officer")
"""Officials who publish call hours in the demo: Monday to Saturday, 10:00-13:00 and
14:00-17:00 India time, 15-minute calls with 5 minutes between them."""


def _call_hours(session: Session) -> None:
    hours = [["10:00", "13:00"], ["14:00", "17:00"]]
    for username in _CALL_HOURS:
        official = tenancy.official_by_username(session, username)
        if official is None or session.get(Availability, official.id) is not None:
            continue
        rtc.set_availability(
            session,
            official,
            tz="Asia/Kolkata",
            weekly={str(day): hours for day in range(6)},
            slot_minutes=15,
            buffer_after=5,
            min_notice_minutes=30,
        )


def _application(session: Session) -> None:
    if applications.find(session, DEMO_APPLICATION) is not None:
        return
    citizen = citizens.get_or_create(session, DEMO_CITIZEN, channel="sms")
    citizen.language = citizen.language or "en"
    department = tenancy.department_by_code(session, "FOOD")
    assert department is not None
    application = applications.create(
        session,
        department=department,
        service="ration-card-new",
        kind="new-ration-card",
        status="Received",
        data={"name": "Sunita Devi", "members": "4"},
        channel="web",
        citizen=citizen,
        ref=DEMO_APPLICATION,
    )
    session.flush()
    officer = tenancy.official_by_username(session, "food.admin")
    applications.change_status(
        session,
        application,
        status="Verified",
        note="Documents verified at the circle office.",
        official_id=officer.id if officer else None,
    )
    applications.change_status(
        session,
        application,
        status="Approved",
        note="Card ready for collection at FPS 112, Shakarpur.",
        official_id=officer.id if officer else None,
    )
