"""Departments work their applications over the API; the citizen hears of every change."""

from __future__ import annotations

from fastapi.testclient import TestClient

from seva.demo.seed import DEMO_APPLICATION, DEMO_CITIZEN, SeedReport
from seva.gateway import Gateway
from tests.api.helpers import answer, error_of, outbox, sms, start


def key(seeded: SeedReport, code: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {seeded.api_keys[code]}"}


def test_status_change_queues_an_sms_to_the_citizen(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    before = len(outbox(gateway, DEMO_CITIZEN))
    response = client.post(
        f"/api/v1/dept/applications/{DEMO_APPLICATION}/status",
        json={"status": "Dispatched", "note": "Card sent by post."},
        headers=key(seeded, "FOOD"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "Dispatched"
    assert body["citizen_phone"] == DEMO_CITIZEN
    assert [s["status"] for s in body["timeline"]][-2:] == ["Approved", "Dispatched"]

    messages = outbox(gateway, DEMO_CITIZEN)
    assert len(messages) == before + 1
    assert messages[-1].text == "Application TEST-0001: Dispatched. Card sent by post."
    assert messages[-1].sender == "SEVA"  # FOOD has registered no DLT header yet
    assert messages[-1].kind == "transactional"
    # Every channel shows the new status.
    assert sms(client, "STATUS TEST-0001", DEMO_CITIZEN).startswith(
        "Application TEST-0001 (Food & Civil Supplies): Dispatched"
    )


def test_list_and_filter_the_departments_applications(
    client: TestClient, seeded: SeedReport
) -> None:
    reply = start(client, "MCD", "civic-complaint")
    # Anonymous: before filing, the app is asked for the number the updates go to.
    for text in ("1", "110092", "Asha", "Outside gate 2", "yes", "9811000601"):
        reply = answer(client, reply["id"], text)
    ref = reply["answer"].split()[1]

    page = client.get("/api/v1/dept/applications", headers=key(seeded, "MCD")).json()
    assert page["total"] == 1
    (item,) = page["items"]
    assert item["ref"] == ref
    assert item["data"]["details"] == "Outside gate 2"
    assert item["channel"] == "app"
    assert item["citizen_phone"] == "+919811000601"

    filtered = client.get(
        "/api/v1/dept/applications",
        params={"status": "Resolved"},
        headers=key(seeded, "MCD"),
    ).json()
    assert filtered["total"] == 0
    for params in ({"limit": 0}, {"limit": 1000}, {"offset": -1}, {"limit": "many"}):
        bad = client.get("/api/v1/dept/applications", params=params, headers=key(seeded, "MCD"))
        assert bad.status_code == 400
        error_of(bad)


def test_status_changes_are_validated(client: TestClient, seeded: SeedReport) -> None:
    url = f"/api/v1/dept/applications/{DEMO_APPLICATION}/status"
    for body in ({"status": ""}, {"status": "x" * 65}, {"note": "no status"}, {"status": 5}):
        response = client.post(url, json=body, headers=key(seeded, "FOOD"))
        assert response.status_code == 400, body
        error_of(response)
    blank = client.post(url, json={"status": "   "}, headers=key(seeded, "FOOD"))
    assert blank.status_code == 400
    assert error_of(blank)["field"] == "status"
