"""A NUL byte from outside is refused with a 4xx on every database (PostgreSQL text cannot
hold one, and its refusal used to surface as a 500)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from seva.demo.seed import SeedReport


def test_a_ussd_session_id_with_a_control_character_is_refused(
    client: TestClient, seeded: SeedReport
) -> None:
    response = client.post(
        "/channels/ussd/africastalking",
        data={"sessionId": "ab\x00cd", "serviceCode": "*166#", "phoneNumber": "+919811000555"},
    )
    assert response.status_code == 400


def test_a_login_with_a_nul_in_the_username_is_a_refusal(
    client: TestClient, seeded: SeedReport
) -> None:
    page = client.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        "/login", data={"username": "food\x00admin", "password": "x", "csrf": csrf}
    )
    assert 400 <= response.status_code < 500
