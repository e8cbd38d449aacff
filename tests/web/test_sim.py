"""The phone simulator: SMS and USSD through the operators' code paths, the inbox, and calls
(keyed, or answered in the caller's own voice)."""

from __future__ import annotations

import html
import io
import math
import re
import time
import wave
from array import array
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from seva.app import create_app
from seva.applications import service as applications
from seva.channels.voice.ivr import encode_keypad
from seva.citizens import service as citizens
from seva.db.base import utcnow
from seva.demo.seed import DEMO_CITIZEN, SeedReport
from seva.gateway import Gateway, build_gateway
from seva.messaging import service as messaging
from seva.messaging.service import Receipt, Submitted
from seva.settings import Settings
from seva.voice import recordings
from seva.voice.models import VoiceRecording
from tests.web.pages import csrf_of

pytestmark = pytest.mark.demo_routes

RATION_ANSWER = (
    "Ration card 1234567890 (Sunita Devi): Active. Members: 4. Shop: FPS 112, Shakarpur."
)


def thread(page: str) -> list[str]:
    found = re.findall(
        r'<li class="bubble (?:in|out)">.*?<span class="text">(.*?)</span>', page, re.S
    )
    return [html.unescape(text) for text in found]


def ussd_screen(page: str) -> str:
    match = re.search(r'id="ussd-screen"[^>]*>(.*?)</div>', page, re.S)
    assert match
    return html.unescape(match.group(1))


def test_sms_round_trip_without_javascript(client: TestClient, seeded: SeedReport) -> None:
    page = client.get("/sim")
    assert page.status_code == 200
    assert f'value="{DEMO_CITIZEN}"' in page.text
    csrf = csrf_of(client, "/sim")
    sent = client.post(
        "/sim/sms", data={"csrf": csrf, "text": "RATION 1234567890"}, follow_redirects=False
    )
    assert sent.status_code == 303
    assert thread(client.get(sent.headers["location"]).text) == ["RATION 1234567890", RATION_ANSWER]


def test_sms_with_javascript_gets_json_and_conversations_continue(
    client: TestClient, seeded: SeedReport
) -> None:
    csrf = csrf_of(client, "/sim")
    headers = {"Accept": "application/json"}
    first = client.post("/sim/sms", data={"csrf": csrf, "text": "MANDI"}, headers=headers).json()
    assert first["sent"]["text"] == "MANDI" and first["sent"]["dir"] == "out"
    assert first["reply"]["text"].startswith("Choose the crop\n1. Wheat")
    second = client.post("/sim/sms", data={"csrf": csrf, "text": "1"}, headers=headers).json()
    assert second["reply"]["text"].startswith("Wheat at Azadpur (Delhi)")


def test_ussd_menus_to_an_answer(client: TestClient, seeded: SeedReport) -> None:
    csrf = csrf_of(client, "/sim")
    client.post("/sim/dial", data={"csrf": csrf, "code": "*166#"})
    page = client.get("/sim").text
    assert ussd_screen(page).startswith("Seva *166#\n1. Transport Department\n2. Food")
    client.post("/sim/ussd", data={"csrf": csrf, "value": "2"})
    client.post("/sim/ussd", data={"csrf": csrf, "value": "1"})
    assert ussd_screen(client.get("/sim").text) == "Enter your ration card number"
    last = client.post(
        "/sim/ussd",
        data={"csrf": csrf, "value": "1234567890"},
        headers={"Accept": "application/json"},
    )
    assert last.json() == {"screen": RATION_ANSWER, "end": True}
    page = client.get("/sim").text
    assert 'class="ussd-screen ended"' in page
    assert 'id="ussd-form" hidden' in page  # nothing to answer on a closed session
    closed = client.post(
        "/sim/ussd", data={"csrf": csrf, "value": "1"}, headers={"Accept": "application/json"}
    )
    assert closed.json() == {"screen": "Session ended.", "end": True}


def test_dialling_a_shortcut_and_a_wrong_code(client: TestClient, seeded: SeedReport) -> None:
    csrf = csrf_of(client, "/sim")
    json = {"Accept": "application/json"}
    shortcut = client.post("/sim/dial", data={"csrf": csrf, "code": "*166*2*1#"}, headers=json)
    assert shortcut.json() == {"screen": "Enter your ration card number", "end": False}
    wrong = client.post("/sim/dial", data={"csrf": csrf, "code": "*99#"}, headers=json)
    assert wrong.json() == {"screen": "Connection problem or invalid MMI code.", "end": True}


def test_inbox_shows_what_seva_queued_to_the_number(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    page = client.get("/sim").text
    assert "Application TEST-0001: Approved. Card ready for collection at FPS 112" in page
    last_id = int(re.search(r'data-last-id="(\d+)"', page).group(1))  # type: ignore[union-attr]
    polled = client.get(f"/sim/inbox?after={last_id}", headers={"Accept": "application/json"})
    assert polled.json()["phone"] == DEMO_CITIZEN and polled.json()["messages"] == []
    # The citizen asks the portal for a login code: it arrives in the simulator's inbox.
    csrf = csrf_of(client, "/citizen/login")
    client.post("/citizen/login", data={"csrf": csrf, "phone": DEMO_CITIZEN})
    polled = client.get(f"/sim/inbox?after={last_id}", headers={"Accept": "application/json"})
    (message,) = polled.json()["messages"]
    assert message["kind"] == "otp" and message["text"].startswith("Seva OTP ")
    assert re.search(r"Seva OTP \d{6}\.", client.get("/sim").text)


INDIA = timedelta(hours=5, minutes=30)


def delivery_of(page: str, message_id: int) -> str:
    """The delivery status line the inbox shows under one message."""
    found = re.search(
        rf'<li class="bubble in" data-id="{message_id}">.*?<span class="delivery[^"]*"'
        r' data-status="\w+">(.*?)</span>',
        page,
        re.S,
    )
    assert found, page
    return html.unescape(found.group(1))


def test_times_are_india_time_and_the_inbox_follows_delivery_receipts(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    json = {"Accept": "application/json"}
    csrf = csrf_of(client, "/sim")
    before = utcnow()
    sent = client.post("/sim/sms", data={"csrf": csrf, "text": "HELP"}, headers=json).json()
    after = utcnow()
    assert sent["sent"]["at"] in {f"{t + INDIA:%H:%M} IST" for t in (before, after)}
    assert re.search(r"· \d\d:\d\d IST</span>", client.get("/sim").text)

    # A login code is queued to this phone: the inbox shows it with its time and its status.
    with gateway.session() as session:
        message_id = messaging.queue_sms(
            session, to_phone=DEMO_CITIZEN, text="Seva OTP 123456.", kind="otp"
        )
        queued_at = messaging.message(session, message_id).created_at  # type: ignore[union-attr]
    polled = client.get("/sim/inbox?after=0", headers=json).json()
    (shown,) = [m for m in polled["messages"] if m["id"] == message_id]
    assert shown["at"] == f"{queued_at + INDIA:%H:%M} IST"
    assert (shown["status"], shown["status_text"]) == ("queued", "Waiting to be sent")
    page = client.get("/sim").text
    assert f"{queued_at + INDIA:%H:%M} IST · code" in page
    assert delivery_of(page, message_id) == "Waiting to be sent"

    # The operator takes it, then its delivery receipt arrives: the page's next poll (which
    # asks only for newer messages) still carries the new status of the one it shows.
    now = time.time()
    with gateway.session() as session:
        messaging.claim(session, limit=100, now=now)
        messaging.record_submitted(session, [Submitted(message_id, "sim", ["s1"])], now=now)
    statuses = client.get(f"/sim/inbox?after={message_id}", headers=json).json()["statuses"]
    assert {"id": message_id, "status": "submitted", "status_text": "Sent"} in statuses
    with gateway.session() as session:
        assert messaging.apply_receipts(session, [Receipt("sim", "s1", "DELIVRD")], now=now) == []
    polled = client.get(f"/sim/inbox?after={message_id}", headers=json).json()
    assert polled["messages"] == []
    assert {"id": message_id, "status": "delivered", "status_text": "Delivered"} in polled[
        "statuses"
    ]
    assert delivery_of(client.get("/sim").text, message_id) == "Delivered"
    assert delivery_of(client.get("/sim?lang=hi").text, message_id) == "पहुँच गया"


def test_changing_the_number_starts_a_new_thread(client: TestClient, seeded: SeedReport) -> None:
    csrf = csrf_of(client, "/sim")
    client.post("/sim/sms", data={"csrf": csrf, "text": "HELP"})
    client.post("/sim/number", data={"csrf": csrf, "phone": "98110 00401"})
    page = client.get("/sim").text
    assert 'value="+919811000401"' in page and thread(page) == []
    assert "Application TEST-0001" not in page  # another phone's inbox
    bad = client.post("/sim/number", data={"csrf": csrf, "phone": "not a number"})
    assert bad.status_code == 400


def test_thread_is_bounded_and_escaped(client: TestClient, seeded: SeedReport) -> None:
    csrf = csrf_of(client, "/sim")
    client.post("/sim/sms", data={"csrf": csrf, "text": "<b>bold</b> <script>x()</script>"})
    page = client.get("/sim").text
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt; &lt;script&gt;" in page
    for i in range(20):
        client.post("/sim/sms", data={"csrf": csrf, "text": f"HELLO{i}"})
    messages = thread(client.get("/sim").text)
    assert len(messages) == 30
    assert messages[-2] == "HELLO19" and "HELLO4" not in messages


def test_posts_need_the_form_token(client: TestClient, seeded: SeedReport) -> None:
    client.get("/sim")
    refused = client.post(
        "/sim/sms", data={"text": "RATION 1234567890"}, headers={"Accept": "application/json"}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "csrf"
    assert thread(client.get("/sim").text) == []


@pytest.fixture
def production_client(settings: Settings, sqlite_url: str) -> Iterator[TestClient]:
    production = settings.model_copy(update={"env": "production", "demo_routes": False})
    gateway = build_gateway(production, database_url=sqlite_url)
    with TestClient(create_app(production, gateway=gateway)) as test_client:
        yield test_client
    gateway.close()


def test_off_in_production(production_client: TestClient) -> None:
    """Anyone could read any number's login codes: the simulator is a demo tool only."""
    assert production_client.get("/sim").status_code == 404
    assert (
        production_client.get("/sim/inbox", headers={"Accept": "application/json"}).status_code
        == 404
    )
    assert production_client.post("/sim/sms", data={"text": "HELP"}).status_code == 404


def test_a_call_from_the_simulator_walks_the_phone_menu_with_audio(
    client: TestClient, seeded: SeedReport
) -> None:
    import shutil

    csrf = csrf_of(client, "/sim")
    client.post("/sim/number", data={"csrf": csrf, "phone": "9811500001"})  # a new caller
    json = {"Accept": "application/json"}
    first = client.post("/sim/call", data={"csrf": csrf, "start": "1"}, headers=json).json()
    assert first["text"].startswith("For English, press 1. हिन्दी के लिए 2 दबाएँ।")
    assert first["num_digits"] == 1
    steps = [("1", "Welcome to Seva."), ("2", "Food & Civil Supplies."),
             ("1", "Enter your ration card number.")]  # fmt: skip
    for keys, heard in steps:
        prompt = client.post("/sim/call", data={"csrf": csrf, "keys": keys}, headers=json).json()
        assert prompt["text"].startswith(heard), prompt
    answer = client.post("/sim/call", data={"csrf": csrf, "keys": "1234567890#"}, headers=json)
    final = answer.json()
    assert final["end"] is True and final["text"].startswith("Ration card 1234567890")
    if shutil.which("espeak-ng"):
        audio = client.get(final["audio"])
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
        assert audio.content.startswith(b"RIFF")
    assert client.get("/sim/call/audio/not-a-key.wav").status_code == 404
    # Without JavaScript the page shows the prompt.
    page = client.get("/sim").text
    assert "Ration card 1234567890" in page
    # Calling again starts over.
    again = client.post("/sim/call", data={"csrf": csrf, "start": "1"}, headers=json).json()
    assert again["text"].startswith("Welcome to Seva.")  # the language is remembered


# -- a message question answered in the caller's own voice ----------------------------------

JSON = {"Accept": "application/json"}
# English (1), MCD (3), civic complaint (2), garbage (1), the PIN code, a name in keypad
# letters; then the place is described in the caller's words.
TO_THE_DESCRIPTION = ["1", "3", "2", "1", "110092#", encode_keypad("RAVI") + "#"]
CONFIRM = "Register complaint 'Garbage not collected' at 110092?"


def tone_wav(seconds: float, rate: int, *, channels: int = 1, hz: float = 440.0) -> bytes:
    """A sine tone as a 16-bit WAV: what a microphone would send, with a known length."""
    samples = array(
        "h",
        (
            int(12000 * math.sin(2 * math.pi * hz * n / rate))
            for n in range(int(seconds * rate))
            for _ in range(channels)
        ),
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def upload(client: TestClient, csrf: str, data: bytes, name: str = "answer.wav") -> Any:
    return client.post(
        "/sim/call/recording",
        data={"csrf": csrf},
        files={"file": (name, data, "audio/wav")},
        headers=JSON,
    )


def call_to_the_description(client: TestClient, csrf: str, phone: str) -> dict[str, Any]:
    """A new caller's call, keyed up to the complaint's message question."""
    client.post("/sim/number", data={"csrf": csrf, "phone": phone})
    prompt: dict[str, Any] = client.post(
        "/sim/call", data={"csrf": csrf, "start": "1"}, headers=JSON
    ).json()
    for keys in TO_THE_DESCRIPTION:
        assert prompt["record_seconds"] is None, prompt  # menus and typed answers are keyed
        prompt = client.post("/sim/call", data={"csrf": csrf, "keys": keys}, headers=JSON).json()
    assert prompt["text"].startswith("Describe the place (landmark, street)."), prompt
    return prompt


def recordings_kept(gateway: Gateway) -> list[VoiceRecording]:
    with gateway.session() as session:
        return list(session.scalars(select(VoiceRecording).order_by(VoiceRecording.id)))


def test_a_complaint_described_in_the_callers_own_voice(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    csrf = csrf_of(client, "/sim")
    asked = call_to_the_description(client, csrf, "9811500003")
    assert asked["record_seconds"] == 60 and asked["num_digits"] is None and not asked["end"]
    # Without JavaScript the page says a recording is asked for (the script offers to start it).
    page = client.get("/sim").text
    assert 'data-record-seconds="60"' in page and "speak after the beep" in page

    # 1.5 s at 16 kHz, as a browser might send it: kept as 8 kHz telephone audio.
    heard = upload(client, csrf, tone_wav(1.5, 16000))
    assert heard.status_code == 200, heard.text
    confirm = heard.json()
    assert confirm["text"].startswith(CONFIRM), confirm
    assert confirm["record_seconds"] is None and confirm["num_digits"] == 1
    assert confirm["audio"].startswith("/sim/call/audio/")
    final = client.post("/sim/call", data={"csrf": csrf, "keys": "1"}, headers=JSON).json()
    registered = r"Complaint MCD-[0-9A-HJKMNP-TV-Z]{8} registered"
    assert final["end"] is True and re.match(registered, final["text"])

    with gateway.session() as session:
        citizen = citizens.find(session, "+919811500003")
        assert citizen is not None
        [complaint] = applications.of_citizen(session, citizen)
        details = str(complaint.data["details"])
    assert details.startswith("voice:")
    [kept] = recordings_kept(gateway)
    assert details == f"voice:{kept.token}"
    assert kept.channel == "sim" and kept.seconds == pytest.approx(1.5, abs=0.01)
    assert kept.storage_key is not None and kept.source_url is None
    audio = gateway.locker.storage.get(kept.storage_key)
    assert kept.size == len(audio)
    with wave.open(io.BytesIO(audio)) as file:
        assert (file.getframerate(), file.getnchannels(), file.getsampwidth()) == (8000, 1, 2)
        assert file.getnframes() / 8000 == pytest.approx(1.5, abs=0.01)
        samples = array("h", file.readframes(file.getnframes()))
    assert max(samples) > 8000  # the tone itself (440 Hz is well inside the telephone band)


def test_a_recording_nobody_asked_for_is_refused(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    csrf = csrf_of(client, "/sim")
    before_any_call = upload(client, csrf, tone_wav(1.0, 8000))
    assert before_any_call.status_code == 409
    assert before_any_call.json()["error"] == {
        "code": "not_recording",
        "message": "This call is not waiting for a recording.",
        "field": None,
    }
    call_to_the_description(client, csrf, "9811500004")
    # The caller keys the description as letters instead: the question is answered.
    keyed = client.post(
        "/sim/call", data={"csrf": csrf, "keys": encode_keypad("NEAR PARK") + "#"}, headers=JSON
    ).json()
    assert keyed["text"].startswith(CONFIRM) and keyed["record_seconds"] is None
    late = upload(client, csrf, tone_wav(1.0, 8000))
    assert late.status_code == 409 and late.json()["error"]["code"] == "not_recording"
    assert recordings_kept(gateway) == []
    # Nothing moved on: the confirmation is still what the caller is asked.
    final = client.post("/sim/call", data={"csrf": csrf, "keys": "1"}, headers=JSON).json()
    assert final["end"] is True and final["text"].startswith("Complaint MCD-")
    with gateway.session() as session:
        citizen = citizens.find(session, "+919811500004")
        assert citizen is not None
        [complaint] = applications.of_citizen(session, citizen)
        assert complaint.data["details"] == "Near Park"  # keypad letters, as decoded


def test_a_recording_must_be_telephone_audio_sent_with_the_form_token(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    csrf = csrf_of(client, "/sim")
    call_to_the_description(client, csrf, "9811500005")

    refused = client.post(
        "/sim/call/recording",
        files={"file": ("answer.wav", tone_wav(1.0, 8000), "audio/wav")},
        headers=JSON,
    )
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "csrf"

    bad_wav = "The recording must be a 16-bit mono WAV file at 8 to 48 kHz."
    for data in (
        b"this is not audio at all",
        b"ID3\x04\x00" + bytes(2000),  # an MP3's header
        tone_wav(1.0, 8000)[:30],  # cut inside its header
        tone_wav(1.0, 16000, channels=2),
        tone_wav(1.0, 96000),
        tone_wav(1.0, 4000),
    ):
        wrong = upload(client, csrf, data)
        assert wrong.status_code == 422, data[:16]
        assert wrong.json()["error"] == {
            "code": "bad_recording",
            "message": bad_wav,
            "field": "file",
        }
    short = upload(client, csrf, tone_wav(0.2, 8000))
    assert short.status_code == 422 and short.json()["error"]["code"] == "too_short"
    missing = client.post("/sim/call/recording", data={"csrf": csrf}, headers=JSON)
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "missing_recording"
    too_large = upload(client, csrf, bytes(recordings.MAX_BYTES + 1))
    assert too_large.status_code == 413
    assert too_large.json()["error"]["message"] == "The recording is larger than 5 MiB."
    far_too_large = upload(client, csrf, bytes(recordings.MAX_BYTES + 100 * 1024))
    assert far_too_large.status_code == 413  # refused before the body is read
    assert recordings_kept(gateway) == []

    # Still asked: a minute's answer (the question's limit) is kept, a longer one cut to it.
    heard = upload(client, csrf, tone_wav(61.0, 8000))
    assert heard.status_code == 200 and heard.json()["text"].startswith(CONFIRM)
    [kept] = recordings_kept(gateway)
    assert kept.seconds == 60.0 and kept.size == 44 + 60 * 8000 * 2


def test_recording_is_off_in_production(production_client: TestClient) -> None:
    sent = production_client.post(
        "/sim/call/recording", files={"file": ("answer.wav", tone_wav(1.0, 8000), "audio/wav")}
    )
    assert sent.status_code == 404
