"""Sans-IO SMPP session: an ESME and an SMSC wired together in memory, driven by a fake clock."""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seva.channels.smpp.pdu import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransmitter,
    BindTransmitterResp,
    CommandId,
    CommandStatus,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    PduReader,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    encode,
)
from seva.channels.smpp.session import (
    ESME_TO_SMSC,
    SMSC_TO_ESME,
    BindFailed,
    BindRequested,
    Bound,
    ConnectionClosed,
    Event,
    LocalProtocolError,
    ProtocolError,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    SessionState,
    SmppSession,
    Unbound,
    WindowFull,
)

S = SessionState
SUBMIT = SubmitSm(source_addr="SEVA", destination_addr="919811000101", short_message=b"Hi")
DELIVER = DeliverSm(source_addr="919811000101", destination_addr="SEVA", short_message=b"RATION")


def drain(session: SmppSession) -> list[Event]:
    events: list[Event] = []
    for _ in range(10_000):
        event = session.next_event()
        if event is None:
            return events
        events.append(event)
    raise AssertionError("endless events")


def sent(session: SmppSession) -> list[Any]:
    reader = PduReader()
    reader.feed(session.data_to_send())
    out = []
    while (item := reader.next_pdu()) is not None:
        out.append(item)
    return out


class Pair:
    """An ESME and an SMSC session joined by an in-memory pipe."""

    def __init__(self, **options: Any) -> None:
        self.now = 0.0
        self.esme = SmppSession(role="esme", **options)
        self.smsc = SmppSession(role="smsc", **options)

    def pump(self) -> None:
        for _ in range(100):
            to_smsc = self.esme.data_to_send()
            to_esme = self.smsc.data_to_send()
            if not to_smsc and not to_esme:
                return
            if to_smsc:
                self.smsc.receive_data(to_smsc, self.now)
            if to_esme:
                self.esme.receive_data(to_esme, self.now)
        raise AssertionError("the sessions never went quiet")

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.esme.handle_timer(self.now)
        self.smsc.handle_timer(self.now)


def bound_pair(kind: Any = "transceiver", **options: Any) -> Pair:
    pair = Pair(**options)
    pair.esme.bind(kind, "seva", "secret", pair.now)
    pair.pump()
    assert [type(event) for event in drain(pair.smsc)] == [BindRequested]
    pair.smsc.accept_bind("SMSC")
    pair.pump()
    assert drain(pair.esme) == [Bound(system_id="SMSC")]
    assert drain(pair.smsc) == [Bound(system_id="seva")]
    return pair


# --- bind -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "state"),
    [("transmitter", S.BOUND_TX), ("receiver", S.BOUND_RX), ("transceiver", S.BOUND_TRX)],
)
def test_bind_each_kind(kind: str, state: SessionState) -> None:
    pair = bound_pair(kind)
    assert pair.esme.state is state
    assert pair.smsc.state is state


def test_smsc_sees_credentials_and_can_refuse() -> None:
    pair = Pair()
    pair.esme.bind("transmitter", "seva", "wrong", pair.now, system_type="GOV")
    assert pair.esme.state is S.BINDING
    pair.pump()
    [request] = drain(pair.smsc)
    assert isinstance(request, BindRequested)
    assert isinstance(request.pdu, BindTransmitter)
    assert (request.pdu.system_id, request.pdu.password, request.pdu.system_type) == (
        "seva",
        "wrong",
        "GOV",
    )
    pair.smsc.reject_bind(CommandStatus.ESME_RINVPASWD)
    pair.pump()
    assert drain(pair.esme) == [
        BindFailed(status=CommandStatus.ESME_RINVPASWD, reason="ESME_RINVPASWD")
    ]
    assert pair.esme.state is S.OPEN
    assert pair.smsc.state is S.OPEN
    # The spec lets the ESME try again on the same connection.
    pair.esme.bind("transmitter", "seva", "secret", pair.now)
    pair.pump()
    assert isinstance(drain(pair.smsc)[0], BindRequested)


def test_bind_without_answer_fails_after_the_response_timeout() -> None:
    pair = Pair(response_timeout=5.0)
    pair.esme.bind("transceiver", "seva", "secret", pair.now)
    assert pair.esme.next_deadline() == 5.0
    pair.esme.handle_timer(4.9)
    assert drain(pair.esme) == []
    pair.esme.handle_timer(5.0)
    [failed] = drain(pair.esme)
    assert isinstance(failed, BindFailed)
    assert failed.status == CommandStatus.ESME_RBINDFAIL
    assert "no answer to bind_transceiver" in failed.reason
    assert pair.esme.state is S.OPEN


def test_generic_nack_to_a_bind_is_a_failed_bind() -> None:
    esme = SmppSession(role="esme")
    sequence = esme.bind("receiver", "seva", "secret", 0.0)
    esme.receive_data(
        encode(GenericNack(sequence_number=sequence, command_status=CommandStatus.ESME_RINVCMDID)),
        0.0,
    )
    assert drain(esme) == [BindFailed(status=CommandStatus.ESME_RINVCMDID, reason="ESME_RINVCMDID")]
    assert esme.state is S.OPEN


def test_bind_response_of_the_wrong_kind_is_a_protocol_error() -> None:
    esme = SmppSession(role="esme")
    sequence = esme.bind("transmitter", "seva", "secret", 0.0)
    esme.receive_data(encode(BindReceiverResp(sequence_number=sequence, system_id="X")), 0.0)
    [event] = drain(esme)
    assert isinstance(event, ProtocolError)
    assert esme.state is S.BINDING


def test_role_misuse_is_refused() -> None:
    with pytest.raises(LocalProtocolError):
        SmppSession(role="smsc").bind("transmitter", "a", "b", 0.0)
    with pytest.raises(LocalProtocolError):
        SmppSession(role="esme").accept_bind()
    with pytest.raises(LocalProtocolError):
        SmppSession(role="smsc").accept_bind()  # no bind pending
    with pytest.raises(ValueError):
        SmppSession(role="nobody")  # type: ignore[arg-type]


# --- requests, window, timeouts --------------------------------------------------------------


def test_submit_up_to_the_window_and_get_responses() -> None:
    pair = bound_pair(window=3)
    sequences = [pair.esme.send_request(SUBMIT, pair.now) for _ in range(3)]
    assert sequences == [2, 3, 4]  # 1 went to the bind
    assert pair.esme.window_free == 0
    with pytest.raises(WindowFull):
        pair.esme.send_request(SUBMIT, pair.now)
    pair.pump()
    requests = drain(pair.smsc)
    assert [type(event) for event in requests] == [RequestReceived] * 3
    for number, event in enumerate(requests):
        assert isinstance(event, RequestReceived)
        assert event.pdu == SubmitSm(
            sequence_number=sequences[number],
            source_addr="SEVA",
            destination_addr="919811000101",
            short_message=b"Hi",
        )
        pair.smsc.send_response(
            SubmitSmResp(sequence_number=event.pdu.sequence_number, message_id=f"m{number}")
        )
    pair.pump()
    responses = drain(pair.esme)
    assert [
        (event.request.sequence_number, event.response)
        for event in responses
        if isinstance(event, ResponseReceived)
    ] == [
        (sequence, SubmitSmResp(sequence_number=sequence, message_id=f"m{number}"))
        for number, sequence in enumerate(sequences)
    ]
    assert pair.esme.window_free == 3


def test_timeout_frees_the_window_and_a_late_answer_is_reported() -> None:
    pair = bound_pair(window=1, response_timeout=10.0)
    sequence = pair.esme.send_request(SUBMIT, pair.now)
    pair.pump()
    [request] = drain(pair.smsc)
    pair.advance(9.99)
    assert drain(pair.esme) == []
    assert pair.esme.window_free == 0
    pair.advance(0.01)
    [timed_out] = drain(pair.esme)
    assert isinstance(timed_out, RequestTimedOut)
    assert timed_out.request.sequence_number == sequence
    assert pair.esme.window_free == 1
    assert isinstance(request, RequestReceived)
    pair.smsc.send_response(SubmitSmResp(sequence_number=sequence, message_id="late"))
    pair.pump()
    [late] = drain(pair.esme)
    assert isinstance(late, ProtocolError)
    assert "matches no request" in late.error.message
    assert pair.esme.state is S.BOUND_TRX


def test_smsc_delivers_and_esme_answers() -> None:
    pair = bound_pair("receiver")
    with pytest.raises(LocalProtocolError, match="submit_sm cannot be sent in state BOUND_RX"):
        pair.esme.send_request(SUBMIT, pair.now)
    sequence = pair.smsc.send_request(DELIVER, pair.now)
    pair.pump()
    [event] = drain(pair.esme)
    assert isinstance(event, RequestReceived)
    assert event.pdu.sequence_number == sequence
    assert pair.esme.awaiting_answer == 1
    with pytest.raises(LocalProtocolError, match="does not answer"):
        pair.esme.send_response(SubmitSmResp(sequence_number=sequence))
    with pytest.raises(LocalProtocolError, match="no request"):
        pair.esme.send_response(DeliverSmResp(sequence_number=sequence + 1))
    pair.esme.send_response(DeliverSmResp(sequence_number=sequence))
    pair.pump()
    [answer] = drain(pair.smsc)
    assert isinstance(answer, ResponseReceived)
    assert answer.request.sequence_number == sequence
    assert pair.esme.awaiting_answer == 0


def test_unanswered_peer_requests_beyond_inbound_window_are_throttled() -> None:
    pair = bound_pair(inbound_window=2, window=5)
    for _ in range(3):
        pair.esme.send_request(SUBMIT, pair.now)
    pair.pump()
    assert len(drain(pair.smsc)) == 2
    [throttled] = drain(pair.esme)
    assert isinstance(throttled, ResponseReceived)
    assert throttled.response.command_status == CommandStatus.ESME_RTHROTTLED
    assert pair.esme.window_free == 3  # two still await the application


def test_sequence_numbers_wrap_and_skip_outstanding_ones() -> None:
    esme = SmppSession(role="esme")
    esme._next_sequence = 0x7FFFFFFF  # where 2**31 - 1 requests leave the counter
    first = esme.bind("transmitter", "a", "b", 0.0)
    assert first == 0x7FFFFFFF
    esme.receive_data(encode(BindTransmitterResp(sequence_number=first)), 0.0)
    assert esme.send_request(SUBMIT, 0.0) == 1
    esme._next_sequence = 1  # wrapped all the way round while 1 is still unanswered
    assert esme.send_request(SUBMIT, 0.0) == 2


# --- keepalive ------------------------------------------------------------------------------


def test_idle_link_sends_enquire_link_which_the_peer_answers() -> None:
    pair = bound_pair(enquire_link_interval=30.0, response_timeout=10.0)
    pair.smsc.enquire_link_interval = 0  # only the ESME probes here
    assert pair.esme.next_deadline() == 30.0
    pair.advance(29.0)
    assert pair.esme.data_to_send() == b""
    pair.advance(1.0)
    [probe] = sent(pair.esme)
    assert isinstance(probe, EnquireLink)
    pair.smsc.receive_data(encode(probe), pair.now)
    [answer] = sent(pair.smsc)
    assert answer == EnquireLinkResp(sequence_number=probe.sequence_number)
    pair.esme.receive_data(encode(answer), pair.now)
    assert drain(pair.esme) == []
    assert drain(pair.smsc) == []
    assert pair.esme.next_deadline() == 60.0
    assert pair.esme.window_free == pair.esme.window


def test_traffic_postpones_the_keepalive() -> None:
    pair = bound_pair(enquire_link_interval=30.0)
    pair.advance(20.0)
    pair.smsc.send_request(DELIVER, pair.now)
    pair.pump()
    assert pair.esme.next_deadline() == 50.0


def test_unanswered_enquire_link_closes_the_session() -> None:
    pair = bound_pair(enquire_link_interval=30.0, response_timeout=10.0)
    pair.esme.send_request(SUBMIT, pair.now)
    pair.esme.data_to_send()  # lost on the way
    pair.esme.handle_timer(30.0)
    assert [type(event) for event in drain(pair.esme)] == [RequestTimedOut]
    assert isinstance(sent(pair.esme)[0], EnquireLink)
    pair.esme.handle_timer(40.0)
    assert drain(pair.esme) == [ConnectionClosed(reason="no answer to enquire_link in 10s")]
    assert pair.esme.closed
    assert pair.esme.next_deadline() is None


def test_keepalive_can_be_turned_off() -> None:
    pair = bound_pair(enquire_link_interval=0)
    assert pair.esme.next_deadline() is None


# --- unbind and closing ---------------------------------------------------------------------


def test_unbind_from_the_esme() -> None:
    pair = bound_pair()
    pair.esme.unbind(pair.now)
    assert pair.esme.state is S.UNBINDING
    pair.pump()
    assert drain(pair.smsc) == [Unbound(), ConnectionClosed(reason="unbound")]
    assert drain(pair.esme) == [Unbound(), ConnectionClosed(reason="unbound")]
    assert pair.esme.closed and pair.smsc.closed
    pair.esme.connection_lost()
    assert drain(pair.esme) == []


def test_unbind_from_the_smsc_with_a_request_in_flight() -> None:
    pair = bound_pair()
    pair.esme.send_request(SUBMIT, pair.now)
    pair.smsc.unbind(pair.now)
    pair.esme.receive_data(pair.smsc.data_to_send(), pair.now)
    events = drain(pair.esme)
    assert [type(event) for event in events] == [Unbound, RequestTimedOut, ConnectionClosed]
    assert isinstance(sent(pair.esme)[-1], UnbindResp)


def test_responses_still_arrive_while_unbinding() -> None:
    pair = bound_pair()
    sequence = pair.esme.send_request(SUBMIT, pair.now)
    pair.pump()
    pair.esme.unbind(pair.now)
    pair.smsc.send_response(SubmitSmResp(sequence_number=sequence, message_id="x"))
    pair.esme.receive_data(pair.smsc.data_to_send(), pair.now)
    [event] = drain(pair.esme)
    assert isinstance(event, ResponseReceived)
    with pytest.raises(LocalProtocolError, match="UNBINDING"):
        pair.esme.send_request(SUBMIT, pair.now)


def test_connection_lost_reports_every_unanswered_request_once() -> None:
    pair = bound_pair()
    pair.esme.send_request(SUBMIT, pair.now)
    pair.esme.send_request(SUBMIT, pair.now)
    pair.esme.connection_lost()
    pair.esme.connection_lost()
    events = drain(pair.esme)
    assert [type(event) for event in events] == [
        RequestTimedOut,
        RequestTimedOut,
        ConnectionClosed,
    ]
    assert events[-1] == ConnectionClosed(reason="connection lost")
    pair.esme.send_response(DeliverSmResp(sequence_number=5))  # dropped, not raised
    assert pair.esme.data_to_send() == b""


# --- errors from the peer -------------------------------------------------------------------


def test_unknown_command_gets_generic_nack() -> None:
    smsc = bound_pair().smsc
    smsc.receive_data(bytes.fromhex("00000010000000210000000000000063"), 0.0)  # submit_multi
    assert sent(smsc) == [
        GenericNack(sequence_number=0x63, command_status=CommandStatus.ESME_RINVCMDID)
    ]
    [event] = drain(smsc)
    assert isinstance(event, ProtocolError)
    assert smsc.state is S.BOUND_TRX


def test_malformed_request_gets_its_own_response_with_the_reason() -> None:
    smsc = bound_pair().smsc
    wire = encode(SubmitSm(sequence_number=12, source_addr="9" * 20)).replace(b"9" * 20, b"9" * 21)
    wire = len(wire).to_bytes(4, "big") + wire[4:]
    smsc.receive_data(wire, 0.0)
    assert sent(smsc) == [
        SubmitSmResp(sequence_number=12, command_status=CommandStatus.ESME_RINVSRCADR)
    ]


def test_malformed_response_is_reported_not_answered() -> None:
    esme = bound_pair().esme
    esme.receive_data(bytes.fromhex("00000011800000040000000000000002") + b"\xff", 0.0)
    assert esme.data_to_send() == b""
    assert isinstance(drain(esme)[0], ProtocolError)


def test_lost_framing_nacks_and_closes() -> None:
    esme = bound_pair().esme
    esme.send_request(SUBMIT, 0.0)
    esme.data_to_send()
    esme.receive_data(bytes.fromhex("00000004000000040000000000000009"), 0.0)
    assert sent(esme) == [
        GenericNack(sequence_number=9, command_status=CommandStatus.ESME_RINVCMDLEN)
    ]
    events = drain(esme)
    assert [type(event) for event in events] == [ProtocolError, RequestTimedOut, ConnectionClosed]
    assert esme.closed
    esme.receive_data(encode(EnquireLink(sequence_number=1)), 0.0)
    assert esme.data_to_send() == b""


# --- the state tables -----------------------------------------------------------------------

C = CommandId
# The requests each side may receive in each state, written out from SMPP v3.4 §2.3 (plus
# enquire_link before binding, which SMPP 5.0 allows and costs nothing to answer).
ESME_RECEIVES = {
    S.OPEN: {C.ENQUIRE_LINK},
    S.BINDING: {C.ENQUIRE_LINK},
    S.BOUND_TX: {C.ENQUIRE_LINK, C.UNBIND},
    S.BOUND_RX: {C.DELIVER_SM, C.DATA_SM, C.ENQUIRE_LINK, C.UNBIND},
    S.BOUND_TRX: {C.DELIVER_SM, C.DATA_SM, C.ENQUIRE_LINK, C.UNBIND},
    S.UNBINDING: {C.UNBIND},
}
SMSC_RECEIVES = {
    S.OPEN: {C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER, C.ENQUIRE_LINK},
    S.BINDING: {C.ENQUIRE_LINK},
    S.BOUND_TX: {C.SUBMIT_SM, C.DATA_SM, C.QUERY_SM, C.ENQUIRE_LINK, C.UNBIND},
    S.BOUND_RX: {C.ENQUIRE_LINK, C.UNBIND},
    S.BOUND_TRX: {C.SUBMIT_SM, C.DATA_SM, C.QUERY_SM, C.ENQUIRE_LINK, C.UNBIND},
    S.UNBINDING: {C.UNBIND},
}
SAMPLES: list[Pdu] = [
    BindTransmitter(system_id="a"),
    BindReceiver(system_id="a"),
    BindTransceiver(system_id="a"),
    BindTransmitterResp(system_id="a"),
    BindReceiverResp(system_id="a"),
    SubmitSm(short_message=b"x"),
    SubmitSmResp(message_id="1"),
    DeliverSm(short_message=b"x"),
    DeliverSmResp(),
    DataSm(message_payload=b"x"),
    DataSmResp(message_id="1"),
    QuerySm(message_id="1"),
    QuerySmResp(message_id="1"),
    EnquireLink(),
    EnquireLinkResp(),
    Unbind(),
    UnbindResp(),
    GenericNack(),
]


def session_in(role: str, state: SessionState) -> SmppSession:
    """A session brought into ``state`` the way a real connection gets there."""
    if state is S.OPEN:
        return SmppSession(role=role)  # type: ignore[arg-type]
    if state is S.BINDING:
        if role == "esme":
            session = SmppSession(role="esme")
            session.bind("transceiver", "a", "b", 0.0)
        else:
            session = SmppSession(role="smsc")
            session.receive_data(encode(BindTransceiver(sequence_number=1, system_id="a")), 0.0)
    else:
        kind = {S.BOUND_TX: "transmitter", S.BOUND_RX: "receiver"}.get(state, "transceiver")
        pair = bound_pair(kind)
        session = pair.esme if role == "esme" else pair.smsc
        if state is S.UNBINDING:
            session.unbind(0.0)
    drain(session)
    session.data_to_send()
    assert session.state is state
    return session


@pytest.mark.parametrize("role", ["esme", "smsc"])
@pytest.mark.parametrize("state", [s for s in S if s is not S.CLOSED], ids=lambda s: s.value)
@pytest.mark.parametrize("pdu", SAMPLES, ids=lambda pdu: type(pdu).__name__)
def test_every_pdu_in_every_state(role: str, state: SessionState, pdu: Pdu) -> None:
    session = session_in(role, state)
    incoming = dataclasses.replace(pdu, sequence_number=77)
    session.receive_data(encode(incoming), 0.0)
    answers = sent(session)
    events = drain(session)
    allowed = (ESME_RECEIVES if role == "esme" else SMSC_RECEIVES)[state]
    if pdu.command_id & 0x80000000:
        # A response to nothing we sent: reported, never answered.
        assert answers == []
        assert [type(event) for event in events] == [ProtocolError]
        assert session.state is state
    elif pdu.command_id not in allowed:
        [answer] = answers
        assert answer.command_id == pdu.command_id | 0x80000000
        assert answer.sequence_number == 77
        expected = CommandStatus.ESME_RINVBNDSTS
        if (
            isinstance(pdu, BindTransmitter | BindReceiver | BindTransceiver)
            and state is not S.OPEN
        ):
            expected = CommandStatus.ESME_RALYBND
        assert answer.command_status == expected
        assert [type(event) for event in events] == [ProtocolError]
        assert session.state is state
    elif isinstance(pdu, EnquireLink):
        assert answers == [EnquireLinkResp(sequence_number=77)]
        assert events == []
    elif isinstance(pdu, Unbind):
        assert answers == [UnbindResp(sequence_number=77)]
        assert [type(event) for event in events] == [Unbound, ConnectionClosed]
        assert session.closed
    elif isinstance(pdu, BindTransmitter | BindReceiver | BindTransceiver):
        assert answers == []
        assert events == [BindRequested(pdu=incoming)]  # type: ignore[arg-type]
        assert session.state is S.BINDING
    else:
        assert answers == []
        assert events == [RequestReceived(pdu=incoming)]


def test_tables_cover_every_state() -> None:
    for table in (ESME_TO_SMSC, SMSC_TO_ESME):
        assert set(table) == set(S)
        assert table[S.CLOSED] == {}
        for transitions in table.values():
            assert set(transitions.values()) <= set(S)


# --- chunking, interleavings, fuzz ----------------------------------------------------------


def _scripted_esme() -> tuple[SmppSession, bytes]:
    """A bound ESME with two submits outstanding, and what the SMSC says next."""
    pair = bound_pair(window=5)
    first = pair.esme.send_request(SUBMIT, pair.now)
    pair.esme.send_request(SUBMIT, pair.now)
    pair.esme.data_to_send()
    stream = b"".join(
        [
            encode(DeliverSm(sequence_number=50, source_addr="91981", short_message=b"RATION 1")),
            encode(EnquireLink(sequence_number=51)),
            encode(SubmitSmResp(sequence_number=first, message_id="abc")),
            bytes.fromhex("00000010000000210000000000000034"),  # submit_multi
            encode(
                GenericNack(sequence_number=first + 1, command_status=CommandStatus.ESME_RSYSERR)
            ),
            encode(QuerySmResp(sequence_number=999)),
            encode(DataSm(sequence_number=53, message_payload=b"x" * 300)),
            encode(Unbind(sequence_number=54)),
        ]
    )
    return pair.esme, stream


def test_bytewise_and_whole_feeding_give_the_same_events_and_answers() -> None:
    whole, stream = _scripted_esme()
    whole.receive_data(stream, 1.0)
    bytewise, _ = _scripted_esme()
    for index in range(len(stream)):
        bytewise.receive_data(stream[index : index + 1], 1.0)
    whole_events = drain(whole)
    assert drain(bytewise) == whole_events
    assert bytewise.data_to_send() == whole.data_to_send()
    assert [type(event) for event in whole_events] == [
        RequestReceived,
        ResponseReceived,
        ProtocolError,
        ResponseReceived,
        ProtocolError,
        RequestReceived,
        Unbound,
        ConnectionClosed,
    ]


ACTIONS = st.lists(
    st.one_of(
        st.sampled_from(["submit", "submit", "deliver", "answer_esme", "answer_smsc", "pump"]).map(
            lambda kind: (kind,)
        ),
        st.tuples(st.sampled_from(["to_smsc", "to_esme"]), st.integers(1, 200)),
        st.tuples(st.just("tick"), st.floats(0, 12)),
    ),
    min_size=5,
    max_size=80,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ACTIONS)
def test_random_interleavings_keep_every_promise(actions: list[tuple[Any, ...]]) -> None:
    pair = bound_pair(window=3, response_timeout=10.0, enquire_link_interval=30.0)
    wire = {"to_smsc": bytearray(), "to_esme": bytearray()}
    sent_by: dict[str, dict[int, Pdu]] = {"esme": {}, "smsc": {}}
    outcomes: dict[str, dict[int, int]] = {"esme": {}, "smsc": {}}
    inbox: dict[str, deque[Pdu]] = {"esme": deque(), "smsc": deque()}
    sessions = {"esme": pair.esme, "smsc": pair.smsc}

    def collect() -> None:
        for name, session in sessions.items():
            wire["to_smsc" if name == "esme" else "to_esme"] += session.data_to_send()
            for event in drain(session):
                if isinstance(event, RequestReceived):
                    inbox[name].append(event.pdu)
                elif isinstance(event, ResponseReceived | RequestTimedOut):
                    number = event.request.sequence_number
                    outcomes[name][number] = outcomes[name].get(number, 0) + 1
            assert 0 <= session.window_free <= session.window
        hang_up()

    def hang_up() -> None:
        # What a transport does: once one side has closed, its last bytes go out, the socket
        # closes, and the other side learns the connection is gone.
        for name, direction in (("esme", "to_smsc"), ("smsc", "to_esme")):
            other = pair.smsc if name == "esme" else pair.esme
            if sessions[name].closed and not other.closed:
                move(direction, len(wire[direction]))
                other.connection_lost()

    def send(name: str, pdu: Pdu) -> None:
        session = sessions[name]
        if session.bound and session.window_free:
            number = session.send_request(pdu, pair.now)
            assert number not in sent_by[name] or outcomes[name].get(number)
            sent_by[name][number] = pdu

    def answer(name: str) -> None:
        if inbox[name]:
            request = inbox[name].popleft()
            response = (
                SubmitSmResp(sequence_number=request.sequence_number, message_id="m")
                if isinstance(request, SubmitSm)
                else DeliverSmResp(sequence_number=request.sequence_number)
            )
            sessions[name].send_response(response)

    def move(direction: str, size: int) -> None:
        chunk = bytes(wire[direction][:size])
        del wire[direction][:size]
        target = pair.smsc if direction == "to_smsc" else pair.esme
        target.receive_data(chunk, pair.now)

    for action in actions:
        kind = action[0]
        if kind == "submit":
            send("esme", SUBMIT)
        elif kind == "deliver":
            send("smsc", DELIVER)
        elif kind == "answer_esme":
            answer("esme")
        elif kind == "answer_smsc":
            answer("smsc")
        elif kind == "tick":
            pair.advance(action[1])
        elif kind == "pump":
            move("to_smsc", len(wire["to_smsc"]))
            collect()
            move("to_esme", len(wire["to_esme"]))
        else:
            move(kind, action[1])
        collect()

    # Let everything through, answer everything, then hang up.
    for _ in range(20):
        for name in sessions:
            while inbox[name]:
                answer(name)
        collect()
        if not wire["to_smsc"] and not wire["to_esme"]:
            break
        move("to_smsc", len(wire["to_smsc"]))
        move("to_esme", len(wire["to_esme"]))
        collect()
    for session in sessions.values():
        if not session.closed:
            assert session.window_free == session.window
            assert session.awaiting_answer == 0
    pair.esme.connection_lost()
    pair.smsc.connection_lost()
    collect()
    for name in sessions:
        assert outcomes[name] == dict.fromkeys(sent_by[name], 1), name


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["esme", "smsc"]), st.booleans(), st.lists(st.binary(max_size=64), max_size=6)
)
def test_random_bytes_never_raise(role: str, bound: bool, chunks: list[bytes]) -> None:
    if bound:
        pair = bound_pair()
        session = pair.esme if role == "esme" else pair.smsc
    else:
        session = SmppSession(role=role)  # type: ignore[arg-type]
    for chunk in chunks:
        session.receive_data(chunk, 1.0)
        session.handle_timer(1.0)
    drain(session)
    session.data_to_send()
