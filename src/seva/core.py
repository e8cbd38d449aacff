"""What the domains are handed: settings, database, conversation runtime, limits, the locker,
call signalling and spoken prompts.

The process's wiring is ``seva.gateway.Gateway``, which adds the channel adapters (SMS, USSD,
the phone menu, missed calls) to this; a domain's routes take ``CoreDep`` and so can reach no
channel, which keeps the layers in ``docs/architecture.md`` true.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from seva.db.catalog_bus import CatalogBus
from seva.db.session import Database
from seva.flows.runtime import Runtime
from seva.locker.service import Locker
from seva.locker.signing import Signer
from seva.locker.storage import storage_from_url
from seva.messaging.intake import SendIntake
from seva.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from seva.rtc import service as rtc_service
from seva.rtc.janus import JanusAdmin, JanusSfu
from seva.rtc.signalling import Hub, RoomEvent
from seva.rtc.tokens import JoinTokens
from seva.rtc.transport import SignallingServer
from seva.settings import Settings, revealed
from seva.voice.tts import Speech

if TYPE_CHECKING:
    from redis import Redis

MESH_MEETING_LIMIT = 4
"""Browser-to-browser meetings: each page sends its video to every other, so beyond four
the uplink of a typical connection is the limit."""


@dataclass
class Core:
    settings: Settings
    db: Database
    runtime: Runtime
    redis: Redis | None = None
    sms_wake: Callable[[], None] | None = None
    """Wakes this process's SMS dispatcher from any thread, when it runs one (set by the app
    as it starts the SMPP binds: the domains know only that something can be woken)."""
    catalog_bus: CatalogBus | None = field(init=False, default=None)
    """Tells other processes, through Redis, when this one changed the catalog, and hears
    them (``seva.db.catalog_bus``); started by the app, which listens."""
    limiter: Limiter = field(init=False)
    """Login and one-time-code limits: in this process, or in Redis when it is configured."""
    send_intake: SendIntake = field(init=False)
    """Group commit of the department send API (``messaging.intake``)."""
    locker: Locker = field(init=False)
    """The citizens' document locker: file store, signing key, public address."""
    rtc: SignallingServer = field(init=False)
    """This process's call signalling (``rtc.signalling`` behind a WebSocket), relayed to and
    from the other processes through Redis when it is configured (``rtc.relay``)."""
    rtc_tokens: JoinTokens = field(init=False)
    speech: Speech = field(init=False)
    """Spoken prompts (espeak-ng, cached under ``SEVA_DATA_DIR/voice-cache``)."""

    def __post_init__(self) -> None:
        self.limiter = RedisLimiter(self.redis) if self.redis is not None else MemoryLimiter()
        self.send_intake = SendIntake(self.db, on_commit=lambda: self.notify_sms())
        self.locker = Locker(
            storage=storage_from_url(
                self.settings.files_url.get_secret_value(), self.settings.data_dir / "files"
            ),
            signer=Signer(self.settings.secret_key.get_secret_value()),
            base_url=self.settings.base_url,
        )
        self.rtc = SignallingServer(
            Hub(meeting_capacity=self.meeting_limit),
            on_events=self._record_room_events,
            sfu=_janus(self.settings),
        )
        if self.redis is not None and self.settings.redis_url:
            from seva.rtc.relay import RoomRelay  # imports redis, like the stores that use it

            self.catalog_bus = CatalogBus(self.redis)
            self.rtc.relay = RoomRelay(self.settings.redis_url.get_secret_value(), self.rtc)
        self.rtc_tokens = JoinTokens(self.settings.secret_key.get_secret_value())
        self.speech = Speech(
            self.settings.data_dir / "voice-cache",
            max_bytes=self.settings.voice_cache_mb * 1024 * 1024,
        )

    @property
    def meeting_limit(self) -> int:
        if self.settings.janus_configured:
            return self.settings.janus_meeting_limit
        return MESH_MEETING_LIMIT

    def _record_room_events(self, events: list[tuple[RoomEvent, bool]]) -> None:
        with self.session() as session:
            rtc_service.record_room_events(session, events, now=datetime.now(UTC))

    def notify_sms(self) -> None:
        """A message was queued: let this process's dispatcher claim it without waiting."""
        if self.sms_wake is not None:
            self.sms_wake()

    def size_thread_pools(self) -> None:
        """Give this process's event loop ``SEVA_WORKER_THREADS`` threads for sync request
        handlers (anyio) and blocking work (asyncio's default executor: SMS MO handling, call
        menu steps). Python's default of cores + 4 would let a handful of calls waiting on
        one department's backend stall every channel; ``seva.outbound`` keeps each
        department to a few threads of these."""
        import anyio.to_thread

        count = self.settings.worker_threads
        anyio.to_thread.current_default_thread_limiter().total_tokens = count
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(count, thread_name_prefix="seva-worker"))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.db.session() as session:
            yield session

    def close(self) -> None:
        self.runtime.outbound.close()
        self.db.dispose()
        if self.catalog_bus is not None:
            self.catalog_bus.close()
        if self.redis is not None:
            self.redis.close()


def _janus(settings: Settings) -> JanusSfu | None:
    if not settings.janus_configured:
        return None
    secret = revealed(settings.janus_admin_secret)
    return JanusSfu(
        JanusAdmin(settings.janus_admin_url, secret),
        ws_url=settings.janus_ws_url,
        secret_key=settings.secret_key.get_secret_value(),
        admin_key=revealed(settings.janus_admin_key) or secret,
        publishers=settings.janus_meeting_limit,
    )


async def get_core(request: Request) -> Core:
    core: Core = request.app.state.gateway
    return core


CoreDep = Annotated[Core, Depends(get_core)]
