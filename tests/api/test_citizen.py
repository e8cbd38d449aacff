"""The citizen's own record over the app API, and its effect on the other channels."""

from __future__ import annotations

from fastapi.testclient import TestClient

from seva.app import create_app
from seva.demo.seed import DEMO_APPLICATION, DEMO_CITIZEN, SeedReport
from seva.gateway import Gateway, build_gateway
from seva.settings import Settings
from tests.api.helpers import bearer, error_of, login, sms, start


def test_language_set_in_the_app_is_used_on_sms(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    phone = "+919811000301"
    token = login(client, gateway, phone)
    assert sms(client, "RATION 1234567890", phone).startswith("Ration card 1234567890")

    response = client.put("/api/v1/me/language", json={"lang": "hi"}, headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["language"] == "hi"

    assert sms(client, "RATION 1234567890", "9811000301") == (
        "राशन कार्ड 1234567890 (Sunita Devi): सक्रिय। सदस्य: 4। दुकान: FPS 112, Shakarpur।"
    )
    # ... and in the app, for conversations started with the token.
    assert start(client, "FOOD", "ration-card-status", token=token)["lang"] == "hi"


def test_language_chosen_by_sms_shows_in_the_app(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    phone = "+919811000302"
    sms(client, "LANG HI", phone)
    token = login(client, gateway, phone)
    assert client.get("/api/v1/me", headers=bearer(token)).json()["language"] == "hi"


def test_unknown_language_is_refused(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    token = login(client, gateway, "+919811000303")
    response = client.put("/api/v1/me/language", json={"lang": "klingon"}, headers=bearer(token))
    assert response.status_code == 400
    assert error_of(response)["field"] == "lang"
    assert client.put("/api/v1/me/language", json={"lang": "hi"}).status_code == 401


def test_my_applications_with_their_timeline(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    token = login(client, gateway, DEMO_CITIZEN)
    (application,) = client.get("/api/v1/me/applications", headers=bearer(token)).json()
    assert application["ref"] == DEMO_APPLICATION
    assert application["department"] == "FOOD"
    assert application["status"] == "Approved"
    assert [step["status"] for step in application["timeline"]] == [
        "Received",
        "Verified",
        "Approved",
    ]
    assert application["timeline"][-1]["note"] == "Card ready for collection at FPS 112, Shakarpur."

    stranger = login(client, gateway, "+919811000304")
    assert client.get("/api/v1/me/applications", headers=bearer(stranger)).json() == []


def test_status_matches_the_status_keyword(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    # The demo's reference is not random, so it shows to the citizen who applied only.
    token = login(client, gateway, DEMO_CITIZEN)
    response = client.get(f"/api/v1/applications/{DEMO_APPLICATION.lower()}", headers=bearer(token))
    assert response.status_code == 200
    status = response.json()
    assert status["ref"] == DEMO_APPLICATION
    assert status["status"] == "Approved"
    assert status["department"] == "FOOD"
    assert set(status) == {
        "ref",
        "status",
        "status_code",
        "service",
        "department",
        "department_name",
        "updated",
        "note",
    }
    reply = sms(client, f"STATUS {DEMO_APPLICATION}", DEMO_CITIZEN)
    assert reply == (
        f"Application {status['ref']} ({status['department_name']['en']}): {status['status']} "
        f"(updated {status['updated']}). {status['note']}"
    )
    for ref in ("NOPE-0001", "bad ref!"):
        missing = client.get(f"/api/v1/applications/{ref}")
        assert missing.status_code in (400, 404)
        error_of(missing)


def test_anonymous_lookups_are_limited_per_address_and_owners_are_not(
    settings: Settings, database_url: str, gateway: Gateway, seeded: SeedReport
) -> None:
    """Guessing references without a token stops at SEVA_LOOKUP_CLIENT_LIMIT a minute from
    one address; another address, and the citizen's own token, still look up."""
    changed = settings.model_copy(update={"lookup_client_limit": 3})
    node = build_gateway(changed, database_url=database_url)
    try:
        app = create_app(changed, gateway=node)
        guesser = TestClient(app, client=("127.0.4.1", 40000))
        statuses = [guesser.get(f"/api/v1/applications/FOOD-{n:06d}") for n in range(4)]
        assert [r.status_code for r in statuses] == [404, 404, 404, 429]
        error = error_of(statuses[-1])
        assert error["code"] == "too_many_requests" and error["field"] == "ref"
        # The window slides: three lookups early in a minute are still a third counted a
        # minute on, so the wait runs from about 1 s up to 80 s, never past two windows.
        assert 1 <= int(statuses[-1].headers["Retry-After"]) <= 120
        other = TestClient(app, client=("127.0.4.2", 40000))
        assert other.get("/api/v1/applications/FOOD-000099").status_code == 404
        token = login(guesser, node, DEMO_CITIZEN)
        for _ in range(5):
            own = guesser.get(f"/api/v1/applications/{DEMO_APPLICATION}", headers=bearer(token))
            assert own.status_code == 200
    finally:
        node.close()
