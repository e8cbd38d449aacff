"""The outbound call state machine, answered the way sipp's ``uas`` scenario answers.

sipp (``sipp -sd uas``) copies Via, From, To, Call-ID and CSeq of the request line for line,
adds ``;tag=<pid>SIPpTag01<call>`` to To, a ``Contact: <sip:<ip>:<port>;transport=UDP>`` and,
in the 200, a PCMU-only answer; :func:`respond` builds the same bytes from what the Uac sent.
Time is passed in; every test ends by running the timers out and checking that nothing is
held, that every call placed ended exactly once and that every RTP port came back exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seva.channels.voice import sdp, sip
from seva.channels.voice.rtp import Codec
from seva.channels.voice.sdp import Direction
from seva.channels.voice.sip import Request, Response
from seva.channels.voice.uac import (
    TRANSITIONS,
    Action,
    CallAnswered,
    CallEnded,
    CallRinging,
    CallState,
    CapacityExceeded,
    OutboundEnd,
    SendSip,
    StartMedia,
    StopMedia,
    Uac,
    failure_reason,
)
from tests.channels.voice.test_sip import NOISE, parse_request

TRUNK = ("127.0.0.1", 5072)
STRANGER = ("192.0.2.66", 5072)
NUMBER = "+919876543210"
TAG = "4242SIPpTag011"  # what sipp's uas puts on To
SIPP_CONTACT = "sip:127.0.0.1:5072;transport=UDP"

# The answer sipp's uas scenario sends: PCMU only, no telephone-event.
SIPP_ANSWER = (
    "v=0\r\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 6000 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
)
ANSWER_PCMA = (
    "v=0\r\n"
    "o=gw 1 1 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 6002 RTP/AVP 8 101\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=recvonly\r\n"
)
ANSWER_G729 = SIPP_ANSWER.replace("RTP/AVP 0\r\na=rtpmap:0 PCMU", "RTP/AVP 18\r\na=rtpmap:18 G729")


# --- a trunk made of bytes ----------------------------------------------------------------------


def header_lines(data: bytes, name: str) -> list[str]:
    """The ``Name: value`` lines of a message, as sipp's ``[last_Name:]`` copies them."""
    head = data.partition(b"\r\n\r\n")[0].decode()
    return [line for line in head.split("\r\n")[1:] if line.lower().startswith(f"{name.lower()}:")]


def respond(
    request: bytes,
    status: int,
    *,
    tag: str | None = TAG,
    body: str = "",
    contact: str | None = SIPP_CONTACT,
    extra: Sequence[str] = (),
) -> bytes:
    """The response sipp's uas scenario sends to ``request``."""
    (to,) = header_lines(request, "To")
    if tag is not None and ";tag=" not in to:
        to += f";tag={tag}"
    lines = [
        f"SIP/2.0 {status} {sip.REASONS.get(status, 'Whatever')}",
        *header_lines(request, "Via"),
        *header_lines(request, "From"),
        to,
        *header_lines(request, "Call-ID"),
        *header_lines(request, "CSeq"),
    ]
    if contact is not None:
        lines.append(f"Contact: <{contact}>")
    lines += extra
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def far_end(
    method: str, invite: bytes, *, cseq: int = 2, n: int = 7, to_tag: str | None = None
) -> bytes:
    """A request from the called party inside the dialog, as sipp's scenarios write BYE."""
    request = sip.parse(invite)
    to = request.header("From") or ""
    if to_tag is not None:
        to = to.rpartition(";tag=")[0] + f";tag={to_tag}"
    lines = [
        f"{method} sip:seva@127.0.0.1:5060 SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:5072;branch=z9hG4bK-4242-1-{n}",
        f"From: {request.header('To')};tag={TAG}",
        f"To: {to}",
        f"Call-ID: {request.call_id}",
        f"CSeq: {cseq} {method}",
        f"Contact: <{SIPP_CONTACT}>",
        "Max-Forwards: 70",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def sent(actions: Sequence[Action]) -> list[Request | Response]:
    return [sip.parse(a.data) for a in actions if isinstance(a, SendSip)]


def requests(actions: Sequence[Action]) -> list[Request]:
    return [x for x in sent(actions) if isinstance(x, Request)]


def statuses(actions: Sequence[Action]) -> list[int]:
    return [x.status for x in sent(actions) if isinstance(x, Response)]


def others(actions: Sequence[Action]) -> list[Action]:
    return [a for a in actions if not isinstance(a, SendSip)]


class PortPool:
    """The RTP port allocator, checking that each port handed out comes back exactly once."""

    def __init__(self, size: int = 50) -> None:
        self.free = list(range(20000, 20000 + 2 * size, 2))
        self.out: list[int] = []

    def __call__(self) -> int | None:
        if not self.free:
            return None
        port = self.free.pop(0)
        self.out.append(port)
        return port

    def release(self, port: int) -> None:
        assert port in self.out, f"port {port} released twice or never handed out"
        self.out.remove(port)
        self.free.append(port)


class Line:
    """A Uac on a trunk, with every action it returns checked and recorded."""

    def __init__(self, **overrides: Any) -> None:
        self.ports = PortPool()
        options: dict[str, Any] = {
            "local_ip": "127.0.0.1",
            "sip_port": 5060,
            "trunk": TRUNK,
            "rtp_port_allocator": self.ports,
            "max_calls": 10,
        }
        self.uac = Uac(**{**options, **overrides})
        self.trunk = self.uac.trunk
        self.placed: list[str] = []
        self.ended: dict[str, CallEnded] = {}
        self.now = 0.0

    def track(self, actions: list[Action]) -> list[Action]:
        for action in actions:
            if isinstance(action, StartMedia):
                assert action.local_port in self.ports.out
                assert action.call_id not in self.ended
            elif isinstance(action, StopMedia):
                self.ports.release(action.local_port)
            elif isinstance(action, CallEnded):
                assert action.call_id not in self.ended, f"{action.call_id} ended twice"
                self.ended[action.call_id] = action
            elif isinstance(action, CallRinging | CallAnswered):
                assert action.call_id not in self.ended
        return actions

    def place(self, now: float = 0.0, **kwargs: Any) -> tuple[str, bytes]:
        """Place a call; returns its Call-ID and the INVITE as sent."""
        self.now = max(self.now, now)
        call_id, actions = self.uac.call(NUMBER, now, **kwargs)
        self.placed.append(call_id)
        (invite,) = self.track(actions)
        assert isinstance(invite, SendSip) and invite.addr == self.trunk
        return call_id, invite.data

    def feed(self, data: bytes, now: float, addr: tuple[str, int] = TRUNK) -> list[Action]:
        self.now = max(self.now, now)
        return self.track(self.uac.datagram_received(data, addr, now))

    def hangup(self, call_id: str, now: float) -> list[Action]:
        self.now = max(self.now, now)
        return self.track(self.uac.hangup(call_id, now))

    def run_until(self, limit: float) -> list[tuple[float, Action]]:
        """Fire timers at their deadlines, as the asyncio layer will, up to ``limit``."""
        fired: list[tuple[float, Action]] = []
        for _ in range(10000):
            deadline = self.uac.next_deadline()
            if deadline is None or deadline > limit:
                self.now = max(self.now, limit)
                return fired
            self.now = max(self.now, deadline)
            fired += [(deadline, a) for a in self.track(self.uac.tick(deadline))]
        raise AssertionError("timers never settle")

    def finish(self) -> None:
        self.run_until(self.now + 100000.0)
        assert self.uac.held == 0
        assert self.uac.next_deadline() is None
        assert self.ports.out == []
        assert set(self.ended) == set(self.placed)

    def answer(self, invite: bytes, now: float = 0.0, body: str = SIPP_ANSWER) -> list[Action]:
        """180 then 200 with an SDP answer; returns what the 200 produced."""
        self.feed(respond(invite, 180), now)
        return self.feed(respond(invite, 200, body=body), now)


@pytest.fixture
def line() -> Iterator[Line]:
    line = Line()
    yield line
    line.finish()


# --- the INVITE -------------------------------------------------------------------------------


def test_invite_has_the_headers_of_8_1_1_and_our_offer(line: Line) -> None:
    call_id, data = line.place()
    invite = parse_request(data)
    assert (invite.method, invite.uri) == ("INVITE", f"sip:{NUMBER}@127.0.0.1:5072")
    via = invite.top_via
    assert via.branch is not None and via.branch.startswith("z9hG4bK") and len(via.branch) > 7
    assert via.sent_by == "127.0.0.1:5060"
    assert ("rport", None) in via.params
    assert invite.header("Max-Forwards") == "70"
    assert invite.from_.tag is not None and invite.from_.uri == "sip:seva@127.0.0.1:5060"
    assert invite.to.tag is None and invite.to.uri == invite.uri
    assert invite.call_id == call_id and call_id.endswith("@127.0.0.1")
    assert str(invite.cseq) == "1 INVITE"
    assert invite.header("Contact") == "<sip:seva@127.0.0.1:5060>"
    assert invite.header("Content-Type") == "application/sdp"
    offer = sdp.parse(invite.body)
    (audio,) = offer.media
    assert (audio.port, audio.proto, audio.formats) == (20000, "RTP/AVP", ("0", "8", "101"))
    assert audio.rtpmap(101) == sdp.RtpMap(
        payload_type=101, encoding="telephone-event", clock_rate=8000
    )
    assert line.uac.call_state(call_id) is CallState.CALLING
    line.hangup(call_id, 0.0)


def test_call_id_can_be_chosen(line: Line) -> None:
    call_id, data = line.place(call_id="notification-42@seva")
    assert call_id == "notification-42@seva"
    assert sip.parse(data).call_id == call_id
    with pytest.raises(ValueError, match="already in progress"):
        line.uac.call(NUMBER, 0.0, call_id=call_id)
    line.hangup(call_id, 0.0)


@pytest.mark.parametrize(
    ("to_user", "call_id"),
    [("", None), ("+91 98765", None), ("a@b", None), ("x\r\nVia: evil", None), ("1", "a b")],
)
def test_numbers_and_call_ids_that_cannot_go_on_the_wire(to_user: str, call_id: str | None) -> None:
    line = Line()
    with pytest.raises(ValueError):
        line.uac.call(to_user, 0.0, call_id=call_id)
    assert line.ports.out == []  # refused before a port was taken
    line.finish()


# --- an answered call -------------------------------------------------------------------------


def test_ringing_answered_acked_and_hung_up(line: Line) -> None:
    call_id, invite = line.place()
    assert line.feed(respond(invite, 100, tag=None, contact=None), 0.05) == []
    assert line.uac.call_state(call_id) is CallState.PROCEEDING
    assert line.uac.owns(sip.parse(respond(invite, 180)))
    assert not line.uac.owns(sip.parse(respond(invite, 180).replace(call_id.encode(), b"x")))
    assert line.feed(respond(invite, 180), 0.1) == [CallRinging(call_id=call_id)]
    assert line.feed(respond(invite, 180), 0.2) == []  # said once
    actions = line.feed(respond(invite, 200, body=ANSWER_PCMA), 2.0)
    (ack,) = requests(actions)
    assert ack.method == "ACK"
    assert ack.uri == SIPP_CONTACT  # §12.2.1.1: the remote target, from the 200's Contact
    assert actions[0].addr == TRUNK  # type: ignore[union-attr]
    assert ack.to.tag == TAG and ack.to.uri == f"sip:{NUMBER}@127.0.0.1:5072"
    assert ack.from_.tag == sip.parse(invite).from_.tag
    assert str(ack.cseq) == "1 ACK"
    assert ack.top_via.branch != sip.parse(invite).top_via.branch  # a 2xx's ACK is its own
    assert others(actions) == [
        StartMedia(
            call_id=call_id,
            remote_rtp_addr=("127.0.0.1", 6002),
            codec=Codec.PCMA,
            payload_type=8,
            dtmf_pt=101,
            local_port=20000,
            direction=Direction.SENDONLY,  # the answer said recvonly
        ),
        CallAnswered(call_id=call_id),
    ]
    assert line.uac.call_state(call_id) is CallState.CONFIRMED

    # §13.2.2.4: a retransmitted 200 gets the same ACK again, and nothing else happens.
    again = line.feed(respond(invite, 200, body=ANSWER_PCMA), 2.5)
    assert again == [actions[0]]
    assert line.run_until(30.0) == []  # no retransmissions once answered

    actions = line.hangup(call_id, 30.0)
    (bye,) = requests(actions)
    assert (bye.method, bye.uri, str(bye.cseq)) == ("BYE", SIPP_CONTACT, "2 BYE")
    assert bye.to.tag == TAG and bye.from_.tag == ack.from_.tag
    assert bye.top_via.branch not in (ack.top_via.branch, sip.parse(invite).top_via.branch)
    assert others(actions) == [
        StopMedia(call_id=call_id, local_port=20000),
        CallEnded(call_id=call_id, reason=OutboundEnd.LOCAL_HANGUP),
    ]
    assert line.hangup(call_id, 30.1) == []  # twice is harmless
    assert line.uac.call_state(call_id) is CallState.TERMINATING
    assert line.feed(respond(bye.encode(), 200, tag=None), 30.2) == []
    assert line.uac.call_state(call_id) is None
    assert line.hangup(call_id, 30.3) == []


def test_sipps_own_200_gets_pcmu_without_dtmf(line: Line) -> None:
    call_id, invite = line.place()
    # Byte for byte what sipp 3.6 sends, Content-Length padding included.
    ok = "\r\n".join(
        [
            "SIP/2.0 200 OK",
            *header_lines(invite, "Via"),
            *header_lines(invite, "From"),
            header_lines(invite, "To")[0] + ";tag=13186SIPpTag011",
            *header_lines(invite, "Call-ID"),
            *header_lines(invite, "CSeq"),
            "Contact: <sip:127.0.0.1:5072;transport=UDP>",
            "Content-Type: application/sdp",
            f"Content-Length:   {len(SIPP_ANSWER)}",
            "",
            SIPP_ANSWER,
        ]
    ).encode()
    actions = line.feed(ok, 0.3)
    (start,) = [a for a in actions if isinstance(a, StartMedia)]
    assert (start.codec, start.payload_type, start.dtmf_pt) == (Codec.PCMU, 0, None)
    assert start.direction is Direction.SENDRECV
    (ack,) = requests(actions)
    assert ack.to.tag == "13186SIPpTag011"
    line.hangup(call_id, 1.0)


def test_far_end_hangs_up(line: Line) -> None:
    call_id, invite = line.place()
    line.answer(invite)
    our_tag = sip.parse(invite).from_.tag
    bye = far_end("BYE", invite)
    actions = line.feed(bye, 5.0)
    (ok,) = sent(actions)
    assert isinstance(ok, Response)
    assert (ok.status, str(ok.cseq), ok.to.tag) == (200, "2 BYE", our_tag)
    assert actions[0].addr == TRUNK  # type: ignore[union-attr]
    assert others(actions) == [
        StopMedia(call_id=call_id, local_port=20000),
        CallEnded(call_id=call_id, reason=OutboundEnd.HUNG_UP),
    ]
    assert line.uac.call_state(call_id) is None
    # The BYE again (our 200 was lost): the same 200, nothing else.
    assert line.uac.owns(sip.parse(bye))  # a transport shared with a Uas still routes it here
    assert line.feed(bye, 5.5) == [actions[0]]
    assert line.hangup(call_id, 6.0) == []


def test_bye_crossing_ours(line: Line) -> None:
    call_id, invite = line.place()
    line.answer(invite)
    line.hangup(call_id, 1.0)
    actions = line.feed(far_end("BYE", invite), 1.01)
    assert statuses(actions) == [200]
    assert others(actions) == []  # CallEnded came with hangup()
    assert line.uac.call_state(call_id) is None


def test_calls_end_at_max_duration() -> None:
    line = Line(max_duration=60.0)
    call_id, invite = line.place()
    line.answer(invite, 1.0)
    fired = line.run_until(61.0)
    assert [t for t, _ in fired] == [61.0, 61.0, 61.0]
    assert [r.method for r in requests([a for _, a in fired])] == ["BYE"]
    assert others([a for _, a in fired])[-1] == CallEnded(
        call_id=call_id, reason=OutboundEnd.MAX_DURATION
    )
    line.finish()


def test_bye_retransmitted_on_timer_e_until_timer_f(line: Line) -> None:
    call_id, invite = line.place()
    line.answer(invite)
    (bye,) = requests(line.hangup(call_id, 10.0))
    fired = line.run_until(100.0)
    assert [t for t, _ in fired] == [10.5, 11.5, 13.5, 17.5, 21.5, 25.5, 29.5, 33.5, 37.5, 41.5]
    assert {a.data for _, a in fired} == {bye.encode()}  # type: ignore[union-attr]
    assert line.uac.call_state(call_id) is None  # Timer F at 42


def test_provisional_to_bye_slows_it_down(line: Line) -> None:
    call_id, invite = line.place()
    line.answer(invite)
    (bye,) = requests(line.hangup(call_id, 0.0))
    line.feed(respond(bye.encode(), 100, tag=None), 0.1)
    assert [t for t, _ in line.run_until(10.0)][:2] == [0.5, 4.5]


# --- no media ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (ANSWER_G729, None),  # no codec we offered
        ("", None),  # no answer at all
        ("v=0\r\nthis is not sdp\r\n", None),
        (SIPP_ANSWER, "text/plain"),
        (SIPP_ANSWER.replace("m=audio 6000", "m=audio 0"), None),  # the stream refused
    ],
)
def test_200_without_a_usable_answer_is_acked_then_byed(
    line: Line, body: str, content_type: str | None
) -> None:
    call_id, invite = line.place()
    ok = respond(invite, 200, body=body)
    if content_type is not None:
        ok = ok.replace(b"application/sdp", content_type.encode())
    actions = line.feed(ok, 1.0)
    ack, bye = requests(actions)
    assert (ack.method, str(ack.cseq), ack.to.tag) == ("ACK", "1 ACK", TAG)
    assert (bye.method, str(bye.cseq), bye.to.tag) == ("BYE", "2 BYE", TAG)
    assert others(actions) == [
        StopMedia(call_id=call_id, local_port=20000),
        CallEnded(call_id=call_id, reason=OutboundEnd.NO_MEDIA),
    ]
    assert line.feed(ok, 1.5) == [actions[0]]  # the 200 again: ACK again, no second BYE
    line.feed(respond(bye.encode(), 200, tag=None), 1.6)
    assert line.uac.call_state(call_id) is None


# --- refusals ---------------------------------------------------------------------------------


def test_busy_is_acked_in_the_same_transaction(line: Line) -> None:
    call_id, data = line.place()
    invite = parse_request(data)
    line.feed(respond(data, 180), 0.1)
    busy = respond(data, 486)
    actions = line.feed(busy, 3.0)
    (ack,) = requests(actions)
    assert actions[0].addr == TRUNK  # type: ignore[union-attr]
    # §17.1.1.3: the INVITE's Request-URI, Via (same branch), From and CSeq number; the 486's To.
    assert ack.method == "ACK" and ack.uri == invite.uri
    assert ack.header_all("Via") == invite.header_all("Via")
    assert ack.header("From") == invite.header("From")
    assert ack.to.tag == TAG
    assert str(ack.cseq) == "1 ACK"
    assert others(actions) == [
        StopMedia(call_id=call_id, local_port=20000),
        CallEnded(call_id=call_id, reason=OutboundEnd.BUSY, status=486),
    ]
    assert line.uac.call_state(call_id) is None
    # The 486 again (our ACK was lost): the same ACK, while Timer D runs.
    assert line.uac.owns(sip.parse(busy))
    assert line.feed(busy, 3.5) == [actions[0]]
    line.run_until(3.0 + 32.0)
    assert line.uac.held == 0
    assert not line.uac.owns(sip.parse(busy))
    assert line.feed(busy, 40.0) == []


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (486, OutboundEnd.BUSY),
        (600, OutboundEnd.BUSY),
        (408, OutboundEnd.NO_ANSWER),
        (480, OutboundEnd.NO_ANSWER),
        (487, OutboundEnd.NO_ANSWER),
        (603, OutboundEnd.REJECTED),
        (403, OutboundEnd.REJECTED),
        (407, OutboundEnd.REJECTED),
        (404, OutboundEnd.UNREACHABLE),
        (484, OutboundEnd.UNREACHABLE),
        (604, OutboundEnd.UNREACHABLE),
        (503, OutboundEnd.UNREACHABLE),
        (302, OutboundEnd.UNREACHABLE),
        (488, OutboundEnd.NO_MEDIA),
    ],
)
def test_why_a_call_failed(line: Line, status: int, reason: OutboundEnd) -> None:
    assert failure_reason(status) is reason
    call_id, invite = line.place()
    actions = line.feed(respond(invite, status), 0.2)
    assert [r.method for r in requests(actions)] == ["ACK"]
    assert others(actions)[-1] == CallEnded(call_id=call_id, reason=reason, status=status)


# --- timers before the answer -----------------------------------------------------------------


def test_no_response_retransmits_on_timer_a_then_times_out(line: Line) -> None:
    call_id, invite = line.place()
    fired = line.run_until(100.0)
    resends = [t for t, a in fired if isinstance(a, SendSip)]
    # Timer A: T1 doubling without a cap (0.5, 1, 2, 4, 8, 16 s apart); Timer B at 64*T1.
    assert resends == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert {a.data for _, a in fired if isinstance(a, SendSip)} == {invite}
    assert [(t, a) for t, a in fired if not isinstance(a, SendSip)] == [
        (32.0, StopMedia(call_id=call_id, local_port=20000)),
        (32.0, CallEnded(call_id=call_id, reason=OutboundEnd.TIMEOUT)),
    ]
    assert line.uac.call_state(call_id) is None


def test_provisional_stops_retransmission_and_ring_timeout_cancels() -> None:
    line = Line(ring_timeout=20.0)
    call_id, invite = line.place()
    line.feed(respond(invite, 100, tag=None, contact=None), 0.2)
    fired = line.run_until(20.0)
    assert [t for t, _ in fired] == [20.0, 20.0, 20.0]  # nothing until the ring timeout
    (cancel,) = requests([a for _, a in fired])
    assert cancel.method == "CANCEL"
    assert others([a for _, a in fired]) == [
        StopMedia(call_id=call_id, local_port=20000),
        CallEnded(call_id=call_id, reason=OutboundEnd.NO_ANSWER),
    ]
    line.feed(respond(cancel.encode(), 200), 20.1)
    assert statuses(line.feed(respond(invite, 487), 20.2)) == []
    assert line.uac.call_state(call_id) is None
    line.finish()


# --- hanging up before the answer -------------------------------------------------------------


def test_hangup_while_ringing_cancels(line: Line) -> None:
    call_id, data = line.place()
    invite = parse_request(data)
    line.feed(respond(data, 180), 0.3)
    actions = line.hangup(call_id, 3.0)
    (cancel,) = requests(actions)
    assert actions[0].addr == TRUNK  # type: ignore[union-attr]
    # §9.1: the INVITE's Request-URI, Via branch, Call-ID, From, To and CSeq number.
    assert (cancel.method, cancel.uri, str(cancel.cseq)) == ("CANCEL", invite.uri, "1 CANCEL")
    assert cancel.header_all("Via") == invite.header_all("Via")
    assert (cancel.header("From"), cancel.header("To")) == (
        invite.header("From"),
        invite.header("To"),
    )
    assert others(actions) == [
        StopMedia(call_id=call_id, local_port=20000),
        CallEnded(call_id=call_id, reason=OutboundEnd.LOCAL_HANGUP),
    ]
    assert line.uac.call_state(call_id) is CallState.CANCELLING
    assert line.feed(respond(cancel.encode(), 200), 3.1) == []
    actions = line.feed(respond(data, 487), 3.2)
    (ack,) = requests(actions)
    assert ack.method == "ACK" and ack.top_via.branch == invite.top_via.branch
    assert others(actions) == []  # ended once, at hangup()
    assert line.uac.call_state(call_id) is None


def test_hangup_before_any_provisional_waits_to_cancel(line: Line) -> None:
    call_id, invite = line.place()
    actions = line.hangup(call_id, 0.1)
    assert sent(actions) == []  # §9.1: no CANCEL before a provisional response
    assert [type(a) for a in actions] == [StopMedia, CallEnded]
    assert line.uac.call_state(call_id) is CallState.CANCEL_PENDING
    assert [a.data for _, a in line.run_until(0.5)] == [invite]  # type: ignore[union-attr]
    (cancel,) = requests(line.feed(respond(invite, 100, tag=None), 0.6))
    assert cancel.method == "CANCEL"
    assert [r.method for r in requests(line.feed(respond(invite, 487), 0.7))] == ["ACK"]


def test_hangup_before_any_response_at_all(line: Line) -> None:
    call_id, _ = line.place()
    line.hangup(call_id, 0.1)
    fired = line.run_until(100.0)
    assert others([a for _, a in fired]) == []  # Timer B ends it quietly
    assert line.uac.call_state(call_id) is None


def test_cancel_never_answered_gives_up_after_64_t1(line: Line) -> None:
    call_id, invite = line.place()
    line.feed(respond(invite, 180), 0.0)
    (cancel,) = requests(line.hangup(call_id, 1.0))
    fired = line.run_until(100.0)
    assert [t for t, _ in fired] == [
        1.5,
        2.5,
        4.5,
        8.5,
        12.5,
        16.5,
        20.5,
        24.5,
        28.5,
        32.5,
    ]  # Timer E
    assert {a.data for _, a in fired} == {cancel.encode()}  # type: ignore[union-attr]
    assert line.uac.call_state(call_id) is None  # forgotten at 33


def test_200_crossing_our_cancel_is_acked_and_byed(line: Line) -> None:
    call_id, invite = line.place()
    line.feed(respond(invite, 180), 0.0)
    (cancel,) = requests(line.hangup(call_id, 1.0))
    actions = line.feed(respond(invite, 200, body=SIPP_ANSWER), 1.01)
    assert [r.method for r in requests(actions)] == ["ACK", "BYE"]
    assert others(actions) == []  # no media, no second CallEnded
    assert line.feed(respond(cancel.encode(), 200), 1.02) == []
    assert line.uac.call_state(call_id) is CallState.TERMINATING


# --- routing ----------------------------------------------------------------------------------


def test_record_route_makes_the_route_set_in_reverse(line: Line) -> None:
    call_id, invite = line.place()
    record_route = "Record-Route: <sip:10.0.0.1:5070;lr>, <sip:10.0.0.2;lr>"
    actions = line.feed(respond(invite, 200, body=SIPP_ANSWER, extra=[record_route]), 0.1)
    (ack,) = requests(actions)
    assert ack.header_all("Route") == ("<sip:10.0.0.2;lr>", "<sip:10.0.0.1:5070;lr>")
    assert ack.uri == SIPP_CONTACT
    assert actions[0].addr == ("10.0.0.2", 5060)  # type: ignore[union-attr]
    actions = line.hangup(call_id, 1.0)
    (bye,) = requests(actions)
    assert bye.header_all("Route") == ack.header_all("Route")
    assert actions[0].addr == ("10.0.0.2", 5060)  # type: ignore[union-attr]
    # The BYE's 200 comes back from the proxy it went to: taken, not a stranger's.
    line.feed(respond(bye.encode(), 200, tag=None), 1.1, addr=("10.0.0.2", 5060))
    assert line.uac.call_state(call_id) is None
    assert line.uac.stranger_responses == 0


def test_contact_elsewhere_gets_the_in_dialog_requests(line: Line) -> None:
    call_id, invite = line.place()
    gateway = "sip:+919876543210@10.9.8.7:5080"
    actions = line.feed(respond(invite, 200, body=SIPP_ANSWER, contact=gateway), 0.1)
    assert actions[0].addr == ("10.9.8.7", 5080)  # type: ignore[union-attr]
    actions = line.hangup(call_id, 1.0)
    assert actions[0].addr == ("10.9.8.7", 5080)  # type: ignore[union-attr]


def test_unusable_contact_falls_back_to_the_trunk(line: Line) -> None:
    call_id, invite = line.place()
    actions = line.feed(respond(invite, 200, body=SIPP_ANSWER, contact="tel:+91"), 0.1)
    (ack,) = requests(actions)
    assert ack.uri == parse_request(invite).uri
    assert actions[0].addr == TRUNK  # type: ignore[union-attr]
    line.hangup(call_id, 1.0)


def test_second_fork_answering_is_acked_and_byed(line: Line) -> None:
    call_id, invite = line.place()
    line.answer(invite)
    fork = respond(invite, 200, body=SIPP_ANSWER, tag="other-fork")
    actions = line.feed(fork, 0.2)
    ack, bye = requests(actions)
    assert (ack.method, ack.to.tag, bye.method, bye.to.tag) == (
        "ACK",
        "other-fork",
        "BYE",
        "other-fork",
    )
    assert others(actions) == []
    assert line.uac.call_state(call_id) is CallState.CONFIRMED
    assert line.feed(fork, 0.3) == [actions[0]]
    line.hangup(call_id, 1.0)


# --- strangers and requests -------------------------------------------------------------------


def test_responses_from_a_stranger_are_ignored_and_counted(line: Line) -> None:
    call_id, invite = line.place()
    for status, body in ((180, ""), (200, SIPP_ANSWER), (486, "")):
        assert line.feed(respond(invite, status, body=body), 0.1, addr=STRANGER) == []
    assert line.uac.stranger_responses == 3
    assert line.uac.call_state(call_id) is CallState.CALLING
    # The trunk, on another port of its address, is still the trunk.
    actions = line.feed(respond(invite, 180), 0.2, addr=("::ffff:127.0.0.1", 5999))
    assert actions == [CallRinging(call_id=call_id)]
    line.hangup(call_id, 1.0)


def test_requests_inside_the_dialog(line: Line) -> None:
    call_id, invite = line.place()
    line.answer(invite)
    (ok,) = sent(line.feed(far_end("OPTIONS", invite, cseq=2, n=2), 1.0))
    assert isinstance(ok, Response) and ok.status == 200
    assert ok.header("Allow") == "ACK, BYE, CANCEL, OPTIONS"
    (refused,) = sent(line.feed(far_end("INVITE", invite, cseq=3, n=3), 1.1))
    assert isinstance(refused, Response) and refused.status == 405  # RFC 5057: call goes on
    assert refused.header("Allow") == "ACK, BYE, CANCEL, OPTIONS"
    assert line.feed(far_end("ACK", invite, cseq=3, n=3), 1.2) == []
    assert statuses(line.feed(far_end("INFO", invite, cseq=4, n=4), 1.3)) == [405]
    assert statuses(line.feed(far_end("DANCE", invite, cseq=5, n=5), 1.4)) == [501]
    assert statuses(line.feed(far_end("CANCEL", invite, cseq=5, n=5), 1.4)) == [481]
    assert statuses(line.feed(far_end("INFO", invite, cseq=1, n=6), 1.5)) == [500]  # old CSeq
    assert line.uac.call_state(call_id) is CallState.CONFIRMED
    line.hangup(call_id, 2.0)


def test_requests_outside_any_dialog(line: Line) -> None:
    call_id, invite = line.place()
    line.answer(invite)
    wrong_tag = far_end("BYE", invite, to_tag="not-ours")
    assert statuses(line.feed(wrong_tag, 1.0)) == [481]
    assert line.uac.call_state(call_id) is CallState.CONFIRMED
    call_id_line = b"Call-ID: " + sip.parse(invite).call_id.encode()
    our_tag = b";tag=" + (sip.parse(invite).from_.tag or "").encode()

    def other(method: str, n: int, *, tagged: bool = False) -> bytes:
        """A request of the trunk's own, about no call of ours."""
        data = far_end(method, invite, n=n).replace(call_id_line, b"Call-ID: keepalive-1")
        return data if tagged else data.replace(our_tag, b"")

    assert statuses(line.feed(other("OPTIONS", 8, tagged=True), 1.0)) == [481]  # names a dialog
    assert statuses(line.feed(other("OPTIONS", 9), 1.0)) == [200]  # a trunk's OPTIONS ping
    assert statuses(line.feed(other("OPTIONS", 10), 1.0, addr=STRANGER)) == [403]
    assert statuses(line.feed(other("MESSAGE", 11), 1.0)) == [405]
    assert statuses(line.feed(other("BYE", 12), 1.0)) == [481]
    assert statuses(line.feed(other("DANCE", 13), 1.0)) == [501]
    assert line.feed(b"INVITE sip:x@y SIP/2.0\r\nVia: nonsense\r\n\r\n", 1.0) == []
    garbled = other("OPTIONS", 14).replace(b"CSeq: 2 OPTIONS", b"CSeq: 2 MESSAGE")
    assert statuses(line.feed(garbled, 1.0)) == [400]
    line.hangup(call_id, 2.0)


def test_ipv6_trunk() -> None:
    line = Line(local_ip="::1", trunk=("::1", 5072))
    call_id, data = line.place()
    invite = parse_request(data)
    assert invite.uri == f"sip:{NUMBER}@[::1]:5072"
    assert invite.top_via.sent_by == "[::1]:5060"
    assert sdp.parse(invite.body).connection == sdp.Connection(address_type="IP6", address="::1")
    ringing = respond(data, 180)
    assert line.feed(ringing, 0.1, addr=("::1", 5072, 0, 0)) == [  # type: ignore[arg-type]
        CallRinging(call_id=call_id)
    ]
    # Not answered yet, so no dialog: 481, sent back to the 4-tuple's host and port.
    options = sip.parse(far_end("OPTIONS", data, n=3).replace(b"127.0.0.1:5072", b"[::1]:5072"))
    actions = line.uac.receive(options, ("::1", 5072, 0, 0), 0.2)  # type: ignore[arg-type]
    assert statuses(actions) == [481]
    assert actions[0].addr == ("::1", 5072)  # type: ignore[union-attr]
    line.hangup(call_id, 1.0)
    line.finish()


# --- limits -----------------------------------------------------------------------------------


def test_max_calls_and_the_port_pool_bound_what_can_be_placed() -> None:
    line = Line(max_calls=2)
    _, invite = line.place()
    line.place()
    with pytest.raises(CapacityExceeded, match="2 calls"):
        line.uac.call(NUMBER, 0.0)
    line.feed(respond(invite, 486), 0.1)
    line.place(0.2)  # the busy call no longer counts
    line.finish()

    empty = Line(rtp_port_allocator=lambda: None)
    with pytest.raises(CapacityExceeded, match="RTP port"):
        empty.uac.call(NUMBER, 0.0)
    assert empty.uac.held == 0


def test_calls_still_finishing_count_against_max_calls() -> None:
    line = Line(max_calls=1)
    call_id, invite = line.place()
    line.answer(invite)
    line.hangup(call_id, 1.0)  # the BYE is not answered yet: the trunk still counts the call
    with pytest.raises(CapacityExceeded):
        line.uac.call(NUMBER, 1.0)
    line.run_until(1.0 + 32.0)
    line.place(33.0)
    line.finish()


def test_many_unanswered_calls_leave_nothing_behind() -> None:
    line = Line(max_calls=50)
    for n in range(50):
        _, invite = line.place(n * 0.1)
        if n % 3 == 0:
            line.feed(respond(invite, 180), n * 0.1)
        elif n % 3 == 1:
            line.feed(respond(invite, 480), n * 0.1)
    line.finish()


def test_bad_configuration_is_refused() -> None:
    good: dict[str, Any] = {
        "local_ip": "127.0.0.1",
        "sip_port": 5060,
        "trunk": TRUNK,
        "rtp_port_allocator": PortPool(),
    }
    Uac(**good)
    for bad in (
        {"local_ip": "localhost"},
        {"trunk": ("trunk.example.net", 5060)},
        {"trunk": ("127.0.0.1", 0)},
        {"sip_port": 70000},
        {"from_user": "a b"},
        {"t1": 5.0, "t2": 4.0},
        {"max_calls": 0},
        {"ring_timeout": 0},
    ):
        with pytest.raises(ValueError):
            Uac(**{**good, **bad})


def test_every_state_has_a_way_out() -> None:
    assert set(TRANSITIONS) == set(CallState)
    for state, moves in TRANSITIONS.items():
        assert moves, state
        assert None in moves.values() or CallState.TERMINATING in moves.values(), state


def test_ending_status_is_a_failure_status() -> None:
    with pytest.raises(ValueError):
        CallEnded(call_id="x", reason=OutboundEnd.BUSY, status=200)


# --- never crashes, never leaks ---------------------------------------------------------------


@st.composite
def mutated_from(draw: st.DrawFn, samples: Sequence[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        if kind == "insert":
            data[position:position] = draw(NOISE)
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 20))]
        elif kind == "replace":
            data[position : position + 1] = draw(NOISE)
        else:
            del data[position:]
    return bytes(data)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_datagram_is_handled_without_raising(data: st.DataObject) -> None:
    line = Line()
    call_id, invite = line.place()
    stage = data.draw(st.sampled_from(["calling", "ringing", "answered", "cancelling"]))
    if stage != "calling":
        line.feed(respond(invite, 180), 0.1)
    if stage == "answered":
        line.feed(respond(invite, 200, body=SIPP_ANSWER), 0.2)
    if stage == "cancelling":
        line.hangup(call_id, 0.2)
    samples = [
        respond(invite, 180),
        respond(invite, 200, body=ANSWER_PCMA, extra=["Record-Route: <sip:10.0.0.1;lr>"]),
        respond(invite, 486),
        respond(invite, 487),
        far_end("BYE", invite),
        far_end("OPTIONS", invite),
    ]
    datagram = data.draw(st.binary(max_size=400) | mutated_from(samples))
    source = data.draw(st.sampled_from([TRUNK, STRANGER]))
    line.feed(datagram, 0.3, addr=source)
    line.feed(datagram, 0.4, addr=source)
    line.finish()


OPS = [
    "place",
    "trying",
    "ringing",
    "ok",
    "ok_no_media",
    "busy",
    "terminated",
    "cancel_ok",
    "bye_ok",
    "far_bye",
    "hangup",
    "wait",
    "stranger",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 3)), min_size=1, max_size=40))
def test_any_sequence_ends_every_call_once_and_returns_every_port(
    ops: list[tuple[str, int]],
) -> None:
    line = Line(max_calls=3)
    invites: list[bytes] = []
    last: dict[tuple[str, str], bytes] = {}  # (Call-ID, method) -> the request we sent

    def note(actions: list[Action]) -> list[Action]:
        for request in requests(actions):
            last[(request.call_id, request.method)] = request.encode()
        return actions

    def reply(pick: int, method: str, status: int, body: str = "") -> list[Action]:
        if not invites:
            return []
        call_id = line.placed[pick % len(invites)]
        request = (
            invites[pick % len(invites)] if method == "INVITE" else last.get((call_id, method))
        )
        if request is None:
            return []
        tag = None if status == 100 or method != "INVITE" else TAG
        return note(line.feed(respond(request, status, tag=tag, body=body), line.now))

    def place(pick: int) -> list[Action]:
        try:
            _, invite = line.place(line.now)
        except CapacityExceeded:
            return []
        invites.append(invite)
        return []

    def far_bye(pick: int) -> list[Action]:
        if not invites:
            return []
        return line.feed(far_end("BYE", invites[pick % len(invites)], n=pick), line.now)

    def hangup(pick: int) -> list[Action]:
        return note(line.hangup(line.placed[pick % len(line.placed)], line.now)) if invites else []

    steps: dict[str, Callable[[int], list[Action]]] = {
        "place": place,
        "trying": lambda c: reply(c, "INVITE", 100),
        "ringing": lambda c: reply(c, "INVITE", 180),
        "ok": lambda c: reply(c, "INVITE", 200, SIPP_ANSWER),
        "ok_no_media": lambda c: reply(c, "INVITE", 200, ANSWER_G729),
        "busy": lambda c: reply(c, "INVITE", 486),
        "terminated": lambda c: reply(c, "INVITE", 487),
        "cancel_ok": lambda c: reply(c, "CANCEL", 200),
        "bye_ok": lambda c: reply(c, "BYE", 200),
        "far_bye": far_bye,
        "hangup": hangup,
        "wait": lambda c: [a for _, a in line.run_until(line.now + 10.0 * (c + 1))],
        "stranger": lambda c: [],
    }
    place(0)
    place(0)
    for op, pick in ops:
        note([a for _, a in line.run_until(line.now + 0.7)])
        if op == "stranger" and invites:
            respond_to = invites[pick % len(invites)]
            assert line.feed(respond(respond_to, 200, body=SIPP_ANSWER), line.now, STRANGER) == []
        steps[op](pick)
    line.finish()
