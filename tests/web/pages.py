"""Reading the pages the way a browser would: form fields, the alert, the final answer."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from seva.gateway import Gateway
from seva.messaging import service as messaging


def field(page: str, name: str) -> str:
    """The value of the first hidden/text input called ``name``."""
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no {name} field in the page"
    return html.unescape(match.group(1))


def alert(page: str) -> str | None:
    match = re.search(r'role="alert"[^>]*>(.*?)</p>', page, re.S)
    return html.unescape(match.group(1).strip()) if match else None


def final_answer(page: str) -> str:
    match = re.search(r'id="final-answer">(.*?)</p>', page, re.S)
    assert match, "the page shows no final answer"
    return html.unescape(match.group(1))


def answer(client: TestClient, url: str, value: str, *, action: str = "answer") -> str:
    """Answer the open question on ``url`` like a person pressing Continue: POST, follow the
    303 and return the next page's HTML."""
    page = client.get(url).text
    response = client.post(
        url,
        data={
            "csrf": field(page, "csrf"),
            "seq": field(page, "seq"),
            "answer": value,
            "action": action,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client.get(response.headers["location"]).text


def last_code(gateway: Gateway, phone: str) -> str:
    """The one-time code in the newest OTP SMS queued to ``phone`` (only the SMS has it)."""
    with gateway.session() as session:
        otps = [m for m in messaging.inbox(session, phone, limit=1000) if m.kind == "otp"]
        message = otps[-1] if otps else None
        assert message is not None, f"no OTP was queued to {phone}"
        match = re.search(r"\b(\d{6})\b", message.text)
        assert match, message.text
        return match.group(1)


def csrf_of(client: TestClient, url: str) -> str:
    return field(client.get(url).text, "csrf")
