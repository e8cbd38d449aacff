"""A database that does not answer is a 503 that says so, at once, on every route.

The database is real and simply not there: a PostgreSQL URL on a loopback port nothing
listens on, so the connection is refused as during a restart. What a department's client, a
browser or an aggregator gets is a 503 ``database_unavailable``, not a 500 that only says
something broke (tests/cluster/test_cluster.py restarts a real PostgreSQL under load and sees
the same answers, then recovery).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from seva.app import create_app
from seva.gateway import build_gateway
from seva.settings import Settings
from tests.conftest import LOCAL_CLIENT, free_port

HOP = {
    "sessionId": "outage-1",
    "serviceCode": "*166#",
    "phoneNumber": "+919900000002",
    "networkCode": "40410",
    "text": "",
}


@pytest.fixture
def no_database(settings: Settings) -> Iterator[TestClient]:
    gateway = build_gateway(
        settings, database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/seva"
    )
    with TestClient(create_app(settings, gateway=gateway), client=LOCAL_CLIENT) as client:
        yield client
    gateway.close()


def unavailable(response: httpx.Response) -> bool:
    return bool(
        response.status_code == 503 and response.json()["error"]["code"] == "database_unavailable"
    )


def test_the_api_without_the_database_is_a_503_saying_so(no_database: TestClient) -> None:
    started = time.monotonic()
    response = no_database.get(
        "/api/v1/messages/1", headers={"Authorization": "Bearer sk_0000.secret"}
    )
    assert time.monotonic() - started < 5  # refused, not waited for
    assert unavailable(response), response.text
    assert response.json()["error"]["message"] == "the database cannot be reached; retry"


def test_an_sms_send_without_the_database_is_a_503(no_database: TestClient) -> None:
    response = no_database.post(
        "/api/v1/messages",
        json={"to": "9900000001", "text": "Camp on Monday"},
        headers={"Authorization": "Bearer sk_0000.secret"},
    )
    assert unavailable(response), response.text


def test_the_live_status_without_the_database_is_a_503(no_database: TestClient) -> None:
    assert unavailable(no_database.get("/status.json"))


def test_a_ussd_hop_without_the_database_is_the_same_503(no_database: TestClient) -> None:
    """The operators' callbacks, on their own path (``channels.front``), answer alike."""
    assert unavailable(no_database.post("/channels/ussd/africastalking", data=HOP))


def test_health_check_still_reports_the_database_itself(no_database: TestClient) -> None:
    response = no_database.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "error"
