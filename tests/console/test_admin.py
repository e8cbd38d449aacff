"""Onboarding: a department, its key, officials, service definitions and datasets, by form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from seva.demo.seed import SeedReport
from seva.flows.models import Dataset
from seva.gateway import Gateway
from seva.tenancy import service as tenancy
from seva.tenancy.models import AuditEvent
from tests.console.pages import csrf_of, login, sms

WATER_SERVICE = """\
seva: 1
service: water-connection
department: WATER
title: {en: Water connection status, hi: पानी कनेक्शन की स्थिति}
keywords: [PAANI]
steps:
  - ask: consumer_no
    type: digits
    length: 6
    prompt: {en: Enter your consumer number, hi: अपना उपभोक्ता नंबर दर्ज करें}
  - lookup:
      dataset: connections
      key: "{consumer_no}"
      save: c
      missing: {en: "No connection {consumer_no}.", hi: "कनेक्शन {consumer_no} नहीं मिला।"}
  - end:
      en: "Connection {consumer_no} ({c.name}): {c.status}."
      hi: "कनेक्शन {consumer_no} ({c.name}): {c.status}।"
"""

CONNECTIONS = "consumer_no,name,status\n400123,Asha Rani,Active\n400124,Ravi Kumar,Disconnected\n"


def create_water(client: TestClient) -> str:
    """The gateway admin creates WATER; returns the page that shows its first key."""
    login(client, "admin")
    home = client.get("/admin")
    assert home.status_code == 200 and "Add a department" in home.text
    created = client.post(
        "/admin/departments",
        data={
            "code": "water",
            "name_en": "Water Board",
            "name_hi": "जल बोर्ड",
            "sender_id": "DJBWTR",
            "languages": ["ta", "hi"],
            "csrf": csrf_of(home.text),
        },
    )
    assert created.status_code == 201, created.text
    return created.text


def load_definition(client: TestClient, code: str, **payload: object) -> str:
    page = client.get(f"/admin/departments/{code}")
    data = {"csrf": csrf_of(page.text), "source": payload.pop("source", "")}
    response = client.post(f"/admin/departments/{code}/services", data=data, **payload)  # type: ignore[arg-type]
    return response.text


def test_a_department_onboards_and_its_keyword_works_over_sms(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    page = create_water(client)
    key = re.search(r'<p class="secret" id="new-key">([^<]+)</p>', page)
    assert key, "the first API key is shown"
    assert "shown only once" in page
    with gateway.session() as session:
        department = tenancy.authenticate_api_key(session, key.group(1))
        assert department is not None and department.code == "WATER"
        assert department.name == {"en": "Water Board", "hi": "जल बोर्ड"}
        assert department.languages == ["en", "hi", "ta"]
    again = client.get("/admin/departments/WATER").text
    assert key.group(1) not in again and key.group(1)[:15] in again  # only the prefix stays

    token = csrf_of(again)
    uploaded = client.post(
        "/admin/departments/WATER/datasets",
        data={"name": "connections", "key_column": "", "csrf": token},
        files={"file": ("connections.csv", CONNECTIONS.encode(), "text/csv")},
    )
    assert uploaded.status_code == 200 and "Dataset uploaded: connections (2)" in uploaded.text
    loaded = client.post(
        "/admin/departments/WATER/services",
        data={"csrf": token, "source": ""},
        files={"definition": ("water.yaml", WATER_SERVICE.encode(), "application/yaml")},
    )
    assert "Service loaded: water-connection (r1) PAANI" in loaded.text
    assert "Water connection status" in loaded.text

    assert sms(client, "PAANI 400123") == "Connection 400123 (Asha Rani): Active."
    assert sms(client, "PAANI") == "Enter your consumer number"
    assert sms(client, "400124") == "Connection 400124 (Ravi Kumar): Disconnected."
    with gateway.session() as session:
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {"department.create", "api_key.issue", "dataset.upload", "service.load"} <= actions


def test_a_bad_definition_shows_the_line(client: TestClient, seeded: SeedReport) -> None:
    login(client, "food.admin")
    broken = WATER_SERVICE.replace("department: WATER", "department: FOOD").replace(
        "type: digits", "type: colour"
    )
    line = broken.splitlines().index("    type: colour") + 1
    page = load_definition(client, "FOOD", source=broken)
    assert "The definition was not loaded" in page
    assert f"line {line}</strong>: <code>steps.0.type</code>" in page
    assert "type: colour" in page  # the pasted text is kept to be fixed
    assert sms(client, "PAANI").startswith("Sorry, PAANI is not a Seva keyword.")


def test_a_definition_that_cannot_be_loaded_says_why(
    client: TestClient, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    taken = WATER_SERVICE.replace("department: WATER", "department: FOOD").replace(
        "[PAANI]", "[MANDI]"
    )
    page = load_definition(client, "FOOD", source=taken)
    assert "keyword MANDI is already used by AGRI/mandi-price" in page
    elsewhere = load_definition(client, "FOOD", source=WATER_SERVICE)
    assert "the definition names department &#39;WATER&#39;" in elsewhere
    assert sms(client, "MANDI").startswith("Choose the crop")


def test_department_admins_manage_only_their_department(
    client: TestClient, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    home = client.get("/admin", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/admin/departments/FOOD"
    own = client.get("/admin/departments/FOOD")
    assert own.status_code == 200 and "ration-cards" in own.text
    token = csrf_of(own.text)
    assert client.get("/admin/departments/MCD").status_code == 404
    source = WATER_SERVICE.replace("department: WATER", "department: MCD")
    refused = client.post("/admin/departments/MCD/services", data={"csrf": token, "source": source})
    assert refused.status_code == 404
    new_department = client.post(
        "/admin/departments",
        data={
            "code": "WATER",
            "name_en": "W",
            "name_hi": "ज",
            "sender_id": "DJBWTR",
            "csrf": token,
        },
    )
    assert new_department.status_code == 403
    assert sms(client, "PAANI").startswith("Sorry, PAANI is not a Seva keyword.")


def test_officers_have_no_admin_pages(client: TestClient, seeded: SeedReport) -> None:
    login(client, "mcd.officer")
    assert client.get("/admin").status_code == 403
    assert client.get("/admin/departments/MCD").status_code == 403


def test_added_official_can_log_in_to_the_console(client: TestClient, seeded: SeedReport) -> None:
    login(client, "food.admin")
    token = csrf_of(client.get("/admin/departments/FOOD").text)
    short = client.post(
        "/admin/departments/FOOD/officials",
        data={
            "username": "food.clerk",
            "name": "Clerk",
            "role": "officer",
            "password": "short",
            "csrf": token,
        },
    )
    assert short.status_code == 400 and "at least 8 characters" in short.text
    added = client.post(
        "/admin/departments/FOOD/officials",
        data={
            "username": "food.clerk",
            "name": "Ration Clerk",
            "role": "officer",
            "password": "clerk-pass-1",
            "csrf": token,
        },
    )
    assert "Official added: food.clerk" in added.text
    escalate = client.post(
        "/admin/departments/FOOD/officials",
        data={
            "username": "boss",
            "name": "B",
            "role": "gateway_admin",
            "password": "x" * 10,
            "csrf": token,
        },
    )
    assert escalate.status_code == 400

    client.cookies.clear()
    login(client, "food.clerk", "clerk-pass-1")
    assert "TEST-0001" in client.get("/console").text


def test_keys_are_issued_once_and_revoked(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    token = csrf_of(client.get("/admin/departments/FOOD").text)
    issued = client.post(
        "/admin/departments/FOOD/keys", data={"label": "PDS backend", "csrf": token}
    )
    assert issued.status_code == 201 and issued.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-key">([^<]+)<', issued.text)
    assert secret
    prefix = secret.group(1).split(".")[0]
    with gateway.session() as session:
        assert tenancy.authenticate_api_key(session, secret.group(1)) is not None
    revoked = client.post(f"/admin/departments/FOOD/keys/{prefix}/revoke", data={"csrf": token})
    assert f"Key revoked: {prefix}" in revoked.text
    with gateway.session() as session:
        assert tenancy.authenticate_api_key(session, secret.group(1)) is None
    twice = client.post(f"/admin/departments/FOOD/keys/{prefix}/revoke", data={"csrf": token})
    assert twice.status_code == 400


def test_uploads_are_bounded_and_checked(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    token = csrf_of(client.get("/admin/departments/FOOD").text)
    huge = client.post(
        "/admin/departments/FOOD/services",
        data={"csrf": token, "source": ""},
        files={"definition": ("big.yaml", b"#" * (600 * 1024), "application/yaml")},
    )
    assert huge.status_code == 413
    empty = client.post("/admin/departments/FOOD/services", data={"csrf": token, "source": " "})
    assert empty.status_code == 400 and "Choose a file or paste a definition." in empty.text
    forged = client.post(
        "/admin/departments/FOOD/services",
        data={"csrf": "nope", "source": WATER_SERVICE.replace("WATER", "FOOD")},
    )
    assert forged.status_code == 400 and "This form has expired" in forged.text
    assert "PAANI" not in client.get("/admin/departments/FOOD").text

    bad_csv = client.post(
        "/admin/departments/FOOD/datasets",
        data={"name": "shops", "csrf": token},
        files={"file": ("shops.csv", b"shop_no,name\nFPS1,One\n,Two\n", "text/csv")},
    )
    assert bad_csv.status_code == 400 and "line 3: the key column" in bad_csv.text
    not_text = client.post(
        "/admin/departments/FOOD/datasets",
        data={"name": "shops", "csrf": token},
        files={"file": ("shops.csv", b"\xff\xfe\x00bad", "text/csv")},
    )
    assert not_text.status_code == 400 and "not UTF-8 text" in not_text.text
    with gateway.session() as session:
        assert session.scalar(select(Dataset).where(Dataset.name == "shops")) is None
