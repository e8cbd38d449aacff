"""Voice notifications through the department API and the dialer's bookkeeping: who is called
when, retries on busy or no answer, and the report of who heard it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.tenancy import service as tenancy
from seva.voice import service as voice
from seva.voice.models import VoiceNotice

NOW = datetime(2026, 12, 1, 4, 30, tzinfo=UTC)


def mcd_notice(session: Session, phone: str, text: str, *, max_attempts: int) -> VoiceNotice:
    """A notice from MCD to one number, retried after a minute."""
    department = tenancy.department_by_code(session, "MCD")
    assert department is not None
    return voice.create_notice(
        session, department, to=[phone], text=text, lang="en", max_attempts=max_attempts,
        retry_seconds=60, now=NOW,
    )  # fmt: skip


def create(client: TestClient, key: str, **body: object) -> dict[str, object]:
    response = client.post(
        "/api/v1/voice/notices", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 202, response.text
    result: dict[str, object] = response.json()
    return result


def test_a_department_sends_a_spoken_notice_and_reads_who_heard_it(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    key = seeded.api_keys["FOOD"]
    notice = create(
        client, key, to=["9811600001", "+919811600002", "09811600001"],
        text="Ration distribution is on Saturday at FPS 112.", lang="en", retry_seconds=60,
    )  # fmt: skip
    assert notice["counts"] == {"queued": 2, "calling": 0, "heard": 0, "partly": 0, "unreached": 0}
    assert [c["to"] for c in notice["calls"]] == ["+919811600001", "+919811600002"]  # type: ignore[index,union-attr]

    later = datetime.now(UTC) + timedelta(seconds=1)
    with gateway.session() as session:
        due = voice.claim_due(session, now=later, limit=10)
        assert [d.phone for d in due] == ["+919811600001", "+919811600002"]
        assert voice.claim_due(session, now=later, limit=10) == []  # held while ringing
        first, second = due
        voice.record_attempt(
            session, first.call_id, outcome="answered", now=later, heard_seconds=4.2,
            message_seconds=4.2,
        )  # fmt: skip
        voice.record_attempt(session, second.call_id, outcome="busy", now=later)
        # Busy: tried again after retry_seconds, not before.
        assert voice.claim_due(session, now=later + timedelta(seconds=30), limit=10) == []
        [again] = voice.claim_due(session, now=later + timedelta(seconds=61), limit=10)
        assert again.phone == "+919811600002" and again.attempt == 2
        voice.record_attempt(
            session, again.call_id, outcome="answered", now=later, heard_seconds=1.0,
            message_seconds=4.2,
        )  # fmt: skip

    headers = {"Authorization": f"Bearer {key}"}
    report = client.get(f"/api/v1/voice/notices/{notice['id']}", headers=headers).json()
    assert report["counts"]["heard"] == 1 and report["counts"]["partly"] == 1
    outcomes = {c["to"]: (c["status"], c["attempts"], c["last_outcome"]) for c in report["calls"]}
    assert outcomes == {
        "+919811600001": ("heard", 1, "heard"),
        "+919811600002": ("partly", 2, "hung-up"),
    }
    # Another department cannot read it.
    other = {"Authorization": f"Bearer {seeded.api_keys['MCD']}"}
    assert client.get(f"/api/v1/voice/notices/{notice['id']}", headers=other).status_code == 404


def test_unanswered_calls_are_retried_then_reported_unreached(
    gateway: Gateway, seeded: SeedReport
) -> None:
    with gateway.session() as session:
        notice = mcd_notice(session, "9811600003", "Water supply is off tomorrow.", max_attempts=2)
        [call] = voice.claim_due(session, now=NOW, limit=5)
        voice.record_attempt(session, call.call_id, outcome="no-answer", now=NOW)
        [call] = voice.claim_due(session, now=NOW + timedelta(minutes=2), limit=5)
        done = voice.record_attempt(session, call.call_id, outcome="no-answer", now=NOW)
        assert done.status == "unreached" and done.attempts == 2
        assert voice.claim_due(session, now=NOW + timedelta(hours=1), limit=5) == []
        assert voice.report(session, notice)["counts"]["unreached"] == 1  # type: ignore[index]


def test_a_call_held_by_a_dialer_that_died_is_tried_again(
    gateway: Gateway, seeded: SeedReport
) -> None:
    with gateway.session() as session:
        mcd_notice(session, "9811600004", "Property tax camp on Sunday.", max_attempts=3)
        [held] = voice.claim_due(session, now=NOW, limit=5)
        assert voice.claim_due(session, now=NOW + timedelta(minutes=1), limit=5) == []
        [again] = voice.claim_due(session, now=NOW + voice.LEASE + timedelta(seconds=1), limit=5)
        assert again.call_id == held.call_id and again.attempt == 2


def test_bad_notices_are_refused_clearly(client: TestClient, seeded: SeedReport) -> None:
    headers = {"Authorization": f"Bearer {seeded.api_keys['FOOD']}"}
    cases = [
        ({"to": "12345", "text": "Hello"}, "invalid_phone"),
        ({"to": [], "text": "Hello"}, "bad_recipients"),
        ({"to": "9811600005", "text": "   "}, "empty_text"),
        ({"to": "9811600005", "text": "Hello", "lang": "xx"}, "invalid_language"),
    ]
    for body, code in cases:
        response = client.post("/api/v1/voice/notices", json=body, headers=headers)
        assert response.status_code in (400, 422), response.text
        assert response.json()["error"]["code"] == code
    assert (
        client.post("/api/v1/voice/notices", json={"to": "9811600005", "text": "x"}).status_code
        == 401
    )


def test_a_department_records_its_question_and_callers_hear_the_recording(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    import math
    import xml.etree.ElementTree as ET
    from array import array

    from seva.voice.tts import wav_bytes

    tone = array("h", (int(6000 * math.sin(2 * math.pi * 440 * n / 16000)) for n in range(16000)))
    recording = wav_bytes(tone, rate=16000)
    food = {"Authorization": f"Bearer {seeded.api_keys['FOOD']}"}
    mcd = {"Authorization": f"Bearer {seeded.api_keys['MCD']}"}

    def put(headers: dict[str, str], text: str, data: bytes = recording) -> int:
        return client.put(
            "/api/v1/voice/prompts",
            data={"text": text, "lang": "en"},
            files={"file": ("q.wav", data, "audio/wav")},
            headers=headers,
        ).status_code

    # MCD may record the same words, for its own calls: FOOD's callers do not hear it.
    assert put(mcd, "Enter your ration card number") == 204
    assert put(food, "Enter your ration card number", b"RIFF not really") == 422
    assert put(food, "   ") == 422

    def call(digits: str | None) -> ET.Element:
        form = {"CallSid": "CA-rec", "From": "+919811600009"}
        if digits is not None:
            form["Digits"] = digits
        return ET.fromstring(client.post("/channels/voice/twiml", data=form).text)

    call(None)
    call("1")  # English
    call("2")  # Food & Civil Supplies
    spoken = call("1")  # ration card status: MCD's recording is not FOOD's
    assert spoken.find("Gather/Say") is not None and spoken.find("Gather/Play") is None
    assert put(food, "Enter your ration card number") == 204
    question = call("*")  # heard again, now in FOOD's recorded voice
    play = question.findtext("Gather/Play")
    assert play is not None and question.find("Gather/Say") is None
    audio = client.get(play.removeprefix(gateway.settings.base_url))
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    # Other departments' prompts are still spoken by the provider.
    call("*")
    assert (
        client.delete(
            "/api/v1/voice/prompts",
            params={"text": "Enter your ration card number", "lang": "en"},
            headers=food,
        ).status_code
        == 204
    )
    assert call("*").find("Gather/Say") is not None


def test_a_late_outcome_of_an_old_attempt_changes_nothing(
    gateway: Gateway, seeded: SeedReport
) -> None:
    with gateway.session() as session:
        mcd_notice(session, "9811600006", "Camp on Sunday.", max_attempts=3)
        [first] = voice.claim_due(session, now=NOW, limit=5)
        later = NOW + voice.LEASE + timedelta(seconds=1)
        [second] = voice.claim_due(session, now=later, limit=5)
        voice.record_attempt(
            session, second.call_id, outcome="answered", now=later, attempt=second.attempt,
            heard_seconds=2.0, message_seconds=2.0,
        )  # fmt: skip
        # The first dialer finally reports its attempt: too late to matter.
        row = voice.record_attempt(
            session, first.call_id, outcome="busy", now=later, attempt=first.attempt
        )
        assert row.status == "heard" and row.attempts == 2
        assert voice.claim_due(session, now=later + timedelta(hours=1), limit=5) == []


def test_a_call_the_dialer_could_not_place_keeps_its_attempts(
    gateway: Gateway, seeded: SeedReport
) -> None:
    with gateway.session() as session:
        mcd_notice(session, "9811600007", "Camp on Sunday.", max_attempts=1)
        [held] = voice.claim_due(session, now=NOW, limit=5)
        voice.release(session, held.call_id, attempt=held.attempt, now=NOW)
        [again] = voice.claim_due(session, now=NOW + timedelta(seconds=31), limit=5)
        assert again.attempt == 1  # the only attempt is still to come
