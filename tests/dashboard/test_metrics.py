"""``/metrics`` counts requests per channel and answers per department and service.

Prometheus counters live for the whole test process, so the test compares before and after.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from seva.app import create_app
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.settings import Settings
from tests.console.pages import sms


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    # Prometheus on this machine: loopback is served without a token.
    scraper = TestClient(client.app, client=("127.0.0.1", 40000))
    response = scraper.get("/metrics")
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


def test_metrics_are_served_only_to_allowed_networks_or_the_token(
    gateway: Gateway, settings: Settings
) -> None:
    guarded = settings.model_copy(
        update={
            "metrics_token": SecretStr("scrape-secret-1"),
            "metrics_networks": "10.20.0.0/16, ::1",
        }
    )
    app = create_app(guarded, gateway=gateway)

    def scrape(client: str, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return TestClient(app, client=(client, 40000)).get("/metrics", headers=headers)

    assert scrape("10.20.3.4").status_code == 200
    assert scrape("::1").status_code == 200
    assert scrape("::ffff:10.20.3.4").status_code == 200  # IPv4 on a dual-stack socket
    for outsider in ("203.0.113.9", "127.0.0.1", "testclient"):
        refused = scrape(outsider)
        assert refused.status_code == 401, outsider
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "seva_channel_requests_total" not in refused.text
        assert scrape(outsider, "wrong-token").status_code == 401
        served = scrape(outsider, "scrape-secret-1")
        assert served.status_code == 200 and "seva_channel_requests_total" in served.text


def test_by_default_metrics_are_served_to_loopback_only(
    gateway: Gateway, settings: Settings
) -> None:
    app = create_app(settings, gateway=gateway)
    assert TestClient(app, client=("127.0.0.1", 40000)).get("/metrics").status_code == 200
    assert TestClient(app, client=("::1", 40000)).get("/metrics").status_code == 200
    outside = TestClient(app, client=("198.51.100.7", 40000)).get("/metrics")
    assert outside.status_code == 403 and outside.json()["error"]["code"] == "forbidden"
    with pytest.raises(ValueError, match="not-a-network"):
        Settings(metrics_networks="127.0.0.1/8, not-a-network")
