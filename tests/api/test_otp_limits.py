"""Limits on sending one-time codes: each costs an SMS, so they are what an abuser aims at.

One code per phone at a time even when requests arrive together; and codes per client
address, per number range (SMS-pumping fraud) and per day for the whole gateway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from seva.app import create_app
from seva.citizens import service as citizens
from seva.citizens.api_auth import OTP_PURPOSE
from seva.citizens.models import OtpChallenge
from seva.demo.seed import SeedReport
from seva.gateway import Gateway, build_gateway
from seva.settings import Settings
from tests.api.helpers import error_of, outbox

PHONE = "+919811000151"


def at_once(count: int, work: Callable[[], Any]) -> list[Any]:
    """Run ``work`` in ``count`` threads released together; their results."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        start.wait(timeout=30)
        results[index] = work()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_ten_requests_at_once_for_one_phone_send_one_code(
    live: str, gateway: Gateway, seeded: SeedReport
) -> None:
    """A real server, ten client threads: before, the read-then-insert let five through."""

    def ask() -> int:
        with httpx.Client(base_url=live, timeout=30) as http:
            return http.post("/api/v1/auth/otp", json={"phone": PHONE}).status_code

    statuses = at_once(10, ask)
    assert sorted(statuses) == [202] + [429] * 9
    assert len(outbox(gateway, PHONE)) == 1


def test_issue_otp_is_atomic_across_sessions(gateway: Gateway, seeded: SeedReport) -> None:
    def issue() -> str | citizens.OtpRefused:
        with gateway.session() as session:
            return citizens.issue_otp(session, PHONE, "test", secret="s", ttl=timedelta(minutes=5))

    results = at_once(8, issue)
    codes = [r for r in results if isinstance(r, str)]
    assert len(codes) == 1, results
    assert {r.reason for r in results if isinstance(r, citizens.OtpRefused)} == {"phone"}


def test_the_per_phone_rule_allows_ten_codes_an_hour(gateway: Gateway, seeded: SeedReport) -> None:
    moment = citizens.utcnow()
    with gateway.session() as session:
        for n in range(10):
            issued = citizens.issue_otp(
                session,
                PHONE,
                "test",
                secret="s",
                ttl=timedelta(minutes=5),
                now=moment + timedelta(minutes=n * 5),
            )
            assert isinstance(issued, str)
        refused = citizens.issue_otp(
            session,
            PHONE,
            "test",
            secret="s",
            ttl=timedelta(minutes=5),
            now=moment + timedelta(minutes=55),
        )
    assert refused == citizens.OtpRefused("phone_hour", 5 * 60)


def test_one_client_asking_for_codes_to_many_numbers_is_stopped(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    """Twenty numbers in a row from one address: the default allows ten in 15 minutes."""
    statuses = []
    for n in range(20):
        response = client.post("/api/v1/auth/otp", json={"phone": f"+9198110002{n:02d}"})
        statuses.append(response.status_code)
    assert statuses == [202] * 10 + [429] * 10
    error = error_of(response)
    assert error["code"] == "too_many_requests"
    assert error["message"].startswith("too many codes were asked for from this address")
    assert 1 <= int(response.headers["Retry-After"]) <= 30 * 60
    other = TestClient(client.app, client=("127.0.0.9", 40000))
    assert other.post("/api/v1/auth/otp", json={"phone": "+919811000299"}).status_code == 202


@pytest.fixture
def tight(settings: Settings, database_url: str) -> Iterator[Callable[[str], TestClient]]:
    """Clients at given addresses of an app whose prefix and daily limits are low."""
    changed = settings.model_copy(update={"otp_prefix_limit": 3, "otp_daily_limit": 5})
    gw = build_gateway(changed, database_url=database_url)
    app = create_app(changed, gateway=gw)
    yield lambda address: TestClient(app, client=(address, 40000))
    gw.close()


def test_codes_to_one_number_range_are_limited(
    tight: Callable[[str], TestClient], seeded: SeedReport
) -> None:
    """SMS pumping: many clients, numbers of one premium range. The range is the first seven
    digits of the E.164 number (+91 98765 …)."""
    statuses = [
        tight(f"127.0.1.{n}").post("/api/v1/auth/otp", json={"phone": f"+91987651234{n}"})
        for n in range(4)
    ]
    assert [s.status_code for s in statuses] == [202, 202, 202, 429]
    assert error_of(statuses[-1])["message"].startswith("too many codes went to numbers like")
    elsewhere = tight("127.0.1.9").post("/api/v1/auth/otp", json={"phone": "+919876612345"})
    assert elsewhere.status_code == 202


def test_the_gateway_sends_at_most_its_daily_ceiling(
    tight: Callable[[str], TestClient], gateway: Gateway, seeded: SeedReport
) -> None:
    phones = [f"+9190{n}0000001" for n in range(6)]  # six number ranges, six addresses
    statuses = [
        tight(f"127.0.2.{n}").post("/api/v1/auth/otp", json={"phone": phone})
        for n, phone in enumerate(phones)
    ]
    assert [s.status_code for s in statuses] == [202] * 5 + [429]
    assert error_of(statuses[-1])["message"].startswith("the gateway has sent all the codes")
    assert outbox(gateway, phones[-1]) == []


def issue_code(gateway: Gateway, phone: str) -> str:
    """A code for the app's login, as ``/auth/otp`` would send it."""
    with gateway.session() as session:
        code = citizens.issue_otp(
            session,
            phone,
            OTP_PURPOSE,
            secret=gateway.settings.secret_key.get_secret_value(),
            ttl=timedelta(minutes=5),
        )
    assert isinstance(code, str)
    return code


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def challenge_of(gateway: Gateway, phone: str) -> OtpChallenge:
    with gateway.session() as session:
        row = session.scalar(select(OtpChallenge).where(OtpChallenge.phone == phone))
        assert row is not None
        session.expunge(row)
        return row


def verify_at_once(live: str, count: int, phone: str, code: str) -> list[int]:
    def guess() -> int:
        with httpx.Client(base_url=live, timeout=30) as http:
            body = {"phone": phone, "code": code}
            return http.post("/api/v1/auth/verify", json=body).status_code

    return at_once(count, guess)


def test_wrong_codes_sent_together_each_take_an_attempt(
    live: str, gateway: Gateway, seeded: SeedReport
) -> None:
    """Four wrong codes at once to a real server take four of the five attempts (the
    read-add-write counted twelve parallel guesses as one); the fifth try still works."""
    code = issue_code(gateway, PHONE)
    assert verify_at_once(live, 4, PHONE, wrong_code(code)) == [401] * 4
    assert challenge_of(gateway, PHONE).attempts == 4
    with httpx.Client(base_url=live, timeout=30) as http:
        right = http.post("/api/v1/auth/verify", json={"phone": PHONE, "code": code})
    assert right.status_code == 200


def test_more_wrong_codes_at_once_than_attempts_burn_the_code(
    live: str, gateway: Gateway, seeded: SeedReport
) -> None:
    code = issue_code(gateway, PHONE)
    assert verify_at_once(live, 8, PHONE, wrong_code(code)) == [401] * 8
    challenge = challenge_of(gateway, PHONE)
    assert challenge.attempts == 5 and challenge.used_at is not None
    with httpx.Client(base_url=live, timeout=30) as http:
        right = http.post("/api/v1/auth/verify", json={"phone": PHONE, "code": code})
    assert right.status_code == 401


def test_the_right_code_sent_twice_at_once_logs_in_once(
    live: str, gateway: Gateway, seeded: SeedReport
) -> None:
    code = issue_code(gateway, PHONE)
    assert sorted(verify_at_once(live, 6, PHONE, code)) == [200] + [401] * 5


@pytest.fixture
def guarded(settings: Settings, database_url: str) -> Iterator[Callable[[str], TestClient]]:
    """Clients at given addresses of an app allowing 3 wrong codes a phone, 5 an address."""
    changed = settings.model_copy(
        update={"otp_verify_phone_failures": 3, "otp_verify_client_failures": 5}
    )
    gw = build_gateway(changed, database_url=database_url)
    app = create_app(changed, gateway=gw)
    yield lambda address: TestClient(app, client=(address, 40000))
    gw.close()


def test_wrong_codes_are_limited_per_phone_and_per_address(
    guarded: Callable[[str], TestClient], gateway: Gateway, seeded: SeedReport
) -> None:
    """New codes do not give new guesses: wrong codes count per phone (from any address)
    and per address (for any phone), and a refusal is a 429 even for the right code."""
    first, second = "+919811000161", "+919811000162"
    codes = {phone: issue_code(gateway, phone) for phone in (first, second)}
    guesser = guarded("127.0.3.1")

    def verify(client: TestClient, phone: str, code: str) -> httpx.Response:
        return client.post("/api/v1/auth/verify", json={"phone": phone, "code": code})

    statuses = [verify(guesser, first, wrong_code(codes[first])).status_code for _ in range(3)]
    assert statuses == [401] * 3
    refused = verify(guarded("127.0.3.2"), first, codes[first])
    assert refused.status_code == 429
    error = error_of(refused)
    assert error["code"] == "too_many_requests" and error["field"] == "code"
    assert 1 <= int(refused.headers["Retry-After"]) <= 2 * 15 * 60  # a sliding window
    statuses = [verify(guesser, second, wrong_code(codes[second])).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]  # the address's fifth wrong code was its last
    assert verify(guarded("127.0.3.3"), second, codes[second]).status_code == 200
