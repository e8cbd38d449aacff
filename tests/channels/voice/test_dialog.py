"""The UAS call state machine, fed sipp's datagrams with the time passed in."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seva.channels.voice import sdp, sip
from seva.channels.voice.dialog import (
    TRANSITIONS,
    Action,
    CallEnded,
    CallStarted,
    CallState,
    EndReason,
    LocalProtocolError,
    SendSip,
    StartMedia,
    StopMedia,
    Uas,
)
from seva.channels.voice.rtp import Codec
from seva.channels.voice.sdp import Direction
from seva.channels.voice.sip import Request, Response
from tests.channels.voice import messages as m
from tests.channels.voice.test_sip import mutated, parse_request

CALL = m.call_id()
STRANGER = ("192.0.2.66", 5060)


def make_uas(**overrides: Any) -> Uas:
    ports = itertools.count(20000, 2)
    options: dict[str, Any] = {
        "allowed": {"127.0.0.1"},
        "local_ip": "127.0.0.1",
        "rtp_port_allocator": lambda: next(ports),
        "max_calls": 10,
    }
    return Uas(**{**options, **overrides})


def sent(actions: Sequence[Action]) -> list[Request | Response]:
    return [sip.parse(a.data) for a in actions if isinstance(a, SendSip)]


def statuses(actions: Sequence[Action]) -> list[int]:
    return [x.status for x in sent(actions) if isinstance(x, Response)]


def others(actions: Sequence[Action]) -> list[Action]:
    return [a for a in actions if not isinstance(a, SendSip)]


def run_until(uas: Uas, limit: float) -> list[tuple[float, Action]]:
    """Fire timers at their deadlines, as the asyncio layer will, up to ``limit``."""
    fired: list[tuple[float, Action]] = []
    for _ in range(10000):
        deadline = uas.next_deadline()
        if deadline is None or deadline > limit:
            return fired
        fired += [(deadline, action) for action in uas.tick(deadline)]
    raise AssertionError("timers never settle")


def ring(uas: Uas, data: bytes | None = None, now: float = 0.0) -> str:
    """Send an INVITE; returns our To tag from the 180."""
    actions = uas.datagram_received(data or m.invite(body=m.OFFER_DTMF), m.SIPP, now)
    ringing = [x for x in sent(actions) if isinstance(x, Response) and x.status == 180]
    assert ringing, actions
    tag = ringing[0].to.tag
    assert tag is not None
    return tag


def confirm(uas: Uas, now: float = 0.0) -> str:
    tag = ring(uas, now=now)
    uas.answer(CALL, now)
    assert uas.datagram_received(m.in_dialog("ACK", to_tag=tag, cseq=1), m.SIPP, now) == []
    assert uas.call_state(CALL) is CallState.CONFIRMED
    return tag


# --- the basic call ---------------------------------------------------------------------------


def test_invite_ringing_answer_ack_bye() -> None:
    uas = make_uas()
    actions = uas.datagram_received(m.invite(body=m.OFFER_DTMF), m.SIPP, 0.0)
    trying, ringing = sent(actions)
    assert isinstance(trying, Response) and isinstance(ringing, Response)
    assert (trying.status, ringing.status) == (100, 180)
    assert trying.to.tag is None  # §8.2.6.2: 100 Trying need not carry a tag
    tag = ringing.to.tag
    assert tag is not None and len(tag) >= 8
    assert ringing.header("Contact") == "<sip:seva@127.0.0.1:5060>"
    assert {a.addr for a in actions if isinstance(a, SendSip)} == {m.SIPP}
    assert others(actions) == [
        CallStarted(call_id=CALL, caller="sipp", called="service", source=m.SIPP)
    ]
    assert uas.call_state(CALL) is CallState.RINGING

    actions = uas.answer(CALL, 1.0)
    (ok,) = sent(actions)
    assert isinstance(ok, Response) and ok.status == 200
    assert ok.to.tag == tag
    assert ok.header("Content-Type") == "application/sdp"
    assert "BYE" in (ok.header("Allow") or "")
    answer = sdp.parse(ok.body)
    assert answer.connection == sdp.Connection(address_type="IP4", address="127.0.0.1")
    assert [(x.port, x.formats) for x in answer.media] == [(20000, ("0", "101"))]
    assert others(actions) == [
        StartMedia(
            call_id=CALL,
            remote_rtp_addr=("127.0.0.1", 6000),
            codec=Codec.PCMU,
            payload_type=0,
            dtmf_pt=101,
            local_port=20000,
            direction=Direction.SENDRECV,
        )
    ]
    assert uas.call_state(CALL) is CallState.ANSWERED

    assert uas.datagram_received(m.in_dialog("ACK", to_tag=tag, cseq=1), m.SIPP, 1.2) == []
    assert uas.call_state(CALL) is CallState.CONFIRMED
    assert [a for _, a in run_until(uas, 60.0)] == []  # no 200 retransmission after the ACK

    bye = m.in_dialog("BYE", to_tag=tag, cseq=2, n=2)
    actions = uas.datagram_received(bye, m.SIPP, 61.0)
    (bye_ok,) = sent(actions)
    assert isinstance(bye_ok, Response)
    assert (bye_ok.status, str(bye_ok.cseq), bye_ok.to.tag) == (200, "2 BYE", tag)
    assert others(actions) == [
        StopMedia(call_id=CALL, local_port=20000),
        CallEnded(call_id=CALL, reason=EndReason.REMOTE_HANGUP),
    ]
    assert uas.call_state(CALL) is None
    # sipp retransmits the BYE if our 200 is lost: the same 200 again, nothing else.
    again = uas.datagram_received(bye, m.SIPP, 61.5)
    assert again == [a for a in actions if isinstance(a, SendSip)]
    run_until(uas, 200.0)
    assert uas.held == 0


def test_sipp_pcap_offer_gets_pcma() -> None:
    uas = make_uas()
    ring(uas, m.invite(body=m.OFFER_PCAP))
    (start,) = [a for a in uas.answer(CALL, 0.0) if isinstance(a, StartMedia)]
    assert (start.codec, start.payload_type, start.dtmf_pt) == (Codec.PCMA, 8, 101)


def test_plain_offer_has_no_dtmf_payload() -> None:
    uas = make_uas()
    ring(uas, m.invite(body=m.OFFER_PCMU))
    (start,) = [a for a in uas.answer(CALL, 0.0) if isinstance(a, StartMedia)]
    assert start.dtmf_pt is None


# --- who may call ---------------------------------------------------------------------------


def test_stranger_gets_403_and_leaves_nothing_behind() -> None:
    uas = make_uas()
    for now in (0.0, 0.5):  # the retransmission too
        actions = uas.datagram_received(m.invite(), STRANGER, now)
        assert statuses(actions) == [403]
        assert actions[0].addr == STRANGER  # type: ignore[union-attr]
    assert uas.held == 0
    assert uas.next_deadline() is None
    assert statuses(uas.datagram_received(m.options(), STRANGER, 1.0)) == [403]
    assert statuses(
        uas.datagram_received(m.in_dialog("BYE", to_tag="x", cseq=2), STRANGER, 1.0)
    ) == [403]


def test_caller_number_from_a_trunk() -> None:
    uas = make_uas(allowed=["10.0.0.0/8"])
    actions = uas.datagram_received(m.invite(from_user="+919876543210"), ("10.1.2.3", 5060), 0.0)
    assert others(actions) == [
        CallStarted(
            call_id=CALL, caller="+919876543210", called="service", source=("10.1.2.3", 5060)
        )
    ]


def test_asserted_identity_from_a_trunk_wins_over_from() -> None:
    uas = make_uas(allowed=["10.0.0.0/8"])
    pai = ("P-Asserted-Identity: <sip:+919811000123@trunk.example;user=phone>",)
    actions = uas.datagram_received(
        m.invite(from_user="anonymous", extra=pai), ("10.1.2.3", 5060), 0.0
    )
    [started] = others(actions)
    assert isinstance(started, CallStarted) and started.caller == "+919811000123"
    # From a stranger the header is worth nothing.
    open_uas = make_uas(allowed=None)
    [stranger] = others(open_uas.datagram_received(m.invite(extra=pai), STRANGER, 0.0))
    assert isinstance(stranger, CallStarted) and stranger.caller is None


def test_ipv4_mapped_source_is_the_trunk() -> None:
    uas = make_uas()
    actions = uas.datagram_received(m.invite(), ("::ffff:127.0.0.1", 5061, 0, 0), 0.0)  # type: ignore[arg-type]
    assert [type(a) for a in others(actions)] == [CallStarted]


def test_open_mode_never_trusts_the_caller_number() -> None:
    uas = make_uas(allowed=None)
    actions = uas.datagram_received(m.invite(from_user="+919876543210"), STRANGER, 0.0)
    assert statuses(actions) == [100, 180]
    assert others(actions) == [
        CallStarted(call_id=CALL, caller=None, called="service", source=STRANGER)
    ]


# --- refusals -------------------------------------------------------------------------------


def test_media_at_a_host_name_is_488_with_warning_301() -> None:
    # Media go to addresses only: a name would need a DNS lookup for every packet.
    uas = make_uas()
    named = m.OFFER_PCMU.replace("c=IN IP4 127.0.0.1", "c=IN IP4 media.example.net")
    (refusal,) = sent(uas.datagram_received(m.invite(body=named), m.SIPP, 0.0))
    assert isinstance(refusal, Response) and refusal.status == 488
    assert (refusal.header("Warning") or "").startswith('301 127.0.0.1 "Incompatible network')
    assert uas.call_state(CALL) is None


def test_no_common_codec_is_488() -> None:
    uas = make_uas()
    actions = uas.datagram_received(m.invite(body=m.OFFER_G729_ONLY), m.SIPP, 0.0)
    (refusal,) = sent(actions)
    assert isinstance(refusal, Response) and refusal.status == 488
    assert (refusal.header("Warning") or "").startswith("305 ")
    assert others(actions) == []
    assert uas.call_state(CALL) is None
    tag = refusal.to.tag
    assert tag is not None
    # The ACK (same branch, §17.1.1.3) stops Timer G.
    assert uas.datagram_received(m.ack_for_failure(to_tag=tag), m.SIPP, 0.1) == []
    assert [a for _, a in run_until(uas, 100.0)] == []
    assert uas.held == 0


def test_busy_here_beyond_max_calls() -> None:
    uas = make_uas(max_calls=1)
    ring(uas)
    actions = uas.datagram_received(m.invite(2), m.SIPP, 0.1)
    assert statuses(actions) == [486]
    assert others(actions) == []
    assert uas.active_calls == 1


@pytest.mark.parametrize(
    ("data", "status", "header"),
    [
        (m.invite(extra=("Require: 100rel",)), 420, ("Unsupported", "100rel")),
        (m.invite().replace(b"INVITE sip:service@", b"INVITE mailto:service@", 1), 416, None),
        (m.invite().replace(b"application/sdp", b"text/plain"), 415, ("Accept", "application/sdp")),
        (m.invite(body="v=0\r\nnonsense\r\n"), 400, None),
        (m.invite().replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE"), 400, None),
        (m.invite(contact="<mailto:x@y>"), 400, None),
        (m.invite().replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), 505, None),
    ],
)
def test_unreadable_invites_are_answered(
    data: bytes, status: int, header: tuple[str, str] | None
) -> None:
    uas = make_uas()
    actions = uas.datagram_received(data, m.SIPP, 0.0)
    (response,) = sent(actions)
    assert isinstance(response, Response) and response.status == status
    if header is not None:
        assert response.header(header[0]) == header[1]
    assert others(actions) == []
    run_until(uas, 100.0)
    assert uas.held == 0


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n\r\n",  # keep-alive
        m.invite().replace(b"CSeq: 1 INVITE\r\n", b""),  # nothing to answer with
        b"\x00\x01garbage",
        sip.make_response(parse_request(m.options()), 200).encode(),  # a response to nothing
        m.in_dialog("ACK", to_tag="nobody", cseq=1),  # an ACK to nothing
    ],
)
def test_unanswerable_datagrams_are_dropped(data: bytes) -> None:
    uas = make_uas()
    assert uas.datagram_received(data, m.SIPP, 0.0) == []
    assert uas.held == 0


# --- retransmissions ------------------------------------------------------------------------


def test_retransmitted_invite_gets_the_last_response_not_a_second_call() -> None:
    uas = make_uas()
    first = uas.datagram_received(m.invite(), m.SIPP, 0.0)
    again = uas.datagram_received(m.invite(), m.SIPP, 0.5)
    assert again == [first[1]]  # the 180, byte for byte
    answered = uas.answer(CALL, 1.0)
    assert uas.datagram_received(m.invite(), m.SIPP, 1.5) == [answered[0]]
    assert uas.active_calls == 1


def test_200_retransmitted_on_timer_g_then_bye_after_64_t1() -> None:
    uas = make_uas()
    ring(uas)
    ok = uas.answer(CALL, 0.0)[0]
    fired = run_until(uas, 40.0)
    resends = [t for t, a in fired if a == ok]
    assert resends == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    at_32 = [a for t, a in fired if t == 32.0]
    (bye,) = sent(at_32)
    assert others(at_32) == [
        StopMedia(call_id=CALL, local_port=20000),
        CallEnded(call_id=CALL, reason=EndReason.NO_ACK),
    ]
    assert isinstance(bye, Request) and bye.method == "BYE"
    assert at_32[0].addr == ("127.0.0.1", 5061)  # type: ignore[union-attr]
    bye_resends = [t for t, a in fired if t > 32.0]
    assert bye_resends == [32.5, 33.5, 35.5, 39.5]  # Timer E
    assert uas.call_state(CALL) is CallState.TERMINATING
    response = sip.make_response(bye, 200)
    assert uas.receive(response, m.SIPP, 40.0) == []
    assert uas.call_state(CALL) is None
    run_until(uas, 200.0)
    assert uas.held == 0


def test_failure_response_retransmitted_until_timer_h() -> None:
    uas = make_uas()
    refusal = uas.datagram_received(m.invite(body=m.OFFER_G729_ONLY), m.SIPP, 0.0)[0]
    fired = run_until(uas, 100.0)
    assert [t for t, a in fired if a == refusal][:5] == [0.5, 1.5, 3.5, 7.5, 11.5]
    assert max(t for t, _ in fired) < 32.0
    assert uas.held == 0


def test_bye_that_is_never_answered_gives_up_on_timer_f() -> None:
    uas = make_uas()
    confirm(uas)
    uas.hangup(CALL, 10.0)
    fired = run_until(uas, 100.0)
    assert max(t for t, _ in fired) < 10.0 + 32.0
    assert uas.call_state(CALL) is None


def test_provisional_response_to_bye_slows_retransmission() -> None:
    uas = make_uas()
    confirm(uas)
    bye = sent(uas.hangup(CALL, 0.0))[0]
    assert isinstance(bye, Request)
    uas.receive(sip.make_response(bye, 100), m.SIPP, 0.1)
    times = [t for t, _ in run_until(uas, 10.0)]
    assert times[:2] == [0.5, 4.5]


# --- CANCEL ---------------------------------------------------------------------------------


def test_cancel_before_answer() -> None:
    uas = make_uas()
    tag = ring(uas)
    actions = uas.datagram_received(m.cancel(), m.SIPP, 2.0)
    cancel_ok, terminated = sent(actions)
    assert isinstance(cancel_ok, Response) and isinstance(terminated, Response)
    assert (cancel_ok.status, str(cancel_ok.cseq), cancel_ok.to.tag) == (200, "1 CANCEL", tag)
    assert (terminated.status, str(terminated.cseq), terminated.to.tag) == (487, "1 INVITE", tag)
    assert others(actions) == [CallEnded(call_id=CALL, reason=EndReason.CANCELLED)]
    assert uas.answer(CALL, 2.1) == []  # too late, and no error for the race
    assert uas.datagram_received(m.ack_for_failure(to_tag=tag), m.SIPP, 2.2) == []
    assert [a for _, a in run_until(uas, 100.0)] == []
    assert uas.held == 0


def test_cancel_after_answer_changes_nothing() -> None:
    uas = make_uas()
    ring(uas)
    uas.answer(CALL, 0.0)
    actions = uas.datagram_received(m.cancel(), m.SIPP, 0.1)
    assert statuses(actions) == [200]
    assert others(actions) == []
    assert uas.call_state(CALL) is CallState.ANSWERED


def test_cancel_for_nothing_is_481() -> None:
    assert statuses(make_uas().datagram_received(m.cancel(), m.SIPP, 0.0)) == [481]


# --- other requests -------------------------------------------------------------------------


def test_options() -> None:
    actions = make_uas().datagram_received(m.options(), m.SIPP, 0.0)
    (ok,) = sent(actions)
    assert isinstance(ok, Response) and ok.status == 200
    assert ok.header("Allow") == "INVITE, ACK, CANCEL, BYE, OPTIONS"
    assert ok.header("Accept") == "application/sdp"


@pytest.mark.parametrize(
    ("method", "status"),
    [
        ("REGISTER", 405),
        ("SUBSCRIBE", 405),
        ("INFO", 405),
        ("MESSAGE", 405),
        ("FOO", 501),
        ("DANCE", 501),
    ],
)
def test_methods_we_do_not_do(method: str, status: int) -> None:
    (response,) = sent(make_uas().datagram_received(m.request(method), m.SIPP, 0.0))
    assert isinstance(response, Response) and response.status == status
    assert (response.header("Allow") is not None) == (status == 405)


def test_bye_for_unknown_dialog_is_481() -> None:
    uas = make_uas()
    assert statuses(
        uas.datagram_received(m.in_dialog("BYE", to_tag="nope", cseq=2), m.SIPP, 0)
    ) == [481]
    tag = confirm(uas)
    wrong_tag = m.in_dialog("BYE", to_tag=tag + "x", cseq=2)
    assert statuses(uas.datagram_received(wrong_tag, m.SIPP, 0.0)) == [481]
    assert uas.call_state(CALL) is CallState.CONFIRMED


def test_bye_out_of_order_is_500() -> None:
    uas = make_uas()
    tag = ring(uas, m.invite(cseq=5))
    uas.answer(CALL, 0.0)
    uas.datagram_received(m.in_dialog("ACK", to_tag=tag, cseq=5), m.SIPP, 0.0)
    assert statuses(uas.datagram_received(m.in_dialog("BYE", to_tag=tag, cseq=4), m.SIPP, 0)) == [
        500
    ]


def test_bye_while_ringing_ends_the_invite_with_487() -> None:
    uas = make_uas()
    tag = ring(uas)
    actions = uas.datagram_received(m.in_dialog("BYE", to_tag=tag, cseq=2), m.SIPP, 1.0)
    assert statuses(actions) == [200, 487]
    assert others(actions) == [CallEnded(call_id=CALL, reason=EndReason.REMOTE_HANGUP)]


# --- our hangup -----------------------------------------------------------------------------


def test_hangup_sends_bye_with_from_and_to_swapped() -> None:
    uas = make_uas()
    tag = confirm(uas)
    actions = uas.hangup(CALL, 5.0)
    (bye,) = sent(actions)
    assert isinstance(bye, Request)
    assert bye.method == "BYE"
    assert bye.uri == "sip:sipp@127.0.0.1:5061"  # the caller's Contact
    assert actions[0].addr == ("127.0.0.1", 5061)  # type: ignore[union-attr]
    assert bye.from_.tag == tag and bye.from_.uri == "sip:service@127.0.0.1:5060"
    assert bye.to.tag == m.from_tag() and bye.to.uri == "sip:sipp@127.0.0.1:5061"
    assert bye.call_id == CALL
    assert str(bye.cseq) == "1 BYE"
    branch = bye.top_via.branch
    assert branch is not None and branch.startswith(sip.MAGIC_COOKIE)
    assert branch != m.branch()
    assert bye.top_via.sent_by == "127.0.0.1:5060"
    assert others(actions) == [
        StopMedia(call_id=CALL, local_port=20000),
        CallEnded(call_id=CALL, reason=EndReason.LOCAL_HANGUP),
    ]
    assert uas.hangup(CALL, 5.1) == []  # twice is harmless
    assert uas.receive(sip.make_response(bye, 200), m.SIPP, 5.2) == []
    assert uas.call_state(CALL) is None
    assert uas.receive(sip.make_response(bye, 200), m.SIPP, 5.3) == []


def test_hangup_before_the_ack_waits_for_it() -> None:
    uas = make_uas()
    tag = ring(uas)
    uas.answer(CALL, 0.0)
    actions = uas.hangup(CALL, 0.1)
    assert sent(actions) == []  # §15: no BYE before the ACK
    assert [type(a) for a in actions] == [StopMedia, CallEnded]
    assert uas.call_state(CALL) is CallState.HANGUP_PENDING
    actions = uas.datagram_received(m.in_dialog("ACK", to_tag=tag, cseq=1), m.SIPP, 0.2)
    (bye,) = sent(actions)
    assert isinstance(bye, Request) and bye.method == "BYE"
    assert others(actions) == []


def test_hangup_before_an_ack_that_never_comes() -> None:
    uas = make_uas()
    ring(uas)
    uas.answer(CALL, 0.0)
    uas.hangup(CALL, 0.1)
    fired = run_until(uas, 33.0)
    byes = [a for t, a in fired if t == 32.0]
    assert [x.method for x in sent(byes) if isinstance(x, Request)] == ["BYE"]
    assert others([a for _, a in fired]) == []  # CallEnded came once, at hangup()


def test_hangup_or_reject_while_ringing() -> None:
    uas = make_uas()
    ring(uas)
    actions = uas.hangup(CALL, 1.0)
    assert statuses(actions) == [480]
    assert others(actions) == [CallEnded(call_id=CALL, reason=EndReason.LOCAL_HANGUP)]
    ring(uas, m.invite(2))
    actions = uas.reject(m.call_id(2), 1.0, 603)
    assert statuses(actions) == [603]
    assert others(actions) == [CallEnded(call_id=m.call_id(2), reason=EndReason.REJECTED)]
    with pytest.raises(ValueError):
        uas.reject(m.call_id(3), 1.0, 200)


def test_application_mistakes_are_local_protocol_errors() -> None:
    uas = make_uas()
    confirm(uas)
    with pytest.raises(LocalProtocolError, match="answer"):
        uas.answer(CALL, 1.0)
    with pytest.raises(LocalProtocolError, match="reject"):
        uas.reject(CALL, 1.0)
    assert uas.answer("no-such-call", 1.0) == []
    assert uas.hangup("no-such-call", 1.0) == []


def test_every_state_has_a_way_out() -> None:
    assert set(TRANSITIONS) == set(CallState)
    for state, moves in TRANSITIONS.items():
        assert moves, state
        assert None in moves.values() or CallState.TERMINATING in moves.values(), state


# --- timers that bound a call ---------------------------------------------------------------


def test_unanswered_call_times_out_with_480() -> None:
    uas = make_uas(answer_timeout=5.0)
    ring(uas)
    fired = run_until(uas, 6.0)
    assert statuses([a for _, a in fired][:1]) == [480]
    assert others([a for _, a in fired]) == [CallEnded(call_id=CALL, reason=EndReason.NOT_ANSWERED)]


def test_calls_end_at_max_duration() -> None:
    uas = make_uas(max_duration=10.0)
    confirm(uas)
    fired = [a for t, a in run_until(uas, 10.0)]
    assert [x.method for x in sent(fired) if isinstance(x, Request)] == ["BYE"]
    assert others(fired)[-1] == CallEnded(call_id=CALL, reason=EndReason.MAX_DURATION)


def test_no_rtp_port_is_503() -> None:
    uas = make_uas(rtp_port_allocator=lambda: None)
    ring(uas)
    actions = uas.answer(CALL, 0.0)
    assert statuses(actions) == [503]
    assert others(actions) == [CallEnded(call_id=CALL, reason=EndReason.NO_MEDIA_PORT)]


def test_unacked_and_unanswered_calls_do_not_pile_up() -> None:
    uas = make_uas(max_calls=500, answer_timeout=30.0)
    for call in range(1, 101):
        ring(uas, m.invite(call), now=call * 0.01)
        if call % 2:
            uas.answer(m.call_id(call), call * 0.01)
    assert uas.active_calls == 100
    run_until(uas, 500.0)
    assert uas.held == 0
    assert uas.next_deadline() is None


# --- offer/answer variants ------------------------------------------------------------------


def test_invite_without_offer_gets_our_offer_and_the_ack_answers_it() -> None:
    uas = make_uas()
    tag = ring(uas, m.invite(body=None))
    actions = uas.answer(CALL, 0.0)
    (ok,) = sent(actions)
    assert others(actions) == []  # nowhere to send media yet
    assert sdp.parse(ok.body).media[0].formats == ("0", "8", "101")
    ack = m.in_dialog("ACK", to_tag=tag, cseq=1, body=m.answer_sdp(7000))
    actions = uas.datagram_received(ack, m.SIPP, 0.1)
    (start,) = actions
    assert isinstance(start, StartMedia)
    assert (start.remote_rtp_addr, start.codec, start.dtmf_pt) == (
        ("127.0.0.1", 7000),
        Codec.PCMU,
        101,
    )


def test_ack_without_the_answer_ends_the_call() -> None:
    uas = make_uas()
    tag = ring(uas, m.invite(body=None))
    uas.answer(CALL, 0.0)
    actions = uas.datagram_received(m.in_dialog("ACK", to_tag=tag, cseq=1), m.SIPP, 0.1)
    assert [x.method for x in sent(actions) if isinstance(x, Request)] == ["BYE"]
    assert others(actions) == [
        StopMedia(call_id=CALL, local_port=20000),
        CallEnded(call_id=CALL, reason=EndReason.MEDIA_FAILED),
    ]


def test_reinvite_moves_media_and_keeps_the_call() -> None:
    uas = make_uas()
    tag = confirm(uas)
    first_version = None
    moved = m.OFFER_DTMF.replace("m=audio 6000", "m=audio 6002")
    actions = uas.datagram_received(m.invite(body=moved, to_tag=tag, cseq=2, n=2), m.SIPP, 1.0)
    (ok,) = sent(actions)
    assert isinstance(ok, Response) and ok.status == 200
    first_version = sdp.parse(ok.body).origin.split()[2]
    (update,) = others(actions)
    assert isinstance(update, StartMedia)
    assert (update.remote_rtp_addr, update.local_port) == (("127.0.0.1", 6002), 20000)
    assert uas.datagram_received(m.in_dialog("ACK", to_tag=tag, cseq=2, n=3), m.SIPP, 1.1) == []
    # A session refresh with the same offer: 200, same SDP version, no media change.
    actions = uas.datagram_received(m.invite(body=moved, to_tag=tag, cseq=3, n=4), m.SIPP, 2.0)
    (ok,) = sent(actions)
    assert sdp.parse(ok.body).origin.split()[2] == first_version
    assert others(actions) == []
    uas.datagram_received(m.in_dialog("ACK", to_tag=tag, cseq=3, n=5), m.SIPP, 2.1)
    # An offer we cannot take leaves the call as it was (§14.2).
    bad = uas.datagram_received(
        m.invite(body=m.OFFER_G729_ONLY, to_tag=tag, cseq=4, n=6), m.SIPP, 3
    )
    assert statuses(bad) == [488]
    assert uas.call_state(CALL) is CallState.CONFIRMED


def test_reinvite_before_the_ack_is_500_with_retry_after() -> None:
    uas = make_uas()
    tag = ring(uas)
    uas.answer(CALL, 0.0)
    (response,) = sent(uas.datagram_received(m.invite(to_tag=tag, cseq=2, n=2), m.SIPP, 0.1))
    assert isinstance(response, Response) and response.status == 500
    assert response.header("Retry-After") is not None


def test_reinvite_for_unknown_dialog_is_481() -> None:
    actions = make_uas().datagram_received(m.invite(to_tag="gone", cseq=2), m.SIPP, 0.0)
    assert statuses(actions) == [481]


def test_record_route_makes_the_route_set() -> None:
    uas = make_uas()
    tag = ring(uas, m.invite(extra=("Record-Route: <sip:10.0.0.1:5070;lr>, <sip:10.0.0.2;lr>",)))
    (ok,) = sent(uas.answer(CALL, 0.0))
    assert ok.header_all("Record-Route") == ("<sip:10.0.0.1:5070;lr>, <sip:10.0.0.2;lr>",)
    uas.datagram_received(m.in_dialog("ACK", to_tag=tag, cseq=1), m.SIPP, 0.0)
    actions = uas.hangup(CALL, 1.0)
    (bye,) = sent(actions)
    assert bye.header_all("Route") == ("<sip:10.0.0.1:5070;lr>", "<sip:10.0.0.2;lr>")
    assert isinstance(bye, Request) and bye.uri == "sip:sipp@127.0.0.1:5061"
    assert actions[0].addr == ("10.0.0.1", 5070)  # type: ignore[union-attr]


# --- never crashes, never leaks ----------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400) | mutated())
def test_any_datagram_is_handled_without_raising(data: bytes) -> None:
    uas = make_uas()
    uas.datagram_received(data, m.SIPP, 0.0)
    run_until(uas, 10000.0)
    assert uas.held == 0


OPS = [
    "invite",
    "invite2",
    "reinvite",
    "ack",
    "ack_fail",
    "bye",
    "cancel",
    "answer",
    "hangup",
    "reject",
    "tick",
    "options",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(OPS), st.integers(1, 3)), max_size=40))
def test_any_sequence_reports_every_call_once_and_cleans_up(ops: list[tuple[str, int]]) -> None:
    uas = make_uas(max_calls=2)
    tags: dict[int, str] = {}
    cseqs: dict[int, int] = {}
    actions: list[Action] = []
    now = 0.0

    def feed(data: bytes) -> list[Action]:
        out = uas.datagram_received(data, m.SIPP, now)
        for message in sent(out):
            if isinstance(message, Response) and message.cseq.method == "INVITE" and message.to.tag:
                call = int(message.call_id.split("-")[0])
                tags.setdefault(call, message.to.tag)
        return out

    steps: dict[str, Callable[[int], list[Action]]] = {
        "invite": lambda c: feed(m.invite(c)),
        "invite2": lambda c: feed(m.invite(c, body=None, n=1)),
        "reinvite": lambda c: feed(m.invite(c, to_tag=tags.get(c, "t"), cseq=next_cseq(c), n=7)),
        "ack": lambda c: feed(m.in_dialog("ACK", c, to_tag=tags.get(c, "t"), cseq=cseqs.get(c, 1))),
        "ack_fail": lambda c: feed(m.ack_for_failure(c, to_tag=tags.get(c, "t"))),
        "bye": lambda c: feed(m.in_dialog("BYE", c, to_tag=tags.get(c), cseq=next_cseq(c), n=8)),
        "cancel": lambda c: feed(m.cancel(c)),
        "answer": lambda c: uas.answer(m.call_id(c), now),
        "hangup": lambda c: uas.hangup(m.call_id(c), now),
        "reject": lambda c: uas.reject(m.call_id(c), now),
        "tick": lambda c: uas.tick(now),
        "options": lambda c: feed(m.options(c)),
    }

    def next_cseq(call: int) -> int:
        cseqs[call] = cseqs.get(call, 1) + 1
        return cseqs[call]

    for op, call in ops:
        now += 0.7
        try:
            actions += steps[op](call)
        except LocalProtocolError:
            pass  # the application asked for something the state forbids: that is allowed here
    actions += [a for _, a in run_until(uas, now + 10000.0)]
    started = Counter(a.call_id for a in actions if isinstance(a, CallStarted))
    ended = Counter(a.call_id for a in actions if isinstance(a, CallEnded))
    assert started == ended
    opened = Counter(a.local_port for a in actions if isinstance(a, StartMedia))
    closed = Counter(a.local_port for a in actions if isinstance(a, StopMedia))
    assert set(opened) <= set(closed)
    assert all(count == 1 for count in closed.values())
    assert uas.held == 0
