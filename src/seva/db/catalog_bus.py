"""Catalog changes told between processes through Redis pub/sub (``seva.db.catalog``).

Every process that changes a department, a service, a keyword, a dataset's name or an
official's call hours publishes one message on ``seva:catalog``; every gateway process
listening drops its memos when a message from another process arrives. Pub/sub delivers at
most once: a message sent while a listener was disconnected is lost, so a listener that
(re)subscribes drops its memos too, and the memos' age limit (``SEVA_CATALOG_SECONDS``)
bounds what a lost message can cost.

Publishing never waits on Redis in the thread that committed: a started bus hands each
change to its own thread through a bounded queue (a full queue drops the message; the next
one, or the age limit, covers it). A bus that was not started (a command-line process)
publishes at once, with the client's short timeouts, since the process may end right after.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import uuid
from typing import Any, Final

import structlog

from seva.db import catalog
from seva.kv import REDIS_ERRORS

log = structlog.get_logger("seva.db")

CHANNEL: Final = "seva:catalog"
QUEUE: Final = 256


class CatalogBus:
    def __init__(self, client: Any, *, channel: str = CHANNEL) -> None:
        self.client = client
        self.channel = channel
        self.origin = uuid.uuid4().hex
        self._queue: queue.Queue[str] = queue.Queue(QUEUE)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._forget = catalog.on_change(self._changed)
        self.heard = 0
        """Changes heard from other processes (for tests and the operator's curiosity)."""
        self.subscribed = threading.Event()
        """Set while the listener is subscribed."""

    # -- publishing -----------------------------------------------------------------------

    def _changed(self, database: str) -> None:
        if self._threads:
            # A full queue already holds changes waiting to be told: they cover this one.
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(database)
            return
        self._publish()

    def _publish(self) -> None:
        try:
            self.client.publish(self.channel, self.origin)
        except REDIS_ERRORS as exc:
            log.warning("catalog.publish_failed", error=type(exc).__name__)

    def _publisher(self) -> None:
        while not self._stop.is_set():
            try:
                self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            self._publish()

    # -- listening ------------------------------------------------------------------------

    def _listener(self) -> None:
        wait = 0.1
        while not self._stop.is_set():
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                # Whatever was told while this process was not listening is lost: start afresh.
                catalog.changed_everywhere()
                self.subscribed.set()
                wait = 0.1
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message and message.get("data") != self.origin:
                        self.heard += 1
                        catalog.changed_everywhere()
            except REDIS_ERRORS as exc:
                if self.subscribed.is_set():
                    log.warning("catalog.listen_failed", error=type(exc).__name__)
                self.subscribed.clear()
                self._stop.wait(wait)
                wait = min(wait * 2, 5.0)
            finally:
                self.subscribed.clear()
                with contextlib.suppress(*REDIS_ERRORS):
                    pubsub.close()

    # -- life -----------------------------------------------------------------------------

    def start(self) -> None:
        """Publish from a thread of its own and listen to the other processes."""
        if self._threads:
            return
        self._stop.clear()
        for target, name in ((self._publisher, "publish"), (self._listener, "listen")):
            thread = threading.Thread(target=target, name=f"seva-catalog-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()

    def close(self) -> None:
        self.stop()
        self._forget()
