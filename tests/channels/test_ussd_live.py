"""USSD over a real HTTP server: a handset answers the moment a screen arrives."""

from __future__ import annotations

import httpx

from seva.demo.seed import SeedReport


def test_next_hop_sent_at_once_sees_the_previous_screen(live: str, seeded: SeedReport) -> None:
    """The previous hop's transaction is committed before its screen is sent, so a menu choice
    sent the instant the screen arrives continues the session instead of failing."""
    url = f"{live}/channels/ussd/africastalking"
    with httpx.Client(timeout=10) as client:
        for n in range(80):
            form = {
                "sessionId": f"quick-{n}",
                "serviceCode": "*166#",
                "phoneNumber": "+919812345678",
            }
            first = client.post(url, data=form | {"text": ""})
            second = client.post(url, data=form | {"text": "2"})
            assert first.status_code == second.status_code == 200, (n, second.text)
            assert second.text.startswith("CON Food"), (n, second.text)
