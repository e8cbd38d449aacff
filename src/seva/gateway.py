"""The process's wiring: settings, database, conversation store and channel adapters.

Built once per process by ``build_gateway`` and shared by the HTTP app, the CLI and the
transports; tests build one per database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from seva.channels.sms import SmsPull
from seva.channels.ussd import UssdMenu
from seva.channels.voice.ivr import VoiceMenu
from seva.channels.voice.missed import MissedCalls, parse_numbers
from seva.db.session import Database
from seva.flows.runtime import Runtime
from seva.flows.store import DialogueStore, RedisDialogueStore, SqlDialogueStore
from seva.locker.service import Locker
from seva.locker.signing import Signer
from seva.locker.storage import storage_from_url
from seva.messaging.intake import SendIntake
from seva.outbound import Bulkheads, Outbound, UrlPolicy
from seva.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from seva.rtc import service as rtc_service
from seva.rtc.janus import JanusAdmin, JanusSfu
from seva.rtc.signalling import Hub, RoomEvent
from seva.rtc.tokens import JoinTokens
from seva.rtc.transport import SignallingServer
from seva.settings import Settings, revealed
from seva.voice.tts import Speech

MESH_MEETING_LIMIT = 4
"""Browser-to-browser meetings: each page sends its video to every other, so beyond four
the uplink of a typical connection is the limit."""


@dataclass(frozen=True, slots=True)
class Listening:
    """A socket this process listens on: where it was asked to, where it is, and why it moved
    (the demo takes any free port when its default is taken, e.g. by a softphone's server)."""

    host: str
    port: int
    asked: int
    why_moved: str = ""
    """Why not ``asked``, in a few words ("was in use"); empty when it did not move."""

    @property
    def moved(self) -> bool:
        return bool(self.why_moved)


@dataclass
class Gateway:
    settings: Settings
    db: Database
    runtime: Runtime
    sms: SmsPull
    ussd: UssdMenu
    redis: Any = None
    sms_engine: Any = None
    """The SMPP binds and dispatcher when this process runs them (``SmsEngine``)."""
    smsc_sim: Any = None
    """The demo's in-process SMSC simulator (``SmscSimulator``), when it runs here."""
    sip: Any = None
    """The SIP endpoint (``SipEndpoint``) when this process runs it."""
    listening: dict[str, Listening] = field(default_factory=dict)
    """Where the lifespan's own sockets are bound (``smsc_sim``, ``sip``), so the demo's
    start-up lines can name the ports actually in use, not the ones asked for."""
    limiter: Limiter = field(init=False)
    """Login and one-time-code limits: in this process, or in Redis when it is configured."""
    send_intake: SendIntake = field(init=False)
    """Group commit of the department send API (``messaging.intake``)."""
    locker: Locker = field(init=False)
    """The citizens' document locker: file store, signing key, public address."""
    rtc: SignallingServer = field(init=False)
    """This process's call signalling (``rtc.signalling`` behind a WebSocket)."""
    rtc_tokens: JoinTokens = field(init=False)
    voice: VoiceMenu = field(init=False)
    """The phone menu every voice front end (SIP, TwiML, Exotel) asks what to say next."""
    speech: Speech = field(init=False)
    """Spoken prompts (espeak-ng, cached under ``SEVA_DATA_DIR/voice-cache``)."""
    missed_calls: MissedCalls = field(init=False)
    """Numbers a citizen rings and hangs up on, to be answered by SMS."""

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
        self.rtc_tokens = JoinTokens(self.settings.secret_key.get_secret_value())
        self.voice = VoiceMenu(self.runtime, self.locker.storage)
        self.speech = Speech(
            self.settings.data_dir / "voice-cache",
            max_bytes=self.settings.voice_cache_mb * 1024 * 1024,
        )
        self.missed_calls = MissedCalls(
            self.sms, parse_numbers(self.settings.missed_calls), self.settings.shortcode
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
        engine = self.sms_engine
        if engine is not None:
            loop = engine.loop
            loop.call_soon_threadsafe(engine.notify)

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


def outbound_from(settings: Settings) -> Outbound:
    return Outbound(
        UrlPolicy.from_setting(settings.outbound_allow),
        Bulkheads(
            per_department=settings.outbound_per_department,
            failures_to_open=settings.outbound_breaker_failures,
            open_seconds=settings.outbound_breaker_seconds,
        ),
    )


def build_gateway(settings: Settings, *, database_url: str | None = None) -> Gateway:
    db = Database(database_url or settings.effective_database_url)
    redis_client: Any = None
    store: DialogueStore
    if settings.redis_url:
        import redis

        redis_client = redis.Redis.from_url(
            settings.redis_url.get_secret_value(), decode_responses=True
        )
        store = RedisDialogueStore(redis_client)
    else:
        store = SqlDialogueStore()
    runtime = Runtime(settings, store, outbound_from(settings))
    return Gateway(
        settings=settings,
        db=db,
        runtime=runtime,
        sms=SmsPull(runtime),
        ussd=UssdMenu(runtime),
        redis=redis_client,
    )
