"""A department's key reaches its own data only: another's answers 404, never their data."""

from __future__ import annotations

from fastapi.testclient import TestClient

from seva.demo.seed import DEMO_APPLICATION, DEMO_CITIZEN, SeedReport
from seva.gateway import Gateway
from tests.api.helpers import answer, bearer, error_of, login, outbox, start


def key(seeded: SeedReport, code: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {seeded.api_keys[code]}"}


def test_another_departments_resources_are_not_found(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    mcd = key(seeded, "MCD")
    before = len(outbox(gateway, DEMO_CITIZEN))
    for method, url, kwargs in (
        ("GET", "/api/v1/dept/services/ration-card-status", {}),
        ("DELETE", "/api/v1/dept/services/ration-card-status", {}),
        ("GET", f"/api/v1/dept/applications/{DEMO_APPLICATION}", {}),
        (
            "POST",
            f"/api/v1/dept/applications/{DEMO_APPLICATION}/status",
            {"json": {"status": "Rejected"}},
        ),
        ("GET", f"/api/v1/dept/citizens/{DEMO_CITIZEN}", {}),
    ):
        response = client.request(method, url, headers=mcd, **kwargs)
        assert response.status_code == 404, (method, url, response.text)
        error = error_of(response)
        assert "Sunita" not in response.text and "FPS" not in response.text
        assert error["code"] == "not_found"
    # Nothing changed for FOOD's service and application.
    food = key(seeded, "FOOD")
    assert client.get("/api/v1/dept/services/ration-card-status", headers=food).json()["active"]
    assert (
        client.get(f"/api/v1/dept/applications/{DEMO_APPLICATION}", headers=food).json()["status"]
        == "Approved"
    )
    assert len(outbox(gateway, DEMO_CITIZEN)) == before


def test_lists_hold_only_the_departments_own_rows(client: TestClient, seeded: SeedReport) -> None:
    food, mcd = key(seeded, "FOOD"), key(seeded, "MCD")
    assert {s["slug"] for s in client.get("/api/v1/dept/services", headers=mcd).json()} == {
        "civic-complaint",
        "property-tax",
    }
    assert {d["name"] for d in client.get("/api/v1/dept/datasets", headers=food).json()} == {
        "ration-cards"
    }
    assert client.get("/api/v1/dept/datasets", headers=mcd).json() == []
    assert client.get("/api/v1/dept/applications", headers=mcd).json()["total"] == 0
    food_apps = client.get("/api/v1/dept/applications", headers=food).json()
    assert [a["ref"] for a in food_apps["items"]] == [DEMO_APPLICATION]
    food_keys = client.get("/api/v1/dept/keys", headers=food).json()
    mcd_keys = client.get("/api/v1/dept/keys", headers=mcd).json()
    assert {k["prefix"] for k in food_keys}.isdisjoint({k["prefix"] for k in mcd_keys})
    assert seeded.api_keys["FOOD"].startswith(food_keys[0]["prefix"] + ".")


def test_a_department_sees_only_the_profile_fields_it_was_given(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    token = login(client, gateway, DEMO_CITIZEN)
    reply = start(client, "MCD", "civic-complaint", token=token)
    for text in ("3", "110092", "Sunita Devi", "Lane 4 near the temple", "yes"):
        reply = answer(client, reply["id"], text, token=token)
    assert reply["answer"].startswith("Complaint MCD-")
    assert client.get("/api/v1/me", headers=bearer(token)).json()["profile"] == {
        "name": "Sunita Devi"
    }

    mcd_view = client.get(f"/api/v1/dept/citizens/{DEMO_CITIZEN}", headers=key(seeded, "MCD"))
    assert mcd_view.status_code == 200
    assert mcd_view.json()["profile"] == {"name": "Sunita Devi"}
    assert mcd_view.json()["applications"] == [reply["answer"].split()[1]]

    food_view = client.get("/api/v1/dept/citizens/9900000001", headers=key(seeded, "FOOD"))
    assert food_view.status_code == 200
    assert food_view.json()["profile"] == {}
    assert food_view.json()["applications"] == [DEMO_APPLICATION]

    transport = client.get(
        f"/api/v1/dept/citizens/{DEMO_CITIZEN}", headers=key(seeded, "TRANSPORT")
    )
    assert transport.status_code == 404
    assert "Sunita" not in transport.text


def test_a_definition_for_another_department_is_refused(
    client: TestClient, seeded: SeedReport
) -> None:
    food = client.get("/api/v1/dept/services/ration-card-status", headers=key(seeded, "FOOD"))
    source = food.json()["source"].replace("Ration card status", "Hijacked")
    response = client.put(
        "/api/v1/dept/services/ration-card-status",
        content=source.encode(),
        headers=key(seeded, "MCD") | {"Content-Type": "text/yaml"},
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "wrong_department"
    titles = {s["title"]["en"] for s in client.get("/api/v1/services").json()}
    assert "Ration card status" in titles and "Hijacked" not in titles
