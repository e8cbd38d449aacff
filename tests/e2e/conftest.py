"""Real-browser fixtures: Debian Chromium driven by Playwright against the ``live`` server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # WebRTC between two pages of this machine: a fake camera and microphone, permission
    # prompts (camera, screen) answered yes, and ICE allowed to use loopback.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--auto-accept-this-tab-capture",
]
EXPECT_MS = 20_000
"""How long an ``expect`` waits for a page to show something. A phone-simulator call speaks
each prompt with espeak-ng before answering (the first, the language menu, in every shipped
language), which took more than Playwright's 5 s on two cores busy with the rest of the
suite; a page that never shows what is expected still fails, 20 s later."""


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    need(
        CHROMIUM if Path(CHROMIUM).exists() else None,
        f"Debian Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-core)",
    )
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def serious_barriers(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it stands, one line each.

    axe (from ``axe-playwright-python``) is handed to the page through ``page.evaluate``, which
    the page's Content-Security-Policy does not govern, so the page is checked under its real
    policy. Moderate and minor findings (heading order, landmarks) are left to judgement."""
    from axe_playwright_python.sync_playwright import Axe

    found = []
    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            where = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
            found.append(
                f"{page.url}: {violation['impact']} {violation['id']} "
                f"({violation['help']}, {len(violation['nodes'])}x) at {where}"
            )
    return found


def log_in_citizen(page: Any, gateway: Any, phone: str, then: str) -> None:
    """Log ``phone`` in on the portal with the one-time code Seva sent it, landing on
    ``then``: what a citizen does before booking or joining a call."""
    from tests.web.pages import last_code

    page.goto(f"/citizen/login?next={then}")
    page.locator("input[name=phone]").fill(phone)
    page.locator("form[action='/citizen/login'] button[type=submit]").click()
    page.locator("input[name=code]").fill(last_code(gateway, phone))
    page.locator("form[action='/citizen/verify'] button[type=submit]").click()
    page.wait_for_url(f"**{then}")


def screenshots_wanted() -> bool:
    return os.environ.get("SEVA_SCREENSHOT") == "1"


@pytest.fixture(autouse=True)
def no_policy_violations(request: pytest.FixtureRequest) -> Iterator[None]:
    """Pages run under Seva's Content-Security-Policy and Permissions-Policy: whatever they
    block (an inline script, a connection elsewhere) fails the test that met it, even when
    the page happens to work without it."""
    if "browser" not in request.fixturenames:
        yield
        return
    browser = request.getfixturevalue("browser")
    blocked: list[str] = []
    original = browser.new_context

    def new_context(*args: Any, **kwargs: Any) -> Any:
        context = original(*args, **kwargs)

        def seen(message: Any) -> None:
            text = message.text
            if "Content Security Policy" in text or "Permissions policy violation" in text:
                blocked.append(f"{message.page.url if message.page else '?'}: {text}")

        context.on("console", seen)
        return context

    browser.new_context = new_context
    try:
        yield
    finally:
        del browser.new_context  # the class's own method again
    assert not blocked, "\n".join(blocked)
