"""SMS pull over HTTP (Kannel get-url): keywords, conversations, help, language, bad input."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from seva.db.base import utcnow
from seva.demo.seed import DEMO_APPLICATION, DEMO_CITIZEN, SeedReport
from seva.gateway import Gateway
from seva.sms_text import segment_count


def sms(client: TestClient, text: str, sender: str = "9811000001") -> str:
    response = client.get(
        "/channels/sms/kannel", params={"from": sender, "to": "166", "text": text}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_keyword_with_argument_answers_at_once(client: TestClient, seeded: SeedReport) -> None:
    assert sms(client, "RATION 1234567890") == (
        "Ration card 1234567890 (Sunita Devi): Active. Members: 4. Shop: FPS 112, Shakarpur."
    )


def test_status_of_the_demo_application(client: TestClient, seeded: SeedReport) -> None:
    reply = sms(client, f"status {DEMO_APPLICATION.lower()}", sender=DEMO_CITIZEN)
    assert reply.startswith("Application TEST-0001 (Food & Civil Supplies): Approved")


def test_multi_step_conversation_continues_by_reply(client: TestClient, seeded: SeedReport) -> None:
    assert sms(client, "MANDI").startswith("Choose the crop\n1. Wheat\n2. Paddy")
    assert sms(client, "1").startswith("Wheat at Azadpur (Delhi): modal Rs 2410/quintal")
    # The conversation is over: the next message is a fresh keyword lookup.
    assert "not a Seva keyword" in sms(client, "1")


def test_post_form_works_like_get(client: TestClient, seeded: SeedReport) -> None:
    response = client.post("/channels/sms/kannel", data={"from": "+919811000002", "text": "DL"})
    assert response.text.startswith("Enter your driving licence number")


def test_unknown_keyword_gets_one_sms_pointing_to_help(
    client: TestClient, seeded: SeedReport
) -> None:
    reply = sms(client, "hello there")
    assert reply == "Sorry, hello is not a Seva keyword. Send HELP for the list of keywords."
    assert segment_count(reply) == 1  # it was 3 parts, with the whole list of keywords
    # HELP is where the keywords are listed.
    listing = sms(client, "HELP")
    for keyword in ("RATION", "DL", "TAX", "COMPLAINT", "MANDI", "STATUS", "NEAR"):
        assert f"\n{keyword} - " in listing
    assert sms(client, "") == listing


def test_unknown_keyword_in_devanagari_is_answered_in_hindi_in_one_part(
    client: TestClient, seeded: SeedReport
) -> None:
    # A number with no language chosen writes in Devanagari: the reply is Hindi, and one
    # UCS-2 part (70 characters) — the list of keywords took seven.
    reply = sms(client, "नमस्ते", sender="9811000461")
    assert reply == "नमस्ते सेवा कीवर्ड नहीं है। कीवर्ड की सूची के लिए HELP भेजें।"
    assert segment_count(reply) == 1
    # A word too long to quote within the part is left out.
    longer = sms(client, "नमस्कारजीआपकैसेहैं", sender="9811000461")
    assert longer == "यह सेवा कीवर्ड नहीं है। कीवर्ड की सूची के लिए HELP भेजें।"
    assert segment_count(longer) == 1
    # The language the citizen chose wins over the script of one message.
    sms(client, "LANG HI", sender="9811000462")
    hindi = sms(client, "hello", sender="9811000462")
    assert hindi == "hello सेवा कीवर्ड नहीं है। कीवर्ड की सूची के लिए HELP भेजें।"
    assert segment_count(hindi) == 1
    sms(client, "LANG EN", sender="9811000462")
    english = sms(client, "नमस्ते", sender="9811000462")
    # Quoting the Devanagari word would make the English reply UCS-2 and two parts.
    assert english == "Sorry, that is not a Seva keyword. Send HELP for the list of keywords."
    assert segment_count(english) == 1


def test_wrong_answers_repeat_the_question_then_end(client: TestClient, seeded: SeedReport) -> None:
    sms(client, "RATION")
    assert sms(client, "abc") == "Please enter digits only.\nEnter your ration card number"
    assert sms(client, "12") == "Please enter 10 to 12 digits.\nEnter your ration card number"
    assert sms(client, "x").startswith("Sorry, that answer could not be accepted")


def test_a_new_keyword_mid_conversation_starts_that_service(
    client: TestClient, seeded: SeedReport
) -> None:
    sms(client, "RATION")
    assert sms(client, "NEAR 110092").startswith("Nearest to 110092:\n1. Circle Office Shakarpur")


def test_cancel_ends_the_conversation(client: TestClient, seeded: SeedReport) -> None:
    sms(client, "KISAN")
    assert sms(client, "cancel").startswith("Cancelled.")
    assert sms(client, "cancel").startswith("Nothing to cancel.")


def test_hindi_by_keyword_and_devanagari_end_to_end(client: TestClient, seeded: SeedReport) -> None:
    assert sms(client, "HINDI").startswith("भाषा हिन्दी कर दी गई है")
    reply = sms(client, "RATION ९८७६५४३२१०")
    assert reply == (
        "राशन कार्ड 9876543210 (Mohd. Irfan): निलंबित (eKYC लंबित)। सदस्य: 3। दुकान: FPS 078, Okhla।"
    )


def test_conversation_times_out(client: TestClient, gateway: Gateway, seeded: SeedReport) -> None:
    phone = "+919811000009"
    with gateway.session() as session:
        gateway.sms.handle(session, phone=phone, text="RATION")
    later = utcnow() + timedelta(seconds=gateway.settings.session_ttl_seconds + 1)
    with gateway.session() as session:
        reply = gateway.sms.handle(session, phone=phone, text="1234567890", now=later)
        # The reply that would have answered is told what timed out and how to start again,
        # once; after that the number is just an unknown word.
        assert reply.text == "Your RATION request timed out. Send RATION to start again."
        again = gateway.sms.handle(session, phone=phone, text="1234567890", now=later)
    assert "not a Seva keyword" in again.text


def test_bad_requests_get_json_errors(client: TestClient, seeded: SeedReport) -> None:
    missing = client.get("/channels/sms/kannel", params={"text": "RATION"})
    assert missing.status_code == 400
    assert missing.json()["error"]["field"] == "from"
    invalid = client.get("/channels/sms/kannel", params={"from": "12", "text": "RATION"})
    assert invalid.status_code == 400
    assert invalid.json()["error"]["code"] == "invalid_phone"
    huge = client.get("/channels/sms/kannel", params={"from": "9811000001", "text": "A" * 5000})
    assert huge.status_code == 400


def test_hostile_text_is_answered_not_executed(client: TestClient, seeded: SeedReport) -> None:
    sms(client, "COMPLAINT")
    for text in ("1", "110092", "<script>alert(1)</script>'; DROP TABLE citizens;--"):
        reply = sms(client, text)
    assert reply.startswith("Describe the place")
    reply = sms(client, "{seva.base_url} \x00\x07 {phone.__class__}")
    assert "Register complaint" in reply
    assert sms(client, "STATUS TEST-0001", sender=DEMO_CITIZEN).startswith("Application TEST-0001")


def test_odd_input_is_logged_with_the_number_masked(client: TestClient, seeded: SeedReport) -> None:
    from structlog.testing import capture_logs

    from seva.logs import redact

    with capture_logs(processors=[redact]) as logs:
        sms(client, "RATION <b>1234567890</b>\x07", sender="+919811000321")
        sms(client, "RATION 1234567890", sender="+919811000321")
    noted = [entry for entry in logs if entry["event"] == "inbound_cleaned"]
    assert len(noted) == 1
    assert noted[0]["phone"] == "+91*******321" and noted[0]["channel"] == "sms"


def test_mixed_scripts_are_understood(client: TestClient, seeded: SeedReport) -> None:
    # Devanagari and Latin digits in one number, a Hindi keyword alias, a Hindi yes.
    assert sms(client, "RATION १२३४567890").startswith("Ration card 1234567890 (Sunita Devi)")
    sms(client, "SHIKAYAT", sender="9811000444")
    for text in ("2", "११००९२", "रवि Kumar", "गली 3, Vikas Marg"):
        reply = sms(client, text, sender="9811000444")
    assert reply.startswith("Register complaint 'Streetlight not working' at 110092?")
    assert sms(client, "हाँ", sender="9811000444").startswith("Complaint MCD-")


RATION_EN = "Ration card 1234567890 (Sunita Devi): Active. Members: 4. Shop: FPS 112, Shakarpur."
RATION_HI = "राशन कार्ड 1234567890 (Sunita Devi): सक्रिय। सदस्य: 4। दुकान: FPS 112, Shakarpur।"


def test_a_keyword_in_the_citizens_own_script(client: TestClient, seeded: SeedReport) -> None:
    # The ration service gives राशन: asked in Devanagari, it answers in Hindi.
    assert sms(client, "राशन 1234567890", sender="9811000471") == RATION_HI
    # It gives ரேஷன் in Tamil; ரேசன் is spelt otherwise and meets it by its consonants. Both
    # are answered in Tamil.
    for typed in ("ரேஷன்", "ரேசன்"):
        reply = sms(client, f"{typed} 1234567890", sender="9811000472")
        assert reply.startswith("ரேஷன் கார்டு 1234567890 (Sunita Devi)")
    # No Bengali word is given: राशन carried into Bengali script finds it, and so does the
    # word as Bengali spells it.
    for typed in ("রাশন", "রেশন"):
        reply = sms(client, f"{typed} 1234567890", sender="9811000473")
        assert reply.startswith("রেশন কার্ড 1234567890 (Sunita Devi)")
    # Urdu words are only those given: راشن, and the complaint's شکایت, here typed with an
    # Arabic keyboard's kaf and yeh.
    reply = sms(client, "راشن 1234567890", sender="9811000474")
    assert reply.startswith("راشن کارڈ 1234567890 (Sunita Devi)")
    assert sms(client, "شكايت", sender="9811000474").startswith("مسئلہ کیا ہے\n1.")
    # A citizen who chose a language is answered in it, whatever script the keyword is in.
    sms(client, "LANG EN", sender="9811000475")
    assert sms(client, "राशन 1234567890", sender="9811000475") == RATION_EN


def test_a_word_only_like_a_keyword_leaves_an_open_question_its_answer(
    client: TestClient, seeded: SeedReport
) -> None:
    phone = "9811000476"
    assert sms(client, "MANDI", sender=phone).startswith("Choose the crop")
    # ரேசன் is the ration service's only by its consonants: here it is an answer (a wrong one).
    assert sms(client, "ரேசன்", sender=phone).startswith("Please choose")
    # ரேஷன் is the service's own word: it starts the service, as RATION would.
    reply = sms(client, "ரேஷன்", sender=phone)
    assert reply.endswith("உங்கள் ரேஷன் கார்டு எண்ணை உள்ளிடவும்") and "MANDI" in reply


def test_help_keeps_to_the_latin_keywords(client: TestClient, seeded: SeedReport) -> None:
    phone = "9811000477"
    sms(client, "LANG HI", sender=phone)
    listing = sms(client, "मदद", sender=phone)
    assert "\nRATION - राशन कार्ड की स्थिति" in listing
    assert "\nराशन" not in listing
    # An unknown word in Tamil is still one SMS part.
    assert segment_count(sms(client, "வணக்கம்", sender="9811000478")) == 1


def test_stop_and_start_control_bulk_sms(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    from seva.messaging import service as queue
    from seva.messaging.service import Send

    phone = "+919811000001"

    def bulk_from_food() -> int:
        with gateway.session() as session:
            return queue.send(
                session,
                Send(to=[phone], text="Camp", kind="bulk", department_code="FOOD"),
            ).accepted

    assert sms(client, "STOP FOOD") == (
        "You will get no more bulk SMS from Food & Civil Supplies. OTPs and replies still "
        "arrive. Send START FOOD to undo."
    )
    assert bulk_from_food() == 0
    assert sms(client, "STOP NOSUCH").startswith("NOSUCH is not a department code.")
    assert sms(client, "start food").startswith("Bulk SMS from Food & Civil Supplies will reach")
    assert bulk_from_food() == 1
    assert sms(client, "STOP").startswith("You will get no more bulk SMS from any department.")
    assert bulk_from_food() == 0
    assert sms(client, "START").startswith("Bulk SMS from any department will reach you again.")
    assert bulk_from_food() == 1
