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


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    need(
        CHROMIUM if Path(CHROMIUM).exists() else None,
        f"Debian Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-core)",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def screenshots_wanted() -> bool:
    return os.environ.get("SEVA_SCREENSHOT") == "1"
