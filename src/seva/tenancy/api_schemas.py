"""Request and response bodies of the department API (``/api/v1/dept``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServiceOut(BaseModel):
    slug: str
    title: dict[str, str]
    description: dict[str, str] | None
    keywords: list[str]
    languages: list[str]
    ussd_order: int
    ussd_hidden: bool
    active: bool
    builtin: bool
    """Bundled with the gateway (reloaded from its files at every demo start)."""
    revision: int
    loaded_at: datetime


class ServiceDetail(ServiceOut):
    definition: dict[str, Any]
    """The validated definition as stored (JSON form, defaults left out)."""
    source: str
    """The YAML or JSON text as it was uploaded."""


class Problem(BaseModel):
    path: str
    line: int | None
    message: str


class DefinitionErrorDetail(BaseModel):
    code: Literal["invalid_definition"]
    message: str
    field: str | None
    problems: list[Problem]
    """Every problem found, each with the line of the uploaded text it is on."""


class DefinitionErrorBody(BaseModel):
    error: DefinitionErrorDetail


class DatasetOut(BaseModel):
    name: str
    key_column: str
    columns: list[str]
    rows: int
    uploaded_at: datetime


class OfficeIn(_In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
    kind: Literal["office", "csc"] = "office"
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=400)]
    pincode: str = Field(pattern=r"^[1-9][0-9]{5}$", examples=["110092"])
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, examples=[28.6297])
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, examples=[77.2801])
    phone: str | None = Field(default=None, max_length=32, examples=["011 2255 0000"])
    hours: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""


class OfficeOut(BaseModel):
    id: int
    name: str
    kind: str
    address: str
    pincode: str
    lat: float
    lon: float
    phone: str | None
    hours: str


class CitizenOut(BaseModel):
    phone: str
    language: str | None
    profile: dict[str, str]
    """Only the fields the citizen gave to, or allowed for, your department."""
    applications: list[str]
    """References of the citizen's applications with your department."""


class KeyIn(_In):
    label: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class KeyOut(BaseModel):
    prefix: str
    label: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class NewKeyOut(KeyOut):
    key: str
    """The whole key. It is shown this once and stored only hashed: keep it now."""
