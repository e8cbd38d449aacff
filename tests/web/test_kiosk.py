"""The CSC kiosk: operator login, the citizen's code, a service filed on their behalf, audit."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from seva.applications.models import Application
from seva.citizens.models import Citizen
from seva.demo.seed import DEMO_PASSWORD, SeedReport
from seva.gateway import Gateway
from seva.tenancy.models import AuditEvent, Official
from tests.web.pages import alert, answer, csrf_of, field, final_answer, last_code

CITIZEN = "+919811000301"
COMPLAINT = "/kiosk/services/MCD/civic-complaint"


def official_login(client: TestClient, username: str) -> None:
    csrf = csrf_of(client, "/login")
    response = client.post(
        "/login",
        data={"csrf": csrf, "username": username, "password": DEMO_PASSWORD, "next": "/kiosk"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def bind_citizen(client: TestClient, gateway: Gateway, phone: str = CITIZEN) -> None:
    csrf = csrf_of(client, "/kiosk")
    sent = client.post(
        "/kiosk/citizen", data={"csrf": csrf, "phone": phone}, follow_redirects=False
    )
    assert sent.status_code == 303
    code = last_code(gateway, phone)
    verified = client.post("/kiosk/verify", data={"csrf": csrf, "code": code})
    assert verified.status_code == 200
    assert f"Serving {phone}" in verified.text


def actions(gateway: Gateway) -> list[tuple[str, str | None]]:
    with gateway.session() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action != "login").order_by(AuditEvent.id)
        )
        return [(row.action, row.citizen_phone) for row in rows]


def test_anonymous_is_sent_to_login(client: TestClient, seeded: SeedReport) -> None:
    for url in ("/kiosk", COMPLAINT):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={url}"
    posted = client.post("/kiosk/citizen", data={"phone": CITIZEN}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"].startswith("/login")


def test_an_officer_may_not_use_the_kiosk(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    official_login(client, "mcd.officer")
    response = client.get("/kiosk")
    assert response.status_code == 403
    assert "Your role may not open this page." in response.text
    assert actions(gateway) == []


def test_operator_files_a_complaint_for_a_citizen(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    official_login(client, "csc.laxminagar")
    start = client.get("/kiosk")
    assert start.status_code == 200 and "Citizen&#39;s mobile number" in start.text
    csrf = field(start.text, "csrf")
    client.post("/kiosk/citizen", data={"csrf": csrf, "phone": "98110 00301"})
    wrong = client.post("/kiosk/verify", data={"csrf": csrf, "code": "123 456"})
    assert wrong.status_code == 400
    assert alert(wrong.text) == (
        "That code is wrong or has expired. Check the SMS, or ask for a new code."
    )
    right = client.post("/kiosk/verify", data={"csrf": csrf, "code": last_code(gateway, CITIZEN)})
    assert f"Serving {CITIZEN}" in right.text
    assert f'href="{COMPLAINT}">Register a civic complaint</a>' in right.text

    page = client.get(COMPLAINT).text
    assert "<legend>What is the problem</legend>" in page
    assert 'id="typed" name="typed"' in page  # the operator may key the number
    response = client.post(
        COMPLAINT,
        data={"csrf": csrf, "seq": field(page, "seq"), "typed": "3", "answer": ""},
        follow_redirects=False,
    )
    assert response.status_code == 303
    answer(client, COMPLAINT, "110092")
    answer(client, COMPLAINT, "Ramesh Chand")
    answer(client, COMPLAINT, "Behind the Laxmi Nagar metro pillar 45")
    done = answer(client, COMPLAINT, "1")
    text = final_answer(done)
    assert text.startswith("Complaint MCD-") and "registered: Water logging at 110092" in text

    with gateway.session() as session:
        operator = session.scalars(
            select(Official).where(Official.username == "csc.laxminagar")
        ).one()
        application = session.scalars(
            select(Application).where(Application.channel == "kiosk")
        ).one()
        citizen = session.get(Citizen, application.citizen_id)
        assert application.operator_id == operator.id
        assert application.channel == "kiosk"
        assert citizen is not None and citizen.phone == CITIZEN
        assert application.data["name"] == "Ramesh Chand"
        ref = application.ref
    assert f'id="application-ref">{ref}</strong>' in done

    home = client.get("/kiosk").text
    assert f"<strong>{ref}</strong>" in home  # the citizen's applications, at the counter
    released = client.post("/kiosk/release", data={"csrf": csrf})
    assert "The counter is free for the next citizen." in released.text
    assert 'name="phone"' in released.text and "Serving" not in released.text
    assert client.get(COMPLAINT).status_code == 409  # no citizen bound any more

    assert actions(gateway) == [
        ("otp_sent", CITIZEN),
        ("otp_failed", CITIZEN),
        ("otp_verified", CITIZEN),
        ("service_started", CITIZEN),
        ("service_finished", CITIZEN),
        ("citizen_released", CITIZEN),
    ]
    with gateway.session() as session:
        finished = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "service_finished")
        ).one()
        assert finished.official_id == operator.id
        assert finished.detail["application"] == ref
        assert finished.detail["service"] == "MCD/civic-complaint"


def test_too_many_wrong_codes_kill_the_code(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    official_login(client, "csc.laxminagar")
    csrf = csrf_of(client, "/kiosk")
    client.post("/kiosk/citizen", data={"csrf": csrf, "phone": CITIZEN})
    code = last_code(gateway, CITIZEN)
    wrong = "111111" if code != "111111" else "222222"
    for _ in range(5):
        assert client.post("/kiosk/verify", data={"csrf": csrf, "code": wrong}).status_code == 400
    late = client.post("/kiosk/verify", data={"csrf": csrf, "code": code})
    assert late.status_code == 400  # the right code, but too late
    assert "Serving" not in late.text


def test_a_service_needs_a_verified_citizen(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    official_login(client, "csc.laxminagar")
    response = client.get(COMPLAINT)
    assert response.status_code == 409
    assert "Verify the citizen&#39;s phone first." in response.text
    forged = client.post("/kiosk/citizen", data={"phone": CITIZEN})
    assert forged.status_code == 400
    assert actions(gateway) == []


def test_next_citizen_cancels_an_open_service(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    official_login(client, "csc.laxminagar")
    bind_citizen(client, gateway)
    client.get(COMPLAINT)
    answer(client, COMPLAINT, "1")
    csrf = csrf_of(client, "/kiosk")
    client.post("/kiosk/release", data={"csrf": csrf})
    bind_citizen(client, gateway, "+919811000302")
    page = client.get(COMPLAINT).text
    assert "<legend>What is the problem</legend>" in page  # a fresh start, not the last answers


def test_a_counter_asking_codes_for_many_numbers_is_told_to_wait(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    official_login(client, "csc.laxminagar")
    csrf = csrf_of(client, "/kiosk")
    for n in range(10):
        sent = client.post(
            "/kiosk/citizen",
            data={"csrf": csrf, "phone": f"+9198110004{n:02d}"},
            follow_redirects=False,
        )
        assert sent.status_code == 303
    refused = client.post("/kiosk/citizen", data={"csrf": csrf, "phone": "+919811000499"})
    assert refused.status_code == 429
    assert (alert(refused.text) or "").startswith(
        "Too many codes have been asked for from here. Please try again in "
    )
    assert actions(gateway)[-1] == ("otp_refused", "+919811000499")
