"""``/metrics`` counts requests per channel and answers per department and service.

Prometheus counters live for the whole test process, so the test compares before and after.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from seva.demo.seed import SeedReport
from tests.console.pages import sms


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_sms_and_ussd_exchanges_show_up_in_metrics(client: TestClient, seeded: SeedReport) -> None:
    before = samples(client)
    assert sms(client, "RATION 1234567890").startswith("Ration card")
    for text in ("", "4", "4*1", "4*1*1"):
        reply = client.post(
            "/channels/ussd/africastalking",
            data={
                "sessionId": "metrics-1",
                "serviceCode": "*166#",
                "phoneNumber": "9811000002",
                "text": text,
            },
        )
    assert reply.text.startswith("END Wheat at Azadpur")
    after = samples(client)

    requests = "seva_channel_requests_total"
    assert value(after, requests, channel="sms") == value(before, requests, channel="sms") + 1
    assert value(after, requests, channel="ussd") == value(before, requests, channel="ussd") + 4
    answers = "seva_answers_total"
    ration = {
        "channel": "sms",
        "department": "FOOD",
        "service": "ration-card-status",
        "outcome": "completed",
    }
    mandi = {
        "channel": "ussd",
        "department": "AGRI",
        "service": "mandi-price",
        "outcome": "completed",
    }
    assert value(after, answers, **ration) == value(before, answers, **ration) + 1
    assert value(after, answers, **mandi) == value(before, answers, **mandi) + 1
