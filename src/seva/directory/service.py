"""Nearest offices/CSCs to a pincode, by great-circle distance.

A pincode's coordinates come from the gazetteer (``pincodes``) or, when it is missing there, from
any office registered at that pincode; a pincode known to neither has no answer rather than a
wrong one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from seva.directory.models import Office, Pincode


@dataclass(frozen=True, slots=True)
class Nearby:
    office: Office
    km: float


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    radius = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(a))


def locate(session: Session, pincode: str) -> tuple[float, float] | None:
    place = session.get(Pincode, pincode)
    if place is not None:
        return place.lat, place.lon
    office = session.scalar(select(Office).where(Office.pincode == pincode).limit(1))
    if office is not None:
        return office.lat, office.lon
    return None


def nearest(session: Session, pincode: str, *, kind: str = "any", limit: int = 3) -> list[Nearby]:
    origin = locate(session, pincode)
    if origin is None:
        return []
    query = select(Office)
    if kind != "any":
        query = query.where(Office.kind == kind)
    found = [
        Nearby(office, haversine_km(origin[0], origin[1], office.lat, office.lon))
        for office in session.scalars(query)
    ]
    found.sort(key=lambda n: (n.km, n.office.name))
    return found[:limit]


def department_offices(session: Session, department_id: int) -> list[Office]:
    return list(
        session.scalars(
            select(Office).where(Office.department_id == department_id).order_by(Office.name)
        )
    )


def has_offices(session: Session) -> bool:
    return session.scalar(select(Office.id).limit(1)) is not None


def add_office(
    session: Session,
    *,
    department_id: int,
    name: str,
    kind: str,
    address: str,
    pincode: str,
    lat: float,
    lon: float,
    phone: str | None,
    hours: str,
) -> Office:
    """Register an office or CSC; NEAR lists it from now on. The caller validates the fields."""
    office = Office(
        department_id=department_id,
        name=name,
        kind=kind,
        address=address,
        pincode=pincode,
        lat=lat,
        lon=lon,
        phone=phone,
        hours=hours,
    )
    session.add(office)
    session.flush()
    return office


def add_pincode(
    session: Session, *, pincode: str, place: str, district: str, lat: float, lon: float
) -> None:
    """Add a gazetteer entry unless the pincode is already known (seeding is idempotent)."""
    if session.get(Pincode, pincode) is None:
        session.add(Pincode(pincode=pincode, place=place, district=district, lat=lat, lon=lon))


def describe(places: list[Nearby]) -> str:
    return "\n".join(
        f"{i}. {n.office.name}, {n.office.address} ({n.km:.1f} km)"
        + (f" {n.office.hours}" if n.office.hours else "")
        for i, n in enumerate(places, start=1)
    )
