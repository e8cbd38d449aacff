"""How a person in India reads a moment: India Standard Time, with the zone named.

Timestamps are stored in UTC (``seva.db.base``). Every page, JSON answer a page shows and
PDF that puts a time in front of a person turns it into IST here, so the portal, the phone
simulator, the locker, the console and the SMS agree on the hour and say which clock it is.
India has one zone and no daylight saving, so the label never changes.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
ZONE = "IST"


def ist_text(moment: datetime | None) -> str:
    """Day-month-year and 24-hour time, e.g. ``07-12-2026 14:05 IST`` ("" for no moment)."""
    if moment is None:
        return ""
    return f"{moment.astimezone(IST):%d-%m-%Y %H:%M} {ZONE}"


def ist_clock(moment: datetime) -> str:
    """The hour alone, as a handset shows a message's time, e.g. ``14:05 IST``."""
    return f"{moment.astimezone(IST):%H:%M} {ZONE}"


def ist_date(moment: datetime) -> str:
    """The Indian calendar day, e.g. ``07-12-2026``: a UTC timestamp after 18:30 is already
    the next day in India."""
    return f"{moment.astimezone(IST):%d-%m-%Y}"
