"""The officials' console: a department's applications, their timeline and status changes."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from seva.applications import service as applications
from seva.demo.seed import DEMO_APPLICATION, DEMO_CITIZEN, SeedReport
from seva.gateway import Gateway
from seva.messaging import service as messaging
from seva.tenancy.models import AuditEvent
from seva.tenancy.service import department_by_code
from tests.console.pages import csrf_of, login, sms

DETAIL = f"/console/applications/{DEMO_APPLICATION}"


def refs(html: str) -> list[str]:
    return re.findall(r'<a href="/console/applications/([^"]+)">', html)


def test_anonymous_visitors_are_sent_to_login(client: TestClient, seeded: SeedReport) -> None:
    for path in ("/console", DETAIL):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"
    response = client.post(f"{DETAIL}/status", data={"status": "Closed"}, follow_redirects=False)
    assert response.status_code == 303


def test_list_filter_and_search(client: TestClient, seeded: SeedReport) -> None:
    login(client, "food.admin")
    page = client.get("/console")
    assert page.status_code == 200
    assert refs(page.text) == [DEMO_APPLICATION]
    assert "Approved" in page.text
    assert refs(client.get("/console", params={"status": "Approved"}).text) == [DEMO_APPLICATION]
    assert refs(client.get("/console", params={"status": "Rejected"}).text) == []
    assert refs(client.get("/console", params={"q": "test-00"}).text) == [DEMO_APPLICATION]
    assert refs(client.get("/console", params={"q": "%"}).text) == []
    assert client.get("/console", params={"page": "abc"}).status_code == 200


def test_list_is_paginated_newest_first(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    with gateway.session() as session:
        food = department_by_code(session, "FOOD")
        assert food is not None
        made = [
            applications.create(
                session,
                department=food,
                service="ration-card-new",
                kind="new-ration-card",
                status="Received",
                data={"name": f"Applicant {number}"},
                channel="web",
                citizen=None,
            ).ref
            for number in range(30)
        ]
    login(client, "food.admin")
    first = client.get("/console", params={"status": "Received"}).text
    second = client.get("/console", params={"status": "Received", "page": "2"}).text
    assert len(refs(first)) == 25 and len(refs(second)) == 5
    assert refs(first) + refs(second) == made[::-1]
    assert 'href="/console?status=Received&amp;page=2" rel="next"' in first
    assert 'href="/console?status=Received&amp;page=1" rel="prev"' in second


def test_detail_shows_fields_and_timeline(client: TestClient, seeded: SeedReport) -> None:
    login(client, "food.admin")
    page = client.get(DETAIL)
    assert page.status_code == 200
    assert "Sunita Devi" in page.text
    assert DEMO_CITIZEN in page.text
    timeline = page.text[page.text.index('class="timeline"') :]
    assert timeline.index("Approved") < timeline.index("Verified") < timeline.index("Received")
    assert "Documents verified at the circle office." in timeline
    assert "Food Department Admin (food.admin)" in timeline
    assert "Citizen will be notified by SMS." in page.text


def test_status_change_notifies_the_citizen(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    token = csrf_of(client.get(DETAIL).text)
    response = client.post(
        f"{DETAIL}/status",
        data={"status": "Ready for collection", "note": "Bring your Aadhaar.", "csrf": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert "Status changed to Ready for collection. Citizen will be notified by SMS." in page.text
    assert 'id="current-status">Ready for collection<' in page.text
    assert "Bring your Aadhaar." in page.text

    with gateway.session() as session:
        outbox = messaging.inbox(session, DEMO_CITIZEN, limit=1000)
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "application.status")
        ).all()
    assert outbox[-1].text == (
        f"Application {DEMO_APPLICATION}: Ready for collection. Bring your Aadhaar."
    )
    assert outbox[-1].sender == "SEVA" and outbox[-1].status == "queued"  # FOOD has no header
    assert [(a.detail["ref"], a.detail["previous"], a.detail["status"]) for a in audit] == [
        (DEMO_APPLICATION, "Approved", "Ready for collection")
    ]
    assert audit[0].citizen_phone == DEMO_CITIZEN

    reply = sms(client, f"STATUS {DEMO_APPLICATION}", sender=DEMO_CITIZEN)
    assert reply.startswith(f"Application {DEMO_APPLICATION} (Food & Civil Supplies): Ready for")
    assert "Bring your Aadhaar." in reply


def test_invalid_status_is_refused_with_the_reason(client: TestClient, seeded: SeedReport) -> None:
    login(client, "food.admin")
    token = csrf_of(client.get(DETAIL).text)
    blank = client.post(f"{DETAIL}/status", data={"status": "   ", "csrf": token})
    assert blank.status_code == 400
    assert "Enter a status of 1 to 64 characters." in blank.text
    long = client.post(f"{DETAIL}/status", data={"status": "x" * 65, "csrf": token})
    assert long.status_code == 400


def test_post_without_csrf_is_refused(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    client.get(DETAIL)
    for token in ("", "forged-token"):
        response = client.post(f"{DETAIL}/status", data={"status": "Rejected", "csrf": token})
        assert response.status_code == 400
        assert "This form has expired" in response.text
    with gateway.session() as session:
        application = applications.find(session, DEMO_APPLICATION)
        assert application is not None and application.status == "Approved"
        queued = messaging.inbox(session, DEMO_CITIZEN, limit=1000)
    assert not [m for m in queued if "Rejected" in m.text]


def test_other_departments_cannot_see_or_change(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "mcd.officer")
    assert refs(client.get("/console").text) == []
    assert refs(client.get("/console", params={"q": DEMO_APPLICATION}).text) == []
    assert client.get(DETAIL).status_code == 404
    token = csrf_of(client.get("/console").text)
    response = client.post(f"{DETAIL}/status", data={"status": "Rejected", "csrf": token})
    assert response.status_code == 404
    with gateway.session() as session:
        application = applications.find(session, DEMO_APPLICATION)
        assert application is not None and application.status == "Approved"


def test_gateway_admin_sees_every_department(client: TestClient, seeded: SeedReport) -> None:
    login(client, "admin")
    assert refs(client.get("/console").text) == [DEMO_APPLICATION]
    assert refs(client.get("/console", params={"dept": "MCD"}).text) == []
    assert client.get(DETAIL).status_code == 200


def test_csc_operators_have_no_console(client: TestClient, seeded: SeedReport) -> None:
    login(client, "csc.laxminagar")
    assert client.get("/console").status_code == 403


def test_console_in_hindi(client: TestClient, seeded: SeedReport) -> None:
    login(client, "food.admin")
    page = client.get(DETAIL, params={"lang": "hi"})
    assert "स्थिति बदलें" in page.text
    assert "नागरिक को SMS द्वारा सूचित किया जाएगा।" in page.text
