"""The ESME side over asyncio: binds to operator SMSCs and carries the dispatcher's messages.

A thin I/O shell around the sans-IO ``SmppSession`` (SMPP v3.4): one asyncio ``Protocol`` per
TCP bind, several binds per operator route, routes chosen by the longest matching destination
prefix. Each bind keeps its window full from its route's queue of parts, within a per-bind
TPS cap; ``ESME_RTHROTTLED``/``ESME_RMSGQFUL`` pause the bind with growing back-off and put the
part back; a dropped connection puts its in-flight parts back and reconnects with back-off.

Written for Seva rather than taken from a library: the Python SMPP clients on PyPI (smpplib,
python-smpp) are blocking, one request per round trip, and could not keep a window of
hundreds of submits full at the rates the gateway needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import parse_qs, unquote, urlsplit

import structlog

from seva.channels.smpp import pdu as P
from seva.channels.smpp.receipts import receipt_outcome
from seva.channels.smpp.session import (
    BindFailed,
    Bound,
    ConnectionClosed,
    LocalProtocolError,
    ProtocolError,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    SmppSession,
    Unbound,
    WindowFull,
)
from seva.logs import debugging, exchanges
from seva.messaging.dispatcher import Inbound, LinkEvents, Outgoing
from seva.sms_text import Reassembler, Segment, split, split_sar

log = structlog.get_logger(__name__)

BindMode = Literal["transceiver", "transmitter", "receiver"]

# Statuses after which the same message will never be accepted: fail it at once.
PERMANENT = frozenset(
    {
        P.CommandStatus.ESME_RINVDSTADR,
        P.CommandStatus.ESME_RINVSRCADR,
        P.CommandStatus.ESME_RINVMSGLEN,
        P.CommandStatus.ESME_RINVDCS,
        0x45,  # ESME_RSUBMITFAIL
        0x62,  # ESME_RINVEXPIRY
        0x66,  # ESME_RX_R_APPN: the SMSC refused this message for good
    }
)
INBOUND_WINDOW = 20_000
ROUTE_DOWN_RETRY = 5.0
TICK = 0.1
"""Seconds between checks of the session's timers (enquire_link, response timeouts)."""
BACK_OFF = frozenset({P.CommandStatus.ESME_RTHROTTLED, P.CommandStatus.ESME_RMSGQFUL})


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteConfig:
    """One operator SMSC account and how Seva uses it."""

    name: str
    host: str
    port: int = 2775
    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    binds: int = 1
    mode: BindMode = "transceiver"
    window: int = 10
    tps: int = 0
    """Submits per second per bind; 0 = as fast as the window allows."""
    prefixes: tuple[str, ...] = ()
    """Destination prefixes (international digits, e.g. ``9198``); empty = the default route."""
    registered_delivery: int = 1
    use_sar: bool = False
    """Long messages with sar_* TLVs instead of a UDH (some SMSCs want one or the other)."""
    reconnect_min: float = 1.0
    reconnect_max: float = 30.0
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0


_INT_OPTIONS = ("binds", "window", "tps", "registered_delivery")
_FLOAT_OPTIONS = ("reconnect_min", "reconnect_max", "enquire_link_interval", "response_timeout")


def parse_routes(text: str) -> list[RouteConfig]:
    """Routes from ``SEVA_SMSC``: SMPP URLs separated by spaces or commas.

    ``smpp://seva:secret@10.0.0.5:2775?name=airtel&binds=4&window=50&tps=200&prefixes=9198+9199``
    Options: name, binds, window, tps, mode (transceiver/transmitter/receiver), prefixes
    (``+``-separated), system_type, registered_delivery, use_sar, reconnect_min/max,
    enquire_link_interval, response_timeout. ``%``-escape special characters in passwords.
    """
    routes: list[RouteConfig] = []
    for n, raw in enumerate(text.replace(",", " ").split()):
        url = urlsplit(raw)
        if url.scheme != "smpp" or not url.hostname or url.username is None:
            raise ValueError(f"SMSC route {n + 1}: expected smpp://system_id:password@host:port")
        options = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        known = {
            "name",
            "mode",
            "prefixes",
            "system_type",
            "use_sar",
            *_INT_OPTIONS,
            *_FLOAT_OPTIONS,
        }
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"SMSC route {n + 1}: unknown option(s) {', '.join(unknown)}")
        mode = options.get("mode", "transceiver")
        if mode not in ("transceiver", "transmitter", "receiver"):
            raise ValueError(
                f"SMSC route {n + 1}: mode must be transceiver, transmitter or receiver"
            )
        try:
            numbers: dict[str, Any] = {k: int(options[k]) for k in _INT_OPTIONS if k in options}
            numbers |= {k: float(options[k]) for k in _FLOAT_OPTIONS if k in options}
        except ValueError as exc:
            raise ValueError(f"SMSC route {n + 1}: {exc}") from None
        routes.append(
            RouteConfig(
                name=options.get("name") or f"smsc{n + 1}",
                host=url.hostname,
                port=url.port or 2775,
                system_id=unquote(url.username),
                password=unquote(url.password or ""),
                system_type=options.get("system_type", ""),
                mode=mode,  # type: ignore[arg-type]
                prefixes=tuple(
                    p for p in options.get("prefixes", "").replace(" ", "+").split("+") if p
                ),
                use_sar=options.get("use_sar", "").lower() in ("1", "true", "yes"),
                **numbers,
            )
        )
    return routes


def address_type(address: str) -> tuple[int, int]:
    """(TON, NPI) for a source address: alphanumeric sender IDs, short codes, full numbers."""
    if not address.isdigit():
        return 5, 0  # alphanumeric
    if len(address) <= 8:
        return 3, 0  # network-specific short code (166, 51969)
    return 1, 1  # international, E.164


@dataclass(slots=True)
class _Message:
    outgoing: Outgoing
    ids: list[str | None]
    remaining: int
    done: bool = False


@dataclass(slots=True)
class _Part:
    message: _Message
    index: int
    pdu: P.SubmitSm


@dataclass
class RouteStats:
    submitted: int = 0
    throttled: int = 0
    errors: int = 0
    timeouts: int = 0
    reconnects: int = 0
    receipts: int = 0
    mo: int = 0


class _Route:
    def __init__(self, config: RouteConfig) -> None:
        self.config = config
        self.urgent: deque[_Part] = deque()
        self.normal: deque[_Part] = deque()
        self.binds: list[_Bind] = []
        self.stats = RouteStats()

    def queued(self) -> int:
        return len(self.urgent) + len(self.normal)

    def pop(self) -> _Part | None:
        if self.urgent:
            return self.urgent.popleft()
        if self.normal:
            return self.normal.popleft()
        return None

    def put_back(self, part: _Part) -> None:
        (self.urgent if part.message.outgoing.priority == 0 else self.normal).appendleft(part)

    def pump(self) -> None:
        self._pump_scheduled = False
        for bind in self.binds:
            bind.pump()

    _pump_scheduled = False

    def pump_soon(self) -> None:
        """Pump once after the caller's burst of submits, so a thousand claimed messages go out
        in a few writes rather than one write each."""
        if not self._pump_scheduled:
            self._pump_scheduled = True
            asyncio.get_running_loop().call_soon(self.pump)


class SmppClient:
    """The SMSC link the dispatcher drains into (``messaging.dispatcher.Link``)."""

    def __init__(
        self,
        routes: list[RouteConfig],
        *,
        clock: Callable[[], float] = time.monotonic,
        reassembly_timeout: float = 300.0,
    ) -> None:
        if not routes:
            raise ValueError("at least one SMSC route is needed")
        names = [r.name for r in routes]
        if len(set(names)) != len(names):
            raise ValueError("SMSC route names must be unique")
        self.clock = clock
        self.routes = [_Route(r) for r in routes]
        self._by_prefix = sorted(
            ((p, route) for route in self.routes for p in route.config.prefixes),
            key=lambda item: -len(item[0]),
        )
        defaults = [r for r in self.routes if not r.config.prefixes]
        self._default = defaults[0] if defaults else self.routes[0]
        self._events: LinkEvents | None = None
        self._references = itertools.count(1)
        self._held: dict[int, _Message] = {}
        self.reassembler = Reassembler(timeout=reassembly_timeout)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    # -- Link --------------------------------------------------------------------------------

    def attach(self, events: LinkEvents) -> None:
        self._events = events

    def free_capacity(self) -> int:
        """How many more messages are worth claiming: two windows' worth per bound bind."""
        room = 0
        for route in self.routes:
            bound = [b for b in route.binds if b.can_submit]
            room += max(0, 2 * sum(b.config.window for b in bound) - route.queued())
        return room

    def submit(self, message: Outgoing) -> None:
        route = self._route_for(message.destination)
        if not any(b.can_submit for b in route.binds) and self._events is not None:
            # Its operator's link is down: back to the queue rather than held here while the
            # lease runs out.
            self._events.deferred(message.message_id, ROUTE_DOWN_RETRY)
            return
        reference = next(self._references)
        segments = (
            split_sar(message.text, reference=reference & 0xFFFF)
            if route.config.use_sar
            else split(message.text, reference=reference & 0xFF)
        )
        held = _Message(message, [None] * len(segments), len(segments))
        self._held[message.message_id] = held
        source_ton, source_npi = address_type(message.source)
        queue = route.urgent if message.priority == 0 else route.normal
        for index, segment in enumerate(segments):
            queue.append(
                _Part(held, index, self._pdu(route, message, segment, source_ton, source_npi))
            )
        route.pump()

    def in_flight(self) -> list[int]:
        return list(self._held)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for route in self.routes:
            for n in range(route.config.binds):
                bind = _Bind(self, route, n)
                route.binds.append(bind)
                self._tasks.append(
                    loop.create_task(bind.run(), name=f"smpp-{route.config.name}-{n}")
                )

    async def wait_bound(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(any(b.bound for b in r.binds) for r in self.routes):
                return True
            await asyncio.sleep(0.02)
        return False

    async def stop(self, timeout: float = 5.0) -> None:
        """Unbind politely; messages not wholly submitted go back to the queue untried."""
        self._stopping = True
        for route in self.routes:
            for bind in route.binds:
                bind.close(unbind=True)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout)
        events = self._events
        for mid, held in list(self._held.items()):
            if not held.done and events is not None:
                events.deferred(mid, 0.0)
        self._held.clear()
        for route in self.routes:
            route.urgent.clear()
            route.normal.clear()

    @property
    def stats(self) -> dict[str, RouteStats]:
        return {r.config.name: r.stats for r in self.routes}

    # -- internals ---------------------------------------------------------------------------

    def _route_for(self, destination: str) -> _Route:
        for prefix, route in self._by_prefix:
            if destination.startswith(prefix):
                return route
        return self._default

    @staticmethod
    def _pdu(
        route: _Route, message: Outgoing, segment: Segment, source_ton: int, source_npi: int
    ) -> P.SubmitSm:
        sar: dict[str, int] = {}
        if route.config.use_sar and segment.total > 1:
            sar = {
                "sar_msg_ref_num": segment.reference,
                "sar_total_segments": segment.total,
                "sar_segment_seqnum": segment.seqnum,
            }
        return P.SubmitSm(
            source_addr_ton=source_ton,
            source_addr_npi=source_npi,
            source_addr=message.source,
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr=message.destination,
            esm_class=segment.esm_class,
            registered_delivery=route.config.registered_delivery,
            data_coding=segment.data_coding,
            short_message=segment.short_message,
            **sar,  # type: ignore[arg-type]
        )

    def _part_accepted(self, route: _Route, part: _Part, message_id: str) -> None:
        held = part.message
        if held.done:
            return
        held.ids[part.index] = message_id
        held.remaining -= 1
        route.stats.submitted += 1
        if held.remaining == 0:
            held.done = True
            self._held.pop(held.outgoing.message_id, None)
            if self._events is not None:
                self._events.submitted(
                    held.outgoing.message_id, route.config.name, [i or "" for i in held.ids]
                )

    def _part_failed(self, part: _Part, reason: str, *, permanent: bool) -> None:
        held = part.message
        if held.done:
            return
        held.done = True
        self._held.pop(held.outgoing.message_id, None)
        if self._events is not None:
            self._events.failed(held.outgoing.message_id, reason, permanent=permanent)

    def _deliver(self, bind: _Bind, request: P.DeliverSm | P.DataSm) -> None:
        route = bind.route
        events = self._events
        receipt = receipt_outcome(request)
        response: P.DeliverSmResp | P.DataSmResp = (
            P.DeliverSmResp(sequence_number=request.sequence_number)
            if isinstance(request, P.DeliverSm)
            else P.DataSmResp(sequence_number=request.sequence_number)
        )
        if receipt is not None:
            route.stats.receipts += 1
            if events is None:
                bind.respond(response)
                return
            message_id, state, error = receipt
            events.receipt(route.config.name, message_id, state, error, bind.answer(response))
            return
        text = self.reassembler.add_pdu(request, self.clock())
        if text is None:
            bind.respond(response)  # a part: held in memory until the rest arrives
            return
        route.stats.mo += 1
        if events is None:
            bind.respond(response)
            return
        events.mo(
            Inbound(
                route=route.config.name,
                source=request.source_addr,
                destination=request.destination_addr,
                text=text,
            ),
            bind.answer(response),
        )


class _Bind(asyncio.Protocol):
    """One TCP connection to an SMSC, reconnected for as long as the client runs."""

    def __init__(self, client: SmppClient, route: _Route, number: int) -> None:
        self.client = client
        self.route = route
        self.config = route.config
        self.number = number
        self.session: SmppSession | None = None
        self.transport: asyncio.Transport | None = None
        self.bound = False
        self.closed: asyncio.Event = asyncio.Event()
        self.in_flight: dict[int, _Part] = {}
        self.paused_until = 0.0
        self.back_off = 0.0
        self.tokens = 0.0
        self.tokens_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._pump_later: asyncio.TimerHandle | None = None

    @property
    def can_submit(self) -> bool:
        session = self.session
        return (
            self.bound and session is not None and session.bound and self.config.mode != "receiver"
        )

    # -- connection loop ---------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self.config.reconnect_min
        while not self.client._stopping:
            self.closed = asyncio.Event()
            try:
                await loop.create_connection(lambda: self, self.config.host, self.config.port)
            except OSError as exc:
                log.warning("smpp.connect_failed", route=self.config.name, error=str(exc))
                self.closed.set()
            await self.closed.wait()
            if self.client._stopping:
                return
            self.route.stats.reconnects += 1
            await asyncio.sleep(delay)
            delay = (
                min(self.config.reconnect_max, delay * 2)
                if not self._was_bound
                else (self.config.reconnect_min)
            )

    _was_bound = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._was_bound = False
        self.session = SmppSession(
            role="esme",
            window=self.config.window,
            response_timeout=self.config.response_timeout,
            enquire_link_interval=self.config.enquire_link_interval,
            # Receipts are answered after they are committed, a flush (tens of ms) later; an
            # SMSC may push thousands in that time.
            inbound_window=INBOUND_WINDOW,
        )
        self.session.bind(
            self.config.mode,
            self.config.system_id,
            self.config.password,
            self.client.clock(),
            system_type=self.config.system_type,
        )
        self._flush()
        self._timer = asyncio.get_running_loop().call_later(TICK, self._on_timer)

    def data_received(self, data: bytes) -> None:
        session = self.session
        if session is None:
            return
        session.receive_data(data, self.client.clock())
        try:
            self._handle_events()
        except Exception:
            # A fault in our own handling must not take the link down: what was not answered
            # is sent again by the SMSC, and the link keeps carrying everything else.
            log.exception("smpp.event_failed", route=self.config.name)
        self.pump(flush=False)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.session is not None:
            self.session.connection_lost()
        self._lost()

    def _lost(self) -> None:
        self.bound = False
        self.transport = None
        self.session = None
        for timer in (self._timer, self._pump_later):
            if timer is not None:
                timer.cancel()
        # Parts the SMSC never answered go out again (possibly a duplicate: at-least-once).
        for part in sorted(self.in_flight.values(), key=lambda p: -p.message.outgoing.message_id):
            if not part.message.done:
                self.route.put_back(part)
        self.in_flight.clear()
        self.closed.set()
        self.route.pump()

    def close(self, *, unbind: bool) -> None:
        if self.transport is None:
            self.closed.set()
            return
        if unbind and self.session is not None and self.bound:
            with contextlib.suppress(Exception):
                self.session.unbind(self.client.clock())
                self._flush()
        self.transport.close()

    def answer(self, response: P.Pdu) -> Callable[[], None]:
        """The acknowledgement of a request received now: sent only on the same connection
        (after a reconnect its sequence number means another PDU, or nothing)."""
        session = self.session

        def ack() -> None:
            if self.session is session:
                self.respond(response)

        return ack

    def respond(self, response: P.Pdu) -> None:
        if self.session is None:
            return  # connection gone: the SMSC will send it again
        self.session.send_response(response)
        if not self._flush_scheduled:
            # Acknowledgements come in thousands after each commit: one write for all of them.
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    _flush_scheduled = False

    # -- events ------------------------------------------------------------------------------

    def _handle_events(self) -> None:
        session = self.session
        while session is not None and (event := session.next_event()) is not None:
            if isinstance(event, ResponseReceived):
                self._response(event.request, event.response)
            elif isinstance(event, RequestReceived):
                if isinstance(event.pdu, P.DeliverSm | P.DataSm):
                    self.client._deliver(self, event.pdu)
            elif isinstance(event, Bound):
                self.bound = True
                self._was_bound = True
                self.back_off = 0.0
                log.info("smpp.bound", route=self.config.name, bind=self.number)
            elif isinstance(event, RequestTimedOut):
                part = self.in_flight.pop(event.request.sequence_number, None)
                if part is not None and session.closed:
                    self.route.put_back(part)  # the link ended, not the SMSC's patience
                elif part is not None:
                    self.route.stats.timeouts += 1
                    self.client._part_failed(part, "no submit_sm_resp in time", permanent=False)
            elif isinstance(event, BindFailed):
                self.bound = False
                log.warning("smpp.bind_failed", route=self.config.name, status=event.status)
                if self.transport is not None:
                    self.transport.close()
            elif isinstance(event, Unbound | ConnectionClosed):
                self.bound = False
                if self.transport is not None:
                    self.transport.close()
            elif isinstance(event, ProtocolError):
                log.warning("smpp.protocol_error", route=self.config.name, error=str(event.error))
            session = self.session

    def _response(self, request: P.Pdu, response: P.Pdu) -> None:
        if not isinstance(request, P.SubmitSm):
            return
        part = self.in_flight.pop(request.sequence_number, None)
        if part is None:
            return
        status = response.command_status
        if status == P.CommandStatus.ESME_ROK and isinstance(response, P.SubmitSmResp):
            if debugging():
                exchanges.debug(
                    "smpp.submit",
                    route=self.config.name,
                    to=request.destination_addr,
                    part=part.index + 1,
                    message_id=response.message_id,
                )
            self.back_off = 0.0
            self.client._part_accepted(self.route, part, response.message_id)
            if self.route.queued() < self.config.window and self.client._events is not None:
                self.client._events.ready()
        elif status in BACK_OFF:
            self.route.stats.throttled += 1
            self.route.put_back(part)
            self.back_off = min(5.0, max(0.1, self.back_off * 2))
            self.paused_until = self.client.clock() + self.back_off
        else:
            self.route.stats.errors += 1
            exchanges.warning(
                "smpp.submit_refused",
                route=self.config.name,
                to=request.destination_addr,
                status=_status_name(status),
            )
            self.client._part_failed(
                part, f"SMSC refused: {_status_name(status)}", permanent=status in PERMANENT
            )

    # -- sending -----------------------------------------------------------------------------

    def pump(self, *, flush: bool = True) -> None:
        session = self.session
        if session is None or not self.can_submit:
            return
        now = self.client.clock()
        if now < self.paused_until:
            self._pump_at(self.paused_until)
            return
        tps = self.config.tps
        if tps:
            self.tokens = min(float(tps), self.tokens + (now - self.tokens_at) * tps)
            self.tokens_at = now
        route = self.route
        sent = 0
        while session.window_free > 0 and (not tps or self.tokens >= 1):
            part = route.pop()
            if part is None:
                break
            if part.message.done:
                continue  # its message already failed on another part
            try:
                seq = session.send_request(part.pdu, now)
            except (WindowFull, LocalProtocolError):
                route.put_back(part)  # the session closed or filled under us
                break
            self.in_flight[seq] = part
            sent += 1
            if tps:
                self.tokens -= 1
        if tps and route.queued() and self.tokens < 1:
            self._pump_at(now + (1 - self.tokens) / tps)
        if sent and flush:
            self._flush()

    def _pump_at(self, when: float) -> None:
        if self._pump_later is not None and not self._pump_later.cancelled():
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, when - self.client.clock())

        def fire() -> None:
            self._pump_later = None
            self.pump()

        self._pump_later = loop.call_later(delay, fire)

    def _flush(self) -> None:
        self._flush_scheduled = False
        session = self.session
        if session is None:
            return
        data = session.data_to_send()
        if data and self.transport is not None:
            self.transport.write(data)

    def _on_timer(self) -> None:
        """Keepalive and response timeouts, checked every TICK rather than re-armed per write."""
        session = self.session
        if session is None:
            self._timer = None
            return
        now = self.client.clock()
        deadline = session.next_deadline()
        if deadline is not None and deadline <= now:
            session.handle_timer(now)
            self._handle_events()
            self.pump(flush=False)
            self._flush()
        if self.session is not None:
            self._timer = asyncio.get_running_loop().call_later(TICK, self._on_timer)


def _status_name(status: int) -> str:
    try:
        return P.CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"
