"""Waiting for something a real socket peer will do, without sleeping longer than needed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(
    check: Callable[[], bool], timeout: float = 30.0, explain: Callable[[], object] = str
) -> None:
    """Poll ``check`` every 50 ms; fail with ``explain()`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in time: {explain()}")
        await asyncio.sleep(0.05)
