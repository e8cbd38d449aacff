"""API keys: listed without secrets, issued once, revoked for good."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, update

from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.tenancy import service as tenancy
from seva.tenancy.models import Department
from tests.api.helpers import error_of


def test_keys_are_listed_without_secrets_or_hashes(client: TestClient, seeded: SeedReport) -> None:
    secret = seeded.api_keys["FOOD"]
    response = client.get("/api/v1/dept/keys", headers={"X-API-Key": secret})
    assert response.status_code == 200
    (entry,) = response.json()
    assert set(entry) == {"prefix", "label", "created_at", "revoked_at", "last_used_at"}
    assert entry["label"] == "demo"
    assert entry["last_used_at"] is not None
    assert secret.split(".", 1)[1] not in response.text


def test_a_new_key_works_and_a_revoked_key_is_refused(
    client: TestClient, seeded: SeedReport
) -> None:
    old = {"Authorization": f"Bearer {seeded.api_keys['FOOD']}"}
    issued = client.post("/api/v1/dept/keys", json={"label": "billing system"}, headers=old)
    assert issued.status_code == 201
    new_secret = issued.json()["key"]
    new = {"X-API-Key": new_secret}
    assert new_secret.startswith(issued.json()["prefix"] + ".")
    assert len(client.get("/api/v1/dept/keys", headers=new).json()) == 2
    assert "key" not in client.get("/api/v1/dept/keys", headers=new).json()[1]

    old_prefix = seeded.api_keys["FOOD"].split(".")[0]
    revoked = client.delete(f"/api/v1/dept/keys/{old_prefix}", headers=new)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None

    refused = client.get("/api/v1/dept/services", headers=old)
    assert refused.status_code == 401
    assert error_of(refused)["code"] == "unauthorized"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/dept/services", headers=new).status_code == 200
    # Revoking again changes nothing.
    assert client.delete(f"/api/v1/dept/keys/{old_prefix}", headers=new).status_code == 200


def test_another_departments_key_cannot_be_revoked(client: TestClient, seeded: SeedReport) -> None:
    mcd = {"X-API-Key": seeded.api_keys["MCD"]}
    food_prefix = seeded.api_keys["FOOD"].split(".")[0]
    response = client.delete(f"/api/v1/dept/keys/{food_prefix}", headers=mcd)
    assert response.status_code == 404
    assert (
        client.get("/api/v1/dept/keys", headers={"X-API-Key": seeded.api_keys["FOOD"]}).status_code
        == 200
    )


def test_missing_and_malformed_keys_are_401(client: TestClient, seeded: SeedReport) -> None:
    secret = seeded.api_keys["FOOD"]
    prefix = secret.split(".")[0]
    for headers in (
        {},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {secret}"},
        {"Authorization": "Bearer not-a-key"},
        {"X-API-Key": f"{prefix}.wrong"},
        {"X-API-Key": secret + "x" * 500},
        {"X-API-Key": prefix},
    ):
        response = client.get("/api/v1/dept/services", headers=headers)
        assert response.status_code == 401, headers
        error_of(response)


def test_a_key_revoked_earlier_in_the_same_transaction_is_refused(
    gateway: Gateway, seeded: SeedReport
) -> None:
    secret = seeded.api_keys["FOOD"]
    with gateway.session() as session:
        department = tenancy.authenticate_api_key(session, secret)
        assert department is not None
        assert tenancy.revoke_api_key(session, department, secret.split(".")[0])
        assert tenancy.authenticate_api_key(session, secret) is None
        assert tenancy.key_department(session, secret) is None
        session.rollback()


def test_the_send_path_refuses_a_department_switched_off_by_another_process_at_once(
    gateway: Gateway, seeded: SeedReport, database_url: str
) -> None:
    """The send intake takes a key's department from the per-process memo, which may be old
    by ``SEVA_CATALOG_SECONDS`` (up to an hour) when no Redis tells it of a change: whether the
    department is active is read with the key all the same."""
    secret = seeded.api_keys["FOOD"]
    with gateway.session() as session:
        found = tenancy.key_department(session, secret)  # the memo is taken now
        assert found is not None and found.code == "FOOD"
    other = create_engine(gateway.db.engine.url)  # another process's connection
    try:
        with other.begin() as connection:
            connection.execute(
                update(Department).where(Department.code == "FOOD").values(active=False)
            )
        with gateway.session() as session:
            assert tenancy.key_department(session, secret) is None
            assert tenancy.authenticate_api_key(session, secret) is None
    finally:
        with other.begin() as connection:
            connection.execute(
                update(Department).where(Department.code == "FOOD").values(active=True)
            )
        other.dispose()
