"""The process's wiring: settings, database, conversation store and channel adapters.

Built once per process by ``build_gateway`` and shared by the HTTP app, the CLI and the
transports; tests build one per database. What the domains see of it is ``seva.core.Core``;
the channels and the web pages take the whole ``Gateway`` (``GatewayDep``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from seva.channels.sms import SmsPull
from seva.channels.ussd import CHANNEL as USSD
from seva.channels.ussd import UssdMenu
from seva.channels.voice.ivr import VoiceMenu
from seva.channels.voice.missed import MissedCalls, parse_numbers
from seva.core import Core
from seva.db.session import Database
from seva.flows.gate import Gate
from seva.flows.runtime import Runtime
from seva.flows.store import (
    AfterCommit,
    ChannelDialogueStore,
    DialogueStore,
    FallbackDialogueStore,
    MemoryDialogueStore,
    RedisDialogueStore,
    SqlDialogueStore,
)
from seva.outbound import Bulkheads, Outbound, UrlPolicy
from seva.settings import Settings

if TYPE_CHECKING:
    from redis import Redis

    from seva.channels.smpp.asyncio.engine import SmsEngine
    from seva.channels.smpp.asyncio.simulator import SmscSimulator
    from seva.channels.voice.asyncio.endpoint import SipEndpoint


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


@dataclass(kw_only=True)
class Gateway(Core):
    sms: SmsPull
    ussd: UssdMenu
    sms_engine: SmsEngine | None = None
    """The SMPP binds and dispatcher when this process runs them."""
    smsc_sim: SmscSimulator | None = None
    """The demo's in-process SMSC simulator, when it runs here."""
    sip: SipEndpoint | None = None
    """The SIP endpoint when this process runs it."""
    listening: dict[str, Listening] = field(default_factory=dict)
    """Where the lifespan's own sockets are bound (``smsc_sim``, ``sip``), so the demo's
    start-up lines can name the ports actually in use, not the ones asked for."""
    voice: VoiceMenu = field(init=False)
    """The phone menu every voice front end (SIP, TwiML, Exotel) asks what to say next."""
    missed_calls: MissedCalls = field(init=False)
    """Numbers a citizen rings and hangs up on, to be answered by SMS."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.voice = VoiceMenu(self.runtime, self.locker.storage)
        self.missed_calls = MissedCalls(
            self.sms, parse_numbers(self.settings.missed_calls), self.settings.shortcode
        )


async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def outbound_from(settings: Settings) -> Outbound:
    return Outbound(
        UrlPolicy.from_setting(settings.outbound_allow),
        Bulkheads(
            per_department=settings.outbound_per_department,
            failures_to_open=settings.outbound_breaker_failures,
            open_seconds=settings.outbound_breaker_seconds,
        ),
    )


REDIS_TIMEOUT = 0.5
"""Seconds a Redis command or connection may take before it counts as Redis being away."""


def build_gateway(settings: Settings, *, database_url: str | None = None) -> Gateway:
    db = Database(
        database_url or settings.effective_database_url, catalog_seconds=settings.catalog_seconds
    )
    redis_client: Redis | None = None
    store: DialogueStore
    if settings.redis_url:
        import redis

        # Timeouts: a Redis that hangs must not hold a citizen's hop (the stores and limits
        # fall back or fail open, see each of them).
        redis_client = redis.Redis.from_url(
            settings.redis_url.get_secret_value(),
            decode_responses=True,
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
        )
        store = FallbackDialogueStore(RedisDialogueStore(redis_client), SqlDialogueStore())
    elif db.is_sqlite and settings.workers == 1:
        # One process owns the embedded database: USSD sessions, seconds long and rebuilt
        # from their own history, need not be written to it on every hop.
        memory = AfterCommit(MemoryDialogueStore())
        store = ChannelDialogueStore(SqlDialogueStore(), {USSD: memory})
    else:
        store = SqlDialogueStore()
    at_once = settings.hops_at_once or (2 if db.is_sqlite else 4)
    runtime = Runtime(settings, store, outbound_from(settings), gate=Gate(at_once))
    return Gateway(
        settings=settings,
        db=db,
        runtime=runtime,
        sms=SmsPull(runtime),
        ussd=UssdMenu(runtime),
        redis=redis_client,
    )
