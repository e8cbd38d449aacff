"""The phone menu and its webhooks: keypad forms, language, repeats, silence, and the TwiML and
Exotel documents a provider receives."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from seva import i18n
from seva.channels.voice.ivr import (
    MORE_LANGUAGES_KEY,
    decode_keypad,
    encode_keypad,
    language_pages,
)
from seva.citizens import service as citizens
from seva.db.base import utcnow
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.i18n.languages import LANGUAGES, NAMES, speech_code
from seva.messaging import service as messaging
from seva.rtc import service as rtc
from seva.settings import Settings


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("UP123456789", "*82*71123456789"),
        ("TEST-0001", "*81*32*74*81*10001"),
        ("DL0420190012345", "*31*530420190012345"),
        ("ASHA VERMA", "*21*74*42*21*0*83*32*73*61*21"),
    ],
)
def test_keypad_letters_round_trip(text: str, keys: str) -> None:
    assert encode_keypad(text) == keys
    decoded = decode_keypad(keys)
    assert decoded is not None and decoded.upper() == text


def test_keypad_text_takes_its_case_from_the_words() -> None:
    assert decode_keypad(encode_keypad("up12")) == "UP12"
    assert decode_keypad(encode_keypad("asha verma")) == "Asha Verma"


@pytest.mark.parametrize("keys", ["*", "*9", "*95", "*2", "*7", "#1", "*15x", "*20"])
def test_keys_that_spell_nothing_are_refused(keys: str) -> None:
    assert decode_keypad(keys) is None


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", max_size=30))
def test_every_keyable_code_survives_the_keypad(text: str) -> None:
    assert decode_keypad(encode_keypad(text)) == text


def call(client: TestClient, sid: str, digits: str | None = None, phone: str = "+919811200001"):  # type: ignore[no-untyped-def]
    form = {"CallSid": sid, "From": phone}
    if digits is not None:
        form["Digits"] = digits
    response = client.post("/channels/voice/twiml", data=form)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return ET.fromstring(response.text)


def language_menu(document: ET.Element) -> list[tuple[str, str]]:
    """The language menu as (provider language, words) per ``<Say>``."""
    return [(say.get("language", ""), say.text or "") for say in document.iterfind("Gather/Say")]


def test_a_new_caller_hears_every_language_in_itself_numbered_as_on_ussd(
    client: TestClient, seeded: SeedReport
) -> None:
    offered = i18n.offered()
    assert offered[:2] == ("en", "hi") and {"en", "hi", "ur"} <= set(offered)
    first = call(client, "CA0")
    gather = first.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"
    # One <Say> a language, in that language, with its provider code, keyed in the table's
    # order: the numbers of the USSD language page for the first page, then 9 for the rest.
    first_page = language_pages(offered)[0]
    keys = [str(n) for n in range(1, len(first_page) + 1)]
    keys += [MORE_LANGUAGES_KEY] * (len(offered) - len(first_page))
    assert language_menu(first) == [
        (speech_code(code), i18n.text("ivr_choose_language", code, key=key))
        for key, code in zip(keys, offered, strict=True)
    ]
    said = dict(language_menu(first))
    assert said["en-IN"] == "For English, press 1."
    assert said["hi-IN"] == "हिन्दी के लिए 2 दबाएँ।"
    assert said["ur-IN"] == f"اردو کے لیے {offered.index('ur') + 1} دبائیں۔"
    # The USSD language page gives each language the same number.
    for text in ("", "0"):
        ussd = client.post(
            "/channels/ussd/africastalking",
            data={"sessionId": "u0", "serviceCode": "*166#", "phoneNumber": "+919811200002",
                  "text": text},
        )  # fmt: skip
    numbered = re.findall(r"^(\d+)\. (.+)$", ussd.text, re.MULTILINE)
    languages = [(int(n), name) for n, name in numbered if n != "98"]
    assert len(languages) >= 3
    assert all(NAMES[offered[n - 1]] == name for n, name in languages), ussd.text
    # A key not on the menu asks again.
    assert language_menu(call(client, "CA0", "#")) == language_menu(first)


def test_a_new_caller_picks_hindi_and_every_channel_then_uses_it(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    first = call(client, "CA1")
    gather = first.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"
    assert gather.get("action") == "/channels/voice/twiml"
    assert first.findtext("Redirect") == "/channels/voice/twiml"  # silence comes back here

    menu = call(client, "CA1", "2")  # Hindi: 2
    say = menu.find("Gather/Say")
    assert say is not None and say.get("language") == "hi-IN"
    assert "सेवा में आपका स्वागत है" in (say.text or "")
    assert "के लिए 1 दबाएँ" in (say.text or "")
    with gateway.session() as session:
        person = citizens.find(session, "+919811200001")
        assert person is not None and person.language == "hi"
    sms = client.get("/channels/sms/kannel", params={"from": "9811200001", "text": "HELP"})
    assert "कीवर्ड भेजें" in sms.text

    # A caller known to the registry is not asked again.
    again = call(client, "CA2")
    assert "सेवा में आपका स्वागत है" in (again.findtext("Gather/Say") or "")


def test_a_caller_picks_urdu_by_its_key_and_hears_the_menus_in_urdu(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    phone = "+919811200003"
    menu = {text: lang for lang, text in language_menu(call(client, "CU1", phone=phone))}
    urdu_key = str(i18n.offered().index("ur") + 1)
    assert menu[f"اردو کے لیے {urdu_key} دبائیں۔"] == "ur-IN"

    root = call(client, "CU1", urdu_key, phone=phone)
    [(lang, said)] = language_menu(root)
    assert lang == "ur-IN"
    assert said.startswith(i18n.text("ivr_welcome", "ur"))
    assert i18n.text("ivr_repeat", "ur") in said
    with gateway.session() as session:
        person = citizens.find(session, phone)
        assert person is not None and person.language == "ur"
    # Food & Civil Supplies (2): its services, in Urdu.
    food = call(client, "CU1", "2", phone=phone)
    [(lang, said)] = language_menu(food)
    assert lang == "ur-IN" and said.endswith(i18n.text("ivr_back", "ur"))
    assert re.search(r"کے لیے 1 دبائیں", said), said
    # The next call skips the language menu.
    again = language_menu(call(client, "CU2", phone=phone))
    assert [lang for lang, _ in again] == ["ur-IN"]


def test_a_departments_recording_of_an_urdu_sentence_plays_to_urdu_callers(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    import math
    from array import array

    from seva.voice.tts import wav_bytes

    urdu = str(i18n.offered().index("ur") + 1)
    tone = array("h", (int(6000 * math.sin(2 * math.pi * 440 * n / 8000)) for n in range(8000)))

    def to_the_question(sid: str, phone: str, language_key: str) -> ET.Element:
        call(client, sid, phone=phone)
        call(client, sid, language_key, phone=phone)
        call(client, sid, "2", phone=phone)  # Food & Civil Supplies
        return call(client, sid, "1", phone=phone)  # ration card status

    spoken = to_the_question("CR1", "+919811200006", urdu)
    assert [say.get("language") for say in spoken.iterfind("Gather/Say")] == ["ur-IN"]
    with gateway.session() as session:
        asked = gateway.voice.current(session, call_id="twiml:CR1", phone="+919811200006")
    question = asked.sentences[0]
    food = {"Authorization": f"Bearer {seeded.api_keys['FOOD']}"}
    put = client.put(
        "/api/v1/voice/prompts",
        data={"text": question, "lang": "ur"},
        files={"file": ("q.wav", wav_bytes(tone), "audio/wav")},
        headers=food,
    )
    assert put.status_code == 204, put.text
    again = call(client, "CR1", "*", phone="+919811200006")
    play = again.findtext("Gather/Play")
    assert play is not None and again.find("Gather/Say") is None
    audio = client.get(play.removeprefix(gateway.settings.base_url))
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    # The recording is of the Urdu sentence: a Hindi caller still hears the provider's voice.
    hindi = to_the_question("CR2", "+919811200007", "2")
    assert [say.get("language") for say in hindi.iterfind("Gather/Say")] == ["hi-IN"]


def test_with_more_than_nine_languages_the_menu_has_pages_of_single_keys(
    gateway: Gateway, seeded: SeedReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = tuple(language.code for language in LANGUAGES)
    monkeypatch.setattr(i18n, "offered", lambda: every)
    phone = "+919811200004"

    def keyed(prompt_keys: str | None) -> tuple[list[str], list[str]]:
        with gateway.session() as session:
            prompt = gateway.voice.handle(session, call_id="p13", phone=phone, keys=prompt_keys)
        assert prompt.num_digits == 1 and not prompt.end
        keys = [re.findall(r"\d", sentence)[-1] for sentence in prompt.sentences]
        return list(prompt.sentence_langs), keys

    # The first page: the eight most spoken on 1–8, then each other language, in itself,
    # with 9.
    langs, keys = keyed(None)
    assert langs == list(every)
    assert keys == [str(n) for n in range(1, 9)] + ["9"] * 5
    # 9: the rest, keyed from 1; 0 goes back to the first page.
    second = keyed("9")
    assert second == (["kn", "or", "ml", "pa", "as"], ["1", "2", "3", "4", "5"])
    assert keyed("0") == (langs, keys)
    assert keyed("9") == second
    with gateway.session() as session:
        gateway.voice.handle(session, call_id="p13", phone=phone, keys="3")  # Malayalam
        person = citizens.find(session, phone)
        assert person is not None and person.language == "ml"


def test_nine_languages_are_one_page_of_nine_keys(
    gateway: Gateway, seeded: SeedReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    nine = tuple(language.code for language in LANGUAGES[:9])
    monkeypatch.setattr(i18n, "offered", lambda: nine)
    with gateway.session() as session:
        prompt = gateway.voice.handle(session, call_id="p9", phone="+919811200005", keys=None)
        assert prompt.sentence_langs == nine
        assert [re.findall(r"\d", s)[-1] for s in prompt.sentences] == [
            str(n) for n in range(1, 10)
        ]
        gateway.voice.handle(session, call_id="p9", phone="+919811200005", keys="9")
        person = citizens.find(session, "+919811200005")
        assert person is not None and person.language == nine[8]


def test_star_repeats_silence_is_asked_again_then_the_call_ends(
    client: TestClient, seeded: SeedReport
) -> None:
    call(client, "CA3")
    menu = call(client, "CA3", "1")  # English
    text = menu.findtext("Gather/Say")
    assert text is not None and text.startswith("Welcome to Seva.")
    assert call(client, "CA3", "*").findtext("Gather/Say") == text
    wrong = call(client, "CA3", "9").findtext("Gather/Say") or ""
    assert wrong.startswith("That key is not on the menu.")
    assert call(client, "CA3").find("Gather") is not None  # silence 1: asked again
    assert call(client, "CA3").find("Gather") is not None  # silence 2
    goodbye = call(client, "CA3")
    assert goodbye.find("Hangup") is not None
    assert "Please call again" in (goodbye.findtext("Say") or "")


def test_a_question_tells_the_keypad_form_and_refuses_bad_letters(
    client: TestClient, seeded: SeedReport
) -> None:
    call(client, "CA4")
    call(client, "CA4", "1")  # English
    call(client, "CA4", "1")  # Transport
    question = call(client, "CA4", "1")  # driving licence status: a text question
    said = question.findtext("Gather/Say") or ""
    assert "Enter your driving licence number" in said
    assert "For a letter, press star" in said
    gather = question.find("Gather")
    assert gather is not None and gather.get("numDigits") is None
    assert gather.get("finishOnKey") == "#"
    refused = call(client, "CA4", "*99").findtext("Gather/Say") or ""
    assert refused.startswith("Those keys do not spell a letter.")
    answer = call(client, "CA4", encode_keypad("DL0420190012345"))
    assert answer.find("Hangup") is not None
    assert (answer.findtext("Say") or "").startswith("Licence DL0420190012345 (Arjun Mehta)")


def test_the_provider_saying_the_call_ended_closes_it(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    call(client, "CA5")
    ended = client.post("/channels/voice/twiml", data={"CallSid": "CA5", "CallStatus": "completed"})
    assert ended.status_code == 200 and ET.fromstring(ended.text).tag == "Response"
    # A new request with that id starts afresh (the language question again).
    assert language_menu(call(client, "CA5"))[0] == ("en-IN", "For English, press 1.")


@pytest.mark.parametrize(
    "form",
    [
        {"From": "+919811200001"},  # no CallSid
        {"CallSid": "CA6", "Digits": "12ab"},
        {"CallSid": "CA6", "Digits": "1" * 300},
    ],
)
def test_bad_webhook_input_is_refused_clearly(client: TestClient, form: dict[str, str]) -> None:
    response = client.post("/channels/voice/twiml", data=form)
    assert response.status_code in (400, 422)
    assert "error" in response.json() or "detail" in response.json()


def test_exotel_gather_parameters_follow_the_prompt(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    params = {"CallSid": "ex1", "CallFrom": "09811200009"}
    first = client.get("/channels/voice/exotel", params=params).json()
    # The language menu speaks several languages, which Exotel's text-to-speech cannot: it
    # plays Seva's audio of it, each language in its own voice.
    audio = first["gather_prompt"]["audio_url"]
    assert set(first["gather_prompt"]) == {"audio_url"}
    assert audio.startswith(gateway.settings.base_url + "/channels/voice/audio/")
    fetched = client.get(audio.removeprefix(gateway.settings.base_url))
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "audio/wav"
    assert first["max_input_digits"] == 1 and first["finish_on_key"] == "#"
    # Asking again without keys does not move the call on.
    assert client.get("/channels/voice/exotel", params=params).json() == first
    passed = client.get("/channels/voice/exotel", params={**params, "digits": '"1"'})
    assert passed.status_code == 200
    menu = client.get("/channels/voice/exotel", params=params).json()
    assert menu["gather_prompt"]["text"].startswith("Welcome to Seva.")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"missed_calls": "9223166100=STATUS {latest}, 9223166101=RATION"}
    )


def test_missed_calls_are_rejected_and_answered_by_sms(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    from seva.messaging import service as messaging

    rejected = client.post(
        "/channels/voice/twiml",
        data={"CallSid": "CA-m1", "From": "+919900000001", "To": "+919223166100"},
    )
    assert ET.fromstring(rejected.text).find("Reject") is not None
    with gateway.session() as session:
        latest = messaging.inbox(session, "+919900000001")[-1].text
    assert latest.startswith("Application TEST-0001 (Food & Civil Supplies): Approved")

    # A keyword with a question starts the SMS conversation; the reply carries it on.
    passthru = client.get(
        "/channels/voice/exotel",
        params={"CallSid": "ex-m2", "CallFrom": "09811200077", "CallTo": "09223166101"},
        follow_redirects=False,
    )
    assert passthru.status_code == 302
    with gateway.session() as session:
        asked = messaging.inbox(session, "+919811200077")[-1].text
    assert "ration card number" in asked
    reply = client.get("/channels/sms/kannel", params={"from": "9811200077", "text": "1234567890"})
    assert reply.text.startswith("Ration card 1234567890")

    # Someone with no application hears so.
    client.post(
        "/channels/voice/twiml",
        data={"CallSid": "CA-m3", "From": "+919811200078", "To": "9223166100"},
    )
    with gateway.session() as session:
        none = messaging.inbox(session, "+919811200078")[-1].text
    assert "no applications" in none


def test_missed_call_numbers_must_be_well_formed() -> None:
    from seva.channels.voice.missed import parse_numbers

    assert parse_numbers("9223166100=STATUS {latest}, +91 92231 66101 = RATION") == {
        "9223166100": "STATUS {latest}",
        "9223166101": "RATION",
    }
    for bad in ("9223166100", "=RATION", "92=", "12=RATION"):
        with pytest.raises(ValueError):
            parse_numbers(bad)


def test_missed_calls_answer_only_domestic_mobiles_once_in_a_while(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    from seva.messaging import service as messaging

    def ring(sid: str, caller: str) -> None:
        client.post(
            "/channels/voice/twiml", data={"CallSid": sid, "From": caller, "To": "9223166100"}
        )

    ring("CA-f1", "+447400123456")  # a foreign (forgeable) number: nothing is sent
    ring("CA-f2", "+919811200088")
    ring("CA-f3", "+919811200088")  # again within the cooldown: one SMS, not two
    with gateway.session() as session:
        assert messaging.inbox(session, "+447400123456") == []
        assert len(messaging.inbox(session, "+919811200088")) == 1


def test_wrong_keys_do_not_pile_up_and_a_lone_hash_is_not_silence(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    call(client, "CA7")
    call(client, "CA7", "1")  # English
    call(client, "CA7", "1")  # Transport
    call(client, "CA7", "1")  # licence status: a text question
    first = call(client, "CA7", "*99").findtext("Gather/Say") or ""
    second = call(client, "CA7", "*99").findtext("Gather/Say") or ""
    assert first == second and first.count("Those keys do not spell a letter.") == 1
    # Over SIP a lone # is a wrong key, not silence: three of them do not end the call.
    # (Providers send no Digits for it, the same as for silence.)
    with gateway.session() as session:
        gateway.voice.handle(session, call_id="sip-h", phone="+919811200001", keys=None)
        gateway.voice.handle(session, call_id="sip-h", phone="+919811200001", keys="2")
        for _ in range(3):
            again = gateway.voice.handle(session, call_id="sip-h", phone="+919811200001", keys="")
            assert not again.end and again.text.startswith("That key is not on the menu.")


def _key_for(said: str, wording: str) -> str:
    found = re.search(re.escape(wording) + r", press (\d)\.", said)
    assert found is not None, said
    return found.group(1)


def test_a_caller_books_a_call_with_an_official_on_the_keypad_and_gets_the_link_by_sms(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    phone = "+919811200051"
    call(client, "CB1", phone=phone)
    call(client, "CB1", "1", phone=phone)  # English
    food = call(client, "CB1", "2", phone=phone).findtext("Gather/Say") or ""
    assert food.startswith("Food & Civil Supplies. For Ration card status, press 1.")
    times = call(client, "CB1", _key_for(food, "To book a call with an official"), phone=phone)
    said = times.findtext("Gather/Say") or ""
    assert said.startswith("Call with FOOD (IST): For ")
    first = re.search(r"For (\d\d-\d\d \d\d:\d\d), press 1\.", said)
    assert first is not None, said
    gather = times.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"

    booked = call(client, "CB1", "1", phone=phone)
    assert booked.find("Hangup") is not None
    assert booked.findtext("Say") == (
        f"Call booked for {first.group(1)} IST. The join link is coming by SMS."
    )
    with gateway.session() as session:
        person = citizens.find(session, phone)
        assert person is not None
        [appointment] = rtc.upcoming(session, person, now=utcnow())
        assert appointment.channel == "voice"
        assert rtc.ist_label(appointment.starts_at) == first.group(1)
        sms = messaging.inbox(session, phone)[-1].text
    assert sms.startswith(f"Your call with Food & Civil Supplies is booked for {first.group(1)}")
    assert rtc.join_link(gateway.settings.base_url, appointment.room) in sms

    # The next call offers to move or cancel it; the caller cancels it.
    call(client, "CB2", phone=phone)
    food = call(client, "CB2", "2", phone=phone).findtext("Gather/Say") or ""
    mine = call(client, "CB2", _key_for(food, "To move or cancel your booked call"), phone=phone)
    assert f"For {first.group(1)}, press 1." in (mine.findtext("Gather/Say") or "")
    actions = call(client, "CB2", "1", phone=phone).findtext("Gather/Say") or ""
    assert "For Cancel, press 1. For Move to another time, press 2." in actions
    cancelled = call(client, "CB2", "1", phone=phone)
    assert cancelled.findtext("Say") == f"Your call on {first.group(1)} IST is cancelled."
    with gateway.session() as session:
        person = citizens.find(session, phone)
        assert person is not None and rtc.upcoming(session, person, now=utcnow()) == []


def test_a_caller_without_a_number_is_not_offered_a_call(
    client: TestClient, seeded: SeedReport
) -> None:
    response = client.post("/channels/voice/twiml", data={"CallSid": "CB3", "From": "anonymous"})
    assert response.status_code == 200
    client.post(
        "/channels/voice/twiml", data={"CallSid": "CB3", "From": "anonymous", "Digits": "1"}
    )  # English
    food = client.post(
        "/channels/voice/twiml", data={"CallSid": "CB3", "From": "anonymous", "Digits": "2"}
    )
    said = ET.fromstring(food.text).findtext("Gather/Say") or ""
    assert "For Ration card status, press 1." in said and "book a call" not in said
