"""Citizen login by a one-time code, their page, and the registry following them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import update

from seva.app import create_app
from seva.applications import service as applications
from seva.applications.models import Application
from seva.citizens import service as citizens
from seva.demo.seed import DEMO_APPLICATION, DEMO_CITIZEN, SeedReport
from seva.gateway import Gateway, build_gateway
from seva.messaging import service as messaging
from seva.settings import Settings
from seva.templating import LANG_COOKIE
from tests.web.pages import alert, answer, csrf_of, field, final_answer, last_code

PHONE = "+919811000201"


def send_code(client: TestClient, phone: str) -> int:
    csrf = csrf_of(client, "/citizen/login")
    response = client.post(
        "/citizen/login", data={"csrf": csrf, "phone": phone}, follow_redirects=False
    )
    return response.status_code


def log_in(client: TestClient, gateway: Gateway, phone: str) -> None:
    assert send_code(client, phone) == 303
    page = client.get("/citizen/login").text
    response = client.post(
        "/citizen/verify",
        data={"csrf": field(page, "csrf"), "code": last_code(gateway, phone), "next": "/me"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/me"


def test_login_by_code_shows_the_citizens_applications(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    assert send_code(client, "99000 00001") == 303  # typed the way people type it
    with gateway.session() as session:
        (otp,) = [m for m in messaging.inbox(session, DEMO_CITIZEN) if m.kind == "otp"]
        assert otp.text.startswith("Seva OTP ") and "Valid 5 minutes. Do not share." in otp.text
    page = client.get("/citizen/login").text
    assert f"We sent a code by SMS to {DEMO_CITIZEN}." in page
    wrong = client.post("/citizen/verify", data={"csrf": field(page, "csrf"), "code": "000000"})
    assert wrong.status_code == 400
    assert alert(wrong.text) == (
        "That code is wrong or has expired. Check the SMS, or ask for a new code."
    )
    me = client.post(
        "/citizen/verify",
        data={"csrf": field(page, "csrf"), "code": last_code(gateway, DEMO_CITIZEN)},
    )
    assert me.status_code == 200
    assert f"Logged in as {DEMO_CITIZEN}" in me.text
    assert f"<strong>{DEMO_APPLICATION}</strong>" in me.text and "<td>Approved</td>" in me.text
    assert 'href="/me">My Seva</a>' in me.text


def test_the_applications_updated_day_is_indias(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    """Updated at 20:00 UTC is 01:30 the next morning in India: the citizen's list, and the
    STATUS reply by SMS, give that next day."""
    with gateway.session() as session:
        session.execute(
            update(Application)
            .where(Application.ref == DEMO_APPLICATION)
            .values(updated_at=datetime(2026, 3, 31, 20, 0, tzinfo=UTC))
        )
    log_in(client, gateway, DEMO_CITIZEN)
    assert "<td>01-04-2026</td>" in client.get("/me").text
    with gateway.session() as session:
        application = applications.find(session, DEMO_APPLICATION)
        assert application is not None
        assert applications.summary(session, application)["updated"] == "01-04-2026"


def test_a_second_code_within_30_seconds_is_refused(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    assert send_code(client, PHONE) == 303
    assert send_code(client, PHONE) == 429
    page = client.get("/citizen/login")
    refused = client.post("/citizen/login", data={"csrf": field(page.text, "csrf"), "phone": PHONE})
    message = alert(refused.text) or ""
    assert message.startswith("A code was sent to this number just now. Please wait ")
    with gateway.session() as session:
        count = len(messaging.inbox(session, PHONE))
    assert count == 1  # the phone got one SMS, not three


def test_one_browser_asking_codes_for_many_numbers_is_told_to_wait(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    """Ten codes in 15 minutes from one address (SEVA_OTP_CLIENT_LIMIT), to any numbers."""
    for n in range(10):
        assert send_code(client, f"+9198110003{n:02d}") == 303
    page = client.get("/citizen/login?change=1")
    refused = client.post(
        "/citizen/login", data={"csrf": field(page.text, "csrf"), "phone": "+919811000399"}
    )
    assert refused.status_code == 429
    message = alert(refused.text) or ""
    assert re.fullmatch(
        r"Too many codes have been asked for from here\. Please try again in \d+ minutes\.",
        message,
    ), message
    client.cookies.set(LANG_COOKIE, "hi")
    again = client.post(
        "/citizen/login", data={"csrf": field(page.text, "csrf"), "phone": "+919811000399"}
    )
    assert "यहाँ से बहुत सारे कोड माँगे गए हैं" in (alert(again.text) or "")
    with gateway.session() as session:
        assert messaging.inbox(session, "+919811000399") == []


def test_bad_number_and_missing_csrf(client: TestClient, seeded: SeedReport) -> None:
    csrf = csrf_of(client, "/citizen/login")
    bad = client.post("/citizen/login", data={"csrf": csrf, "phone": "12345"})
    assert bad.status_code == 400
    assert alert(bad.text) == "Enter a valid 10-digit mobile number."
    forged = client.post("/citizen/login", data={"phone": PHONE})
    assert forged.status_code == 400


def test_the_code_goes_out_in_the_citizens_language(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    with gateway.session() as session:
        citizen = citizens.get_or_create(session, PHONE)
        citizens.set_language(session, citizen, "hi")
    send_code(client, PHONE)
    with gateway.session() as session:
        (text,) = [m.text for m in messaging.inbox(session, PHONE)]
    assert text.startswith("सेवा OTP ") and "5 मिनट तक मान्य" in text


def test_language_choice_is_saved_to_the_registry(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    log_in(client, gateway, PHONE)
    page = client.get("/me").text
    saved = client.post("/me/language", data={"csrf": field(page, "csrf"), "language": "hi"})
    assert '<html lang="hi" dir="ltr">' in saved.text
    assert "सहेजा गया" in saved.text
    with gateway.session() as session:
        citizen = citizens.find(session, PHONE)
        assert citizen is not None and citizen.language == "hi"
    # The SMS channel now answers this citizen in Hindi too.
    sms = client.get("/channels/sms/kannel", params={"from": PHONE, "text": "RATION 1234567890"})
    assert sms.text.startswith("राशन कार्ड 1234567890")


def test_details_given_once_are_not_asked_again(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    log_in(client, gateway, PHONE)
    url = "/services/TRANSPORT/learner-test-slot"
    assert "Your full name" in client.get(url).text
    answer(client, url, "Meena Kumari")
    answer(client, url, "02-10-1995")
    answer(client, url, "1")
    done = answer(client, url, "3")
    assert final_answer(done).startswith("Meena Kumari, your learner test request for MCWG")
    # Next time the department already holds the name and birth date: the first question
    # is the licence class.
    again = client.get(url + "?done=1")
    assert "Start again" in again.text
    restarted = client.get(url).text
    assert "<legend>Licence for</legend>" in restarted and "Your full name" not in restarted
    me = client.get("/me").text
    assert "<td>name</td><td>Meena Kumari</td>" in me
    assert "TRANSPORT-" in me and "Slot requested" in me


def test_logout_forgets_the_citizen(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    log_in(client, gateway, PHONE)
    page = client.get("/me").text
    out = client.post("/citizen/logout", data={"csrf": field(page, "csrf")}, follow_redirects=False)
    assert out.status_code == 303
    me = client.get("/me", follow_redirects=False)
    assert me.status_code == 303 and me.headers["location"].startswith("/citizen/login")


def test_too_many_wrong_codes_pause_checks_with_a_message_in_hindi(
    settings: Settings, database_url: str, gateway: Gateway, seeded: SeedReport
) -> None:
    changed = settings.model_copy(update={"otp_verify_phone_failures": 2})
    node = build_gateway(changed, database_url=database_url)
    try:
        client = TestClient(create_app(changed, gateway=node))
        client.cookies.set(LANG_COOKIE, "hi")
        assert send_code(client, PHONE) == 303
        page = client.get("/citizen/login").text
        for _ in range(2):
            wrong = client.post(
                "/citizen/verify", data={"csrf": field(page, "csrf"), "code": "000000"}
            )
            assert wrong.status_code == 400
        refused = client.post(
            "/citizen/verify",
            data={"csrf": field(page, "csrf"), "code": last_code(gateway, PHONE)},
        )
        assert refused.status_code == 429
        assert (alert(refused.text) or "").startswith("बहुत बार गलत कोड डाला गया।")
    finally:
        node.close()
