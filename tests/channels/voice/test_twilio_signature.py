"""TwiML requests must be the provider's: signed with the account's auth token when one is set."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from seva.channels.operators import twilio_signature
from seva.demo.seed import SeedReport
from seva.settings import Settings

TOKEN = "12345"
BASE = "https://seva.example.gov.in"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        env="test", data_dir=tmp_path, secret_key="test-secret-key-16+", base_url=BASE + "/",
        twilio_auth_token=TOKEN,
    )  # fmt: skip


def test_the_signature_is_twilios() -> None:
    # The example in Twilio's documentation of request validation.
    fields = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"), ("Digits", "1234"),
              ("From", "+12349013030"), ("To", "+18005551212")]  # fmt: skip
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, fields[::-1]) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_only_signed_twiml_requests_are_answered(client: TestClient, seeded: SeedReport) -> None:
    form = {"CallSid": "CA77", "From": "+919811500001"}
    url = BASE + "/channels/voice/twiml"

    def post(data: dict[str, str], signature: str | None) -> int:
        headers = {"X-Twilio-Signature": signature} if signature is not None else {}
        return client.post("/channels/voice/twiml", data=data, headers=headers).status_code

    good = twilio_signature(TOKEN, url, list(form.items()))
    assert post(form, good) == 200
    assert post(form, None) == 403
    assert post(form, twilio_signature("other-token", url, list(form.items()))) == 403
    # A field changed after signing (a forged recording address, another caller) is refused.
    forged = {**form, "From": "+919811500002"}
    assert post(forged, good) == 403
    recording = {**form, "RecordingUrl": "https://evil.example/r"}
    assert post(recording, good) == 403
    assert post(recording, twilio_signature(TOKEN, url, list(recording.items()))) == 200
