"""Datasets and the office directory, maintained by departments over the API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from seva.demo.seed import SeedReport
from tests.api.helpers import error_of, sms


def key(seeded: SeedReport, code: str) -> dict[str, str]:
    return {"X-API-Key": seeded.api_keys[code]}


def put_csv(
    client: TestClient,
    seeded: SeedReport,
    name: str,
    text: str,
    *,
    params: dict[str, str] | None = None,
) -> object:
    return client.put(
        f"/api/v1/dept/datasets/{name}",
        content=text.encode(),
        params=params or {},
        headers=key(seeded, "FOOD") | {"Content-Type": "text/csv; charset=utf-8"},
    )


RATION_CARDS = """\
holder,card_no,status,status_hi,members,scheme,shop
Meena Kumari,5550001111,Active,सक्रिय,2,PHH,"FPS 201, Mayur Vihar"
"""


def test_an_uploaded_dataset_answers_lookups_at_once(
    client: TestClient, seeded: SeedReport
) -> None:
    response = put_csv(client, seeded, "ration-cards", RATION_CARDS, params={"key": "card_no"})
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == 1
    assert response.json()["key_column"] == "card_no"
    assert sms(client, "RATION 5550001111", "+919811000501") == (
        "Ration card 5550001111 (Meena Kumari): Active. Members: 2. Shop: FPS 201, Mayur Vihar."
    )
    # The upload replaced the dataset whole.
    assert sms(client, "RATION 1234567890", "+919811000501").startswith("No ration card")

    listed = client.get("/api/v1/dept/datasets", headers=key(seeded, "FOOD")).json()
    cards = next(d for d in listed if d["name"] == "ration-cards")
    assert cards["rows"] == 1
    assert cards["columns"] == [
        "holder",
        "card_no",
        "status",
        "status_hi",
        "members",
        "scheme",
        "shop",
    ]


def test_a_bad_csv_names_its_line_and_changes_nothing(
    client: TestClient, seeded: SeedReport
) -> None:
    bad = RATION_CARDS + 'Ravi,,Active,सक्रिय,1,PHH,"FPS 1"\n'
    response = put_csv(client, seeded, "ration-cards", bad, params={"key": "card_no"})
    assert response.status_code == 400
    assert "line 3" in error_of(response)["message"]
    extra = put_csv(client, seeded, "ration-cards", "a,b\n1,2,3\n")
    assert extra.status_code == 400
    assert "line 2" in error_of(extra)["message"]
    wrong_key = put_csv(client, seeded, "ration-cards", RATION_CARDS, params={"key": "nope"})
    assert wrong_key.status_code == 400
    huge_field = put_csv(client, seeded, "ration-cards", 'a,b\n1,"' + "x" * 200_000 + '"\n')
    assert huge_field.status_code == 400
    bad_name = put_csv(client, seeded, "Ration_Cards", RATION_CARDS)
    assert bad_name.status_code == 400
    # The demo data is untouched.
    assert sms(client, "RATION 1234567890", "+919811000502").startswith("Ration card 1234567890")


def test_csv_content_type_and_size_are_checked(client: TestClient, seeded: SeedReport) -> None:
    as_json = client.put(
        "/api/v1/dept/datasets/prices",
        json={"a": 1},
        headers=key(seeded, "FOOD"),
    )
    assert as_json.status_code == 415
    assert error_of(as_json)["code"] == "unsupported_media_type"
    line = b"0123456789," * 100 + b"\n"
    oversize = client.put(
        "/api/v1/dept/datasets/prices",
        content=line * (50 * 1024 * 1024 // len(line) + 1),
        headers=key(seeded, "FOOD") | {"Content-Type": "text/csv"},
    )
    assert oversize.status_code == 413
    assert error_of(oversize)["code"] == "too_large"
    assert "50 MiB" in error_of(oversize)["message"]


OFFICE = {
    "name": "Ration Office Mayur Vihar",
    "kind": "office",
    "address": "Pocket 2, Mayur Vihar Phase 1",
    "pincode": "110091",
    "lat": 28.6040,
    "lon": 77.2960,
    "phone": "011 2275 0000",
    "hours": "Mon-Fri 10:00-17:00",
}


def test_an_added_office_is_listed_and_found_by_near(
    client: TestClient, seeded: SeedReport
) -> None:
    created = client.post("/api/v1/dept/offices", json=OFFICE, headers=key(seeded, "FOOD"))
    assert created.status_code == 201, created.text
    assert created.json()["phone"] == "+911122750000"
    names = [
        o["name"] for o in client.get("/api/v1/dept/offices", headers=key(seeded, "FOOD")).json()
    ]
    assert "Ration Office Mayur Vihar" in names
    assert "Circle Office Shakarpur" in names
    mcd_names = [
        o["name"] for o in client.get("/api/v1/dept/offices", headers=key(seeded, "MCD")).json()
    ]
    assert "Ration Office Mayur Vihar" not in mcd_names

    assert sms(client, "NEAR 110091", "+919811000503").startswith(
        "Nearest to 110091:\n1. Ration Office Mayur Vihar, Pocket 2, Mayur Vihar Phase 1 (0.0 km)"
    )


def test_office_fields_are_validated(client: TestClient, seeded: SeedReport) -> None:
    for field, value in (
        ("lat", 91),
        ("lon", -181),
        ("pincode", "11009"),
        ("pincode", "011009"),
        ("kind", "palace"),
        ("name", " "),
        ("phone", "12"),
    ):
        response = client.post(
            "/api/v1/dept/offices", json=OFFICE | {field: value}, headers=key(seeded, "FOOD")
        )
        assert response.status_code == 400, (field, value)
        assert error_of(response)["field"] == field
    extra = client.post(
        "/api/v1/dept/offices", json=OFFICE | {"department_id": 1}, headers=key(seeded, "MCD")
    )
    assert extra.status_code == 400
