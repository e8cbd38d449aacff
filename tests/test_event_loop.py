"""Heavy work in a request does not stall the event loop, so one upload does not hold up
every other request the node serves.

Measured on a real uvicorn server on loopback: while a large photo is re-encoded (which drops
its EXIF), ``/healthz`` keeps answering at once. And a route handler runs on the loop only
when it is known to leave the work to the thread pool: a new ``async def`` route must say why.
"""

from __future__ import annotations

import inspect
import io
import threading
import time

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from tests.test_bounds import api_routes
from tests.web.pages import csrf_of
from tests.web.test_citizen import log_in

PHONE = "+919811000961"
SLOW_REENCODE = 0.4
"""Seconds the upload takes at least (1.0-1.4 s seen for this photo; a 16-megapixel one took
0.40-0.8 s and once fell short on a fast machine): enough for a stalled loop to hold
``/healthz`` well past ``PROMPT``."""
PROMPT = 0.25
"""The slowest ``/healthz`` answer allowed meanwhile (about 5 ms when the loop is free), or a
fifth of the upload's time when that is more: the loop still reads the multipart body, which a
machine busy with other work slows down as much as the re-encoding. A stalled loop answers
only after the re-encoding, so in nearly all of the upload's time."""


def photo() -> bytes:
    """A 35-megapixel camera photo, noisy like a real one (about 8 MB as a JPEG), close to the
    locker's 40-megapixel bound so its re-encoding takes long enough to see a stall."""
    image = Image.effect_noise((7000, 5000), 25).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=50)
    return out.getvalue()


def test_health_answers_promptly_while_a_photo_is_reencoded(
    live: str, gateway: Gateway, seeded: SeedReport
) -> None:
    data = photo()
    assert len(data) < 10 * 1024 * 1024  # within the locker's limit: it is re-encoded, kept
    outcome: dict[str, float | int] = {}
    done = threading.Event()
    with (
        httpx.Client(base_url=live, timeout=60) as browser,
        httpx.Client(base_url=live, timeout=60) as monitor,
    ):
        log_in(browser, gateway, PHONE)  # type: ignore[arg-type]
        csrf = csrf_of(browser, "/me/locker")  # type: ignore[arg-type]

        def upload() -> None:
            started = time.perf_counter()
            try:
                response = browser.post(
                    "/me/locker/upload",
                    data={"csrf": csrf},
                    files={"file": ("photo.jpg", data, "image/jpeg")},
                )
                outcome["status"] = response.status_code
                outcome["seconds"] = time.perf_counter() - started
            finally:
                done.set()

        monitor.get("/healthz")  # connected before the upload starts
        sender = threading.Thread(target=upload)
        sender.start()
        slowest, probes = 0.0, 0
        while not done.is_set() and probes < 10_000:
            started = time.perf_counter()
            assert monitor.get("/healthz").status_code == 200
            slowest = max(slowest, time.perf_counter() - started)
            probes += 1
        sender.join(60)
        page = browser.get("/me/locker").text
    assert outcome.get("status") == 303, outcome  # back to the locker
    assert "photo.jpg" in page
    assert outcome["seconds"] > SLOW_REENCODE, "the photo was too quick to show anything"
    assert probes >= 3
    took = f"/healthz took {slowest:.3f} s during a {outcome['seconds']:.2f} s upload"
    assert slowest < max(PROMPT, outcome["seconds"] / 5), took


ON_THE_LOOP = {
    "/api/v1/messages": "waits for its group's commit (messaging.intake); long lists are "
    "parsed in a thread",
    "/api/v1/messages/preview": "parses long lists in a thread as a send does; its checks read "
    "the database in the thread pool",
    "/admin/departments/{code}/services": "reads the upload; parsing and the database in the "
    "thread pool",
    "/admin/departments/{code}/datasets": "reads the upload; the CSV and the database in the "
    "thread pool",
    "/status/stream": "server-sent events; each snapshot is read in the thread pool",
    "/demo/backend/property-tax/{property_id}": "reads the signed body; the database in the "
    "thread pool",
}
"""The ``async def`` routes, each with why it does no blocking work on the event loop. Any
other route is a plain def, which FastAPI runs in its thread pool."""


@pytest.mark.demo_routes  # the demo backend's route is one of them
def test_only_routes_that_leave_the_work_to_threads_run_on_the_loop(client: TestClient) -> None:
    """Image re-encoding, hashing, PDF rendering, WAV checks and database work in an ``async
    def`` route would stall every request of the node (locker uploads did)."""
    app = client.app
    assert isinstance(app, FastAPI)
    on_loop = {
        path for path, route in api_routes(app) if inspect.iscoroutinefunction(route.endpoint)
    }
    assert on_loop == set(ON_THE_LOOP), "make these plain defs, or say here why they are not"
