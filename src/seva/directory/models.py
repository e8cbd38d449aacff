"""Office directory and a pincode gazetteer (pincode → coordinates) for distance ranking."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from seva.db.base import Base, intpk


class Office(Base):
    __tablename__ = "offices"

    id: Mapped[intpk]
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    """``office`` or ``csc``."""
    address: Mapped[str] = mapped_column(String(400))
    pincode: Mapped[str] = mapped_column(String(6), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    phone: Mapped[str | None] = mapped_column(String(20))
    hours: Mapped[str] = mapped_column(String(100), default="")


class Pincode(Base):
    __tablename__ = "pincodes"

    pincode: Mapped[str] = mapped_column(String(6), primary_key=True)
    place: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(100))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
