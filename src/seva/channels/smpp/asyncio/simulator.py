"""SMSC simulator: an SMPP v3.4 server that stands in for an operator's SMSC.

Speaks SMPP v3.4 (Issue 1.2) on a real TCP socket: §4.1 bind_transmitter/receiver/transceiver,
§4.2 unbind, §4.3 generic_nack, §4.4 submit_sm, §4.6 deliver_sm (mobile-originated messages and
delivery receipts in the Appendix B form with the receipted_message_id and message_state TLVs of
§5.3.2), §4.7 data_sm, §4.8 query_sm and §4.11 enquire_link. Long messages are carried with the
UDH of 3GPP TS 23.040 §9.2.3.24.1 or the SAR TLVs of §5.3.2.22-24.

The demo's phone page, the test suite and the Kannel comparison benchmark all talk to it, and the
benchmark needs it to answer well over 100,000 submit_sm per second on one core. That is why it
does not run each PDU through the sans-IO :class:`~seva.channels.smpp.session.SmppSession` (one
dataclass and one event object per PDU would cap it far lower). Instead, per connection:

* the hot PDUs (submit_sm, deliver_sm_resp, enquire_link) are read straight out of the received
  bytes with one precompiled ``struct.Struct`` for the header and ``bytes.find`` to skip
  C-strings, pulling out only the fields a receipt or an inspection needs;
* every other PDU goes through the core's :func:`~seva.channels.smpp.pdu.decode` and is answered
  with :func:`~seva.channels.smpp.pdu.encode`, so the rare paths share the core's validation;
* all answers to one received chunk leave in one ``transport.write``;
* receipts and delayed responses are grouped into 10 ms buckets with one timer per bucket,
  never one ``call_later`` per message;
* a message is remembered only until its receipt (plus ``keep_messages`` per destination for
  inspection), so memory stays flat however many messages pass through.

Binds are checked like an operator's: a system_id it has no account for gets ESME_RINVSYSID,
a wrong password ESME_RINVPASWD (§5.1.3). Its accounts are ``SimConfig.accounts``
(``DEFAULT_ACCOUNTS`` unless given), so a client that sends the wrong credentials fails here
as it would against a real SMSC.

The simulator lives on one event loop: call its methods from that loop's thread.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import random
import struct
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Final, cast

from seva.channels.smpp.pdu import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CommandId,
    CommandStatus,
    DataSm,
    DataSmResp,
    DeliverSm,
    MessageState,
    PduError,
    QuerySm,
    QuerySmResp,
    Tag,
    decode,
    encode,
)
from seva.channels.smpp.receipts import DeliveryReceipt, format_receipt
from seva.sms_text import decode_text, split

__all__ = [
    "DEFAULT_ACCOUNTS",
    "MAX_COMMAND_LENGTH",
    "SYSTEM_ID",
    "ReceivedSms",
    "SimConfig",
    "SimStats",
    "SmscSimulator",
]

SYSTEM_ID: Final = "SevaSMSC"
DEFAULT_ACCOUNTS: Final[Mapping[str, str]] = {"seva": "seva"}
"""The one account (system_id ``seva``, password ``seva``) of a simulator given none: the
demo's and ``seva smsc-sim``'s."""
MAX_COMMAND_LENGTH: Final = 65536
# Receipts, delayed responses and acknowledgement checks are grouped into buckets this long.
BUCKET: Final = 0.01
# Bounds that keep memory flat under any load.
MAX_TRACKED: Final = 200_000  # messages findable by query_sm while awaiting their receipt
MAX_KEPT: Final = 100_000  # parts kept for inspection over all destinations
MAX_PENDING: Final = 100_000  # receipts per system_id (and MO overall) waiting for a receiver
WRITE_BUFFER_HIGH: Final = 4 * 1024 * 1024  # per connection, before reading pauses
MAX_ATTEMPTS: Final = 5  # deliver_sm sends before a receipt or MO part is given up

_HEADER: Final = struct.Struct(">IIII")
_TLV_HEAD: Final = struct.Struct(">HH")
_GENERIC_NACK: Final = int(CommandId.GENERIC_NACK)
_SUBMIT_SM: Final = int(CommandId.SUBMIT_SM)
_SUBMIT_SM_RESP: Final = int(CommandId.SUBMIT_SM_RESP)
_DELIVER_SM: Final = int(CommandId.DELIVER_SM)
_DELIVER_SM_RESP: Final = int(CommandId.DELIVER_SM_RESP)
_ENQUIRE_LINK: Final = int(CommandId.ENQUIRE_LINK)
_RESPONSE_BIT: Final = 0x80000000
_ENQUIRE_LINK_RESP_HEADER: Final = struct.Struct(">III").pack(
    16, int(CommandId.ENQUIRE_LINK_RESP), 0
)

_ROK: Final = int(CommandStatus.ESME_ROK)
_RINVCMDLEN: Final = int(CommandStatus.ESME_RINVCMDLEN)
_RINVCMDID: Final = int(CommandStatus.ESME_RINVCMDID)
_RINVBNDSTS: Final = int(CommandStatus.ESME_RINVBNDSTS)
_RINVMSGLEN: Final = int(CommandStatus.ESME_RINVMSGLEN)
_RINVSRCADR: Final = int(CommandStatus.ESME_RINVSRCADR)
_RINVDSTADR: Final = int(CommandStatus.ESME_RINVDSTADR)
_RINVSERTYP: Final = int(CommandStatus.ESME_RINVSERTYP)
_RINVSCHED: Final = int(CommandStatus.ESME_RINVSCHED)
_RINVEXPIRY: Final = int(CommandStatus.ESME_RINVEXPIRY)
_RSUBMITFAIL: Final = int(CommandStatus.ESME_RSUBMITFAIL)
_RTHROTTLED: Final = int(CommandStatus.ESME_RTHROTTLED)

# Bind kinds as bit sets: what the connection may do.
_CAN_SUBMIT: Final = 1
_CAN_RECEIVE: Final = 2
_BindResp = BindTransmitterResp | BindReceiverResp | BindTransceiverResp
_BIND_KINDS: Final[dict[int, tuple[int, type[_BindResp]]]] = {
    int(CommandId.BIND_TRANSMITTER): (_CAN_SUBMIT, BindTransmitterResp),
    int(CommandId.BIND_RECEIVER): (_CAN_RECEIVE, BindReceiverResp),
    int(CommandId.BIND_TRANSCEIVER): (_CAN_SUBMIT | _CAN_RECEIVE, BindTransceiverResp),
}

_ENROUTE: Final = int(MessageState.ENROUTE)
_DELIVERED: Final = int(MessageState.DELIVERED)
_UNDELIVERABLE: Final = int(MessageState.UNDELIVERABLE)
# Appendix B "stat:" words for the §5.2.28 message_state values.
STATE_NAMES: Final[dict[int, str]] = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}

# Printable bytes that read the same in GSM 03.38 (unpacked) and ASCII.
_PLAIN: Final = bytes(
    b
    for b in range(0x20, 0x7F)
    if decode_text(0, bytes((b,))) == chr(b) == decode_text(1, bytes((b,)))
)

# What goes out in a deliver_sm and must be acknowledged.
_RECEIPT: Final = 0
_MO: Final = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class SimConfig:
    """How the simulated SMSC behaves; replace it at run time with ``dataclasses.replace``."""

    receipt_delay: float = 0.5  # seconds from submit to delivery receipt; <0 = never
    failure_rate: float = 0.0  # fraction of messages whose receipt is UNDELIV
    reject_rate: float = 0.0  # fraction of submit_sm answered ESME_RSUBMITFAIL (0x45)
    throttle_rate: float = 0.0  # fraction answered ESME_RTHROTTLED (0x58)
    max_tps: int = 0  # per bind; 0 = unlimited; above it answer ESME_RTHROTTLED
    latency: float = 0.0  # extra delay before each submit_sm_resp (e.g. 0.020)
    accounts: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ACCOUNTS))
    """system_id -> password of the ESMEs that may bind."""
    refuse_binds: bool = False  # answer binds with ESME_RBINDFAIL
    keep_messages: int = 200  # MT kept per destination for inspection (0 = none)
    seed: int | None = None  # for reproducible failure/throttle choices (read at creation)
    track_unique: bool = False  # count distinct (source, destination, text) for loss tests
    probe_prefix: str = ""  # destinations starting with it have their arrival time recorded
    ack_timeout: float = 5.0  # an unanswered deliver_sm is sent again (to the next bind)

    def __post_init__(self) -> None:
        for name in ("failure_rate", "reject_rate", "throttle_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value!r}")
        if self.max_tps < 0:
            raise ValueError(f"max_tps must be 0 (unlimited) or positive, not {self.max_tps!r}")
        if self.latency < 0:
            raise ValueError(f"latency must not be negative, not {self.latency!r}")
        if self.keep_messages < 0:
            raise ValueError(f"keep_messages must not be negative, not {self.keep_messages!r}")
        if not self.ack_timeout > 0:
            raise ValueError(f"ack_timeout must be positive, not {self.ack_timeout!r}")
        if not self.accounts or not all(self.accounts):
            raise ValueError("accounts must name at least one system_id, none of them empty")


@dataclass(slots=True)
class SimStats:
    """Running counters; ``connections`` counts every accepted connection, ``open_connections``
    those still open."""

    binds: int = 0
    bind_failures: int = 0
    submits: int = 0
    submit_resps_ok: int = 0
    rejected: int = 0
    throttled: int = 0
    malformed: int = 0
    receipts_sent: int = 0
    receipts_acked: int = 0
    receipts_dropped: int = 0
    mo_sent: int = 0
    mo_acked: int = 0
    mo_dropped: int = 0
    deliver_retries: int = 0
    connections: int = 0
    open_connections: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedSms:
    """A mobile-terminated message as the simulated handset got it (parts joined).

    ``state`` is the Appendix B word: ENROUTE until the receipt time, then DELIVRD or UNDELIV
    (UNDELIV when any part failed). ``complete`` is False while parts are still missing.
    """

    message_id: str  # the id given for the first part
    message_ids: tuple[str, ...]
    system_id: str
    source: str
    destination: str
    text: str
    parts: int
    received_at: float  # wall-clock time of the first part
    state: str
    data_coding: int
    complete: bool = True


class _Message:
    """One submitted part, kept until its receipt (and, if inspected, a while longer)."""

    __slots__ = (
        "data_coding",
        "destination",
        "done_at",
        "dst_tn",
        "esm_class",
        "kept",
        "message_id",
        "registered_delivery",
        "short_message",
        "source",
        "src_tn",
        "state",
        "submitted_at",
        "system_id",
        "tlvs",
    )

    def __init__(
        self,
        message_id: bytes,
        system_id: str,
        src_tn: bytes,
        source: bytes,
        dst_tn: bytes,
        destination: bytes,
        esm_class: int,
        registered_delivery: int,
        data_coding: int,
        short_message: bytes,
        tlvs: bytes,
        submitted_at: float,
    ) -> None:
        self.message_id = message_id
        self.system_id = system_id
        self.src_tn = src_tn
        self.source = source
        self.dst_tn = dst_tn
        self.destination = destination
        self.esm_class = esm_class
        self.registered_delivery = registered_delivery
        self.data_coding = data_coding
        self.short_message = short_message
        self.tlvs = tlvs
        self.submitted_at = submitted_at
        self.state = _ENROUTE
        self.done_at = 0.0
        self.kept = False


# (sent_at loop time, kind, deliver_sm body, attempts so far, system_id it belongs to)
_Outgoing = tuple[float, int, bytes, int, str]
# A receipt text cut around the message id and the excerpt: (head, middle, tail).
_Template = tuple[bytes, bytes, bytes]


class SmscSimulator:
    """An SMPP v3.4 SMSC on a TCP port, with knobs for failure, throttling and latency."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.stats = SimStats()
        self._rng = random.Random(self.config.seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self.address: tuple[str, int] | None = None
        """Where it listens, once started."""
        self._conns: set[_SmscConnection] = set()
        self._receivers: list[_SmscConnection] = []
        self._receivers_by_system: dict[str, list[_SmscConnection]] = {}
        self._rr = 0
        # Ids count up from the clock in microseconds (so a restarted simulator does not repeat
        # its earlier ids) under a random 12-bit prefix (so two simulators started together,
        # e.g. two routes of one gateway, do not share ids): at most 16 hex digits.
        prefix = random.SystemRandom().getrandbits(12)
        self._next_id = prefix << 52 | (time.time_ns() // 1000) & (1 << 52) - 1
        self._mo_ref = self._rng.randrange(256)
        self._tracked: dict[bytes, _Message] = {}
        self.probes: list[tuple[str, float]] = []
        """(destination, wall-clock arrival) of submits to ``probe_prefix`` numbers: how a
        benchmark measures accept→submit latency without the simulator decoding every text."""
        self._kept: OrderedDict[bytes, deque[_Message]] = OrderedDict()
        self._kept_total = 0
        self._unique: set[tuple[bytes, bytes, int]] = set()
        self.duplicate_submits = 0
        self._receipt_buckets: dict[int, list[_Message]] = {}
        self._delayed_buckets: dict[int, list[tuple[_SmscConnection, bytes]]] = {}
        self._timers: dict[tuple[str, int], asyncio.TimerHandle] = {}
        self._pending_receipts: dict[str, deque[_Outgoing]] = {}
        self._pending_mo: deque[_Outgoing] = deque()
        self._sweep_handle: asyncio.TimerHandle | None = None
        self._dates: dict[int, str] = {}
        self._templates: dict[tuple[int, str, str], _Template] = {}

    # --- life cycle -----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 2775) -> tuple[str, int]:
        """Listen; returns the address actually bound (port 0 picks a free port)."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._server = await loop.create_server(
            lambda: _SmscConnection(self), host, port, backlog=256
        )
        bound = self._server.sockets[0].getsockname()
        self.address = str(bound[0]), int(bound[1])
        return self.address

    async def stop(self) -> None:
        """Close the listener and every connection; undelivered receipts are discarded."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self._cut_all()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._receipt_buckets.clear()
        self._delayed_buckets.clear()
        if self._sweep_handle is not None:
            self._sweep_handle.cancel()
            self._sweep_handle = None
        if server is not None:
            await server.wait_closed()

    def drop_connections(self) -> None:
        """Cut every client connection at once, as a network fault would.

        Receipts and MO parts sent but not yet acknowledged wait for the next bind.
        """
        self._resend(self._cut_all())

    def _cut_all(self) -> list[_Outgoing]:
        """Abort every connection; returns what they had not acknowledged.

        All connections leave the rotation before anything is re-routed, so nothing is handed
        to a connection about to be cut.
        """
        unanswered: list[_Outgoing] = []
        for conn in list(self._conns):
            unanswered.extend(conn.outstanding.values())
            conn.outstanding.clear()
            conn.abort()
        return unanswered

    # --- inspection -----------------------------------------------------------------------

    @property
    def unique_submits(self) -> int:
        """Distinct (source, destination, text) seen while ``track_unique`` is on."""
        return len(self._unique)

    def messages_to(self, destination: str) -> list[ReceivedSms]:
        """The latest ``keep_messages`` parts sent to ``destination``, long messages joined.

        The number matches with or without a leading ``+``.
        """
        bare = destination.removeprefix("+").encode()
        parts: list[_Message] = []
        for key in (bare, b"+" + bare):
            parts.extend(self._kept.get(key, ()))
        # Ids count up in order of acceptance.
        parts.sort(key=lambda m: int(m.message_id, 16))
        return _join_parts(parts)

    # --- mobile-originated messages --------------------------------------------------------

    def inject_mo(self, *, source: str, destination: str, text: str) -> int:
        """Send ``text`` from handset ``source`` to ``destination`` (e.g. a shortcode).

        Goes as deliver_sm to a receiver or transceiver bind (round-robin over all binds),
        split with a UDH when long and in UCS-2 when not GSM 03.38. Returns the parts sent, 0
        when nobody is bound. A part not acknowledged within ``ack_timeout`` is sent again to
        the next bind.
        """
        if not self._receivers:
            return 0
        self._mo_ref = (self._mo_ref + 1) % 256
        src_ton, src_npi, src = _address(source)
        dst_ton, dst_npi, dst = _address(destination)
        bodies = []
        for segment in split(text, reference=self._mo_ref):
            pdu = DeliverSm(
                source_addr_ton=src_ton,
                source_addr_npi=src_npi,
                source_addr=src,
                dest_addr_ton=dst_ton,
                dest_addr_npi=dst_npi,
                destination_addr=dst,
                esm_class=segment.esm_class,
                data_coding=segment.data_coding,
                short_message=segment.short_message,
            )
            bodies.append(encode(pdu)[16:])
        conn = self._next_receiver(None)
        now = self._now()
        for body in bodies:
            item: _Outgoing = (now, _MO, body, 0, "")
            if conn is None:
                self._park(item)
            else:
                conn.queue_deliver(item, now)
        if conn is not None:
            conn.flush()
        self.stats.mo_sent += len(bodies)
        return len(bodies)

    # --- internals: routing deliver_sm ------------------------------------------------------

    def _now(self) -> float:
        loop = self._loop
        return loop.time() if loop is not None else time.monotonic()

    def _next_receiver(self, system_id: str | None) -> _SmscConnection | None:
        """Round-robin over receivers (of ``system_id``, or all), skipping congested ones."""
        pool = self._receivers if system_id is None else self._receivers_by_system.get(system_id)
        if not pool:
            return None
        count = len(pool)
        for _ in range(count):
            self._rr += 1
            conn = pool[self._rr % count]
            if not conn.paused:
                return conn
        return None

    def _park(self, item: _Outgoing) -> None:
        """Hold a deliver_sm until a suitable receiver binds or unclogs (bounded)."""
        if item[1] == _RECEIPT:
            queue = self._pending_receipts.get(item[4])
            if queue is None:
                queue = self._pending_receipts[item[4]] = deque()
            if len(queue) >= MAX_PENDING:
                self.stats.receipts_dropped += 1
                return
        else:
            queue = self._pending_mo
            if len(queue) >= MAX_PENDING:
                self.stats.mo_dropped += 1
                return
        queue.append(item)

    def _resend(self, items: Iterable[_Outgoing]) -> None:
        """Send unacknowledged deliver_sm again, to the next suitable bind."""
        now = self._now()
        touched: set[_SmscConnection] = set()
        for sent_at, kind, body, attempts, system_id in items:
            if attempts + 1 >= MAX_ATTEMPTS:
                if kind == _RECEIPT:
                    self.stats.receipts_dropped += 1
                else:
                    self.stats.mo_dropped += 1
                continue
            self.stats.deliver_retries += 1
            item: _Outgoing = (sent_at, kind, body, attempts + 1, system_id)
            conn = self._next_receiver(system_id if kind == _RECEIPT else None)
            if conn is None:
                self._park(item)
            else:
                conn.queue_deliver(item, now)
                touched.add(conn)
        for conn in touched:
            conn.flush()

    def _drain_pending(self, conn: _SmscConnection) -> None:
        """Give a receiver that just bound (or unclogged) what was waiting for it."""
        now = self._now()
        for queue in (self._pending_receipts.get(conn.system_id), self._pending_mo):
            while queue and not conn.paused and not conn.closing:
                for _ in range(min(len(queue), 1000)):
                    conn.queue_deliver(queue.popleft(), now)
                conn.flush()

    def _watch_acks(self) -> None:
        if self._sweep_handle is None and self._loop is not None:
            delay = max(BUCKET, self.config.ack_timeout / 4)
            self._sweep_handle = self._loop.call_later(delay, self._sweep)

    def _sweep(self) -> None:
        """Send again every deliver_sm unanswered for ``ack_timeout``."""
        self._sweep_handle = None
        limit = self._now() - self.config.ack_timeout
        expired: list[_Outgoing] = []
        waiting = False
        for conn in self._conns:
            outstanding = conn.outstanding
            late = []
            # Insertion order is send order, so the oldest come first.
            for seq, item in outstanding.items():
                if item[0] > limit:
                    break
                late.append(seq)
            for seq in late:
                expired.append(outstanding.pop(seq))
            waiting = waiting or bool(outstanding)
        if expired:
            self._resend(expired)
        if waiting or expired:
            self._watch_acks()

    def _bound(self, conn: _SmscConnection) -> None:
        if conn.kind & _CAN_RECEIVE:
            self._receivers.append(conn)
            self._receivers_by_system.setdefault(conn.system_id, []).append(conn)
            self._drain_pending(conn)

    def _forget(self, conn: _SmscConnection) -> None:
        """Take a closing connection out of rotation; its unanswered deliver_sm go elsewhere."""
        self._conns.discard(conn)
        if conn in self._receivers:
            self._receivers.remove(conn)
            pool = self._receivers_by_system.get(conn.system_id)
            if pool is not None:
                pool.remove(conn)
                if not pool:
                    del self._receivers_by_system[conn.system_id]
        if conn.outstanding:
            items = list(conn.outstanding.values())
            conn.outstanding.clear()
            self._resend(items)

    # --- internals: receipts ---------------------------------------------------------------

    def _receipts_due(self, now: float) -> list[_Message] | None:
        """The bucket for receipts of messages accepted ``now``; None when receipts are off."""
        config = self.config
        if config.receipt_delay < 0:
            return None
        return self._bucket_for(now + config.latency + config.receipt_delay)

    def _bucket_for(self, due: float) -> list[_Message]:
        """The list of messages whose receipt falls in ``due``'s bucket (timer set once)."""
        key = math.ceil(due / BUCKET)
        bucket = self._receipt_buckets.get(key)
        if bucket is None:
            bucket = self._receipt_buckets[key] = []
            assert self._loop is not None
            self._timers[("receipts", key)] = self._loop.call_at(
                key * BUCKET, self._fire_receipts, key
            )
        return bucket

    def _fire_receipts(self, key: int) -> None:
        self._timers.pop(("receipts", key), None)
        messages = self._receipt_buckets.pop(key, None)
        if not messages:
            return
        failure_rate = self.config.failure_rate
        rng = self._rng
        tracked = self._tracked
        wall = time.time()
        done_date = self._date(wall)
        now = self._now()
        # One receiver per system_id for the whole bucket: round-robin between buckets.
        targets: dict[str, _SmscConnection | None] = {}
        sent = 0
        for message in messages:
            failed = failure_rate > 0.0 and rng.random() < failure_rate
            state = _UNDELIVERABLE if failed else _DELIVERED
            message.state = state
            message.done_at = wall
            if not message.kept:
                tracked.pop(message.message_id, None)
            wanted = message.registered_delivery & 0x03
            if wanted == 1 or (wanted == 2 and failed):
                system_id = message.system_id
                item: _Outgoing = (
                    now,
                    _RECEIPT,
                    self._receipt_body(message, done_date),
                    0,
                    system_id,
                )
                sent += 1
                if system_id in targets:
                    conn = targets[system_id]
                else:
                    conn = targets[system_id] = self._next_receiver(system_id)
                if conn is None:
                    self._park(item)
                else:
                    conn.queue_deliver(item, now)
        self.stats.receipts_sent += sent
        for target in targets.values():
            if target is not None:
                target.flush()

    def _date(self, wall: float) -> str:
        """YYMMDDhhmm (Appendix B), formatted once per minute."""
        minute = int(wall // 60)
        text = self._dates.get(minute)
        if text is None:
            if len(self._dates) > 64:
                self._dates.clear()
            text = self._dates[minute] = time.strftime("%y%m%d%H%M", time.gmtime(minute * 60))
        return text

    def _receipt_template(self, state: int, submit_date: str, done_date: str) -> _Template:
        """:func:`format_receipt`'s text cut around the id and the excerpt, made once per
        (state, minute) so each receipt costs two concatenations instead of a formatting."""
        key = (state, submit_date, done_date)
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) > 256:
                self._templates.clear()
            delivered = state == _DELIVERED
            text = format_receipt(
                DeliveryReceipt(
                    message_id="\x01",
                    state=STATE_NAMES[state],
                    submitted=1,
                    delivered=1 if delivered else 0,
                    submit_date=submit_date,
                    done_date=done_date,
                    error="000" if delivered else "001",
                    text="\x02",
                )
            )
            head, _, rest = text.partition(b"\x01")
            middle, _, tail = rest.partition(b"\x02")
            template = self._templates[key] = (head, middle, tail)
        return template

    def _receipt_body(self, message: _Message, done_date: str) -> bytes:
        """deliver_sm body of the Appendix B receipt for ``message``, TLVs included."""
        state = message.state
        head, middle, tail = self._receipt_template(
            state, self._date(message.submitted_at), done_date
        )
        mid = message.message_id
        text = head + mid + middle + _receipt_excerpt(message) + tail
        if state == _DELIVERED:
            error_tlv = b""
        else:
            # GSM (type 3) network error 1: unknown subscriber, the commonest failure.
            error_tlv = _TLV_HEAD.pack(Tag.NETWORK_ERROR_CODE, 3) + b"\x03\x00\x01"
        # The handset's number becomes the source, ours the destination (§4.6.1); then the
        # receipted_message_id and message_state TLVs (§5.3.2.12, §5.3.2.35).
        return b"\0%b%b\0%b%b\0\x04\0\0\0\0\0\0\0\0%c%b\x00\x1e%b%b\0\x04\x27\x00\x01%c%b" % (
            message.dst_tn,
            message.destination,
            message.src_tn,
            message.source,
            len(text),
            text,
            (len(mid) + 1).to_bytes(2, "big"),
            mid,
            state,
            error_tlv,
        )

    # --- internals: delayed responses ------------------------------------------------------

    def _delay(self, conn: _SmscConnection, data: bytes, due: float) -> None:
        key = math.ceil(due / BUCKET)
        bucket = self._delayed_buckets.get(key)
        if bucket is None:
            bucket = self._delayed_buckets[key] = []
            assert self._loop is not None
            self._timers[("responses", key)] = self._loop.call_at(
                key * BUCKET, self._fire_delayed, key
            )
        bucket.append((conn, data))

    def _fire_delayed(self, key: int) -> None:
        self._timers.pop(("responses", key), None)
        for conn, data in self._delayed_buckets.pop(key, ()):
            if not conn.closing:
                conn.write(data)

    # --- internals: message bookkeeping ------------------------------------------------------

    def _keep(self, message: _Message, keep: int) -> None:
        """Remember ``message`` for :meth:`messages_to`, the last ``keep`` per destination."""
        kept = self._kept
        key = message.destination
        queue = kept.get(key)
        if queue is None:
            # Past the overall bound, the destination that got a new number longest ago goes.
            while self._kept_total >= MAX_KEPT and kept:
                _, evicted = kept.popitem(last=False)
                for old in evicted:
                    self._release(old)
            queue = kept[key] = deque()
        while len(queue) >= keep:
            self._release(queue.popleft())
        message.kept = True
        queue.append(message)
        self._kept_total += 1

    def _release(self, message: _Message) -> None:
        self._kept_total -= 1
        message.kept = False
        if message.state != _ENROUTE:
            self._tracked.pop(message.message_id, None)

    def _track_unique(self, source: bytes, destination: bytes, short_message: bytes) -> None:
        key = (source, destination, hash(short_message))
        if key in self._unique:
            self.duplicate_submits += 1
        else:
            self._unique.add(key)

    def _accept(
        self,
        conn: _SmscConnection,
        src_tn: bytes,
        source: bytes,
        dst_tn: bytes,
        destination: bytes,
        esm_class: int,
        registered_delivery: int,
        data_coding: int,
        short_message: bytes,
        tlvs: bytes,
        wall: float,
        receipts: list[_Message] | None,
    ) -> bytes:
        """Record one accepted message for its receipt (due with ``receipts``, a bucket from
        :meth:`_receipts_due`); returns its message_id."""
        self._next_id = number = self._next_id + 1
        mid = b"%x" % number
        message = _Message(
            mid,
            conn.system_id,
            src_tn,
            source,
            dst_tn,
            destination,
            esm_class,
            registered_delivery,
            data_coding,
            short_message,
            tlvs,
            wall,
        )
        tracked = self._tracked
        if len(tracked) < MAX_TRACKED:
            tracked[mid] = message
        config = self.config
        if config.keep_messages:
            self._keep(message, config.keep_messages)
        if config.track_unique:
            self._track_unique(source, destination, short_message + tlvs)
        if config.probe_prefix and destination.startswith(config.probe_prefix.encode()):
            self.probes.append((destination.decode("ascii", "replace"), wall))
        if receipts is not None:
            receipts.append(message)
        return mid

    def _gate(self, conn: _SmscConnection) -> int:
        """ESME_ROK, or the status refusing one more submission on ``conn``."""
        config = self.config
        if config.max_tps:
            if conn.tokens < 1.0:
                return _RTHROTTLED
            conn.tokens -= 1.0
        if config.throttle_rate and self._rng.random() < config.throttle_rate:
            return _RTHROTTLED
        if config.reject_rate and self._rng.random() < config.reject_rate:
            return _RSUBMITFAIL
        return _ROK


class _SmscConnection(asyncio.Protocol):
    """One ESME connection: framing, the submit_sm fast path and everything else via decode."""

    def __init__(self, sim: SmscSimulator) -> None:
        self.sim = sim
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.kind = 0  # _CAN_SUBMIT / _CAN_RECEIVE bits once bound
        self.system_id = ""
        self.closing = False
        self.paused = False
        self.tokens = 0.0
        self.tokens_at = 0.0
        self.seq = 0
        self.outstanding: dict[int, _Outgoing] = {}
        self.wbuf: list[bytes] = []

    # --- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports quack like asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        # One 10 ms bucket of receipts at full speed is a few hundred kB; asyncio's 64 KiB
        # default would stop reading this ESME's submissions after nearly every bucket.
        self.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        self.sim._conns.add(self)
        self.sim.stats.connections += 1
        self.sim.stats.open_connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.sim.stats.open_connections -= 1
        self.closing = True
        self.sim._forget(self)

    def pause_writing(self) -> None:
        # The ESME is not reading: stop reading its submissions until it catches up.
        self.paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()
            if self.kind & _CAN_RECEIVE:
                self.sim._drain_pending(self)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        sim = self.sim
        stats = sim.stats
        stats.bytes_in += len(data)
        buf = self.buf
        if buf:
            buf += data
            data = bytes(buf)
            buf.clear()
        end_of_data = len(data)
        pos = 0
        out: list[bytes] = []
        config = sim.config
        now = sim._now()
        wall = time.time()
        receipts: list[_Message] | None = None
        receipts_looked_up = False
        delayed: list[bytes] | None = [] if config.latency > 0 else None
        gated = bool(config.max_tps or config.throttle_rate or config.reject_rate)
        if config.max_tps:
            self.tokens = min(
                float(config.max_tps), self.tokens + (now - self.tokens_at) * config.max_tps
            )
            self.tokens_at = now
        unpack = _HEADER.unpack_from
        pack = _HEADER.pack
        accept = sim._accept
        find = data.find
        can_submit = self.kind & _CAN_SUBMIT
        submits = ok = 0
        while end_of_data - pos >= 16:
            length, command_id, status, seq = unpack(data, pos)
            if length < 16 or length > MAX_COMMAND_LENGTH:
                # Framing is lost: say why, then hang up (§4.3 generic_nack).
                out.append(pack(16, _GENERIC_NACK, _RINVCMDLEN, seq))
                stats.malformed += 1
                self._finish(out, delayed, submits, ok)
                self.close()
                return
            end = pos + length
            if end > end_of_data:
                break
            if command_id == _SUBMIT_SM:
                submits += 1
                # §4.4.1 submit_sm, read in place; an error leaves `fail` non-zero.
                fail = 0
                p = pos + 16
                z = find(0, p, end)
                if z < 0 or z - p > 5:
                    fail = _RINVSERTYP if z >= 0 else _RINVCMDLEN
                else:
                    p = z + 3
                    z = find(0, p, end)
                    if z < 0 or z - p > 20:
                        fail = _RINVSRCADR if z >= 0 else _RINVCMDLEN
                    else:
                        src_tn = data[p - 2 : p]
                        source = data[p:z]
                        p = z + 3
                        z = find(0, p, end)
                        if z <= p or z - p > 20:
                            fail = _RINVDSTADR if z >= 0 else _RINVCMDLEN
                        else:
                            dst_tn = data[p - 2 : p]
                            destination = data[p:z]
                            esm_class = data[z + 1] if z + 1 < end else 0
                            p = z + 4
                            z = find(0, p, end)
                            if z < 0 or (z != p and z - p != 16):
                                fail = _RINVSCHED if z >= 0 else _RINVCMDLEN
                            else:
                                p = z + 1
                                z = find(0, p, end)
                                if z < 0 or (z != p and z - p != 16):
                                    fail = _RINVEXPIRY if z >= 0 else _RINVCMDLEN
                                else:
                                    p = z + 1
                                    if p + 5 > end:
                                        fail = _RINVCMDLEN
                                    else:
                                        sm_end = p + 5 + data[p + 4]
                                        if sm_end > end:
                                            fail = _RINVMSGLEN
                if not can_submit:
                    fail = _RINVBNDSTS
                elif fail:
                    stats.malformed += 1
                elif gated:
                    fail = sim._gate(self)
                if fail:
                    if fail == _RTHROTTLED:
                        stats.throttled += 1
                    elif fail == _RSUBMITFAIL:
                        stats.rejected += 1
                    out.append(pack(16, _SUBMIT_SM_RESP, fail, seq))
                else:
                    if not receipts_looked_up:
                        receipts = sim._receipts_due(now)
                        receipts_looked_up = True
                    mid = accept(
                        self,
                        src_tn,
                        source,
                        dst_tn,
                        destination,
                        esm_class,
                        data[p],
                        data[p + 2],
                        data[p + 5 : sm_end],
                        data[sm_end:end] if sm_end < end else b"",
                        wall,
                        receipts,
                    )
                    ok += 1
                    resp = pack(17 + len(mid), _SUBMIT_SM_RESP, 0, seq) + mid + b"\0"
                    if delayed is None:
                        out.append(resp)
                    else:
                        delayed.append(resp)
            elif command_id == _DELIVER_SM_RESP:
                self._acknowledged(seq, status)
            elif command_id == _ENQUIRE_LINK:
                out.append(_ENQUIRE_LINK_RESP_HEADER + seq.to_bytes(4, "big"))
            else:
                self._other(data[pos:end], command_id, seq, out, delayed, now)
                if self.closing:
                    self._finish(out, delayed, submits, ok)
                    return
                can_submit = self.kind & _CAN_SUBMIT
            pos = end
        if pos < end_of_data:
            buf += data[pos:] if pos else data
        self._finish(out, delayed, submits, ok)

    # --- helpers -----------------------------------------------------------------------------

    def _finish(self, out: list[bytes], delayed: list[bytes] | None, submits: int, ok: int) -> None:
        stats = self.sim.stats
        stats.submits += submits
        stats.submit_resps_ok += ok
        if out:
            self.write(b"".join(out))
        if delayed:
            sim = self.sim
            sim._delay(self, b"".join(delayed), sim._now() + sim.config.latency)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.sim.stats.bytes_out += len(data)
            self.transport.write(data)

    def close(self) -> None:
        """Close after what is already written has been sent."""
        if not self.closing:
            self.closing = True
            self.sim._forget(self)
            if self.transport is not None:
                self.transport.close()

    def abort(self) -> None:
        """Close now, dropping anything unsent."""
        if not self.closing:
            self.closing = True
            self.sim._forget(self)
        if self.transport is not None:
            self.transport.abort()

    def queue_deliver(self, item: _Outgoing, now: float) -> None:
        """Add one deliver_sm to this connection's next write and wait for its answer."""
        seq = self.seq = self.seq % 0x7FFFFFFF + 1
        body = item[2]
        self.wbuf.append(_HEADER.pack(16 + len(body), _DELIVER_SM, 0, seq))
        self.wbuf.append(body)
        self.outstanding[seq] = (now, item[1], body, item[3], item[4])
        if self.sim._sweep_handle is None:
            self.sim._watch_acks()

    def flush(self) -> None:
        if self.wbuf:
            data = b"".join(self.wbuf)
            self.wbuf.clear()
            self.write(data)

    def _acknowledged(self, seq: int, status: int) -> None:
        item = self.outstanding.pop(seq, None)
        if item is None:
            return
        if status == _ROK:
            if item[1] == _RECEIPT:
                self.sim.stats.receipts_acked += 1
            else:
                self.sim.stats.mo_acked += 1
        else:
            # The ESME could not take it now (e.g. ESME_RX_T_APPN): try again elsewhere.
            self.sim._resend((item,))

    def _other(
        self,
        raw: bytes,
        command_id: int,
        seq: int,
        out: list[bytes],
        delayed: list[bytes] | None,
        now: float,
    ) -> None:
        """Everything but the hot three, through the core's decoder."""
        if command_id & _RESPONSE_BIT:
            if command_id == _GENERIC_NACK and seq in self.outstanding:
                self._acknowledged(seq, _RINVCMDID)
            # Other responses answer nothing we sent; ignore them.
            return
        try:
            pdu = decode(raw)
        except PduError as exc:
            self.sim.stats.malformed += 1
            if exc.command_id is None or exc.command_status == _RINVCMDID:
                out.append(_HEADER.pack(16, _GENERIC_NACK, exc.command_status, seq))
            else:
                out.append(_HEADER.pack(16, command_id | _RESPONSE_BIT, exc.command_status, seq))
            return
        if isinstance(pdu, BindTransmitter | BindReceiver | BindTransceiver):
            out.append(self._bind(pdu, now))
            if self.kind & _CAN_RECEIVE:
                # The bind_resp must reach the ESME before any receipt waiting for it.
                self.write(b"".join(out))
                out.clear()
                self.sim._bound(self)
        elif command_id == CommandId.UNBIND:
            if not self.kind:
                out.append(_HEADER.pack(16, CommandId.UNBIND_RESP, _RINVBNDSTS, seq))
                return
            out.append(_HEADER.pack(16, CommandId.UNBIND_RESP, 0, seq))
            self.kind = 0
            self.write(b"".join(out))
            out.clear()
            self.close()
        elif isinstance(pdu, DataSm):
            resp = self._data_sm(pdu, now)
            if delayed is None or resp.command_status:
                out.append(encode(resp))
            else:
                delayed.append(encode(resp))
        elif isinstance(pdu, QuerySm):
            out.append(encode(self._query_sm(pdu)))
        else:
            # deliver_sm travels only from the SMSC to the ESME.
            out.append(_HEADER.pack(16, _GENERIC_NACK, _RINVCMDID, seq))

    def _bind(self, pdu: BindTransmitter | BindReceiver | BindTransceiver, now: float) -> bytes:
        """§4.1 bind_*: checks the account and answers, with no body when refusing (§4.1.2)."""
        sim = self.sim
        config = sim.config
        kind, resp_class = _BIND_KINDS[pdu.command_id]
        status = _ROK
        if self.kind:
            status = CommandStatus.ESME_RALYBND
        elif config.refuse_binds:
            status = CommandStatus.ESME_RBINDFAIL
        else:
            password = config.accounts.get(pdu.system_id)
            if password is None:
                status = CommandStatus.ESME_RINVSYSID
            elif not hmac.compare_digest(password.encode(), pdu.password.encode()):
                status = CommandStatus.ESME_RINVPASWD
        if status:
            sim.stats.bind_failures += 1
            return _HEADER.pack(16, resp_class.command_id, status, pdu.sequence_number)
        sim.stats.binds += 1
        self.kind = kind
        self.system_id = pdu.system_id
        self.tokens = float(config.max_tps)
        self.tokens_at = now
        return encode(
            resp_class(
                sequence_number=pdu.sequence_number,
                system_id=SYSTEM_ID,
                sc_interface_version=0x34,
            )
        )

    def _data_sm(self, pdu: DataSm, now: float) -> DataSmResp:
        """§4.7 data_sm: accepted like submit_sm; the payload travels in message_payload."""
        sim = self.sim
        seq = pdu.sequence_number
        if not self.kind & _CAN_SUBMIT:
            return DataSmResp(sequence_number=seq, command_status=_RINVBNDSTS)
        sim.stats.submits += 1
        status = sim._gate(self)
        if status == _RTHROTTLED:
            sim.stats.throttled += 1
        elif status:
            sim.stats.rejected += 1
        if status:
            return DataSmResp(sequence_number=seq, command_status=status)
        tlvs = b""
        if pdu.sar_msg_ref_num is not None:
            tlvs = _sar_tlvs(pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum)
        mid = sim._accept(
            self,
            bytes((pdu.source_addr_ton, pdu.source_addr_npi)),
            pdu.source_addr.encode(),
            bytes((pdu.dest_addr_ton, pdu.dest_addr_npi)),
            pdu.destination_addr.encode(),
            pdu.esm_class,
            pdu.registered_delivery,
            pdu.data_coding,
            pdu.message_payload or b"",
            tlvs,
            time.time(),
            sim._receipts_due(now),
        )
        sim.stats.submit_resps_ok += 1
        return DataSmResp(sequence_number=seq, message_id=mid.decode())

    def _query_sm(self, pdu: QuerySm) -> QuerySmResp:
        """§4.8 query_sm: the state of a message still remembered."""
        seq = pdu.sequence_number
        if not self.kind & _CAN_SUBMIT:
            return QuerySmResp(sequence_number=seq, command_status=_RINVBNDSTS)
        message = self.sim._tracked.get(pdu.message_id.encode())
        if message is None:
            return QuerySmResp(sequence_number=seq, command_status=CommandStatus.ESME_RQUERYFAIL)
        final_date = ""
        if message.state != _ENROUTE:
            # §7.1.1 absolute time, UTC: YYMMDDhhmmss, tenths, quarter hours offset, sign.
            final_date = time.strftime("%y%m%d%H%M%S", time.gmtime(message.done_at)) + "000+"
        return QuerySmResp(
            sequence_number=seq,
            message_id=pdu.message_id,
            final_date=final_date,
            message_state=message.state,
            error_code=1 if message.state == _UNDELIVERABLE else 0,
        )


# --- free functions -----------------------------------------------------------------------


def _address(number: str) -> tuple[int, int, str]:
    """(ton, npi, address) for an MO address (§5.2.5-6).

    A handset's number (``+`` or 10 digits and more) is international E.164 as an operator
    sends it: TON 1, NPI 1, digits only. A short code is TON 0 (unknown); letters are
    alphanumeric (TON 5).
    """
    digits = number.removeprefix("+")
    if digits.isdigit() and (number.startswith("+") or len(digits) >= 10):
        return 1, 1, digits
    if digits.isdigit():
        return 0, 1, digits
    return 5, 0, number


def _sar_tlvs(ref: int, total: int | None, seqnum: int | None) -> bytes:
    return b"%b%b%b%c%b%c" % (
        _TLV_HEAD.pack(Tag.SAR_MSG_REF_NUM, 2),
        ref.to_bytes(2, "big"),
        _TLV_HEAD.pack(Tag.SAR_TOTAL_SEGMENTS, 1),
        total or 1,
        _TLV_HEAD.pack(Tag.SAR_SEGMENT_SEQNUM, 1),
        seqnum or 1,
    )


def _read_tlvs(data: bytes) -> dict[int, bytes]:
    """TLVs of a stored message; a malformed tail is ignored (it was accepted as sent)."""
    tlvs: dict[int, bytes] = {}
    pos = 0
    while pos + 4 <= len(data):
        tag, length = _TLV_HEAD.unpack_from(data, pos)
        tlvs[tag] = data[pos + 4 : pos + 4 + length]
        pos += 4 + length
    return tlvs


@dataclass(slots=True)
class _Concat:
    """How one part belongs to a long message (UDH or SAR TLVs) and its own payload."""

    payload: bytes
    reference: int | None = None
    total: int = 1
    seqnum: int = 1


def _concat_info(message: _Message) -> _Concat:
    """3GPP TS 23.040 §9.2.3.24.1/.8 concatenation UDH, or the SAR TLVs of §5.3.2.22-24."""
    sm = message.short_message
    tlvs = _read_tlvs(message.tlvs) if message.tlvs else {}
    if not sm and Tag.MESSAGE_PAYLOAD in tlvs:
        sm = tlvs[Tag.MESSAGE_PAYLOAD]
    if message.esm_class & 0x40 and sm:
        header_end = 1 + sm[0]
        info = _Concat(payload=sm[header_end:])
        pos = 1
        while pos + 2 <= header_end:
            iei, length = sm[pos], sm[pos + 1]
            value = sm[pos + 2 : pos + 2 + length]
            if iei == 0x00 and len(value) == 3:
                info.reference, info.total, info.seqnum = value[0], value[1], value[2]
            elif iei == 0x08 and len(value) == 4:
                info.reference = int.from_bytes(value[:2], "big")
                info.total, info.seqnum = value[2], value[3]
            pos += 2 + length
        return info
    info = _Concat(payload=sm)
    ref = tlvs.get(Tag.SAR_MSG_REF_NUM)
    total = tlvs.get(Tag.SAR_TOTAL_SEGMENTS)
    seqnum = tlvs.get(Tag.SAR_SEGMENT_SEQNUM)
    if ref and total and seqnum:
        info.reference = int.from_bytes(ref, "big")
        info.total, info.seqnum = total[0], seqnum[0]
    return info


def _receipt_excerpt(message: _Message) -> bytes:
    """The first 20 characters of the message, as Appendix B's ``text:`` field carries them
    (ASCII, as :func:`format_receipt` writes them)."""
    payload = message.short_message
    if message.esm_class & 0x40 or not payload:
        payload = _concat_info(message).payload
    head = payload[:20]
    if message.data_coding in (0, 1) and not head.translate(None, _PLAIN):
        # Letters, digits and common punctuation: the same bytes in GSM 03.38 and ASCII.
        return head
    # 20 characters are at most 40 bytes in any coding SMPP carries (UCS-2 is the widest).
    return decode_text(message.data_coding, payload[:40])[:20].encode("ascii", "replace")


@dataclass(slots=True)
class _Group:
    first: _Message
    total: int
    parts: dict[int, tuple[_Message, bytes]] = field(default_factory=dict)


def _join_parts(messages: list[_Message]) -> list[ReceivedSms]:
    """Join the parts of long messages (by source, reference and total) in arrival order.

    Not :class:`~seva.sms_text.Reassembler`: that one consumes a live stream with
    timeouts and hands back only text, while inspection regroups a stored list on every call
    and must report each part's id and state. It decodes the same way: the payload bytes of
    all parts are joined first, so a character an ESME split across parts (UCS-2 surrogates,
    GSM escapes) still decodes whole.
    """
    groups: list[_Group] = []
    open_groups: dict[tuple[bytes, int, int], _Group] = {}
    for message in messages:
        info = _concat_info(message)
        if info.reference is None or info.total <= 1:
            group = _Group(first=message, total=1)
            group.parts[1] = (message, info.payload)
            groups.append(group)
            continue
        key = (message.source, info.reference, info.total)
        group_or_none = open_groups.get(key)
        if group_or_none is None or info.seqnum in group_or_none.parts:
            group = open_groups[key] = _Group(first=message, total=info.total)
            groups.append(group)
        else:
            group = group_or_none
        group.parts[info.seqnum] = (message, info.payload)
        if len(group.parts) == group.total:
            del open_groups[key]
    return [_received(group) for group in groups]


def _received(group: _Group) -> ReceivedSms:
    ordered = [group.parts[n] for n in sorted(group.parts)]
    members = [m for m, _ in ordered]
    states = {m.state for m in members}
    complete = len(ordered) == group.total
    if _UNDELIVERABLE in states:
        state = _UNDELIVERABLE
    elif states == {_DELIVERED} and complete:
        state = _DELIVERED
    else:
        state = _ENROUTE
    first = group.first
    return ReceivedSms(
        message_id=members[0].message_id.decode(),
        message_ids=tuple(m.message_id.decode() for m in members),
        system_id=first.system_id,
        source=first.source.decode("ascii", "replace"),
        destination=first.destination.decode("ascii", "replace"),
        text=decode_text(first.data_coding, b"".join(p for _, p in ordered)),
        parts=len(ordered),
        received_at=first.submitted_at,
        state=STATE_NAMES[state],
        data_coding=first.data_coding,
        complete=complete,
    )
