"""A status change's two notes: the one to the citizen reaches every place a citizen looks, the
officials' internal one none of them (API, SMS, USSD, web, the citizen's own lists)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from seva.applications import service as applications
from seva.citizens.api_auth import issue_token
from seva.demo.seed import DEMO_APPLICATION, DEMO_CITIZEN, SeedReport
from seva.gateway import Gateway
from seva.messaging import service as messaging
from seva.tenancy.service import department_by_code
from tests.api.helpers import bearer
from tests.applications.lookups import sms, ussd_status, web_log_in, web_status
from tests.console.pages import csrf_of, login

STRANGER = "+919811700201"
TO_CITIZEN = "Collect the card at FPS 112 on Saturday."
INTERNAL = "Neighbour disputes the address; field visit by inspector Rao."
DEPT_INTERNAL = "Cross-checked with the 2011 roll."


def file_application(gateway: Gateway) -> str:
    with gateway.session() as session:
        food = department_by_code(session, "FOOD")
        assert food is not None
        return applications.create(
            session,
            department=food,
            service="ration-card-new",
            kind="new-ration-card",
            status="Received",
            data={},
            channel="web",
            citizen=None,
        ).ref


def change_in_console(client: TestClient, ref: str) -> str:
    """food.admin moves ``ref`` along with both notes, both kept (the department reads the
    internal one on the page); returns the detail page after."""
    detail = f"/console/applications/{ref}"
    form = client.get(detail).text
    response = client.post(
        f"{detail}/status",
        data={
            "status": "Approved",
            "note": TO_CITIZEN,
            "internal_note": INTERNAL,
            "csrf": csrf_of(form),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = client.get(detail).text
    assert TO_CITIZEN in page and INTERNAL in page
    return page


def test_the_console_keeps_the_two_notes_apart(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    form = client.get(f"/console/applications/{DEMO_APPLICATION}").text
    assert "Note to the citizen (optional): sent with the SMS, and shown to anyone" in form
    assert "Internal note (optional): for officials of the department only" in form
    page = change_in_console(client, DEMO_APPLICATION)
    timeline = page[page.index('class="timeline"') :]
    assert f'<span class="note-label">To the citizen:</span> {TO_CITIZEN}' in timeline
    assert f'<span class="note-label">Internal:</span> {INTERNAL}' in timeline
    with gateway.session() as session:
        sent = messaging.inbox(session, DEMO_CITIZEN, limit=1000)[-1].text
    assert sent == f"Application {DEMO_APPLICATION}: Approved. {TO_CITIZEN}"

    # An internal note alone is a change worth saving: the status may stay as it is.
    response = client.post(
        f"/console/applications/{DEMO_APPLICATION}/status",
        data={"status": "Approved", "internal_note": "Phoned the FPS.", "csrf": csrf_of(page)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    too_long = client.post(
        f"/console/applications/{DEMO_APPLICATION}/status",
        data={"status": "Closed", "internal_note": "x" * 1001, "csrf": csrf_of(page)},
    )
    assert too_long.status_code == 400
    assert "A note may be at most 1000 characters." in too_long.text


def test_internal_notes_never_reach_a_public_lookup(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    ref = file_application(gateway)
    login(client, "food.admin")
    change_in_console(client, ref)

    answers = {
        "api": client.get(f"/api/v1/applications/{ref}").text,
        "sms": sms(client, f"STATUS {ref}", STRANGER),
        "ussd": ussd_status(client, STRANGER, ref),
        "web": web_status(client, ref),
    }
    for channel, text in answers.items():
        assert TO_CITIZEN in text, channel
        assert INTERNAL not in text and "Rao" not in text, channel
    assert client.get(f"/api/v1/applications/{ref}").json()["note"] == TO_CITIZEN


def test_the_citizens_own_views_have_no_internal_notes(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    change_in_console(client, DEMO_APPLICATION)
    # Issued as the app's login issues it (a second OTP within 30 s would be refused).
    with gateway.session() as session:
        token = issue_token(session, DEMO_CITIZEN)
    (mine,) = client.get("/api/v1/me/applications", headers=bearer(token)).json()
    assert mine["timeline"][-1] == {
        "status": "Approved",
        "status_code": "approved",
        "note": TO_CITIZEN,
        "at": mine["timeline"][-1]["at"],
    }
    assert INTERNAL not in sms(client, f"STATUS {DEMO_APPLICATION}", DEMO_CITIZEN)
    own = client.get(f"/api/v1/applications/{DEMO_APPLICATION}", headers=bearer(token)).text
    assert TO_CITIZEN in own and INTERNAL not in own
    web_log_in(client, gateway, DEMO_CITIZEN)
    assert INTERNAL not in client.get("/me").text
    assert INTERNAL not in web_status(client, DEMO_APPLICATION)


def test_the_department_api_writes_and_reads_internal_notes(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    food = {"Authorization": f"Bearer {seeded.api_keys['FOOD']}"}
    response = client.post(
        f"/api/v1/dept/applications/{DEMO_APPLICATION}/status",
        json={"status": "Dispatched", "note": "Sent by post.", "internal_note": DEPT_INTERNAL},
        headers=food,
    )
    assert response.status_code == 200, response.text
    last = response.json()["timeline"][-1]
    assert (last["note"], last["internal_note"]) == ("Sent by post.", DEPT_INTERNAL)
    read = client.get(f"/api/v1/dept/applications/{DEMO_APPLICATION}", headers=food).json()
    assert read["timeline"][-1]["internal_note"] == DEPT_INTERNAL
    with gateway.session() as session:
        sent = messaging.inbox(session, DEMO_CITIZEN, limit=1000)[-1].text
    assert sent == f"Application {DEMO_APPLICATION}: Dispatched. Sent by post."
    assert DEPT_INTERNAL not in sms(client, f"STATUS {DEMO_APPLICATION}", DEMO_CITIZEN)
    too_long = client.post(
        f"/api/v1/dept/applications/{DEMO_APPLICATION}/status",
        json={"status": "Closed", "internal_note": "x" * 1001},
        headers=food,
    )
    assert too_long.status_code == 400
