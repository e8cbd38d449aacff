"""One department's backend hangs; every other department's citizens and API go on as before.

A real uvicorn server on loopback runs the gateway; the SLOW department's service calls a
backend that accepts connections and never answers (timeout 30 s). While 45 citizens text that
service, the Transport department's SMS API and the Food department's SMS service are timed
again and compared with the same requests before. Without ``seva.outbound``'s caps and with the
backend call inside the request's transaction, the other departments' requests waited for the
SQLite writer lock and for free workers (20 s and "database is locked" were seen).
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any

import httpx

from seva.demo.seed import SeedReport
from seva.flows.loader import parse_definition
from seva.flows.service import load_service
from seva.gateway import Gateway
from seva.settings import Settings
from seva.tenancy import service as tenancy
from tests.test_outbound import Listener

SLOW_SERVICE = """\
seva: 1
service: slow-lookup
department: SLOW
title: {{en: Slow lookup, hi: धीमी खोज}}
keywords: [SLOWQ]
steps:
  - ask: ref
    type: digits
    length: 1-6
    prompt: {{en: Reference, hi: संदर्भ}}
  - call:
      url: "http://127.0.0.1:{port}/lookup"
      save: found
      timeout: 30
      retries: 0
      error:
        en: The records office cannot be reached now.
        hi: रिकॉर्ड कार्यालय से अभी संपर्क नहीं हो सकता।
  - end: {{en: "Found {{found.name}}", hi: "मिला {{found.name}}"}}
"""
UNREACHABLE = "The records office cannot be reached now."
CITIZENS = 45
SAMPLES = 60


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * len(ordered)) - 1)]


def timed_round(http: httpx.Client, transport_key: str) -> tuple[list[float], list[float]]:
    """``SAMPLES`` pairs of other departments' requests, timed: Transport's SMS API and the
    Food department's ration-card service over the Kannel SMS callback."""
    api, sms = [], []
    for n in range(SAMPLES):
        started = time.perf_counter()
        sent = http.post(
            "/api/v1/messages",
            headers={"Authorization": f"Bearer {transport_key}"},
            json={
                "to": f"98110{n:05d}",
                "sender": "TRNSPT",
                "text": "Your driving licence DL0420190012345 is ready for dispatch. "
                "-Transport Dept",
            },
        )
        api.append(time.perf_counter() - started)
        assert sent.status_code == 202, sent.text
        started = time.perf_counter()
        reply = http.get(
            "/channels/sms/kannel",
            params={"from": f"98220{n:05d}", "to": "166", "text": "RATION 1234567890"},
        )
        sms.append(time.perf_counter() - started)
        assert reply.status_code == 200 and "1234567890" in reply.text, reply.text
    return api, sms


def test_a_hanging_backend_does_not_slow_other_departments(
    gateway: Gateway, settings: Settings, seeded: SeedReport, live: str
) -> None:
    hang = Listener(hang=True)
    try:
        with gateway.session() as session:
            slow = tenancy.create_department(
                session, code="SLOW", name={"en": "Slow", "hi": "धीमा"}, sender_id="SLOWDP"
            )
            load_service(
                session,
                parse_definition(SLOW_SERVICE.format(port=hang.port)),
                department=slow,
                urls=gateway.runtime.outbound.policy,
            )
        http = httpx.Client(base_url=live, timeout=60)
        timed_round(http, seeded.api_keys["TRANSPORT"])  # warm up
        base_api, base_sms = timed_round(http, seeded.api_keys["TRANSPORT"])

        def citizen(n: int) -> tuple[float, str]:
            started = time.perf_counter()
            with httpx.Client(base_url=live, timeout=60) as own:
                reply = own.get(
                    "/channels/sms/kannel",
                    params={"from": f"98330{n:05d}", "to": "166", "text": f"SLOWQ {n + 1}"},
                )
            return time.perf_counter() - started, reply.text

        with ThreadPoolExecutor(CITIZENS) as pool:
            waiting = [pool.submit(citizen, n) for n in range(CITIZENS)]
            cap = settings.outbound_per_department
            assert hang.wait_for(cap, timeout=30), "the slow backend was never called"
            # Those turned away are answered at once; time the others while `cap` still wait.
            wait(waiting, timeout=30, return_when=FIRST_COMPLETED)
            deadline = time.monotonic() + 30
            while sum(f.done() for f in waiting) < CITIZENS - cap and time.monotonic() < deadline:
                wait(waiting, timeout=0.05)
            load_api, load_sms = timed_round(http, seeded.api_keys["TRANSPORT"])
            held = hang.accepted
            hang.close()  # the calls still waiting fail now instead of after 30 s
            answers: list[Any] = [future.result(timeout=60) for future in waiting]
        http.close()
    finally:
        hang.close()

    report = {
        "api p99 ms": (round(p99(base_api) * 1000, 1), round(p99(load_api) * 1000, 1)),
        "sms p99 ms": (round(p99(base_sms) * 1000, 1), round(p99(load_sms) * 1000, 1)),
        "api median ms": (
            round(statistics.median(base_api) * 1000, 1),
            round(statistics.median(load_api) * 1000, 1),
        ),
        "backend connections": held,
    }
    print(f"\n{gateway.db.engine.dialect.name}: {report}")
    # The department's own citizens: at most `cap` calls were let through to wait; everyone
    # else got the service's "cannot be reached" answer without waiting for the timeout.
    assert held == cap
    assert all(text == UNREACHABLE for _, text in answers)
    prompt = [seconds for seconds, _ in answers if seconds < 5]
    assert len(prompt) >= CITIZENS - cap
    # Everyone else's: as fast as before, within 2x (plus 0.2 s for a busy test machine).
    assert p99(load_api) <= 2 * p99(base_api) + 0.2, report
    assert p99(load_sms) <= 2 * p99(base_sms) + 0.2, report
