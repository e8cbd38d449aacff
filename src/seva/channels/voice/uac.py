"""The voice channel's SIP user agent client: outbound calls through a trunk, without I/O.

Seva calls citizens through one configured SIP trunk to play a spoken message (voice
notifications). Follows RFC 3261 for a UAC over UDP: §8.1.1 (the headers of a new request:
Request-URI, To without a tag, From with one, Call-ID, CSeq, Max-Forwards 70, a Via branch
with the ``z9hG4bK`` cookie, Contact), §8.1.3 (processing responses), §9.1 (CANCEL: only once a
provisional response came; same Request-URI, Call-ID, From, To, CSeq number and Via branch as
the INVITE; when no final response to the INVITE follows within 64*T1 the INVITE is
abandoned), §12.1.2 (the dialog from the 2xx: the remote tag, the remote target from Contact,
the route set from Record-Route in reverse order), §12.2.1.1 (requests within the dialog),
§13.2.2.4 (the ACK of a 2xx is a request of its own with a new branch, sent again for every
retransmitted 2xx for 64*T1; a 2xx from a second fork is acknowledged and ended with a BYE),
§15.1.1 (BYE), §17.1.1 (the INVITE client transaction: Timer A from T1 doubling without a cap,
Timer B = 64*T1 while nothing came back; the ACK of a 3xx-6xx is part of the transaction, same
branch, and is sent again for each retransmitted final while Timer D runs), §17.1.2
(non-INVITE client transactions, our CANCEL and BYE: Timer E from T1 doubling to T2, slowed to
T2 by a provisional, Timer F = 64*T1), §17.1.3 (responses matched by branch and CSeq method),
and §8.2 with RFC 5057 for what the far end may send us (BYE and OPTIONS 200; 405 with Allow
for other methods SIP defines, 501 for the rest; 481 for a dialog we do not hold; a 405 to a
re-INVITE leaves the call as it is). RFC 3264 via :mod:`seva.channels.voice.sdp`: the offer
goes in the INVITE (PCMU, PCMA, telephone-event), the answer comes in the 2xx, and a 2xx
without a usable answer is acknowledged and then ended with a BYE (§13.2.2.4 forbids leaving
it unacknowledged).

Like :class:`seva.channels.voice.dialog.Uas` the object does no I/O and reads no clock: the
application places a call with :meth:`Uac.call` and ends it with :meth:`Uac.hangup`, the
transport hands over datagrams with :meth:`Uac.datagram_received` and calls :meth:`Uac.tick`
at :meth:`Uac.next_deadline`, and both carry out the returned actions in order. The actions
are the UAS's :class:`~seva.channels.voice.dialog.SendSip`,
:class:`~seva.channels.voice.dialog.StartMedia` and
:class:`~seva.channels.voice.dialog.StopMedia` (the RTP port is taken when the call is placed,
since the offer names it, and comes back through exactly one StopMedia), and this module's
:class:`CallRinging`, :class:`CallAnswered` and :class:`CallEnded`. :class:`CallEnded` is not
the UAS's: its ``reason`` is an :class:`OutboundEnd` (busy, no answer, unreachable…), which the
UAS's ``EndReason`` has no members for and its ``CallEnded.reason`` is not typed to take. Call
states change through one table, :data:`TRANSITIONS`, applied by one method. The application's
view of a call ends with its CallEnded; signalling that is still owed afterwards (the CANCEL
waiting for its 487, the BYE waiting for its 200) finishes in the background.

Security: responses are taken only from the trunk's IP address (any port: a trunk may answer
from another process on its host), and from the address a BYE was sent to for that BYE's
response; the rest are dropped and counted in :attr:`Uac.stranger_responses`. Requests within
a dialog are taken from any address, because the 64-bit tags they must carry are known only to
the trunk's path; other requests from anyone but the trunk are refused 403. Every table is
bounded: calls by ``max_calls`` (counting calls still finishing their signalling, as the trunk
does), acknowledgements and answered requests by ``max_transactions`` and by 64*T1.

Not done: authentication challenges (401/407 end the call as rejected; trunks are expected to
authenticate us by address), redirects (3xx end the call as unreachable), early media and
reliable provisionals, session refresh (a re-INVITE or UPDATE is answered 405 and the call goes
on as it was), an outbound proxy mode (in-dialog requests go to the first Record-Route or the
Contact of the 2xx, as §12.2.1.1 says), strict routing, DNS (a host name in Contact or a route
is handed to the transport to resolve), TCP/TLS.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, TypeAlias

from seva.channels.voice import sdp, sip
from seva.channels.voice.dialog import (
    T1,
    T2,
    Addr,
    LocalProtocolError,
    Retransmit,
    SendSip,
    StartMedia,
    StopMedia,
)
from seva.channels.voice.sdp import MediaChoice
from seva.channels.voice.sip import Request, Response, SipError

__all__ = [
    "TRANSITIONS",
    "Action",
    "CallAnswered",
    "CallEnded",
    "CallRinging",
    "CallState",
    "CapacityExceeded",
    "OutboundEnd",
    "SendSip",
    "StartMedia",
    "StopMedia",
    "Uac",
    "failure_reason",
]

# A UAC takes no calls: the far end may send it these, and nothing that starts a session.
_ALLOW: Final = "ACK, BYE, CANCEL, OPTIONS"
_SDP: Final = "application/sdp"
# RFC 3261 §25.1 user part (unreserved, user-unreserved without ";", "?" and "/", escapes).
_USER: Final = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2}){1,64}")
# §25.1 Call-ID: word ["@" word].
_WORD: Final = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
_CALL_ID: Final = re.compile(f"{_WORD}(?:@{_WORD})?")
_MAX_CALL_ID: Final = 256
# §25.1 tag: a token; bounded so a peer cannot make us store a long one.
_TAG: Final = re.compile(r"[A-Za-z0-9.!%*_+`'~-]{1,128}")


class CapacityExceeded(Exception):
    """No room for another call: ``max_calls`` calls are held, or no RTP port is free."""


class CallState(enum.StrEnum):
    """Where an outbound call is; a call that has finished its signalling is not held at all."""

    CALLING = "CALLING"  # INVITE sent, nothing heard: Timer A retransmits, Timer B gives up
    PROCEEDING = "PROCEEDING"  # a provisional response came: ringing, bounded by ring_timeout
    CANCEL_PENDING = "CANCEL_PENDING"  # hung up before any provisional; CANCEL waits (§9.1)
    CANCELLING = "CANCELLING"  # CANCEL sent, waiting for the INVITE's final response (487)
    CONFIRMED = "CONFIRMED"  # 2xx received and acknowledged: the call is up
    TERMINATING = "TERMINATING"  # our BYE sent, waiting for its response


class _Input(enum.Enum):
    PROVISIONAL = "1xx received"
    ANSWERED = "2xx with a usable answer received"
    ANSWERED_UNWANTED = "2xx to end with a BYE received"
    FAILED = "3xx-6xx received"
    TIMER_B = "no response after 64*T1"
    HANGUP = "hang up"
    GIVE_UP = "no final response 64*T1 after CANCEL"
    BYE = "BYE received"
    BYE_DONE = "BYE answered or timed out"


_S = CallState
_I = _Input
# None means the call is over and forgotten.
TRANSITIONS: Final[dict[CallState, dict[_Input, CallState | None]]] = {
    _S.CALLING: {
        _I.PROVISIONAL: _S.PROCEEDING,
        _I.ANSWERED: _S.CONFIRMED,
        _I.ANSWERED_UNWANTED: _S.TERMINATING,
        _I.FAILED: None,
        _I.TIMER_B: None,
        _I.HANGUP: _S.CANCEL_PENDING,
    },
    _S.PROCEEDING: {
        _I.PROVISIONAL: _S.PROCEEDING,
        _I.ANSWERED: _S.CONFIRMED,
        _I.ANSWERED_UNWANTED: _S.TERMINATING,
        _I.FAILED: None,
        _I.HANGUP: _S.CANCELLING,
    },
    _S.CANCEL_PENDING: {
        _I.PROVISIONAL: _S.CANCELLING,
        _I.ANSWERED_UNWANTED: _S.TERMINATING,
        _I.FAILED: None,
        _I.TIMER_B: None,
        _I.HANGUP: _S.CANCEL_PENDING,
    },
    _S.CANCELLING: {
        _I.PROVISIONAL: _S.CANCELLING,
        _I.ANSWERED_UNWANTED: _S.TERMINATING,  # the 2xx crossed our CANCEL (§9.1)
        _I.FAILED: None,
        _I.GIVE_UP: None,
        _I.HANGUP: _S.CANCELLING,
    },
    _S.CONFIRMED: {_I.HANGUP: _S.TERMINATING, _I.BYE: None},
    _S.TERMINATING: {_I.HANGUP: _S.TERMINATING, _I.BYE: None, _I.BYE_DONE: None},
}


class OutboundEnd(enum.StrEnum):
    """Why an outbound call ended, in the terms a notification's retry policy needs."""

    HUNG_UP = "hung-up"  # the called party hung up (BYE) after answering
    LOCAL_HANGUP = "local-hangup"  # the application called hangup()
    MAX_DURATION = "max-duration"  # the answered call reached max_duration
    BUSY = "busy"  # 486 Busy Here, 600 Busy Everywhere
    NO_ANSWER = "no-answer"  # 408, 480, 487 from the far end, or ring_timeout ran out
    REJECTED = "rejected"  # 603 Decline, 403 and the other refusals
    UNREACHABLE = "unreachable"  # no such number (404, 410, 484, 485, 604), 3xx, 5xx
    TIMEOUT = "timeout"  # nothing came back for the INVITE (Timer B)
    NO_MEDIA = "no-media"  # answered without a usable SDP answer, or 488/606


_UNREACHABLE: Final = frozenset({404, 410, 484, 485, 604})


def failure_reason(status: int) -> OutboundEnd:
    """The :class:`OutboundEnd` for a 3xx-6xx final response to our INVITE."""
    if status in (486, 600):
        return OutboundEnd.BUSY
    if status in (408, 480, 487):
        return OutboundEnd.NO_ANSWER
    if status in (488, 606):
        return OutboundEnd.NO_MEDIA
    # No redirect is followed and a 5xx is the network failing: either way the number could
    # not be reached through this trunk now.
    if status in _UNREACHABLE or status < 400 or 500 <= status < 600:
        return OutboundEnd.UNREACHABLE
    return OutboundEnd.REJECTED


# --- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRinging:
    """The called phone is alerting (the first 180 Ringing or 183 Session Progress).

    183 counts because mobile networks often signal alerting with it and early-media ringback
    instead of a 180. Comes at most once per call, and never after its CallEnded.
    """

    call_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAnswered:
    """The called party answered; media runs (the StartMedia just before says how)."""

    call_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded:
    """The call is over for the application; comes exactly once for each call placed.

    ``status`` is the final response to our INVITE that ended the call (486, 603…) when one did.
    """

    call_id: str
    reason: OutboundEnd
    status: int | None = None

    def __post_init__(self) -> None:
        if self.status is not None and not 300 <= self.status <= 699:
            raise ValueError(f"an ending status is 300..699, not {self.status}")


Action: TypeAlias = SendSip | StartMedia | StopMedia | CallRinging | CallAnswered | CallEnded


# --- internal state ---------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class _Call:
    call_id: str
    state: CallState
    invite: Request
    branch: str
    local_tag: str
    local_port: int
    invite_retransmit: Retransmit | None
    ring_deadline: float | None
    remote_tag: str | None = None
    remote_target: str = ""
    route_set: tuple[str, ...] = ()
    remote_cseq: int | None = None
    local_cseq: int = 1
    ack: SendSip | None = None
    cancel_retransmit: Retransmit | None = None
    forget_at: float | None = None  # CANCELLING: the INVITE is abandoned then (§9.1)
    end_deadline: float | None = None
    bye_retransmit: Retransmit | None = None
    bye_branch: str | None = None
    ringing: bool = False
    reported: bool = False


IpAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip(host: str) -> IpAddress | None:
    """``host`` as an address (IPv4-mapped IPv6 as IPv4, without a zone), or None for a name."""
    try:
        address = ipaddress.ip_address(host.strip("[]").partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _next_hop(uri: str) -> Addr | None:
    """Where a request for ``uri`` (a SIP URI or a Route value) goes, if it can go anywhere."""
    try:
        parsed = sip.parse_uri(sip.parse_name_addr(uri).uri)
    except SipError:
        return None
    if parsed.scheme not in ("sip", "sips") or not parsed.host:
        return None
    host, port = parsed.hostport
    return (host, port) if 0 < port <= 65535 else None


def _answer_choice(response: Response) -> MediaChoice | None:
    """The stream the SDP answer in a 2xx chose among the codecs we offered, if it is usable."""
    if not response.body:
        return None
    content_type = response.header("Content-Type")
    if content_type is not None and sip.media_type(content_type) != _SDP:
        return None
    try:
        choice = sdp.negotiate(sdp.parse(response.body))
    except sdp.SdpError:
        return None
    # Our offer has one stream (RFC 3264 §6: the answer has as many, in the same order), and
    # negotiate() only picks PCMU or PCMA, both of which we offered.
    return choice if choice.index == 0 else None


class Uac:
    """A SIP user agent client for outbound calls; see the module docstring for the protocol.

    ``trunk`` is the (IP address, port) every call is sent to and the only source responses are
    taken from. ``rtp_port_allocator`` returns a free local RTP port, or None when there is none.
    ``max_calls`` bounds calls held; ``ring_timeout`` bounds the time from the INVITE to the
    answer (the call is then cancelled as no-answer) and ``max_duration`` an answered call's
    length (BYE; None for no limit).
    """

    def __init__(
        self,
        *,
        local_ip: str,
        sip_port: int,
        trunk: Addr,
        rtp_port_allocator: Callable[[], int | None],
        from_user: str = "seva",
        t1: float = T1,
        t2: float = T2,
        max_calls: int = 100,
        ring_timeout: float = 45.0,
        max_duration: float | None = 600.0,
        max_transactions: int = 4096,
        user_agent: str = "Seva",
    ) -> None:
        ip = ipaddress.ip_address(local_ip)
        if not (isinstance(trunk, tuple) and len(trunk) == 2 and isinstance(trunk[0], str)):
            raise ValueError(f"trunk must be an (IP address, port) tuple, not {trunk!r}")
        if _ip(trunk[0]) is None:
            # Responses are recognised by their source address, so a name will not do.
            raise ValueError(f"trunk host must be an IP address, not {trunk[0]!r}")
        for name, port in (("sip_port", sip_port), ("trunk port", trunk[1])):
            if not (isinstance(port, int) and 0 < port <= 65535):
                raise ValueError(f"{name} must be 1..65535, not {port!r}")
        if not _USER.fullmatch(from_user):
            raise ValueError(f"from_user must be the user part of a SIP URI, not {from_user!r}")
        if not 0 < t1 <= t2:
            raise ValueError(f"timers need 0 < t1 <= t2, not t1={t1}, t2={t2}")
        if max_calls < 1 or max_transactions < 1:
            raise ValueError("max_calls and max_transactions must be at least 1")
        if ring_timeout <= 0 or (max_duration is not None and max_duration <= 0):
            raise ValueError("ring_timeout and max_duration must be positive")
        self.local_ip = local_ip
        self._hostport = f"[{local_ip}]:{sip_port}" if ip.version == 6 else f"{local_ip}:{sip_port}"
        self.trunk: Addr = (trunk[0], trunk[1])
        self._trunk_ip = _ip(trunk[0])
        self._trunk_hostport = _hostport(*self.trunk)
        self._allocate = rtp_port_allocator
        self.from_user = from_user
        self.t1, self.t2 = t1, t2
        self.max_calls = max_calls
        self.ring_timeout = ring_timeout
        self.max_duration = max_duration
        self.max_transactions = max_transactions
        self.user_agent = user_agent
        self.stranger_responses = 0
        self._calls: dict[str, _Call] = {}
        # ACKs sent for final responses, by (INVITE branch, To tag): sent again to each
        # retransmission of that final for 64*T1 (Timer D; §13.2.2.4 for 2xx).
        self._acks: OrderedDict[tuple[str, str], tuple[SendSip, float]] = OrderedDict()
        # Final responses to requests the far end sent, replayed to retransmissions (Timer J).
        self._answered: OrderedDict[tuple[str, str], tuple[bytes, float]] = OrderedDict()

    # --- inspection ---------------------------------------------------------------------------

    @property
    def active_calls(self) -> int:
        """Calls the application has not yet seen end."""
        return sum(1 for c in self._calls.values() if not c.reported)

    @property
    def held(self) -> int:
        """Calls and transaction records held in memory, for tests and metrics."""
        return len(self._calls) + len(self._acks) + len(self._answered)

    def call_state(self, call_id: str) -> CallState | None:
        call = self._calls.get(call_id)
        return call.state if call is not None else None

    def owns(self, message: Request | Response) -> bool:
        """Whether ``message`` is about a call placed here, for a transport that shares its
        SIP port with a :class:`~seva.channels.voice.dialog.Uas`.

        True for a held call, and for a retransmission this Uac still answers after the call
        is gone: a final response to one of its INVITEs (the ACK again) or a request it answered
        (the same response again).
        """
        try:
            if message.call_id in self._calls:
                return True
            if isinstance(message, Response):
                return (message.top_via.branch or "", message.to.tag or "") in self._acks
            return (sip.transaction_key(message), message.method) in self._answered
        except SipError:
            return False

    def next_deadline(self) -> float | None:
        """When :meth:`tick` next has work to do; None when nothing is pending."""
        times: list[float] = []
        for call in self._calls.values():
            for retransmit in (call.invite_retransmit, call.cancel_retransmit, call.bye_retransmit):
                if retransmit is not None:
                    times.append(retransmit.deadline)
            for deadline in (call.ring_deadline, call.end_deadline, call.forget_at):
                if deadline is not None:
                    times.append(deadline)
        if self._acks:
            times.append(next(iter(self._acks.values()))[1])
        if self._answered:
            times.append(next(iter(self._answered.values()))[1])
        return min(times, default=None)

    # --- application requests -----------------------------------------------------------------

    def call(
        self, to_user: str, now: float, *, call_id: str | None = None
    ) -> tuple[str, list[Action]]:
        """Place a call to ``to_user`` at the trunk; returns its Call-ID and the INVITE to send.

        Raises ValueError for a number or Call-ID that cannot go into a SIP message or a
        Call-ID already in use, and :class:`CapacityExceeded` when no call can be placed now.
        """
        if not _USER.fullmatch(to_user):
            raise ValueError(f"to_user must be the user part of a SIP URI, not {to_user!r}")
        if call_id is None:
            call_id = sip.new_call_id(self.local_ip)
        elif len(call_id) > _MAX_CALL_ID or not _CALL_ID.fullmatch(call_id):
            raise ValueError(f"not a Call-ID: {call_id[:80]!r}")
        if call_id in self._calls:
            raise ValueError(f"call {call_id} is already in progress")
        if len(self._calls) >= self.max_calls:
            raise CapacityExceeded(f"{self.max_calls} calls are in progress")
        port = self._allocate()
        if port is None:
            raise CapacityExceeded("no RTP port is free")
        branch, local_tag = sip.new_branch(), sip.new_tag()
        uri = f"sip:{to_user}@{self._trunk_hostport}"
        contact = f"<sip:{self.from_user}@{self._hostport}>"
        headers = (
            ("Via", f"SIP/2.0/UDP {self._hostport};branch={branch};rport"),
            ("Max-Forwards", "70"),
            ("From", f"{contact};tag={local_tag}"),
            ("To", f"<{uri}>"),
            ("Call-ID", call_id),
            ("CSeq", "1 INVITE"),
            ("Contact", contact),
            ("Allow", _ALLOW),
            ("User-Agent", self.user_agent),
            ("Content-Type", _SDP),
        )
        body = sdp.build_offer(
            address=self.local_ip,
            port=port,
            session_id=secrets.randbelow(2**62),
            session_version=1,
        )
        invite = Request(method="INVITE", uri=uri, headers=headers, body=body)
        data = invite.encode()
        self._calls[call_id] = _Call(
            call_id=call_id,
            state=CallState.CALLING,
            invite=invite,
            branch=branch,
            local_tag=local_tag,
            local_port=port,
            invite_retransmit=self._retransmit(data, self.trunk, now, cap=None),
            ring_deadline=now + self.ring_timeout,
        )
        return call_id, [SendSip(data=data, addr=self.trunk)]

    def hangup(self, call_id: str, now: float) -> list[Action]:
        """End a call: CANCEL while it rings (once a provisional came, §9.1), BYE once answered.

        Returns nothing when the call has already ended (its CallEnded is on its way or sent).
        """
        call = self._calls.get(call_id)
        if call is None:
            return []
        return self._hangup(call, now, OutboundEnd.LOCAL_HANGUP)

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
        """Handle one parsed message from ``addr`` (a 2-tuple or asyncio's IPv6 4-tuple)."""
        addr = (addr[0], addr[1])
        try:
            if isinstance(message, Response):
                return self._on_response(message, addr, now)
            return self._on_request(sip.stamp_via(message, addr), addr, now)
        except SipError as exc:
            if isinstance(message, Response) or message.method == "ACK":
                return []
            return self._stateless(message, 400, addr, warning=exc.message)

    def tick(self, now: float) -> list[Action]:
        """Fire every timer due at ``now``: retransmissions, give-ups, expiries."""
        actions: list[Action] = []
        for call in list(self._calls.values()):
            actions += self._call_timers(call, now)
        while self._acks and next(iter(self._acks.values()))[1] <= now:
            self._acks.popitem(last=False)
        while self._answered and next(iter(self._answered.values()))[1] <= now:
            self._answered.popitem(last=False)
        return actions

    # --- responses ----------------------------------------------------------------------------

    def _on_response(self, response: Response, addr: Addr, now: float) -> list[Action]:
        method = response.cseq.method
        branch = response.top_via.branch or ""
        call = self._calls.get(response.call_id)
        if not self._from_trunk(addr) and not (
            call is not None
            and method == "BYE"
            and branch == call.bye_branch
            and call.bye_retransmit is not None
            and _ip(addr[0]) is not None
            and _ip(addr[0]) == _ip(call.bye_retransmit.addr[0])
        ):
            self.stranger_responses += 1
            return []
        if method == "INVITE" and response.status >= 200:
            cached = self._acks.get((branch, response.to.tag or ""))
            if cached is not None:
                return [cached[0]]  # a retransmitted final: the same ACK again
        if call is None or branch != (call.bye_branch if method == "BYE" else call.branch):
            return []
        if method == "INVITE" and response.cseq.number == call.invite.cseq.number:
            if response.status < 200:
                return self._on_provisional(call, response, now)
            if response.status < 300:
                return self._on_accepted(call, response, now)
            return self._on_failure(call, response, now)
        if method == "CANCEL" and call.cancel_retransmit is not None:
            if response.status < 200:
                call.cancel_retransmit.interval = self.t2  # §17.1.2.2: keep trying, slowly
            else:
                call.cancel_retransmit = None  # the 487 for the INVITE is still to come
        elif method == "BYE" and call.bye_retransmit is not None:
            if response.status < 200:
                call.bye_retransmit.interval = self.t2
            elif self._allows(call, _I.BYE_DONE):
                self._advance(call, _I.BYE_DONE)
        return []

    def _on_provisional(self, call: _Call, response: Response, now: float) -> list[Action]:
        if not self._allows(call, _I.PROVISIONAL):
            return []
        previous = call.state
        call.invite_retransmit = None  # §17.1.1.2 Proceeding: no retransmission, no Timer B
        self._advance(call, _I.PROVISIONAL)
        if previous is CallState.CANCEL_PENDING:
            return [self._send_cancel(call, now)]
        if response.status in (180, 183) and not call.ringing and not call.reported:
            call.ringing = True
            return [CallRinging(call_id=call.call_id)]
        return []

    def _on_accepted(self, call: _Call, response: Response, now: float) -> list[Action]:
        tag = response.to.tag
        if tag is None or not _TAG.fullmatch(tag):
            return []  # no dialog can be made from it (§12.1.2), and no ACK addressed
        if call.remote_tag is not None:
            if tag == call.remote_tag:
                return [call.ack] if call.ack is not None else []
            return self._refuse_fork(call, response, tag, now)
        choice = _answer_choice(response)
        wanted = call.state in (CallState.CALLING, CallState.PROCEEDING) and choice is not None
        event = _I.ANSWERED if wanted else _I.ANSWERED_UNWANTED
        if not self._allows(call, event):
            return []
        call.remote_tag = tag
        call.remote_target, call.route_set = self._dialog_target(call, response)
        call.invite_retransmit = call.cancel_retransmit = None
        call.ring_deadline = call.forget_at = None
        ack = self._request(call, "ACK", call.invite.cseq.number)[1]
        call.ack = ack
        self._remember_ack((call.branch, tag), ack, now)
        self._advance(call, event)
        if choice is not None and event is _I.ANSWERED:
            if self.max_duration is not None:
                call.end_deadline = now + self.max_duration
            return [ack, self._start_media(call, choice), CallAnswered(call_id=call.call_id)]
        # Hung up meanwhile, or no usable answer: the 2xx is still ACKed, then ended (§13.2.2.4).
        return [ack, self._send_bye(call, now), *self._report_end(call, OutboundEnd.NO_MEDIA)]

    def _on_failure(self, call: _Call, response: Response, now: float) -> list[Action]:
        ack = self._ack_failure(call, response)
        self._remember_ack((call.branch, response.to.tag or ""), ack, now)
        if not self._allows(call, _I.FAILED):
            return [ack]  # another fork's refusal after one answered: acknowledged only
        status = response.status
        actions: list[Action] = [ack, *self._report_end(call, failure_reason(status), status)]
        self._advance(call, _I.FAILED)
        return actions

    def _refuse_fork(self, call: _Call, response: Response, tag: str, now: float) -> list[Action]:
        """A 2xx from a second fork: ACK it and end that dialog with a single BYE (§13.2.2.4).

        The BYE is sent once and its response not awaited: the far end ends the dialog on its
        own if it is lost, and holding state for it would only serve an unwanted call.
        """
        target, routes = self._dialog_target(call, response)
        cseq = call.invite.cseq.number
        ack = self._request(call, "ACK", cseq, remote_tag=tag, target=target, routes=routes)[1]
        self._remember_ack((call.branch, tag), ack, now)
        bye = self._request(call, "BYE", cseq + 1, remote_tag=tag, target=target, routes=routes)
        return [ack, bye[1]]

    # --- requests -----------------------------------------------------------------------------

    def _on_request(self, request: Request, addr: Addr, now: float) -> list[Action]:
        method = request.method
        if method == "ACK":
            return []  # we send no 2xx to an INVITE; the ACK of a 405 needs nothing
        cached = self._answered.get((sip.transaction_key(request), method))
        if cached is not None:
            return [SendSip(data=cached[0], addr=addr)]
        call = self._dialog(request)
        if call is None:
            if not self._from_trunk(addr):
                return self._stateless(request, 403, addr)
            if request.to.tag is not None or method in ("BYE", "CANCEL"):
                return [self._answer(request, 481, addr, now)]
        elif method == "CANCEL":
            return [self._answer(request, 481, addr, now)]  # we hold no INVITE of theirs (§9.2)
        else:
            cseq = request.cseq.number
            if call.remote_cseq is not None and cseq < call.remote_cseq:
                return [self._answer(request, 500, addr, now)]  # out of order (§12.2.2)
            call.remote_cseq = cseq
            if method == "BYE":
                actions: list[Action] = [self._answer(request, 200, addr, now)]
                actions += self._report_end(call, OutboundEnd.HUNG_UP)
                self._advance(call, _I.BYE)
                return actions
        if method == "OPTIONS":
            headers = [("Allow", _ALLOW), ("Accept", _SDP)]
            return [self._answer(request, 200, addr, now, headers=headers)]
        if method in sip.KNOWN_METHODS:
            return [self._answer(request, 405, addr, now, headers=[("Allow", _ALLOW)])]
        return [self._answer(request, 501, addr, now)]

    # --- timers -------------------------------------------------------------------------------

    def _call_timers(self, call: _Call, now: float) -> list[Action]:
        actions: list[Action] = []
        invite = call.invite_retransmit
        if invite is not None:
            if invite.give_up_at <= now:  # Timer B
                call.invite_retransmit = None
                actions += self._report_end(call, OutboundEnd.TIMEOUT)
                self._advance(call, _I.TIMER_B)
                return actions
            if invite.next_at <= now:  # Timer A
                actions.append(SendSip(data=invite.data, addr=invite.addr))
                invite.back_off(now)
        if call.ring_deadline is not None and call.ring_deadline <= now:
            actions += self._hangup(call, now, OutboundEnd.NO_ANSWER)
        if call.end_deadline is not None and call.end_deadline <= now:
            actions += self._hangup(call, now, OutboundEnd.MAX_DURATION)
        cancel = call.cancel_retransmit
        if cancel is not None:
            if cancel.give_up_at <= now:  # Timer F
                call.cancel_retransmit = None
            elif cancel.next_at <= now:  # Timer E
                actions.append(SendSip(data=cancel.data, addr=cancel.addr))
                cancel.back_off(now)
        if call.forget_at is not None and call.forget_at <= now:
            self._advance(call, _I.GIVE_UP)
            return actions
        bye = call.bye_retransmit
        if call.state is CallState.TERMINATING and bye is not None:
            if bye.give_up_at <= now:
                self._advance(call, _I.BYE_DONE)  # Timer F: the far end is gone
            elif bye.next_at <= now:
                actions.append(SendSip(data=bye.data, addr=bye.addr))
                bye.back_off(now)
        return actions

    def _retransmit(self, data: bytes, addr: Addr, now: float, *, cap: float | None) -> Retransmit:
        return Retransmit.start(data, addr, now, t1=self.t1, cap=cap)

    # --- state --------------------------------------------------------------------------------

    def _allows(self, call: _Call, event: _Input) -> bool:
        return event in TRANSITIONS[call.state]

    def _advance(self, call: _Call, event: _Input) -> CallState | None:
        if not self._allows(call, event):
            raise LocalProtocolError(
                f"cannot {event.value} for call {call.call_id} in state {call.state}"
            )
        state = TRANSITIONS[call.state][event]
        if state is None:
            del self._calls[call.call_id]
        else:
            call.state = state
        return state

    def _hangup(self, call: _Call, now: float, reason: OutboundEnd) -> list[Action]:
        previous = call.state
        call.ring_deadline = call.end_deadline = None
        actions = self._report_end(call, reason)
        self._advance(call, _I.HANGUP)
        if previous is CallState.PROCEEDING:
            actions.insert(0, self._send_cancel(call, now))
        elif previous is CallState.CONFIRMED:
            actions.insert(0, self._send_bye(call, now))
        return actions

    def _report_end(
        self, call: _Call, reason: OutboundEnd, status: int | None = None
    ) -> list[Action]:
        if call.reported:
            return []
        call.reported = True
        call.ring_deadline = call.end_deadline = None
        return [
            StopMedia(call_id=call.call_id, local_port=call.local_port),
            CallEnded(call_id=call.call_id, reason=reason, status=status),
        ]

    def _dialog(self, request: Request) -> _Call | None:
        call = self._calls.get(request.call_id)
        if call is None or call.remote_tag is None:
            return None
        if request.to.tag != call.local_tag or request.from_.tag != call.remote_tag:
            return None
        return call

    def _from_trunk(self, addr: Addr) -> bool:
        return _ip(addr[0]) == self._trunk_ip

    def _dialog_target(self, call: _Call, response: Response) -> tuple[str, tuple[str, ...]]:
        """The remote target and route set a 2xx sets up (§12.1.2).

        A 2xx without a usable Contact or with an unreadable Record-Route leaves in-dialog
        requests to go to the trunk as the INVITE did, rather than nowhere.
        """
        target = call.invite.uri
        values = sip.split_header_values(response.header("Contact") or "")
        if values and _next_hop(values[0]) is not None:
            target = sip.parse_name_addr(values[0]).uri
        routes = tuple(
            reversed(
                [
                    value
                    for row in response.header_all("Record-Route")
                    for value in sip.split_header_values(row)
                ]
            )
        )
        if not all(_next_hop(route) is not None for route in routes):
            routes = ()
        return target, routes

    # --- building messages --------------------------------------------------------------------

    def _request(
        self,
        call: _Call,
        method: str,
        cseq: int,
        *,
        remote_tag: str | None = None,
        target: str | None = None,
        routes: tuple[str, ...] | None = None,
    ) -> tuple[str, SendSip]:
        """A request within the dialog (§12.2.1.1), with a new branch; returns the branch too."""
        target = target if target is not None else call.remote_target
        routes = routes if routes is not None else call.route_set
        branch = sip.new_branch()
        headers: list[tuple[str, str]] = [
            ("Via", f"SIP/2.0/UDP {self._hostport};branch={branch};rport"),
            ("Max-Forwards", "70"),
            *(("Route", route) for route in routes),
            ("From", call.invite.header("From") or ""),
            ("To", f"{call.invite.header('To')};tag={remote_tag or call.remote_tag}"),
            ("Call-ID", call.call_id),
            ("CSeq", f"{cseq} {method}"),
            ("User-Agent", self.user_agent),
        ]
        request = Request(method=method, uri=target, headers=tuple(headers))
        addr = _next_hop(routes[0] if routes else target) or self.trunk
        return branch, SendSip(data=request.encode(), addr=addr)

    def _send_bye(self, call: _Call, now: float) -> SendSip:
        """BYE (§15.1.1): the next CSeq, retransmitted on Timer E until Timer F."""
        call.local_cseq += 1
        call.bye_branch, bye = self._request(call, "BYE", call.local_cseq)
        call.bye_retransmit = self._retransmit(bye.data, bye.addr, now, cap=self.t2)
        return bye

    def _send_cancel(self, call: _Call, now: float) -> SendSip:
        """CANCEL (§9.1): the INVITE's Via, Request-URI, From, To, Call-ID and CSeq number."""
        invite = call.invite
        headers = (
            ("Via", invite.header("Via") or ""),
            ("Max-Forwards", "70"),
            ("From", invite.header("From") or ""),
            ("To", invite.header("To") or ""),
            ("Call-ID", call.call_id),
            ("CSeq", f"{invite.cseq.number} CANCEL"),
            ("User-Agent", self.user_agent),
        )
        data = Request(method="CANCEL", uri=invite.uri, headers=headers).encode()
        call.cancel_retransmit = self._retransmit(data, self.trunk, now, cap=self.t2)
        call.forget_at = now + 64 * self.t1
        return SendSip(data=data, addr=self.trunk)

    def _ack_failure(self, call: _Call, response: Response) -> SendSip:
        """ACK of a 3xx-6xx (§17.1.1.3): the INVITE's Via and Request-URI, the response's To."""
        invite = call.invite
        headers = (
            ("Via", invite.header("Via") or ""),
            ("Max-Forwards", "70"),
            ("From", invite.header("From") or ""),
            ("To", response.header("To") or ""),
            ("Call-ID", call.call_id),
            ("CSeq", f"{invite.cseq.number} ACK"),
            ("User-Agent", self.user_agent),
        )
        data = Request(method="ACK", uri=invite.uri, headers=headers).encode()
        return SendSip(data=data, addr=self.trunk)

    def _remember_ack(self, key: tuple[str, str], ack: SendSip, now: float) -> None:
        self._acks[key] = (ack, now + 64 * self.t1)
        while len(self._acks) > self.max_transactions:
            self._acks.popitem(last=False)

    def _start_media(self, call: _Call, choice: MediaChoice) -> StartMedia:
        return StartMedia(
            call_id=call.call_id,
            remote_rtp_addr=(choice.remote_address, choice.remote_port),
            codec=choice.codec,
            payload_type=choice.payload_type,
            dtmf_pt=choice.dtmf_payload_type,
            local_port=call.local_port,
            direction=choice.local_direction,
        )

    def _stateless(
        self,
        request: Request,
        status: int,
        addr: Addr,
        *,
        warning: str | None = None,
    ) -> list[Action]:
        """A response held nowhere: for strangers and unreadable requests (§8.2.7)."""
        data = sip.stateless_response(
            request, status, server=self.user_agent, host=self.local_ip, warning=warning
        )
        return [] if data is None else [SendSip(data=data, addr=addr)]

    def _answer(
        self,
        request: Request,
        status: int,
        addr: Addr,
        now: float,
        *,
        headers: Iterable[tuple[str, str]] = (),
    ) -> SendSip:
        """A final response to a request, replayed to its retransmissions for 64*T1."""
        response = sip.make_response(
            request, status, headers=[*headers, ("Server", self.user_agent)]
        )
        data = response.encode()
        self._answered[(sip.transaction_key(request), request.method)] = (data, now + 64 * self.t1)
        while len(self._answered) > self.max_transactions:
            self._answered.popitem(last=False)
        return SendSip(data=data, addr=addr)
