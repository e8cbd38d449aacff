"""A message question over cloud telephony: TwiML records it on the provider's side (Seva
keeps the address, the department fetches the audio), Exotel's Gather takes it keyed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from seva.applications import service as applications
from seva.channels.voice.ivr import encode_keypad
from seva.citizens import service as citizens
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.voice.models import VoiceRecording

# English, MCD, civic complaint, streetlight, PIN code, name: then the description.
TO_DESCRIPTION = ["1", "3", "2", "2", "110092", encode_keypad("RAVI")]
PROVIDER = "https://api.twilio.example/2010-04-01/Accounts/AC1/Recordings/RE42"


def twiml(client: TestClient, phone: str, **form: str) -> ET.Element:
    response = client.post(
        "/channels/voice/twiml", data={"CallSid": f"CA{phone}", "From": phone, **form}
    )
    assert response.status_code == 200, response.text
    return ET.fromstring(response.text)


def recordings_of(gateway: Gateway) -> list[VoiceRecording]:
    with gateway.session() as session:
        return list(session.scalars(select(VoiceRecording)))


def test_twiml_records_the_description_and_the_department_finds_it(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    phone = "+919811400001"
    document = twiml(client, phone)
    for keys in TO_DESCRIPTION:
        document = twiml(client, phone, Digits=keys)
    # Spoken, then recorded after a beep; a key or four seconds of quiet end it.
    assert document.find("Gather") is None
    said = document.findtext("Say") or ""
    assert said.startswith("Describe the place (landmark, street). Speak after the beep.")
    record = document.find("Record")
    assert record is not None and record.attrib == {
        "action": "/channels/voice/twiml", "method": "POST", "maxLength": "60", "timeout": "4",
        "finishOnKey": "1234567890*#", "playBeep": "true", "trim": "trim-silence",
    }  # fmt: skip
    # A caller who says nothing: the provider skips to the redirect, and is asked again.
    again = twiml(client, phone)
    assert (again.findtext("Say") or "").startswith("Describe the place")
    assert again.find("Record") is not None

    document = twiml(client, phone, RecordingUrl=PROVIDER, RecordingDuration="9")
    assert (document.findtext("Gather/Say") or "").startswith(
        "Register complaint 'Streetlight not working' at 110092?"
    )
    done = twiml(client, phone, Digits="1")
    assert done.find("Hangup") is not None

    [kept] = recordings_of(gateway)
    assert (kept.channel, kept.source_url, kept.seconds, kept.storage_key) == (
        "twiml",
        PROVIDER,
        9.0,
        None,
    )
    with gateway.session() as session:
        citizen = citizens.find(session, phone)
        assert citizen is not None
        [complaint] = applications.of_citizen(session, citizen)
        assert complaint.data["details"] == f"voice:{kept.token}"

    mcd = {"Authorization": f"Bearer {seeded.api_keys['MCD']}"}
    [listed] = client.get("/api/v1/voice/recordings", headers=mcd).json()
    assert (listed["id"], listed["audio_url"], listed["service"]) == (
        kept.token,
        PROVIDER,
        "civic-complaint",
    )
    fetched = client.get(
        f"/api/v1/voice/recordings/{kept.token}", headers=mcd, follow_redirects=False
    )
    assert fetched.status_code == 307 and fetched.headers["location"] == PROVIDER
    food = {"Authorization": f"Bearer {seeded.api_keys['FOOD']}"}
    assert client.get("/api/v1/voice/recordings", headers=food).json() == []
    assert client.get(f"/api/v1/voice/recordings/{kept.token}", headers=food).status_code == 404
    assert client.get(f"/api/v1/voice/recordings/{kept.token}").status_code == 401


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "javascript:alert(1)", "ftp://host/rec", "https://", "x" * 501]
)
def test_a_recording_address_that_is_not_a_web_address_is_refused(
    client: TestClient, gateway: Gateway, seeded: SeedReport, url: str
) -> None:
    phone = "+919811400002"
    twiml(client, phone)
    for keys in TO_DESCRIPTION:
        twiml(client, phone, Digits=keys)
    response = client.post(
        "/channels/voice/twiml",
        data={"CallSid": f"CA{phone}", "From": phone, "RecordingUrl": url},
    )
    assert response.status_code in (400, 422), response.text
    assert recordings_of(gateway) == []


def test_a_recording_that_answers_no_message_question_is_not_kept(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    phone = "+919811400003"
    first = twiml(client, phone)
    again = twiml(client, phone, RecordingUrl=PROVIDER, RecordingDuration="3")
    assert again.findtext("Gather/Say") == first.findtext("Gather/Say")  # the language prompt
    assert recordings_of(gateway) == []


def test_exotel_takes_the_description_keyed_as_text(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    call = {"CallSid": "ex-msg", "CallFrom": "9811400004"}
    client.get("/channels/voice/exotel", params=call)
    for keys in TO_DESCRIPTION:
        passed = client.get("/channels/voice/exotel", params={**call, "digits": f'"{keys}"'})
        assert passed.status_code == 200
    prompt = client.get("/channels/voice/exotel", params=call).json()
    text = prompt["gather_prompt"]["text"]
    assert text.startswith("Describe the place (landmark, street). Key digits as they are.")
    assert "beep" not in text
    described = encode_keypad("GATE 3")
    client.get("/channels/voice/exotel", params={**call, "digits": f'"{described}"'})
    client.get("/channels/voice/exotel", params={**call, "digits": '"1"'})
    with gateway.session() as session:
        citizen = citizens.find(session, "+919811400004")
        assert citizen is not None
        [complaint] = applications.of_citizen(session, citizen)
        assert complaint.data["details"] == "Gate 3"
    assert recordings_of(gateway) == []
