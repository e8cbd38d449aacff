"""Looking an application up by its reference: what a stranger, the citizen who applied and
someone holding a random reference see, on the API, SMS, USSD and the web portal."""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient

from seva.applications import service as applications
from seva.citizens import service as citizens
from seva.db.migrate import alembic_config, upgrade
from seva.db.session import make_engine
from seva.demo.seed import DEMO_APPLICATION, DEMO_CITIZEN, SeedReport
from seva.gateway import Gateway
from seva.tenancy.service import department_by_code
from tests.api.helpers import bearer, error_of, login
from tests.applications.lookups import sms, ussd_status, web_log_in, web_status
from tests.web.pages import answer, csrf_of, final_answer
from tests.web.test_kiosk import bind_citizen, official_login

STRANGER = "+919811700101"
OWNER_OF_NEW = "+919811700102"
HIDDEN = f"No application {DEMO_APPLICATION} was found."


def new_application(gateway: Gateway, phone: str) -> str:
    with gateway.session() as session:
        food = department_by_code(session, "FOOD")
        assert food is not None
        application = applications.create(
            session,
            department=food,
            service="ration-card-new",
            kind="new-ration-card",
            status="Received",
            data={"name": "Meena"},
            channel="sms",
            citizen=citizens.get_or_create(session, phone),
        )
        return application.ref


def test_an_old_reference_reveals_nothing_to_a_stranger_on_the_api(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    anonymous = client.get(f"/api/v1/applications/{DEMO_APPLICATION}")
    stranger = client.get(
        f"/api/v1/applications/{DEMO_APPLICATION}", headers=bearer(login(client, gateway, STRANGER))
    )
    missing = client.get("/api/v1/applications/TEST-0002")
    for response in (anonymous, stranger):
        assert response.status_code == 404
        assert error_of(response) == {
            "code": "not_found",
            "message": f"no application {DEMO_APPLICATION}",
            "field": "ref",
        }
    assert missing.status_code == 404
    assert "Approved" not in anonymous.text + stranger.text

    owner = client.get(
        f"/api/v1/applications/{DEMO_APPLICATION.lower()}",
        headers=bearer(login(client, gateway, DEMO_CITIZEN)),
    )
    assert owner.status_code == 200
    assert owner.json()["status"] == "Approved"


def test_an_old_reference_shows_only_to_its_own_phone_on_sms_ussd_and_web(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    assert sms(client, f"STATUS {DEMO_APPLICATION}", STRANGER).startswith(HIDDEN)
    assert ussd_status(client, STRANGER, DEMO_APPLICATION).startswith(f"END {HIDDEN}")
    assert web_status(client, DEMO_APPLICATION).startswith(HIDDEN)  # not logged in
    shown = f"Application {DEMO_APPLICATION} (Food & Civil Supplies): Approved"
    assert sms(client, f"STATUS {DEMO_APPLICATION}", DEMO_CITIZEN).startswith(shown)
    assert ussd_status(client, DEMO_CITIZEN, DEMO_APPLICATION).startswith(f"END {shown}")
    web_log_in(client, gateway, DEMO_CITIZEN)
    assert web_status(client, DEMO_APPLICATION).startswith(shown)


def test_at_the_kiosk_an_old_reference_shows_for_its_own_citizen_only(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    status_page = "/kiosk/services/SEVA/application-status"
    official_login(client, "csc.laxminagar")
    bind_citizen(client, gateway, STRANGER)
    client.get(status_page)
    assert final_answer(answer(client, status_page, DEMO_APPLICATION)).startswith(HIDDEN)
    client.post("/kiosk/release", data={"csrf": csrf_of(client, "/kiosk")})
    bind_citizen(client, gateway, DEMO_CITIZEN)
    client.get(status_page)
    assert final_answer(answer(client, status_page, DEMO_APPLICATION)).startswith(
        f"Application {DEMO_APPLICATION} (Food & Civil Supplies): Approved"
    )


def test_a_random_reference_shows_to_whoever_holds_it(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    ref = new_application(gateway, OWNER_OF_NEW)
    assert re.fullmatch(r"FOOD-[0-9A-HJKMNP-TV-Z]{8}", ref)
    shown = f"Application {ref} (Food & Civil Supplies): Received"
    assert sms(client, f"STATUS {ref}", STRANGER).startswith(shown)
    assert ussd_status(client, STRANGER, ref).startswith(f"END {shown}")
    assert web_status(client, ref).startswith(shown)
    status = client.get(f"/api/v1/applications/{ref}")
    assert status.status_code == 200
    assert status.json()["status"] == "Received"


def test_references_made_before_the_upgrade_become_owner_only(
    gateway: Gateway, database_url: str, seeded: SeedReport
) -> None:
    config = alembic_config(database_url)
    before = ScriptDirectory.from_config(config).get_revision("624d783b3bdb").down_revision
    assert isinstance(before, str)
    gateway.db.engine.dispose()
    command.downgrade(config, before)
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            food_id = conn.execute(sa.text("SELECT id FROM departments WHERE code = 'FOOD'"))
            conn.execute(
                sa.text(
                    "INSERT INTO applications (ref, department_id, service, kind, status, data,"
                    " channel, created_at, updated_at) VALUES ('FOOD-000041', :dept, 'x', 'x',"
                    " 'Received', '{}', 'sms', :now, :now)"
                ),
                {"dept": food_id.scalar_one(), "now": "2026-01-05 10:00:00+00:00"},
            )
    finally:
        engine.dispose()
    upgrade(database_url)
    with gateway.session() as session:
        for ref in (DEMO_APPLICATION, "FOOD-000041"):
            application = applications.find(session, ref)
            assert application is not None and application.guessable_ref, ref
            assert applications.find_for_caller(session, ref, phone=STRANGER) is None
