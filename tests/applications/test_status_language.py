"""A citizen reads their application's status in their own language: in the SMS a change
sends and in every lookup (SMS, USSD, the web, the app API), whether the official picked a
suggested status or wrote one of their own with its Hindi."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient

from seva.applications import service as applications
from seva.citizens import service as citizens
from seva.citizens.api_auth import issue_token
from seva.db.migrate import alembic_config, upgrade
from seva.db.session import make_engine
from seva.demo.seed import DEMO_APPLICATION, DEMO_CITIZEN, SeedReport
from seva.gateway import Gateway
from seva.i18n import text
from seva.messaging import service as messaging
from seva.tenancy.service import department_by_code
from tests.api.helpers import bearer
from tests.applications.lookups import sms, ussd_status, web_log_in, web_status
from tests.console.pages import csrf_of, login

DETAIL = f"/console/applications/{DEMO_APPLICATION}"
HINDI_CITIZEN = "+919811700301"
HINDI_READY = "लेने के लिए तैयार"


def speaks_hindi(gateway: Gateway, phone: str = DEMO_CITIZEN) -> None:
    with gateway.session() as session:
        citizens.set_language(session, citizens.get_or_create(session, phone), "hi")


def change(client: TestClient, **fields: str) -> str:
    """food.admin changes the demo application's status in the console; the page after."""
    form = client.get(DETAIL).text
    response = client.post(
        f"{DETAIL}/status", data={**fields, "csrf": csrf_of(form)}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return client.get(response.headers["location"]).text


def last_sms(gateway: Gateway, phone: str = DEMO_CITIZEN) -> str:
    with gateway.session() as session:
        return messaging.inbox(session, phone, limit=1000)[-1].text


def test_every_suggested_status_is_in_the_catalog_in_english_and_hindi() -> None:
    for code in applications.STATUS_CODES:
        english = text(applications.status_key(code), "en")
        hindi = text(applications.status_key(code), "hi")
        assert english != applications.status_key(code) and hindi != english
        assert applications.code_of(english.upper()) == code
        assert applications.code_of(f"  {hindi} ") == code
    assert applications.code_of("Slot requested") is None


def test_a_hindi_citizen_reads_a_suggested_status_in_hindi_everywhere(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    speaks_hindi(gateway)
    login(client, "food.admin")
    page = change(client, status="ready for collection", note="Bring your Aadhaar.")
    # The department's records keep the English name, whatever case it was typed in.
    assert 'id="current-status">Ready for collection<' in page

    assert last_sms(gateway) == f"आवेदन {DEMO_APPLICATION}: {HINDI_READY}। Bring your Aadhaar."
    shown = f"आवेदन {DEMO_APPLICATION} (खाद्य एवं नागरिक आपूर्ति): {HINDI_READY}"
    assert sms(client, f"STATUS {DEMO_APPLICATION}", DEMO_CITIZEN).startswith(shown)
    assert ussd_status(client, DEMO_CITIZEN, DEMO_APPLICATION).startswith(f"END {shown}")

    with gateway.session() as session:
        token = issue_token(session, DEMO_CITIZEN)
    status = client.get(f"/api/v1/applications/{DEMO_APPLICATION}", headers=bearer(token))
    assert status.status_code == 200
    assert (status.json()["status"], status.json()["status_code"]) == (
        HINDI_READY,
        "ready_for_collection",
    )
    english = client.get(
        f"/api/v1/applications/{DEMO_APPLICATION}?lang=en", headers=bearer(token)
    ).json()
    assert english["status"] == "Ready for collection"
    (mine,) = client.get("/api/v1/me/applications", headers=bearer(token)).json()
    assert mine["status"] == HINDI_READY
    assert [entry["status"] for entry in mine["timeline"]] == [
        "प्राप्त हुआ",
        "सत्यापित",
        "स्वीकृत",
        HINDI_READY,
    ]
    # The department API reads its own records.
    food = {"Authorization": f"Bearer {seeded.api_keys['FOOD']}"}
    dept = client.get(f"/api/v1/dept/applications/{DEMO_APPLICATION}", headers=food).json()
    assert (dept["status"], dept["status_code"]) == ("Ready for collection", "ready_for_collection")


def test_the_web_lookup_shows_the_status_in_the_pages_language(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    with gateway.session() as session:
        food = department_by_code(session, "FOOD")
        assert food is not None
        ref = applications.create(
            session,
            department=food,
            service="ration-card-new",
            kind="new-ration-card",
            status="Under review",
            data={},
            channel="web",
            citizen=None,
        ).ref
    assert ": Under review" in web_status(client, ref)
    client.cookies.set("seva_lang", "hi")
    assert ": जाँच जारी" in web_status(client, ref)
    # The citizen's own list on the portal, too.
    web_log_in(client, gateway, DEMO_CITIZEN)
    assert "<td>स्वीकृत</td>" in client.get("/me?lang=hi").text


def test_a_status_in_the_officials_own_words_reaches_a_hindi_citizen_in_their_hindi(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    speaks_hindi(gateway)
    login(client, "food.admin")
    page = change(
        client,
        status="Fee due",
        status_hi="शुल्क बाकी",
        note="Pay Rs 45 at FPS 112.",
        note_hi="राशन दुकान 112 पर 45 रुपये जमा करें।",
    )
    assert 'id="current-status">Fee due<' in page
    assert "शुल्क बाकी" in page and "राशन दुकान 112 पर 45 रुपये जमा करें।" in page
    assert last_sms(gateway) == (
        f"आवेदन {DEMO_APPLICATION}: शुल्क बाकी। राशन दुकान 112 पर 45 रुपये जमा करें।"
    )
    reply = sms(client, f"STATUS {DEMO_APPLICATION}", DEMO_CITIZEN)
    assert "): शुल्क बाकी (" in reply and reply.endswith("राशन दुकान 112 पर 45 रुपये जमा करें।")

    # The same words again with only a note keep their Hindi.
    change(client, status="Fee due", note="Reminder: pay by Friday.")
    assert last_sms(gateway) == f"आवेदन {DEMO_APPLICATION}: शुल्क बाकी। Reminder: pay by Friday."

    # Without a Hindi text the citizen's Hindi sentence carries the official's words.
    change(client, status="Sent to the district office")
    assert last_sms(gateway) == f"आवेदन {DEMO_APPLICATION}: Sent to the district office।"


def test_an_english_citizen_reads_the_officials_words_as_typed(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    change(client, status="Fee due", status_hi="शुल्क बाकी", note="Pay Rs 45.", note_hi="45 रु.")
    assert last_sms(gateway) == f"Application {DEMO_APPLICATION}: Fee due. Pay Rs 45."
    reply = sms(client, f"STATUS {DEMO_APPLICATION}", DEMO_CITIZEN)
    assert reply.startswith(f"Application {DEMO_APPLICATION} (Food & Civil Supplies): Fee due (")
    assert reply.endswith("Pay Rs 45.")


def test_the_console_refuses_a_long_hindi_status_and_a_repeat_with_nothing_new(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    token = csrf_of(client.get(DETAIL).text)
    long = client.post(
        f"{DETAIL}/status", data={"status": "Fee due", "status_hi": "क" * 65, "csrf": token}
    )
    assert long.status_code == 400
    assert "The status in Hindi may be at most 64 characters." in long.text
    # Approved already, typed in Hindi: the same suggested status.
    same = client.post(f"{DETAIL}/status", data={"status": "स्वीकृत", "csrf": token})
    assert same.status_code == 400
    assert "The application already has this status" in same.text
    # The Hindi suggestions are offered on a Hindi page, and picking one keeps the English name.
    client.cookies.set("seva_lang", "hi")
    assert '<option value="लेने के लिए तैयार">' in client.get(DETAIL).text
    page = change(client, status="बंद")
    assert 'id="current-status">Closed<' in page


def test_the_department_api_sends_its_translations(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    speaks_hindi(gateway)
    food = {"Authorization": f"Bearer {seeded.api_keys['FOOD']}"}
    url = f"/api/v1/dept/applications/{DEMO_APPLICATION}/status"
    response = client.post(
        url,
        json={
            "status": "Dispatched",
            "status_translations": {"hi": "भेज दिया गया"},
            "note": "Sent by post.",
            "note_translations": {"hi": "डाक से भेजा गया।"},
        },
        headers=food,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["status_code"], body["status_translations"]) == (
        "Dispatched",
        None,
        {"hi": "भेज दिया गया"},
    )
    assert body["timeline"][-1]["note_translations"] == {"hi": "डाक से भेजा गया।"}
    assert last_sms(gateway) == f"आवेदन {DEMO_APPLICATION}: भेज दिया गया। डाक से भेजा गया।"

    unknown = client.post(
        url, json={"status": "Dispatched", "status_translations": {"xx": "?"}}, headers=food
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["field"] == "status_translations"


def test_a_service_can_give_its_own_status_in_every_language(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    """The civic complaint files itself as "Registered", which the service translates."""
    phone = "+919811700302"
    speaks_hindi(gateway, phone)
    for answer in ("COMPLAINT", "1", "110092", "Asha", "Near the temple gate", "1"):
        reply = sms(client, answer, phone)
    ref = reply.split()[1]
    assert sms(client, f"STATUS {ref}", phone).startswith(f"आवेदन {ref} (नगर निगम): पंजीकृत (")
    with gateway.session() as session:
        application = applications.find(session, ref)
        assert application is not None
        assert application.status == "Registered"
        assert application.status_texts["hi"] == "पंजीकृत"


def test_statuses_written_before_the_upgrade_get_their_codes(
    gateway: Gateway, database_url: str, seeded: SeedReport
) -> None:
    config = alembic_config(database_url)
    gateway.db.engine.dispose()
    command.downgrade(config, "2c6e5b91bc82")
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE applications SET status = 'ready for collection'"))
    finally:
        engine.dispose()
    upgrade(database_url)
    with gateway.session() as session:
        application = applications.find(session, DEMO_APPLICATION)
        assert application is not None
        assert application.status_code == "ready_for_collection"
        assert application.status_texts == {}
        assert [event.status_code for event in application.events] == [
            "received",
            "verified",
            "approved",
        ]
        assert applications.shown_status(application, "hi") == HINDI_READY
