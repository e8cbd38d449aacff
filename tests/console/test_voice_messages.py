"""Officials listen to a caller's recorded answer from the application's detail page."""

from __future__ import annotations

import io
import math
import struct
import wave
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from seva.applications import service as applications
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.tenancy.service import department_by_code
from seva.voice import recordings
from tests.console.pages import login

PROVIDER_URL = "https://api.provider.example/recordings/RE123.wav"


def tone(seconds: float) -> bytes:
    """A 440 Hz tone as the SIP endpoint keeps recordings: 8 kHz mono 16-bit WAV."""
    frames = int(8000 * seconds)
    samples = (int(8000 * math.sin(2 * math.pi * 440 * n / 8000)) for n in range(frames))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return buffer.getvalue()


@dataclass(frozen=True)
class Complaint:
    ref: str
    token: str
    audio: bytes

    @property
    def page(self) -> str:
        return f"/console/applications/{self.ref}"

    @property
    def route(self) -> str:
        return f"/console/recordings/{self.token}.wav"


def complaint(
    gateway: Gateway,
    *,
    recorded_by: str = "MCD",
    kept_by_provider: bool = False,
    token: str | None = None,
) -> Complaint:
    """An MCD civic complaint whose ``details`` is a recording made for ``recorded_by``
    (or, with ``token``, a value naming no recording at all)."""
    audio = tone(2.0)
    with gateway.session() as session:
        mcd = department_by_code(session, "MCD")
        owner = department_by_code(session, recorded_by)
        assert mcd is not None and owner is not None
        if token is None:
            recording = recordings.save(
                session,
                gateway.locker.storage,
                department_id=owner.id,
                service_id=None,
                channel="twiml" if kept_by_provider else "sip",
                seconds=2.0,
                wav=None if kept_by_provider else audio,
                source_url=PROVIDER_URL if kept_by_provider else None,
            )
            token = recording.token
        application = applications.create(
            session,
            department=mcd,
            service="civic-complaint",
            kind="complaint",
            status="Received",
            data={
                "category": "garbage",
                "pincode": "110092",
                "name": "Ramesh Kumar",
                "details": f"voice:{token}",
            },
            channel="voice",
            citizen=None,
        )
        return Complaint(application.ref, token, audio)


def test_the_ward_officer_plays_the_recorded_details(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    case = complaint(gateway)
    login(client, "mcd.officer")
    page = client.get(case.page)
    assert page.status_code == 200
    assert f'<audio controls preload="none" src="{case.route}">' in page.text
    assert f'<a href="{case.route}" download>Download the recording (2 s)</a>' in page.text
    assert "Recorded voice message, 2 s" in page.text
    assert "voice:" not in page.text
    assert "Ramesh Kumar" in page.text

    audio = client.get(case.route)
    assert audio.status_code == 200
    assert audio.content == case.audio
    assert audio.headers["content-type"] == "audio/wav"
    assert audio.headers["cache-control"] == "private, no-store"
    with wave.open(io.BytesIO(audio.content)) as played:
        assert (played.getframerate(), played.getnframes()) == (8000, 16000)


def test_byte_ranges_are_answered_for_seeking(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    case = complaint(gateway)
    login(client, "mcd.officer")
    size = len(case.audio)
    part = client.get(case.route, headers={"Range": "bytes=44-1043"})
    assert part.status_code == 206
    assert part.content == case.audio[44:1044]
    assert part.headers["content-range"] == f"bytes 44-1043/{size}"
    tail = client.get(case.route, headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == case.audio[-100:]
    rest = client.get(case.route, headers={"Range": "bytes=0-"})
    assert rest.status_code == 206 and rest.content == case.audio
    past = client.get(case.route, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{size}"
    several = client.get(case.route, headers={"Range": "bytes=0-1,5-6"})
    assert several.status_code == 200 and several.content == case.audio


@pytest.mark.parametrize("username", ["food.admin", "transport.officer"])
def test_other_departments_get_404_for_the_recording(
    client: TestClient, gateway: Gateway, seeded: SeedReport, username: str
) -> None:
    case = complaint(gateway)
    login(client, username)
    missing = client.get(case.route)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "There is no recording at this address in your department." in missing.text
    unknown = client.get(f"/console/recordings/{'0' * 32}.wav")
    assert (unknown.status_code, unknown.text) == (404, missing.text)
    assert client.get(case.page).status_code == 404


def test_gateway_admin_plays_any_department_s_recording(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    case = complaint(gateway)
    login(client, "admin")
    assert f'src="{case.route}"' in client.get(case.page).text
    assert client.get(case.route).content == case.audio


def test_anonymous_visitors_are_sent_to_login(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    case = complaint(gateway)
    response = client.get(case.route, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={case.route}"


def test_csc_operators_have_no_console_recordings(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    case = complaint(gateway)
    login(client, "csc.laxminagar")
    assert client.get(case.route).status_code == 403


def test_malformed_tokens_are_refused(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    login(client, "mcd.officer")
    for token in ("ABCDEF" + "0" * 26, "0" * 31, "0" * 33):
        assert client.get(f"/console/recordings/{token}.wav").status_code == 400


def test_a_provider_kept_recording_is_linked_at_the_provider(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    case = complaint(gateway, kept_by_provider=True)
    login(client, "mcd.officer")
    page = client.get(case.page).text
    assert "<audio" not in page
    assert f'<a href="{PROVIDER_URL}" rel="noreferrer"' in page
    assert "Listen at the telephony provider (2 s)" in page
    assert "The telephony provider keeps this recording, not Seva" in page
    assert client.get(case.route).status_code == 404


def test_an_unknown_token_says_the_recording_was_not_found(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    case = complaint(gateway, token="f" * 32)
    login(client, "mcd.officer")
    page = client.get(case.page)
    assert page.status_code == 200
    assert "Voice message: recording not found." in page.text
    assert "<audio" not in page.text and "f" * 32 not in page.text


def test_another_department_s_recording_is_not_played_on_an_mcd_application(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    case = complaint(gateway, recorded_by="FOOD")
    login(client, "admin")
    page = client.get(case.page).text
    assert "Voice message: recording not found." in page
    assert "<audio" not in page


def test_voice_messages_in_hindi(client: TestClient, gateway: Gateway, seeded: SeedReport) -> None:
    case = complaint(gateway)
    login(client, "mcd.officer")
    page = client.get(case.page, params={"lang": "hi"}).text
    assert "रिकॉर्डिंग डाउनलोड करें (2 सेकंड)" in page
    assert "रिकॉर्ड किया गया आवाज़ संदेश, 2 सेकंड" in page
