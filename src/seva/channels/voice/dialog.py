"""The voice channel's SIP user agent server: a sans-IO call state machine over UDP.

Follows RFC 3261 for a UAS that only receives calls: §8.2 (request processing: method, then
headers, then content; 405 with Allow for methods it knows but does not do, 501 for the rest,
415/420/416 for what it cannot read), §9.2 (CANCEL: 200 to the CANCEL, 487 to the INVITE),
§12.1.1 and §12.2.2 (dialog state: tags, route set from Record-Route, remote target from
Contact, CSeq order), §13.3.1.4 (the UAS itself retransmits its 2xx on Timer G, T1 doubling to
T2, until the ACK, and after 64*T1 without one ends the call with a BYE), §14.2 (re-INVITE),
§15 (BYE: never before the ACK of our 2xx), §17.2.1 (the INVITE server transaction: non-2xx
finals retransmitted until their ACK, Timer H, Timer I), §17.2.2 (non-INVITE server
transactions answer retransmissions with the same response for 64*T1), §17.1.2 (our BYE is a
non-INVITE client transaction: Timer E, Timer F) and §17.2.3 (matching by branch, with the
RFC 2543 fallback); RFC 6026 §7.1 (the "Accepted" state that keeps a 2xx'd INVITE transaction
for 64*T1 so retransmitted INVITEs do not start a second call — they get the 2xx again, which
helps a caller whose copy was lost); RFC 3581 (responses go back to the source address and
port) and RFC 3264 via :mod:`seva.channels.voice.sdp`, including an INVITE without an offer
(our offer goes in the 200, the answer comes in the ACK).

The object does no I/O and reads no clock, like :class:`seva.channels.smpp.session.SmppSession`:
the transport passes each datagram to :meth:`Uas.datagram_received` and the application's
decisions to :meth:`Uas.answer`, :meth:`Uas.reject` and :meth:`Uas.hangup`, calls
:meth:`Uas.tick` at :meth:`Uas.next_deadline`, and carries out the returned actions in order:
:class:`SendSip` (write a datagram), :class:`StartMedia` / :class:`StopMedia` (open or update /
close the RTP stream; StopMedia also returns the local port to the pool), :class:`CallStarted`
and :class:`CallEnded` (tell the IVR). Call states change through one table,
:data:`TRANSITIONS`, applied by one method.

Security: only the trunks in ``allowed`` may place calls (anyone else gets a stateless 403, so a
spoofed source cannot make us retransmit at a victim), and only their From header is trusted
for the caller's number. ``allowed=None`` is an explicit open mode for a lab softphone: calls
from anywhere, caller number never trusted. Every table is bounded by ``max_calls``,
``max_transactions`` and timers, so a flood cannot grow memory without limit.

Not done: TCP/TLS, authentication challenges (trunks are authenticated by address), PRACK and
reliable provisionals (an INVITE that requires ``100rel`` is answered 420), strict routing
(route sets are assumed loose, as every RFC 3261 proxy is), DNS (a Contact or route host name
is handed to the transport as it is, to resolve), multipart bodies.
"""

from __future__ import annotations

import enum
import ipaddress
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias

from seva.channels.voice import sdp, sip
from seva.channels.voice.rtp import Codec
from seva.channels.voice.sdp import Direction, MediaChoice, SessionDescription
from seva.channels.voice.sip import Request, Response, SipError

__all__ = [
    "TRANSITIONS",
    "Action",
    "Addr",
    "CallEnded",
    "CallStarted",
    "CallState",
    "EndReason",
    "LocalProtocolError",
    "SendSip",
    "StartMedia",
    "StopMedia",
    "Uas",
]

Addr: TypeAlias = tuple[str, int]

T1: Final = 0.5
T2: Final = 4.0
T4: Final = 5.0
_ALLOW: Final = ", ".join(sip.ALLOWED_METHODS)
_SDP: Final = "application/sdp"


class LocalProtocolError(Exception):
    """The application asked for something the call's state does not allow."""


class CallState(enum.StrEnum):
    """Where a call is; a call that has ended is no longer held at all."""

    RINGING = "RINGING"  # INVITE received, 180 sent, waiting for answer()
    ANSWERED = "ANSWERED"  # 200 OK sent and retransmitted, waiting for the ACK
    HANGUP_PENDING = "HANGUP_PENDING"  # hung up before the ACK; BYE goes once it comes (§15)
    CONFIRMED = "CONFIRMED"  # ACK received: the call is up
    TERMINATING = "TERMINATING"  # our BYE sent, waiting for its response


class _Input(enum.Enum):
    ANSWER = "answer"
    REJECT = "reject"
    HANGUP = "hangup"
    CANCEL = "CANCEL received"
    BYE = "BYE received"
    ACK = "ACK received"
    ACK_TIMEOUT = "no ACK after 64*T1"
    REINVITE = "re-INVITE received"
    BYE_DONE = "BYE answered or timed out"


_S = CallState
_I = _Input
# None means the call is over and forgotten.
TRANSITIONS: Final[dict[CallState, dict[_Input, CallState | None]]] = {
    _S.RINGING: {
        _I.ANSWER: _S.ANSWERED,
        _I.REJECT: None,
        _I.HANGUP: None,
        _I.CANCEL: None,
        _I.BYE: None,
    },
    _S.ANSWERED: {
        _I.ACK: _S.CONFIRMED,
        _I.HANGUP: _S.HANGUP_PENDING,
        _I.ACK_TIMEOUT: _S.TERMINATING,
        _I.BYE: None,
    },
    _S.HANGUP_PENDING: {
        _I.ACK: _S.TERMINATING,
        _I.ACK_TIMEOUT: _S.TERMINATING,
        _I.HANGUP: _S.HANGUP_PENDING,
        _I.BYE: None,
    },
    _S.CONFIRMED: {
        _I.HANGUP: _S.TERMINATING,
        _I.ACK_TIMEOUT: _S.TERMINATING,
        _I.REINVITE: _S.CONFIRMED,
        _I.BYE: None,
    },
    _S.TERMINATING: {_I.HANGUP: _S.TERMINATING, _I.BYE_DONE: None, _I.BYE: None},
}


class EndReason(enum.StrEnum):
    """Why :class:`CallEnded` was reported."""

    REMOTE_HANGUP = "remote-hangup"  # the caller sent BYE
    LOCAL_HANGUP = "local-hangup"  # the application called hangup()
    CANCELLED = "cancelled"  # the caller gave up before the answer
    REJECTED = "rejected"  # the application called reject()
    NOT_ANSWERED = "not-answered"  # the application did not answer within answer_timeout
    NO_ACK = "no-ack"  # our 200 OK was never acknowledged
    MAX_DURATION = "max-duration"  # the call reached max_duration
    NO_MEDIA_PORT = "no-media-port"  # the RTP port allocator had nothing left
    MEDIA_FAILED = "media-failed"  # the ACK of an offerless INVITE had no usable answer


def _check_addr(addr: Addr) -> None:
    if not (isinstance(addr, tuple) and len(addr) == 2 and isinstance(addr[0], str)):
        raise ValueError(f"address must be a (host, port) tuple, not {addr!r}")
    if not (isinstance(addr[1], int) and 0 < addr[1] <= 65535):
        raise ValueError(f"port must be 1..65535, not {addr[1]!r}")


# --- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SendSip:
    """Write ``data`` as one UDP datagram to ``addr`` (host may be a name to resolve)."""

    data: bytes
    addr: Addr

    def __post_init__(self) -> None:
        _check_addr(self.addr)


@dataclass(frozen=True, slots=True, kw_only=True)
class StartMedia:
    """Start RTP on ``local_port`` with the far end at ``remote_rtp_addr``.

    Sent again for a call whose media already runs when a re-INVITE changes it: the transport
    then updates the stream in place (same local port).
    """

    call_id: str
    remote_rtp_addr: Addr
    codec: Codec
    payload_type: int
    dtmf_pt: int | None
    local_port: int
    direction: Direction

    def __post_init__(self) -> None:
        _check_addr(self.remote_rtp_addr)
        if not 0 < self.local_port <= 65535:
            raise ValueError(f"local_port must be 1..65535, not {self.local_port}")


@dataclass(frozen=True, slots=True, kw_only=True)
class StopMedia:
    """Stop RTP for the call and give ``local_port`` back to the allocator's pool.

    Comes once for every port the allocator handed out, even if media never started.
    """

    call_id: str
    local_port: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStarted:
    """A call is ringing: answer it with :meth:`Uas.answer` or refuse it with :meth:`Uas.reject`.

    ``caller`` is the user part of From (the number) when ``source`` is an allowed trunk, else
    None; ``called`` is the user part of the Request-URI (the number dialled).
    """

    call_id: str
    caller: str | None
    called: str
    source: Addr


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded:
    """The call is over for the application; comes exactly once after each CallStarted."""

    call_id: str
    reason: EndReason


Action: TypeAlias = SendSip | StartMedia | StopMedia | CallStarted | CallEnded


# --- internal state ---------------------------------------------------------------------------


@dataclass(slots=True)
class Retransmit:
    """A message sent again at ``interval``, doubling up to ``cap``, until ``give_up_at``
    (Timers A/E for requests, G for a 2xx; §17.1.1.2, §17.1.2.2, §13.3.1.4). The client
    (``uac``) uses it too."""

    data: bytes
    addr: Addr
    next_at: float
    interval: float
    give_up_at: float
    cap: float | None
    """T2 for non-INVITE requests and 2xx responses; None for an INVITE (Timer A)."""

    @classmethod
    def start(
        cls, data: bytes, addr: Addr, now: float, *, t1: float, cap: float | None
    ) -> Retransmit:
        return cls(data, addr, now + t1, t1, now + 64 * t1, cap)

    @property
    def deadline(self) -> float:
        return min(self.next_at, self.give_up_at)

    def back_off(self, now: float) -> None:
        doubled = self.interval * 2
        self.interval = doubled if self.cap is None else min(doubled, self.cap)
        self.next_at = now + self.interval


@dataclass(slots=True)
class _InviteTx:
    key: str
    addr: Addr
    call_id: str | None = None
    state: Literal["proceeding", "completed", "confirmed", "accepted"] = "proceeding"
    response: bytes | None = None
    retransmit: Retransmit | None = None
    expires_at: float | None = None


@dataclass(slots=True, kw_only=True)
class _Call:
    call_id: str
    state: CallState
    invite: Request
    source: Addr
    tx_key: str
    local_tag: str
    remote_tag: str | None
    local_uri_header: str  # our From in requests we send: the INVITE's To with our tag
    remote_uri_header: str  # our To in requests we send: the INVITE's From
    remote_target: str
    route_set: tuple[str, ...]
    remote_cseq: int
    caller: str | None
    called: str
    offer: SessionDescription | None
    choice: MediaChoice | None
    answer_deadline: float | None
    local_cseq: int = 0
    local_port: int | None = None
    local_sdp: bytes = b""
    sdp_session: int = field(default_factory=lambda: secrets.randbelow(2**62))
    sdp_version: int = 1
    end_deadline: float | None = None
    ack_cseq: int | None = None
    ok_retransmit: Retransmit | None = None
    bye_retransmit: Retransmit | None = None
    bye_branch: str | None = None
    reported: bool = False


@dataclass(frozen=True, slots=True)
class _Offer:
    description: SessionDescription
    choice: MediaChoice


_Refusal: TypeAlias = tuple[int, list[tuple[str, str]]]


class Uas:
    """A SIP user agent server for incoming calls; see the module docstring for the protocol.

    ``allowed`` lists the trunk addresses or networks (``"10.0.0.0/24"``) that may call, or is
    None for open mode. ``rtp_port_allocator`` returns a free local RTP port, or None when there
    is none (the call is then refused with 503). ``max_calls`` bounds calls in progress (486
    Busy Here beyond it); ``answer_timeout`` bounds ringing (480), ``max_duration`` a call's
    length (BYE; None for no limit).
    """

    def __init__(
        self,
        *,
        allowed: Iterable[str] | None,
        local_ip: str,
        rtp_port_allocator: Callable[[], int | None],
        max_calls: int = 100,
        sip_port: int = 5060,
        t1: float = T1,
        t2: float = T2,
        t4: float = T4,
        answer_timeout: float = 60.0,
        max_duration: float | None = 3600.0,
        max_transactions: int = 4096,
        server: str = "Seva",
    ) -> None:
        self._allowed = (
            None
            if allowed is None
            else tuple(ipaddress.ip_network(a, strict=False) for a in allowed)
        )
        ip = ipaddress.ip_address(local_ip)
        self.local_ip = local_ip
        self._hostport = f"[{local_ip}]:{sip_port}" if ip.version == 6 else f"{local_ip}:{sip_port}"
        self._allocate = rtp_port_allocator
        self.max_calls = max_calls
        self.t1, self.t2, self.t4 = t1, t2, t4
        self.answer_timeout = answer_timeout
        self.max_duration = max_duration
        self.max_transactions = max_transactions
        self.server = server
        self._calls: dict[str, _Call] = {}
        self._invites: dict[str, _InviteTx] = {}
        # Final responses to non-INVITE requests, replayed to retransmissions (Timer J).
        self._answered: OrderedDict[tuple[str, str], tuple[bytes, float]] = OrderedDict()

    # --- inspection ---------------------------------------------------------------------------

    @property
    def active_calls(self) -> int:
        """Calls ringing or up (those waiting for a BYE response do not count)."""
        return sum(1 for c in self._calls.values() if c.state is not CallState.TERMINATING)

    @property
    def held(self) -> int:
        """Calls and transactions held in memory, for tests and metrics."""
        return len(self._calls) + len(self._invites) + len(self._answered)

    def call_state(self, call_id: str) -> CallState | None:
        call = self._calls.get(call_id)
        return call.state if call is not None else None

    def next_deadline(self) -> float | None:
        """When :meth:`tick` next has work to do; None when nothing is pending."""
        times: list[float] = []
        for tx in self._invites.values():
            if tx.retransmit is not None:
                times.append(tx.retransmit.deadline)
            if tx.expires_at is not None:
                times.append(tx.expires_at)
        for call in self._calls.values():
            for deadline in (call.answer_deadline, call.end_deadline):
                if deadline is not None:
                    times.append(deadline)
            for retransmit in (call.ok_retransmit, call.bye_retransmit):
                if retransmit is not None:
                    times.append(retransmit.deadline)
        if self._answered:
            times.append(next(iter(self._answered.values()))[1])
        return min(times, default=None)

    # --- input --------------------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: Addr, now: float) -> list[Action]:
        """Parse and handle one datagram; unreadable requests are answered 400 when possible.

        ``addr`` may be asyncio's 4-tuple for IPv6; only host and port are kept.
        """
        addr = (addr[0], addr[1])
        try:
            message = sip.parse(data)
        except SipError as exc:
            if exc.request is None or exc.status is None or exc.request.method == "ACK":
                return []
            return self._stateless(exc.request, exc.status, addr, warning=exc.message)
        return self.receive(message, addr, now)

    def receive(self, message: Request | Response, addr: Addr, now: float) -> list[Action]:
        """Handle one parsed message from ``addr``."""
        try:
            if isinstance(message, Response):
                return self._on_response(message)
            request = sip.stamp_via(message, addr)
            return self._on_request(request, addr, now)
        except SipError as exc:
            if isinstance(message, Response) or message.method == "ACK":
                return []
            return self._stateless(message, 400, addr, warning=exc.message)

    def tick(self, now: float) -> list[Action]:
        """Fire every timer due at ``now``: retransmissions, give-ups, expiries."""
        actions: list[Action] = []
        for key, tx in list(self._invites.items()):
            retransmit = tx.retransmit
            if retransmit is not None and retransmit.next_at <= now < retransmit.give_up_at:
                actions.append(SendSip(data=retransmit.data, addr=retransmit.addr))
                retransmit.back_off(now)
            if tx.expires_at is not None and tx.expires_at <= now:
                del self._invites[key]
        for call in list(self._calls.values()):
            actions += self._call_timers(call, now)
        while self._answered and next(iter(self._answered.values()))[1] <= now:
            self._answered.popitem(last=False)
        return actions

    # --- application decisions ----------------------------------------------------------------

    def answer(self, call_id: str, now: float) -> list[Action]:
        """Answer a ringing call: 200 OK with SDP, retransmitted until the ACK; media starts.

        Returns nothing when the call has already ended (its CallEnded is on its way).
        """
        call = self._calls.get(call_id)
        if call is None:
            return []
        self._check(call, _I.ANSWER)
        port = self._allocate()
        if port is None:
            return self._refuse(call, 503, now, EndReason.NO_MEDIA_PORT)
        call.local_port = port
        if call.offer is not None and call.choice is not None:
            body = self._answer_sdp(call, call.offer, call.choice)
        else:
            body = sdp.build_offer(
                address=self.local_ip,
                port=port,
                session_id=call.sdp_session,
                session_version=call.sdp_version,
            )
        call.local_sdp = body
        data = self._ok(call, call.invite, body, now)
        call.ack_cseq = call.invite.cseq.number
        call.answer_deadline = None
        if self.max_duration is not None:
            call.end_deadline = now + self.max_duration
        self._advance(call, _I.ANSWER)
        actions: list[Action] = [SendSip(data=data, addr=call.source)]
        if call.choice is not None:
            actions.append(self._start_media(call, call.choice))
        return actions

    def reject(self, call_id: str, now: float, status: int = 480) -> list[Action]:
        """Refuse a ringing call with a final ``status`` (3xx-6xx)."""
        if not 300 <= status <= 699:
            raise ValueError(f"a rejection needs a 3xx-6xx status, not {status}")
        call = self._calls.get(call_id)
        if call is None:
            return []
        self._check(call, _I.REJECT)
        return self._refuse(call, status, now, EndReason.REJECTED)

    def hangup(self, call_id: str, now: float) -> list[Action]:
        """End a call from our side: 480 while ringing, else BYE (after the ACK, §15)."""
        call = self._calls.get(call_id)
        if call is None:
            return []
        return self._hangup(call, now, EndReason.LOCAL_HANGUP)

    # --- requests -----------------------------------------------------------------------------

    def _on_request(self, request: Request, addr: Addr, now: float) -> list[Action]:
        method = request.method
        if method == "ACK":
            return self._on_ack(request, now)
        if not self._admits(addr[0]):
            return self._stateless(request, 403, addr)
        if method == "INVITE":
            return self._on_invite(request, addr, now)
        cached = self._answered.get((sip.transaction_key(request), method))
        if cached is not None:
            return [SendSip(data=cached[0], addr=addr)]
        if method == "BYE":
            return self._on_bye(request, addr, now)
        if method == "CANCEL":
            return self._on_cancel(request, addr, now)
        if method == "OPTIONS":
            headers = [("Allow", _ALLOW), ("Accept", _SDP), ("Server", self.server)]
            return [self._answer(request, 200, addr, now, headers=headers)]
        if method in sip.KNOWN_METHODS:
            return [self._answer(request, 405, addr, now, headers=[("Allow", _ALLOW)])]
        return [self._answer(request, 501, addr, now)]

    def _on_invite(self, request: Request, addr: Addr, now: float) -> list[Action]:
        key = sip.transaction_key(request)
        tx = self._invites.get(key)
        if tx is not None:
            # A retransmission: the last response again, never a second call.
            return [SendSip(data=tx.response, addr=addr)] if tx.response else []
        if len(self._invites) >= self.max_transactions:
            return self._stateless(request, 503, addr, headers=[("Retry-After", "5")])
        tx = _InviteTx(key=key, addr=addr)
        self._invites[key] = tx
        try:
            if request.to.tag is not None:
                return self._on_reinvite(request, tx, now)
            return self._on_new_invite(request, tx, addr, now)
        except SipError as exc:
            # Raised before any call state changed; the transaction answers and expires.
            return [self._finish(tx, request, 400, now, headers=[self._warning(exc.message)])]

    def _on_new_invite(
        self, request: Request, tx: _InviteTx, addr: Addr, now: float
    ) -> list[Action]:
        rejection = self._screen_invite(request)
        if rejection is not None:
            status, headers = rejection
            return [self._finish(tx, request, status, now, headers=headers)]
        offer: _Offer | None = None
        if request.body:
            outcome = self._read_offer(request)
            if not isinstance(outcome, _Offer):
                return [self._finish(tx, request, outcome[0], now, headers=outcome[1])]
            offer = outcome
        remote_target = self._contact(request) or f"sip:{self._hostport_of(addr)}"
        route_set = tuple(
            value
            for row in request.header_all("Record-Route")
            for value in sip.split_header_values(row)
        )
        for route in route_set:
            sip.parse_name_addr(route)
        key = tx.key
        local_tag = sip.new_tag()
        call = _Call(
            call_id=request.call_id,
            state=CallState.RINGING,
            invite=request,
            source=addr,
            tx_key=key,
            local_tag=local_tag,
            remote_tag=request.from_.tag,
            local_uri_header=f"{request.header('To')};tag={local_tag}",
            remote_uri_header=request.header("From") or "",
            remote_target=remote_target,
            route_set=route_set,
            remote_cseq=request.cseq.number,
            caller=self._caller(request, addr),
            called=self._called(request),
            offer=offer.description if offer else None,
            choice=offer.choice if offer else None,
            answer_deadline=now + self.answer_timeout,
        )
        tx.call_id = call.call_id
        self._calls[call.call_id] = call
        trying = sip.make_response(request, 100, headers=[("Server", self.server)]).encode()
        ringing = sip.make_response(
            request, 180, to_tag=local_tag, headers=self._dialog_headers()
        ).encode()
        tx.response = ringing
        return [
            SendSip(data=trying, addr=addr),
            SendSip(data=ringing, addr=addr),
            CallStarted(call_id=call.call_id, caller=call.caller, called=call.called, source=addr),
        ]

    def _screen_invite(self, request: Request) -> tuple[int, list[tuple[str, str]]] | None:
        """§8.2.1-§8.2.2 checks before a new call exists: the status to refuse with, if any."""
        scheme = request.uri.partition(":")[0].lower()
        if scheme not in ("sip", "sips", "tel"):
            return 416, []
        sip.parse_uri(request.uri)
        required = [
            tag for row in request.header_all("Require") for tag in sip.split_header_values(row)
        ]
        if required:
            return 420, [("Unsupported", ", ".join(required))]
        existing = self._calls.get(request.call_id)
        if existing is not None:
            merged = (
                existing.remote_tag == request.from_.tag
                and existing.invite.cseq.number == request.cseq.number
            )
            # §8.2.2.2: the same request arriving by a second path is a loop; any other new
            # INVITE reusing a live Call-ID cannot be told apart from that call's dialog.
            return (482, []) if merged else (400, [self._warning("Call-ID already in use")])
        if self.active_calls >= self.max_calls:
            return 486, []
        return None

    def _read_offer(self, request: Request) -> _Offer | _Refusal:
        if sip.media_type(request.header("Content-Type")) != _SDP:
            return 415, [("Accept", _SDP)]
        try:
            offer = sdp.parse(request.body)
            return _Offer(offer, sdp.negotiate(offer))
        except sdp.NoCommonCodec:
            return 488, [("Warning", f'305 {self.local_ip} "Incompatible media format"')]
        except sdp.HostAddress:
            return 488, [("Warning", f'301 {self.local_ip} "Incompatible network address formats"')]
        except sdp.SdpError as exc:
            return 400, [self._warning(f"bad SDP: {exc}")]

    def _on_reinvite(self, request: Request, tx: _InviteTx, now: float) -> list[Action]:
        call = self._dialog(request)
        if call is None:
            return [self._finish(tx, request, 481, now)]
        tx.call_id = call.call_id
        if call.state is not CallState.CONFIRMED or call.ack_cseq is not None:
            # §14.2: an INVITE of ours is still in progress on this dialog.
            retry = [("Retry-After", str(1 + secrets.randbelow(10)))]
            return [self._finish(tx, request, 500, now, to_tag=call.local_tag, headers=retry)]
        cseq = request.cseq.number
        if cseq < call.remote_cseq:
            return [self._finish(tx, request, 500, now, to_tag=call.local_tag)]
        remote_target = self._contact(request) or call.remote_target  # §12.2.2 target refresh
        actions: list[Action] = []
        body = call.local_sdp
        if request.body:
            outcome = self._read_offer(request)
            if not isinstance(outcome, _Offer):
                status, headers = outcome
                return [
                    self._finish(tx, request, status, now, to_tag=call.local_tag, headers=headers)
                ]
            choice = outcome.choice
            changed = call.choice is None or _media_key(choice) != _media_key(call.choice)
            if changed and call.local_port is not None:
                actions.append(self._start_media(call, choice))
            call.offer, call.choice = outcome.description, choice
            body = self._answer_sdp(call, outcome.description, choice)
            call.local_sdp = body
        call.remote_cseq = cseq
        call.remote_target = remote_target
        call.ack_cseq = cseq
        self._advance(call, _I.REINVITE)
        return [SendSip(data=self._ok(call, request, body, now), addr=call.source), *actions]

    def _on_ack(self, request: Request, now: float) -> list[Action]:
        tx = self._invites.get(sip.transaction_key(request))
        if tx is not None and tx.state == "completed":
            # ACK of a non-2xx final: stop Timer G, absorb stray ACKs for T4 (Timer I).
            tx.state, tx.retransmit, tx.expires_at = "confirmed", None, now + self.t4
            return []
        call = self._dialog(request)
        if call is None or call.ack_cseq is None or request.cseq.number != call.ack_cseq:
            return []  # a retransmitted or stray ACK: never answered (§17.2.3)
        call.ack_cseq = None
        call.ok_retransmit = None
        actions: list[Action] = []
        if call.state is CallState.ANSWERED and call.choice is None:
            # Offerless INVITE: the ACK carries the answer to the offer in our 200 (§13.2.1).
            try:
                call.choice = sdp.negotiate(sdp.parse(request.body))
            except sdp.SdpError:
                self._advance(call, _I.ACK)
                return self._hangup(call, now, EndReason.MEDIA_FAILED)
            actions.append(self._start_media(call, call.choice))
        if (
            call.state in (CallState.ANSWERED, CallState.HANGUP_PENDING)
            and self._advance(call, _I.ACK) is CallState.TERMINATING
        ):
            actions.append(self._send_bye(call, now))
        return actions

    def _on_bye(self, request: Request, addr: Addr, now: float) -> list[Action]:
        call = self._dialog(request)
        if call is None:
            return [self._answer(request, 481, addr, now)]
        cseq = request.cseq.number
        if cseq < call.remote_cseq:
            return [self._answer(request, 500, addr, now)]  # out of order (§12.2.2)
        call.remote_cseq = cseq
        actions: list[Action] = [self._answer(request, 200, addr, now)]
        if call.state is CallState.RINGING:
            # §15.1.2: the pending INVITE still gets its final response.
            actions.append(self._finish_call(call, 487, now))
        actions += self._report_end(call, EndReason.REMOTE_HANGUP)
        self._advance(call, _I.BYE)
        return actions

    def _on_cancel(self, request: Request, addr: Addr, now: float) -> list[Action]:
        tx = self._invites.get(sip.transaction_key(request))
        if tx is None:
            return [self._answer(request, 481, addr, now)]
        call = self._calls.get(tx.call_id) if tx.call_id is not None else None
        if call is not None and call.tx_key != tx.key:
            call = None
        # §9.2: the CANCEL's response carries the same To tag as the INVITE's responses.
        to_tag = call.local_tag if call is not None else None
        actions: list[Action] = [self._answer(request, 200, addr, now, to_tag=to_tag)]
        if tx.state == "proceeding" and call is not None and call.state is CallState.RINGING:
            actions.append(self._finish_call(call, 487, now))
            actions += self._report_end(call, EndReason.CANCELLED)
            self._advance(call, _I.CANCEL)
        return actions

    def _on_response(self, response: Response) -> list[Action]:
        if response.cseq.method != "BYE":
            return []
        call = self._calls.get(response.call_id)
        if call is None or call.state is not CallState.TERMINATING:
            return []
        if response.top_via.branch != call.bye_branch or call.bye_retransmit is None:
            return []
        if response.status < 200:
            call.bye_retransmit.interval = self.t2  # §17.1.2.2: keep trying, but slowly
            return []
        self._advance(call, _I.BYE_DONE)
        return []

    # --- timers -------------------------------------------------------------------------------

    def _call_timers(self, call: _Call, now: float) -> list[Action]:
        actions: list[Action] = []
        if call.state is CallState.RINGING:
            if call.answer_deadline is not None and call.answer_deadline <= now:
                return self._refuse(call, 480, now, EndReason.NOT_ANSWERED)
            return []
        ok = call.ok_retransmit
        if ok is not None:
            if ok.give_up_at <= now:
                call.ok_retransmit, call.ack_cseq = None, None
                if call.state is CallState.HANGUP_PENDING:
                    self._advance(call, _I.ACK_TIMEOUT)
                    return [self._send_bye(call, now)]
                return self._hangup(call, now, EndReason.NO_ACK)
            if ok.next_at <= now:
                actions.append(SendSip(data=ok.data, addr=ok.addr))
                ok.back_off(now)
        if call.end_deadline is not None and call.end_deadline <= now:
            call.end_deadline = None
            actions += self._hangup(call, now, EndReason.MAX_DURATION)
        bye = call.bye_retransmit
        if call.state is CallState.TERMINATING and bye is not None:
            if bye.give_up_at <= now:
                self._advance(call, _I.BYE_DONE)  # Timer F: the far end is gone
            elif bye.next_at <= now:
                actions.append(SendSip(data=bye.data, addr=bye.addr))
                bye.back_off(now)
        return actions

    # --- state --------------------------------------------------------------------------------

    def _check(self, call: _Call, event: _Input) -> None:
        if event not in TRANSITIONS[call.state]:
            raise LocalProtocolError(
                f"cannot {event.value} call {call.call_id} in state {call.state}"
            )

    def _advance(self, call: _Call, event: _Input) -> CallState | None:
        self._check(call, event)
        state = TRANSITIONS[call.state][event]
        if state is None:
            del self._calls[call.call_id]
        else:
            call.state = state
        return state

    def _hangup(self, call: _Call, now: float, reason: EndReason) -> list[Action]:
        if call.state is CallState.RINGING:
            return self._refuse(call, 480, now, reason)
        state = self._advance(call, _I.HANGUP if reason is not EndReason.NO_ACK else _I.ACK_TIMEOUT)
        actions = self._report_end(call, reason)
        if state is CallState.TERMINATING and call.bye_retransmit is None:
            call.ok_retransmit = call.ack_cseq = None
            actions.insert(0, self._send_bye(call, now))
        return actions

    def _refuse(self, call: _Call, status: int, now: float, reason: EndReason) -> list[Action]:
        """Final non-2xx to a ringing call's INVITE, and the call is over."""
        actions: list[Action] = [self._finish_call(call, status, now)]
        actions += self._report_end(call, reason)
        self._advance(call, _I.REJECT)
        return actions

    def _report_end(self, call: _Call, reason: EndReason) -> list[Action]:
        if call.reported:
            return []
        call.reported = True
        call.end_deadline = None
        actions: list[Action] = []
        if call.local_port is not None:
            actions.append(StopMedia(call_id=call.call_id, local_port=call.local_port))
        actions.append(CallEnded(call_id=call.call_id, reason=reason))
        return actions

    def _dialog(self, request: Request) -> _Call | None:
        call = self._calls.get(request.call_id)
        if call is None:
            return None
        if request.to.tag != call.local_tag or request.from_.tag != call.remote_tag:
            return None
        return call

    def _admits(self, ip: str) -> bool:
        return self._allowed is None or self._trusted(ip)

    def _trusted(self, ip: str) -> bool:
        if self._allowed is None:
            return False
        try:
            address = ipaddress.ip_address(ip.partition("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._allowed)

    def _caller(self, request: Request, addr: Addr) -> str | None:
        """The caller's number: P-Asserted-Identity (RFC 3325), which trunks set to the
        network-verified number when From is a display or withheld, else From's user part;
        from trusted trunk addresses only."""
        if not self._trusted(addr[0]):
            return None
        asserted = request.header("P-Asserted-Identity")
        if asserted:
            for value in sip.split_header_values(asserted):
                try:
                    user = sip.parse_name_addr(value).user
                except SipError:
                    continue
                if user and any(c.isdigit() for c in user):
                    return user
        try:
            return request.from_.user
        except SipError:
            return None

    def _called(self, request: Request) -> str:
        try:
            return sip.parse_uri(request.uri).user or ""
        except SipError:
            return ""

    # --- building messages --------------------------------------------------------------------

    def _contact(self, request: Request) -> str | None:
        """The Contact URI (the remote target), checked to be one a BYE can be sent to."""
        contact = request.header("Contact")
        if not contact:
            return None
        values = sip.split_header_values(contact)
        if not values:
            return None
        uri = sip.parse_name_addr(values[0]).uri
        sip.parse_uri(uri)
        return uri

    def _hostport_of(self, addr: Addr) -> str:
        return f"[{addr[0]}]:{addr[1]}" if ":" in addr[0] else f"{addr[0]}:{addr[1]}"

    def _dialog_headers(self) -> list[tuple[str, str]]:
        return [
            ("Contact", f"<sip:seva@{self._hostport}>"),
            ("Allow", _ALLOW),
            ("Server", self.server),
        ]

    def _warning(self, text: str) -> tuple[str, str]:
        return sip.warning_header(self.local_ip, text)

    def _stateless(
        self,
        request: Request,
        status: int,
        addr: Addr,
        *,
        headers: Iterable[tuple[str, str]] = (),
        warning: str | None = None,
    ) -> list[Action]:
        """A response held nowhere: for strangers and unreadable requests (§8.2.7)."""
        data = sip.stateless_response(
            request, status, server=self.server, host=self.local_ip, warning=warning,
            headers=headers,
        )  # fmt: skip
        return [] if data is None else [SendSip(data=data, addr=addr)]

    def _answer(
        self,
        request: Request,
        status: int,
        addr: Addr,
        now: float,
        *,
        headers: Iterable[tuple[str, str]] = (),
        to_tag: str | None = None,
    ) -> SendSip:
        """A final response to a non-INVITE request, replayed to retransmissions for 64*T1."""
        response = sip.make_response(
            request, status, to_tag=to_tag, headers=[*headers, ("Server", self.server)]
        )
        data = response.encode()
        self._answered[(sip.transaction_key(request), request.method)] = (data, now + 64 * self.t1)
        while len(self._answered) > self.max_transactions:
            self._answered.popitem(last=False)
        return SendSip(data=data, addr=addr)

    def _finish(
        self,
        tx: _InviteTx,
        request: Request,
        status: int,
        now: float,
        *,
        to_tag: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> SendSip:
        """Final non-2xx for an INVITE transaction: Timer G until the ACK, Timer H to give up."""
        response = sip.make_response(
            request, status, to_tag=to_tag, headers=[*headers, ("Server", self.server)]
        )
        data = response.encode()
        tx.state, tx.response = "completed", data
        tx.retransmit = Retransmit.start(data, tx.addr, now, t1=self.t1, cap=self.t2)
        tx.expires_at = now + 64 * self.t1
        return SendSip(data=data, addr=tx.addr)

    def _finish_call(self, call: _Call, status: int, now: float) -> SendSip:
        tx = self._invites.get(call.tx_key)
        if tx is None:  # only when max_transactions pushed it out; answer once, statelessly
            tx = _InviteTx(key=call.tx_key, addr=call.source)
        return self._finish(tx, call.invite, status, now, to_tag=call.local_tag)

    def _ok(self, call: _Call, request: Request, body: bytes, now: float) -> bytes:
        """200 OK with SDP to an INVITE; the call retransmits it until the ACK (§13.3.1.4)."""
        headers = [*self._dialog_headers(), ("Content-Type", _SDP)]
        response = sip.make_response(
            request, 200, to_tag=call.local_tag, headers=headers, body=body
        )
        data = response.encode()
        tx = self._invites.get(sip.transaction_key(request))
        if tx is not None:
            # RFC 6026 "Accepted": INVITE retransmissions get this 200 until Timer L.
            tx.state, tx.response, tx.retransmit = "accepted", data, None
            tx.expires_at = now + 64 * self.t1
        call.ok_retransmit = Retransmit.start(data, call.source, now, t1=self.t1, cap=self.t2)
        return data

    def _answer_sdp(self, call: _Call, offer: SessionDescription, choice: MediaChoice) -> bytes:
        assert call.local_port is not None
        body = sdp.build_answer(
            offer,
            choice,
            address=self.local_ip,
            port=call.local_port,
            session_id=call.sdp_session,
            session_version=call.sdp_version,
        )
        if call.local_sdp and body != call.local_sdp:
            # RFC 3264 §8: a changed description has a higher version.
            call.sdp_version += 1
            body = sdp.build_answer(
                offer,
                choice,
                address=self.local_ip,
                port=call.local_port,
                session_id=call.sdp_session,
                session_version=call.sdp_version,
            )
        return body

    def _start_media(self, call: _Call, choice: MediaChoice) -> StartMedia:
        assert call.local_port is not None
        return StartMedia(
            call_id=call.call_id,
            remote_rtp_addr=(choice.remote_address, choice.remote_port),
            codec=choice.codec,
            payload_type=choice.payload_type,
            dtmf_pt=choice.dtmf_payload_type,
            local_port=call.local_port,
            direction=choice.local_direction,
        )

    def _send_bye(self, call: _Call, now: float) -> SendSip:
        """BYE within the dialog (§12.2.1.1, §15.1.1): From/To swapped, a new branch."""
        call.local_cseq += 1
        branch = sip.new_branch()
        headers: list[tuple[str, str]] = [
            ("Via", f"SIP/2.0/UDP {self._hostport};branch={branch};rport"),
            ("Max-Forwards", "70"),
            *(("Route", route) for route in call.route_set),
            ("From", call.local_uri_header),
            ("To", call.remote_uri_header),
            ("Call-ID", call.call_id),
            ("CSeq", f"{call.local_cseq} BYE"),
            ("User-Agent", self.server),
        ]
        request = Request(method="BYE", uri=call.remote_target, headers=tuple(headers))
        next_hop = call.route_set[0] if call.route_set else call.remote_target
        try:
            addr = sip.parse_name_addr(next_hop).parsed_uri.hostport
        except SipError:
            addr = call.source
        data = request.encode()
        call.bye_branch = branch
        call.bye_retransmit = Retransmit.start(data, addr, now, t1=self.t1, cap=self.t2)
        return SendSip(data=data, addr=addr)


def _media_key(choice: MediaChoice) -> tuple[object, ...]:
    return (
        choice.codec,
        choice.payload_type,
        choice.dtmf_payload_type,
        choice.remote_address,
        choice.remote_port,
        choice.local_direction,
    )
