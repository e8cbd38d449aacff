"""A service on the web behaves like a form: it never gives up on a person correcting it, its
refusals read as form errors, it keeps what was typed, and an anonymous visitor's application
still has a number to send its updates to."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from seva.applications.models import Application
from seva.citizens.models import Citizen
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.messaging import service as messaging
from tests.web.pages import alert, answer, field, final_answer
from tests.web.test_kiosk import bind_citizen, official_login
from tests.web.test_portal import answer_field

RATION = "/services/FOOD/ration-card-status"
COMPLAINT = "/services/MCD/civic-complaint"
LEARNER = "/services/TRANSPORT/learner-test-slot"


def sms(client: TestClient, text: str, sender: str) -> str:
    response = client.get("/channels/sms/kannel", params={"from": sender, "text": text})
    assert response.status_code == 200, response.text
    return response.text


def inbox(gateway: Gateway, phone: str) -> list[str]:
    with gateway.session() as session:
        return [m.text for m in messaging.inbox(session, phone, limit=1000)]


def test_empty_submits_keep_the_form_open_while_sms_stops_at_the_cap(
    client: TestClient, seeded: SeedReport
) -> None:
    client.get(RATION)
    for _ in range(6):
        page = answer(client, RATION, "")
        assert alert(page) == "Please enter an answer."
        assert '<label for="answer">Enter your ration card number</label>' in page
        assert 'id="final-answer"' not in page and "start again" not in page.lower()
    done = answer(client, RATION, "1234567890")
    assert final_answer(done).startswith("Ration card 1234567890 (Sunita Devi): Active.")

    # The same service by SMS, where each try is a paid message: three refusals end it.
    phone = "+919811000501"
    sms(client, "RATION", phone)
    assert sms(client, "x", phone).startswith("Please enter digits only.")
    assert sms(client, "y", phone).startswith("Please enter digits only.")
    assert sms(client, "z", phone) == (
        "Sorry, that answer could not be accepted after several tries. Please start again."
    )


def test_the_app_api_is_a_form_too(client: TestClient, seeded: SeedReport) -> None:
    started = client.post(
        "/api/v1/sessions", json={"department": "FOOD", "service": "ration-card-status"}
    )
    body = started.json()
    for _ in range(5):
        response = client.post(f"/api/v1/sessions/{body['id']}/answer", json={"text": " "})
        body = response.json()
        assert not body["finished"], body
        assert body["question"]["error"] == "Please enter an answer."
    response = client.post(f"/api/v1/sessions/{body['id']}/answer", json={"text": "1234567890"})
    assert response.json()["answer"].startswith("Ration card 1234567890")


def _to_confirmation_by_sms(client: TestClient, phone: str) -> None:
    for text in ("COMPLAINT", "2", "110092", "Ravi Kumar", "Near gate 3, Vikas Marg"):
        sms(client, text, phone)


def _to_confirmation_on_the_web(client: TestClient, lang: str) -> None:
    client.get(f"{COMPLAINT}?lang={lang}")
    for text in ("2", "110092", "Ravi Kumar", "Near gate 3, Vikas Marg"):
        answer(client, COMPLAINT, text)


def test_the_same_refusal_reads_as_a_form_error_on_the_web_in_english_and_hindi(
    client: TestClient, seeded: SeedReport
) -> None:
    # SMS: a reply to send.
    _to_confirmation_by_sms(client, "+919811000511")
    english_sms = sms(client, "maybe", "+919811000511")
    assert english_sms.startswith("Please answer 1 for Yes or 2 for No.\n")
    sms(client, "LANG HI", "+919811000512")
    _to_confirmation_by_sms(client, "+919811000512")
    hindi_sms = sms(client, "maybe", "+919811000512")
    assert hindi_sms.startswith("हाँ के लिए 1, नहीं के लिए 2 भेजें।\n")

    # The web: a form to correct.
    _to_confirmation_on_the_web(client, "en")
    assert alert(answer(client, COMPLAINT, "maybe")) == "Please choose Yes or No."
    assert alert(answer(client, COMPLAINT, "")) == "Please enter an answer."
    answer(client, COMPLAINT, "", action="cancel")
    _to_confirmation_on_the_web(client, "hi")
    assert alert(answer(client, COMPLAINT, "maybe")) == "कृपया हाँ या नहीं चुनें।"
    assert alert(answer(client, COMPLAINT, "")) == "कृपया उत्तर लिखें।"
    # Where the wording is the same for a form and an SMS, the one entry serves both.
    answer(client, COMPLAINT, "", action="cancel")
    client.get(RATION + "?lang=hi")
    assert alert(answer(client, RATION, "12ab")) == "कृपया केवल अंक लिखें।"


def test_what_was_typed_stays_in_the_field_escaped(client: TestClient, seeded: SeedReport) -> None:
    client.get(RATION)
    page = answer(client, RATION, '12" autofocus onfocus="alert(1)')
    assert alert(page) == "Please enter digits only."
    tag = answer_field(page)
    assert 'value="12&#34; autofocus onfocus=&#34;alert(1)"' in tag
    assert "onfocus=" not in tag.replace("onfocus=&#34;", "")
    # Each refusal shows what was typed that time.
    page = answer(client, RATION, "12")
    assert alert(page) == "Please enter 10 to 12 digits."
    assert 'value="12"' in answer_field(page)

    # A description (a text area) keeps its words, markup and all, as text.
    client.get(COMPLAINT)
    for text in ("2", "110092", "Ravi Kumar"):
        answer(client, COMPLAINT, text)
    place = answer(client, COMPLAINT, "<>")
    assert alert(place) == "Please enter 3 to 140 characters."
    assert ">&lt;&gt;</textarea>" in place
    # An accepted answer leaves nothing behind: the next question starts with no choice made.
    confirm = answer(client, COMPLAINT, "<b>Near the park gate</b>")
    assert "<legend>Register complaint" in confirm
    assert not re.search(r'type="radio"[^>]* checked', confirm)


def test_a_choice_keeps_the_number_the_operator_keyed(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    official_login(client, "csc.laxminagar")
    bind_citizen(client, gateway, "+919811000521")
    url = "/kiosk/services/MCD/civic-complaint"
    page = client.get(url).text
    response = client.post(
        url,
        data={"csrf": field(page, "csrf"), "seq": field(page, "seq"), "typed": "7"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    again = client.get(url).text
    assert alert(again) == "Please choose one of the options."
    assert re.search(r'<input id="typed" name="typed"[^>]* value="7">', again)


def test_an_anonymous_application_asks_for_a_number_which_gets_the_updates(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    first = client.get(LEARNER).text
    # Before any answer, the page offers to log in instead, coming back to this service.
    assert "Updates on this application come by SMS" in first
    assert f'href="/citizen/login?next={LEARNER}"' in first
    page = answer(client, LEARNER, "Asha Verma")
    assert "Updates on this application come by SMS" not in page  # a login now would lose it
    for text in ("15-08-1990", "2"):
        page = answer(client, LEARNER, text)
    asked = answer(client, LEARNER, "1")
    contact = '<label for="answer">Your mobile number, for SMS updates on this application</label>'
    assert contact in asked
    assert 'type="tel"' in answer_field(asked)
    # Checked as any mobile number is, and kept in the field to be corrected.
    wrong = answer(client, LEARNER, "12345")
    assert alert(wrong) == "Please enter a valid 10-digit mobile number."
    assert 'value="12345"' in answer_field(wrong)
    done = answer(client, LEARNER, "98110 00531")
    assert final_answer(done).startswith("Asha Verma, your learner test request for LMV")
    ref = re.search(r"\bTRANSPORT-[0-9A-Z]{8}\b", final_answer(done))
    assert ref is not None

    phone = "+919811000531"
    with gateway.session() as session:
        application = session.scalars(select(Application).where(Application.ref == ref[0])).one()
        citizen = session.get(Citizen, application.citizen_id)
        assert citizen is not None and citizen.phone == phone
        assert "phone" not in application.data
    assert inbox(gateway, phone) == []  # filing sends nothing; the department's news does

    moved = client.post(
        f"/api/v1/dept/applications/{ref[0]}/status",
        json={"status": "Slot booked", "note": "Come on 12 May at 10:00."},
        headers={"Authorization": f"Bearer {seeded.api_keys['TRANSPORT']}"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["citizen_phone"] == phone
    assert inbox(gateway, phone) == [f"Application {ref[0]}: Slot booked. Come on 12 May at 10:00."]


def test_a_hindi_form_asks_in_hindi_and_the_updates_come_in_hindi(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    first = client.get(LEARNER + "?lang=hi").text
    assert "इस आवेदन की जानकारी SMS से आती है" in first
    for text in ("आशा वर्मा", "15-08-1990", "2"):
        answer(client, LEARNER, text)
    asked = answer(client, LEARNER, "1")
    assert "आपका मोबाइल नंबर, इस आवेदन की जानकारी SMS से पाने के लिए" in asked
    done = answer(client, LEARNER, "9811000532")
    ref = re.search(r"\bTRANSPORT-[0-9A-Z]{8}\b", final_answer(done))
    assert ref is not None
    client.post(
        f"/api/v1/dept/applications/{ref[0]}/status",
        json={"status": "Slot booked"},
        headers={"Authorization": f"Bearer {seeded.api_keys['TRANSPORT']}"},
    )
    assert inbox(gateway, "+919811000532") == [f"आवेदन {ref[0]}: Slot booked।"]


def test_a_logged_in_citizen_is_not_asked(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    from tests.web.test_citizen import log_in

    phone = "+919811000541"
    log_in(client, gateway, phone)
    first = client.get(LEARNER).text
    assert "Updates on this application come by SMS" not in first
    for text in ("Meena Kumari", "02-10-1995", "1"):
        answer(client, LEARNER, text)
    done = answer(client, LEARNER, "3")
    assert final_answer(done).startswith("Meena Kumari, your learner test request for MCWG")
    # A service that files nothing neither offers a login nor asks for a number.
    client.post("/citizen/logout", data={"csrf": field(first, "csrf")})
    assert "Updates on this application" not in client.get(RATION).text
