"""The citizen portal: services as forms, the same answers as SMS, errors, Hindi, safety."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from seva.db.base import utcnow
from seva.demo.seed import SeedReport
from seva.flows.models import Conversation
from seva.gateway import Gateway
from tests.web.pages import alert, answer, field, final_answer

RATION = "/services/FOOD/ration-card-status"


def test_home_lists_departments_services_and_sms_keywords(
    client: TestClient, seeded: SeedReport
) -> None:
    page = client.get("/")
    assert page.status_code == 200
    for heading in ("Transport Department", "Food &amp; Civil Supplies", "Municipal Corporation"):
        assert f">{heading}</h2>" in page.text
    assert f'href="{RATION}">Ration card status</a>' in page.text
    assert "SMS RATION to 166" in page.text
    assert "SMS COMPLAINT to 166" in page.text

    hindi = client.get("/?lang=hi")
    assert '<html lang="hi" dir="ltr">' in hindi.text
    assert ">राशन कार्ड की स्थिति</a>" in hindi.text
    assert "166 पर RATION SMS करें" in hindi.text


def test_ration_card_gives_the_same_answer_as_sms(client: TestClient, seeded: SeedReport) -> None:
    first = client.get(RATION)
    assert first.status_code == 200
    assert '<label for="answer">Enter your ration card number</label>' in first.text
    done = answer(client, RATION, "1234567890")
    assert final_answer(done) == (
        "Ration card 1234567890 (Sunita Devi): Active. Members: 4. Shop: FPS 112, Shakarpur."
    )
    sms = client.get(
        "/channels/sms/kannel", params={"from": "9811000001", "text": "RATION 1234567890"}
    )
    assert final_answer(done) == sms.text
    # A refresh of the answer page shows the answer again; "Start again" asks afresh.
    assert final_answer(client.get(RATION + "?done=1").text) == final_answer(done)
    assert f'href="{RATION}">Start again</a>' in done
    assert "Enter your ration card number" in client.get(RATION).text


def test_refused_answer_shows_the_reason_and_the_question(
    client: TestClient, seeded: SeedReport
) -> None:
    page = answer(client, RATION, "12ab")
    assert alert(page) == "Please enter digits only."
    assert 'aria-invalid="true"' in page
    assert "Enter your ration card number" in page
    page = answer(client, RATION, "12")
    assert alert(page) == "Please enter 10 to 12 digits."
    # A third refusal is one more correction on a form, not the end of the service.
    page = answer(client, RATION, "")
    assert alert(page) == "Please enter an answer."
    assert final_answer(answer(client, RATION, "1234567890")).startswith("Ration card 1234567890")


def test_choices_are_radio_buttons_and_numbers(client: TestClient, seeded: SeedReport) -> None:
    url = "/services/AGRI/mandi-price"
    page = client.get(url).text
    assert "<legend>Choose the crop</legend>" in page
    assert len(re.findall(r'type="radio" name="answer" value="\d"', page)) == 5
    done = answer(client, url, "1")
    assert final_answer(done).startswith("Wheat at Azadpur (Delhi): modal Rs 2410/quintal")


def test_yes_no_and_a_refused_confirmation(client: TestClient, seeded: SeedReport) -> None:
    url = "/services/MCD/civic-complaint"
    client.get(url)
    answer(client, url, "2")
    answer(client, url, "110092")
    answer(client, url, "Asha Rani")
    page = answer(client, url, "Near the park gate, Block C")
    assert (
        "<legend>Register complaint &#39;Streetlight not working&#39; at 110092?</legend>" in page
    )
    assert re.search(r'value="1"[^>]*>\s*<span class="key" aria-hidden="true">1</span> Yes', page)
    page = answer(client, url, "maybe")
    assert alert(page) == "Please choose Yes or No."
    done = answer(client, url, "2")
    assert final_answer(done) == "Complaint not registered. Send COMPLAINT to start again."


def test_date_question_has_a_format_hint(client: TestClient, seeded: SeedReport) -> None:
    url = "/services/TRANSPORT/learner-test-slot"
    client.get(url)
    page = answer(client, url, "Ravi Kumar")
    assert '<label for="answer">Your date of birth (DD-MM-YYYY)</label>' in page
    assert 'id="answer-hint">Format: DD-MM-YYYY</p>' in page
    assert 'placeholder="DD-MM-YYYY"' in page
    assert alert(answer(client, url, "31-02-2001")) == (
        "Please enter a date as DD-MM-YYYY, e.g. 25-01-1980."
    )


def answer_field(page: str) -> str:
    """The answer field's tag as the browser gets it."""
    match = re.search(r'<(?:input|textarea) id="answer"[^>]*>', page, re.S)
    assert match, "the page has no answer field"
    return match.group(0)


def test_a_name_has_one_length_limit_and_the_page_shows_it(
    client: TestClient, seeded: SeedReport
) -> None:
    url = "/services/TRANSPORT/learner-test-slot"
    page = client.get(url).text
    assert '<label for="answer">Your full name</label>' in page
    # The form stops typing where the server would refuse, and says where that is.
    assert 'maxlength="160"' in answer_field(page)
    assert 'id="answer-length">Up to 160 characters.</p>' in page
    assert 'aria-describedby="answer-length"' in answer_field(page)
    too_long = answer(client, url, "A" * 161)  # what a script, not the form, can send
    assert alert(too_long) == "Please keep the answer to 160 characters or fewer."
    assert 'aria-describedby="answer-length answer-error"' in answer_field(too_long)
    assert "Your date of birth" in answer(client, url, "A" * 160)

    complaint = "/services/MCD/civic-complaint"
    client.get(complaint + "?lang=hi")
    pincode = answer(client, complaint, "1")
    # A PIN code is checked by its form, not its length: the general limit, no hint.
    assert 'maxlength="500"' in answer_field(pincode) and 'id="answer-length"' not in pincode
    name = answer(client, complaint, "110092")
    assert "आपका पूरा नाम" in name and 'id="answer-length">अधिकतम 160 अक्षर।</p>' in name
    # A question with its own length (a description of 3 to 140 characters) uses that one.
    place = answer(client, complaint, "रवि कुमार")
    assert 'maxlength="140"' in answer_field(place) and "अधिकतम 140 अक्षर।" in place


def test_hindi_page_runs_the_service_in_hindi(client: TestClient, seeded: SeedReport) -> None:
    first = client.get(RATION + "?lang=hi")
    assert '<html lang="hi" dir="ltr">' in first.text
    assert "अपना राशन कार्ड नंबर दर्ज करें" in first.text
    done = answer(client, RATION, "९८७६५४३२१०")  # Devanagari digits, as a Hindi keyboard types
    assert '<html lang="hi" dir="ltr">' in done  # the language stays with the browser
    assert final_answer(done) == (
        "राशन कार्ड 9876543210 (Mohd. Irfan): निलंबित (eKYC लंबित)। सदस्य: 3। दुकान: FPS 078, Okhla।"
    )


def test_unknown_service_is_a_404_page(client: TestClient, seeded: SeedReport) -> None:
    for url in (
        "/services/FOOD/no-such-service",
        "/services/NOPE/ration-card-status",
        "/services/%3Cb%3E/x",
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "There is no such service" in response.text
    assert client.post("/services/FOOD/nothing", data={"answer": "1"}).status_code == 404


def test_post_without_csrf_is_refused_and_answers_nothing(
    client: TestClient, seeded: SeedReport
) -> None:
    page = client.get(RATION).text
    forged = client.post(
        RATION, data={"answer": "1234567890", "seq": field(page, "seq")}, follow_redirects=False
    )
    assert forged.status_code == 400
    assert "This form has expired" in forged.text
    wrong = client.post(
        RATION,
        data={"answer": "1234567890", "seq": field(page, "seq"), "csrf": "x" * 32},
        follow_redirects=False,
    )
    assert wrong.status_code == 400
    still = client.get(RATION).text
    assert "Enter your ration card number" in still and "Sunita Devi" not in still


def test_a_form_posted_twice_answers_once(client: TestClient, seeded: SeedReport) -> None:
    url = "/services/MCD/civic-complaint"
    page = client.get(url).text
    data = {"csrf": field(page, "csrf"), "seq": field(page, "seq"), "answer": "1"}
    assert client.post(url, data=data, follow_redirects=False).status_code == 303
    again = client.post(url, data=data, follow_redirects=False)  # double click, back button
    assert again.status_code == 303
    now = client.get(url).text
    assert "PIN code of the place" in now and alert(now) is None


def test_answers_are_escaped_in_the_page(client: TestClient, seeded: SeedReport) -> None:
    url = "/services/TRANSPORT/learner-test-slot"
    client.get(url)
    answer(client, url, '<script>alert("x")</script><img src=x onerror=alert(1)>')
    answer(client, url, "15-08-1990")
    answer(client, url, "2")
    answer(client, url, "1")
    done = answer(client, url, "9811000123")  # the number its updates go to
    assert "<script>alert" not in done and "<img src=x" not in done
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in done
    )
    assert "your learner test request for LMV at Mall Road is TRANSPORT-" in final_answer(done)


def test_cancel_ends_the_service(client: TestClient, seeded: SeedReport, gateway: Gateway) -> None:
    url = "/services/AGRI/kisan-status"
    page = client.get(url)
    assert page.status_code == 200
    done = answer(client, url, "", action="cancel")
    assert "You cancelled this service. Nothing was submitted." in done
    assert "Start again" in done


def test_a_timed_out_question_starts_the_service_again(
    client: TestClient, seeded: SeedReport, gateway: Gateway
) -> None:
    page = client.get(RATION).text
    with gateway.session() as session:  # the citizen walked away for longer than the TTL
        past = utcnow() - timedelta(seconds=1)
        for row in session.scalars(select(Conversation)):
            row.state = {**row.state, "expires_at": past.isoformat()}
            row.expires_at = past
    response = client.post(
        RATION,
        data={"csrf": field(page, "csrf"), "seq": field(page, "seq"), "answer": "1234567890"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    again = client.get(response.headers["location"]).text
    assert "That question had timed out" in again
    assert "Enter your ration card number" in again
