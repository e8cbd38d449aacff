"""The live status page, its JSON snapshot and its event stream count what citizens did today."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from seva.dashboard import charts
from seva.dashboard import service as status
from seva.dashboard.models import Transaction
from seva.dashboard.router import grouped
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from tests.console.pages import sms


def counts(items: list[dict[str, object]], key: str = "key") -> dict[str, object]:
    return {str(item[key]): item["count"] for item in items}


def test_a_completed_sms_service_is_counted(client: TestClient, seeded: SeedReport) -> None:
    before = client.get("/status.json").json()
    assert before["transactions_today"] == 0
    assert before["services_live"] == len(seeded.services)
    assert before["departments_live"] == len(seeded.departments)

    assert sms(client, "RATION 1234567890").startswith("Ration card 1234567890")
    sms(client, "DL")  # a question still open is not a finished transaction

    after = client.get("/status.json").json()
    assert after["transactions_today"] == 1
    assert after["completed_today"] == 1
    assert counts(after["by_channel"])["sms"] == 1
    assert counts(after["by_channel"])["ussd"] == 0
    assert counts(after["by_department"], "code") == {"FOOD": 1}
    [served] = after["by_service"]
    assert (served["department"], served["service"], served["count"]) == (
        "FOOD",
        "ration-card-status",
        1,
    )
    assert served["title"]["en"] == "Ration card status"
    assert served["title"]["hi"] == "राशन कार्ड की स्थिति"
    assert sum(after["hourly"]) == 1 and len(after["hourly"]) == 24
    assert counts(after["by_outcome"])["completed"] == 1


def test_status_page_shows_the_numbers_in_english_and_hindi(
    client: TestClient, seeded: SeedReport
) -> None:
    sms(client, "RATION 1234567890")
    sms(client, "MANDI")
    sms(client, "1")
    sms(client, "KISAN")
    sms(client, "cancel")

    page = client.get("/status?lang=en")
    assert page.status_code == 200
    html = page.text
    assert re.search(r'data-stat="transactions_today">3<', html)
    assert re.search(r'data-stat="completed_today">2<', html)
    assert re.search(rf'data-stat="departments_live">{len(seeded.departments)}<', html)
    assert "Food &amp; Civil Supplies" in html and "Today&#39;s mandi price" in html
    # The channel chart is drawn on the server and described for screen readers.
    chart = re.search(r'<svg id="chart-channel".*?</svg>', html, re.S)
    assert chart and 'role="img"' in chart.group(0)
    assert '<desc id="chart-channel-desc">SMS: 3; USSD: 0' in chart.group(0)
    assert re.search(r'data-channel-count="sms">3<', html)
    assert re.search(r'data-outcome-count="cancelled">1<', html)

    hindi = client.get("/status?lang=hi").text
    assert "सेवाओं और लेन-देन की लाइव स्थिति" in hindi
    assert "खाद्य एवं नागरिक आपूर्ति" in hindi
    assert "एसएमएस: 3" in hindi


def test_stream_first_event_is_the_snapshot(client: TestClient, seeded: SeedReport) -> None:
    sms(client, "RATION 1234567890")
    with client.stream("GET", "/status/stream", params={"once": "1"}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        events = [line for line in response.iter_lines() if line.startswith("data:")]
    assert len(events) == 1
    streamed = json.loads(events[0].removeprefix("data:"))
    current = client.get("/status.json").json()
    streamed.pop("generated_at")
    current.pop("generated_at")
    assert streamed == current
    assert counts(streamed["by_channel"])["sms"] == 1


def test_status_json_is_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/status.json" in paths and "/status/stream" in paths
    schema = paths["/status.json"]["get"]["responses"]["200"]["content"]["application/json"]
    assert schema["schema"]["$ref"].endswith("/Snapshot")


def test_today_is_the_indian_calendar_day(gateway: Gateway) -> None:
    """00:00 IST is 18:30 UTC the evening before; hours are counted in IST."""
    stamps = [
        datetime(2026, 3, 9, 18, 29, tzinfo=UTC),  # 23:59 IST on the 9th: yesterday
        datetime(2026, 3, 9, 18, 30, tzinfo=UTC),  # 00:00 IST on the 10th
        datetime(2026, 3, 10, 4, 45, tzinfo=UTC),  # 10:15 IST
        datetime(2026, 3, 10, 4, 59, tzinfo=UTC),  # 10:29 IST
        datetime(2026, 3, 10, 18, 29, tzinfo=UTC),  # 23:59 IST
        datetime(2026, 3, 10, 18, 30, tzinfo=UTC),  # 00:00 IST on the 11th: tomorrow
    ]
    with gateway.session() as session:
        for index, moment in enumerate(stamps):
            session.add(
                Transaction(
                    channel="ussd" if index % 2 else "sms",
                    department="AGRI",
                    service="mandi-price" if index < 3 else "kisan-status",
                    outcome="completed" if index != 3 else "timeout",
                    created_at=moment,
                )
            )
    noon = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)
    with gateway.session() as session:
        snap = status.snapshot(session, now=noon)
    assert snap.day == "2026-03-10"
    assert snap.transactions_today == 4
    assert snap.hourly[0] == 1 and snap.hourly[10] == 2 and snap.hourly[23] == 1
    assert sum(snap.hourly) == 4
    assert {c.key: c.count for c in snap.by_outcome}["timeout"] == 1
    assert [(s.service, s.count) for s in snap.by_service] == [
        ("kisan-status", 2),
        ("mandi-price", 2),
    ]
    assert {c.key: c.count for c in snap.by_channel if c.count} == {"sms": 2, "ussd": 2}


def test_bars_are_scaled_to_the_busiest_item() -> None:
    chart = charts.bar_chart([("sms", "SMS", 40), ("ussd", "USSD", 10), ("web", "Web", 0)])
    widths = [bar.width for bar in chart.bars]
    assert widths == [chart.plot_width, chart.plot_width / 4, 0]
    hours = charts.hour_chart([0] * 9 + [6, 3] + [0] * 13)
    assert hours.bars[9].height == hours.plot_height
    assert hours.bars[10].height == hours.plot_height / 2
    assert hours.bars[0].height == 0


def test_figures_use_indian_grouping() -> None:
    assert [grouped(n) for n in (7, 999, 1000, 123456, 1234567, 123456789)] == [
        "7",
        "999",
        "1,000",
        "1,23,456",
        "12,34,567",
        "12,34,56,789",
    ]
