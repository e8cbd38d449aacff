"""The booking page lists one day's free times at a time: a heading for the day in the page's
language, links to the other days and to the days either side, and a ``?day=`` that never
breaks the page."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from seva.citizens import service as citizens
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.rtc import router
from seva.rtc import service as rtc
from seva.tenancy import service as tenancy
from tests.web.test_citizen import log_in

SATURDAY_9 = datetime(2026, 12, 5, 3, 30, tzinfo=UTC)
"""Saturday 5 December 2026, 09:00 in India. The demo's officials take calls Monday to
Saturday, so the week ahead has times on Saturday 5 and Monday 7 to Friday 11 December (the
window closes on Saturday 12 at 09:00, before its first call)."""
# The paging is the same on every database; tests/rtc/test_calls.py books on PostgreSQL too.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

DAYS = ["2026-12-05", "2026-12-07", "2026-12-08", "2026-12-09", "2026-12-10", "2026-12-11"]


@pytest.fixture
def citizen(
    client: TestClient, gateway: Gateway, seeded: SeedReport, monkeypatch: pytest.MonkeyPatch
) -> TestClient:
    monkeypatch.setattr(router, "_now", lambda: SATURDAY_9)
    log_in(client, gateway, "+919811000611")
    return client


def heading(page: str) -> str:
    found = re.search(r'<h3 id="day-h">(.*?)</h3>', page)
    assert found, "the page names no day"
    return html.unescape(found.group(1))


def slots(page: str) -> list[str]:
    return re.findall(r'data-slot="([^"]+)"', page)


def pager(page: str) -> dict[str, str]:
    """``prev``/``next`` to the ``?day=`` each of the two links opens."""
    return {rel: day for day, rel in re.findall(r'href="\?day=([0-9-]+)#book-h" rel="(\w+)"', page)}


def day_links(page: str) -> list[str]:
    found = re.search(r'<ul class="days">(.*?)</ul>', page, re.S)
    assert found, "the page links no days"
    return re.findall(r'\?day=([0-9-]+)#book-h"', found.group(1))


def test_one_day_at_a_time_with_links_to_the_others(citizen: TestClient, gateway: Gateway) -> None:
    page = citizen.get("/call/FOOD")
    assert page.status_code == 200
    assert heading(page.text) == "Saturday, 5 December"
    assert "India Standard Time (IST)" in page.text
    assert day_links(page.text) == DAYS
    assert 'href="?day=2026-12-05#book-h" aria-current="date">Sat 5</a>' in page.text
    assert pager(page.text) == {"next": "2026-12-07"}
    with gateway.session() as session:
        department = tenancy.department_by_code(session, "FOOD")
        assert department is not None
        free = rtc.free_slots(session, department.id, now=SATURDAY_9, days=7)
    saturday = [s.isoformat() for s, _ in free if s.astimezone(rtc.INDIA).day == 5]
    assert slots(page.text) == saturday and len(saturday) == 24  # 10:00-13:00, 14:00-17:00
    assert ">10:00</button>" in page.text and ">16:45</button>" in page.text
    # The "connect now" queue is still offered above the times.
    assert 'id="connect-now"' in page.text

    monday = citizen.get("/call/FOOD?day=2026-12-07").text
    assert heading(monday) == "Monday, 7 December"
    assert pager(monday) == {"prev": "2026-12-05", "next": "2026-12-08"}
    assert all(datetime.fromisoformat(s).astimezone(rtc.INDIA).day == 7 for s in slots(monday))
    assert 'href="?day=2026-12-07#book-h" aria-current="date"' in monday

    friday = citizen.get("/call/FOOD?day=2026-12-11").text
    assert heading(friday) == "Friday, 11 December"
    assert pager(friday) == {"prev": "2026-12-10"}


def test_the_day_reads_in_hindi(citizen: TestClient) -> None:
    page = citizen.get("/call/FOOD?day=2026-12-07&lang=hi").text
    assert heading(page) == "सोमवार, 7 दिसंबर"
    assert "पिछला दिन" in page and "अगला दिन" in page
    assert ">शनि 5</a>" in page and "भारतीय मानक समय (IST)" in page
    assert not re.search(r"Monday|Saturday|December|Mon |Sat ", page)


ASKED = [
    ("", "Saturday, 5 December"),
    ("tomorrow", "Saturday, 5 December"),
    ("2026-02-30", "Saturday, 5 December"),  # no such date
    ("2026-13-01", "Saturday, 5 December"),
    ("20261207", "Saturday, 5 December"),  # only YYYY-MM-DD
    ("2026-12-07T10:00", "Saturday, 5 December"),
    ("%3Cscript%3E", "Saturday, 5 December"),
    ("9" * 3000, "Saturday, 5 December"),
    ("2026-12-01", "Saturday, 5 December"),  # already gone
    ("2026-12-06", "Monday, 7 December"),  # a Sunday: the next day with times
    ("2026-12-12", "Friday, 11 December"),  # past the window: its last day
    ("2030-01-01", "Friday, 11 December"),
]


def test_any_day_value_shows_a_day_of_the_window(citizen: TestClient) -> None:
    for asked, shown in ASKED:
        page = citizen.get(f"/call/FOOD?day={asked}")
        assert page.status_code == 200, asked
        assert heading(page.text) == shown, asked
    twice = citizen.get("/call/FOOD?day=2026-12-07&day=2026-12-08")
    assert twice.status_code == 200 and heading(twice.text) in (
        "Monday, 7 December",
        "Tuesday, 8 December",
    )


def test_moving_a_call_keeps_the_move_across_days(citizen: TestClient, gateway: Gateway) -> None:
    page = citizen.get("/call/FOOD?day=2026-12-08").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    tuesday = slots(page)[0]
    booked = citizen.post(
        "/call/FOOD/book", data={"csrf": csrf, "starts_at": tuesday}, follow_redirects=False
    )
    assert booked.status_code == 303
    with gateway.session() as session:
        person = citizens.find(session, "+919811000611")
        assert person is not None
        [appointment] = rtc.upcoming(session, person, now=SATURDAY_9)
        assert appointment.starts_at == datetime.fromisoformat(tuesday)
        room = appointment.room

    moving = citizen.get(f"/call/FOOD?move={room}&day=2026-12-08").text
    assert heading(moving) == "Tuesday, 8 December"
    assert tuesday not in slots(moving)  # where it already is
    assert f'action="/call/a/{room}/move"' in moving
    assert f'href="?move={room}&amp;day=2026-12-09#book-h" rel="next"' in moving
    assert f'href="?move={room}&amp;day=2026-12-07#book-h" rel="prev"' in moving
