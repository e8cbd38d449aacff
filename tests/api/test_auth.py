"""Citizen login by SMS code: the code goes out as an SMS, the token it buys, and refusals."""

from __future__ import annotations

import time
from datetime import timedelta

from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from seva.demo.seed import DEMO_CITIZEN, SeedReport
from seva.gateway import Gateway
from tests.api.helpers import bearer, error_of, last_code, login, outbox

PHONE = "+919811000101"


def test_otp_login_gives_a_token_that_opens_the_citizens_record(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    sent = client.post("/api/v1/auth/otp", json={"phone": "98110 00101"})
    assert sent.status_code == 202
    assert sent.json()["phone"] == PHONE
    (message,) = outbox(gateway, PHONE)
    assert message.kind == "otp"
    assert message.text.startswith("Seva login code: ")

    verified = client.post(
        "/api/v1/auth/verify", json={"phone": PHONE, "code": last_code(gateway, PHONE)}
    )
    assert verified.status_code == 200
    body = verified.json()
    assert body["expires_in"] == 30 * 24 * 3600
    assert body["phone"] == PHONE

    me = client.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.json()["phone"] == PHONE


def test_a_code_works_once(client: TestClient, gateway: Gateway, seeded: SeedReport) -> None:
    client.post("/api/v1/auth/otp", json={"phone": PHONE})
    code = last_code(gateway, PHONE)
    assert (
        client.post("/api/v1/auth/verify", json={"phone": PHONE, "code": code}).status_code == 200
    )
    again = client.post("/api/v1/auth/verify", json={"phone": PHONE, "code": code})
    assert again.status_code == 401


def test_wrong_code_is_refused_and_guessing_burns_the_code(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    client.post("/api/v1/auth/otp", json={"phone": PHONE})
    right = last_code(gateway, PHONE)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    refused = client.post("/api/v1/auth/verify", json={"phone": PHONE, "code": wrong})
    assert refused.status_code == 401
    assert error_of(refused)["code"] == "wrong_code"
    for _ in range(4):
        client.post("/api/v1/auth/verify", json={"phone": PHONE, "code": wrong})
    # Five wrong guesses were remembered across requests: the right code no longer works.
    late = client.post("/api/v1/auth/verify", json={"phone": PHONE, "code": right})
    assert late.status_code == 401


def test_a_second_code_within_30_seconds_is_refused(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    assert client.post("/api/v1/auth/otp", json={"phone": PHONE}).status_code == 202
    again = client.post("/api/v1/auth/otp", json={"phone": "+91 98110 00101"})
    assert again.status_code == 429
    assert 1 <= int(again.headers["Retry-After"]) <= 30
    assert error_of(again)["code"] == "too_many_requests"
    assert len(outbox(gateway, PHONE)) == 1
    other = client.post("/api/v1/auth/otp", json={"phone": "+919811000102"})
    assert other.status_code == 202


def test_the_code_sms_is_in_the_citizens_language(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    client.get("/channels/sms/kannel", params={"from": PHONE, "text": "HINDI"})
    client.post("/api/v1/auth/otp", json={"phone": PHONE})
    (message,) = [m for m in outbox(gateway, PHONE) if m.kind == "otp"]
    assert message.text.startswith("सेवा लॉगिन कोड: ")


def test_bad_phone_numbers_are_refused(client: TestClient, seeded: SeedReport) -> None:
    for phone in ("12", "abc", "+1", "9" * 40):
        response = client.post("/api/v1/auth/otp", json={"phone": phone})
        assert response.status_code == 400, phone
        assert error_of(response)["field"] == "phone"


def test_protected_endpoints_want_a_valid_unexpired_token(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    assert client.get("/api/v1/me").status_code == 401
    missing = client.get("/api/v1/me")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert error_of(missing)["code"] == "unauthorized"

    token = login(client, gateway, DEMO_CITIZEN)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get("/api/v1/me", headers=bearer(tampered)).status_code == 401

    other_secret = URLSafeTimedSerializer("another-secret", salt="citizen").dumps({"phone": PHONE})
    assert client.get("/api/v1/me", headers=bearer(other_secret)).status_code == 401

    class Backdated(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - timedelta(days=31).total_seconds())

    old = URLSafeTimedSerializer(
        gateway.settings.secret_key.get_secret_value(), salt="citizen", signer=Backdated
    ).dumps({"phone": DEMO_CITIZEN})
    expired = client.get("/api/v1/me", headers=bearer(old))
    assert expired.status_code == 401
    assert "expired" in error_of(expired)["message"]
