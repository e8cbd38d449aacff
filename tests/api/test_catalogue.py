"""The public catalogue an app draws its home screen from."""

from __future__ import annotations

from fastapi.testclient import TestClient

from seva.demo.seed import SeedReport


def test_departments_list_their_live_services(client: TestClient, seeded: SeedReport) -> None:
    response = client.get("/api/v1/departments")
    assert response.status_code == 200
    departments = {d["code"]: d for d in response.json()}
    assert list(departments) == ["TRANSPORT", "FOOD", "MCD", "AGRI", "SEVA"]
    food = departments["FOOD"]
    assert {"en": "Food & Civil Supplies", "hi": "खाद्य एवं नागरिक आपूर्ति"}.items() <= food[
        "name"
    ].items()
    assert food["name"]["ta"] == "உணவு, குடிமைப் பொருள் வழங்கல்"
    ration = next(s for s in food["services"] if s["slug"] == "ration-card-status")
    assert {"en": "Ration card status", "hi": "राशन कार्ड की स्थिति"}.items() <= ration[
        "title"
    ].items()
    assert ration["description"]["en"] == "Status of your ration card and your fair price shop"
    assert ration["description"]["hi"] == "आपके राशन कार्ड की स्थिति और उचित मूल्य दुकान"
    # Every language the service speaks has its title (translations beside the definition).
    assert set(ration["languages"]) == set(ration["title"]) and ration["languages"][:2] == [
        "en",
        "hi",
    ]
    assert {k: ration[k] for k in ("department", "slug", "keywords", "ussd")} == {
        "department": "FOOD",
        "slug": "ration-card-status",
        "keywords": ["RATION"],
        "ussd": {"order": 1, "hidden": False},
    }


def test_services_are_every_live_service_with_both_titles(
    client: TestClient, seeded: SeedReport
) -> None:
    services = client.get("/api/v1/services").json()
    assert {f"{s['department']}/{s['slug']}" for s in services} == set(seeded.services)
    for service in services:
        assert service["title"]["en"] and service["title"]["hi"]
    keywords = {k for s in services for k in s["keywords"]}
    assert {"RATION", "DL", "TAX", "COMPLAINT", "MANDI", "STATUS", "NEAR"} <= keywords
