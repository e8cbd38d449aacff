"""The SMS console's query strings as models: what a page was asked for, read once.

A console address is typed, bookmarked and edited by hand, so no field here is refused: a
value that does not parse becomes "not given" or a problem the page shows next to the
filter, never a 400 (``console.sms_listing`` names the problems).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from seva.messaging.models import STATES

MAX_PAGE = 100_000


def row_id(raw: str) -> int | None:
    """A message or batch id as typed in an address or a filter box; None if it is not one."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def _page(raw: str) -> int:
    """The page asked for, 1 when it is not a number, within 1 to ``MAX_PAGE``."""
    try:
        return max(1, min(int(raw), MAX_PAGE))
    except ValueError:
        return 1


class SmsListQuery(BaseModel):
    """The filters of the console's SMS list (``/console/sms?status=…&phone=…``)."""

    model_config = ConfigDict(frozen=True)

    status: str = ""
    """A message state (``models.STATES``); any other value lists every state."""
    phone: str = ""
    """The number as typed (trimmed); normalised against the gateway's region when listed."""
    batch: str = ""
    """A batch id as typed (trimmed)."""
    page: str = "1"
    dept: str = ""
    """A department's code: a gateway admin's choice of one department."""

    @field_validator("status")
    @classmethod
    def _known_state(cls, value: str) -> str:
        return value if value in STATES else ""

    @field_validator("phone")
    @classmethod
    def _phone_text(cls, value: str) -> str:
        return value.strip()[:32]

    @field_validator("batch")
    @classmethod
    def _batch_text(cls, value: str) -> str:
        return value.strip()[:20]

    @field_validator("dept")
    @classmethod
    def _department_code(cls, value: str) -> str:
        return value.strip().upper()

    @property
    def batch_id(self) -> int | None:
        return row_id(self.batch) if self.batch else None

    @property
    def page_number(self) -> int:
        return _page(self.page)
