"""How many citizens' hops run at once in this process's threads.

A hop is a few hundred microseconds of Python holding the GIL. Run sixteen at once and the
threads take the GIL from each other every switch interval, each switch costing more than it
lets through: measured on the embedded gateway, 16 concurrent USSD sessions cost 1.15 ms of
CPU a hop with every hop in its own thread, 0.89 ms with two at a time and 0.77 ms with one.
So hops pass a gate of ``size`` slots (``SEVA_HOPS_AT_ONCE``); the others wait, blocked, not
runnable. A hop that waits on the outside world, a department's backend that may take its
whole timeout, steps out of the gate while it waits (``away``), so one department's slow
backend never holds another's citizens at the gate.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Gate:
    def __init__(self, size: int) -> None:
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._held = threading.local()

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Run the block as one of at most ``size`` hops (waiting for a slot first)."""
        self._slots.acquire()
        self._held.here = True
        try:
            yield
        finally:
            self._held.here = False
            self._slots.release()

    @contextmanager
    def away(self) -> Iterator[None]:
        """Wait on the outside world without a slot (a no-op in a thread that holds none)."""
        if not getattr(self._held, "here", False):
            yield
            return
        self._held.here = False
        self._slots.release()
        try:
            yield
        finally:
            self._slots.acquire()
            self._held.here = True
