"""Sans-IO SMPP v3.4 session for either end of a connection: ESME or SMSC.

Follows SMPP v3.4 §2.2-§2.3 (session states and the PDUs each state allows), §2.7 (error
handling: a request the state forbids is answered with its ``*_resp`` carrying ESME_RINVBNDSTS,
an unreadable one with generic_nack), §4.1-§4.2 (bind and unbind), §4.11 (enquire_link) and
§7.2 (response and enquire_link timers).

The session does no I/O and reads no clock, in the manner of h11 and aioquic: the transport
feeds it bytes with :meth:`SmppSession.receive_data`, sends what :meth:`~SmppSession.data_to_send`
returns, drains :meth:`~SmppSession.next_event`, and calls :meth:`~SmppSession.handle_timer` at
:meth:`~SmppSession.next_deadline`. State changes are two tables, one per direction
(:data:`ESME_TO_SMSC`, :data:`SMSC_TO_ESME`), applied by one method; an ESME sends with the
first and receives with the second, an SMSC the other way round.

The session answers what needs no application decision itself: enquire_link, unbind, requests
the state forbids, malformed PDUs, and requests beyond ``inbound_window`` that the application
has not answered yet (throttled rather than buffered without bound).
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from seva.channels.smpp.pdu import (
    DEFAULT_MAX_COMMAND_LENGTH,
    INTERFACE_VERSION,
    RESPONSE_BIT,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CommandId,
    CommandStatus,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    PduError,
    PduReader,
    Unbind,
    UnbindResp,
    command_name,
    encode,
    response_class,
    status_name,
    with_sequence_number,
)

__all__ = [
    "ESME_TO_SMSC",
    "SMSC_TO_ESME",
    "BindFailed",
    "BindRequested",
    "Bound",
    "ConnectionClosed",
    "Event",
    "LocalProtocolError",
    "ProtocolError",
    "RequestReceived",
    "RequestTimedOut",
    "ResponseReceived",
    "SessionState",
    "SmppSession",
    "Unbound",
    "WindowFull",
]


class SessionState(enum.StrEnum):
    """§2.2 session states, with BINDING and UNBINDING made explicit.

    A StrEnum so that the per-PDU table lookups hash in C rather than through Enum.__hash__.
    """

    OPEN = "OPEN"
    BINDING = "BINDING"
    BOUND_TX = "BOUND_TX"
    BOUND_RX = "BOUND_RX"
    BOUND_TRX = "BOUND_TRX"
    UNBINDING = "UNBINDING"
    CLOSED = "CLOSED"


class WindowFull(Exception):
    """``window`` requests await their responses; wait for one before sending more."""


class LocalProtocolError(Exception):
    """The application asked for something the session state or the spec forbids."""


BindKind: TypeAlias = Literal["transmitter", "receiver", "transceiver"]
Bind: TypeAlias = BindTransmitter | BindReceiver | BindTransceiver


# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Bound:
    """The bind succeeded; ``system_id`` is the peer's (the SMSC's, or the binding ESME's)."""

    system_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BindFailed:
    """The SMSC refused the bind (``status``), or did not answer it (``reason`` says which)."""

    status: int
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BindRequested:
    """SMSC role: an ESME asks to bind; answer with ``accept_bind()`` or ``reject_bind()``."""

    pdu: Bind


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestReceived:
    """A submit_sm/deliver_sm/data_sm/query_sm the application must answer (send_response)."""

    pdu: Pdu


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseReceived:
    """The answer to one of our requests; ``request`` is what was sent, sequence number set."""

    request: Pdu
    response: Pdu


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestTimedOut:
    """No answer will come: none arrived within ``response_timeout``, or the session closed.

    The peer may or may not have acted on the request.
    """

    request: Pdu


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolError:
    """The peer sent something wrong; the session has already answered it where the spec asks."""

    error: PduError


@dataclass(frozen=True, slots=True, kw_only=True)
class Unbound:
    """Either side's unbind completed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed:
    """The session is over; flush ``data_to_send()`` and close the socket. Emitted once."""

    reason: str


Event: TypeAlias = (
    Bound
    | BindFailed
    | BindRequested
    | RequestReceived
    | ResponseReceived
    | RequestTimedOut
    | ProtocolError
    | Unbound
    | ConnectionClosed
)


# --- state tables ---------------------------------------------------------------------------

_St = SessionState
_C = CommandId

_LINK: Final = (_C.ENQUIRE_LINK, _C.ENQUIRE_LINK_RESP, _C.GENERIC_NACK)


def _stay(state: SessionState, *command_ids: int) -> dict[int, SessionState]:
    return dict.fromkeys(command_ids, state)


ESME_TO_SMSC: Final[Mapping[SessionState, Mapping[int, SessionState]]] = {
    _St.OPEN: {
        _C.BIND_TRANSMITTER: _St.BINDING,
        _C.BIND_RECEIVER: _St.BINDING,
        _C.BIND_TRANSCEIVER: _St.BINDING,
        **_stay(_St.OPEN, *_LINK),
    },
    _St.BINDING: _stay(_St.BINDING, *_LINK),
    _St.BOUND_TX: {
        **_stay(_St.BOUND_TX, _C.SUBMIT_SM, _C.DATA_SM, _C.QUERY_SM, *_LINK),
        _C.UNBIND: _St.UNBINDING,
    },
    _St.BOUND_RX: {
        **_stay(_St.BOUND_RX, _C.DELIVER_SM_RESP, _C.DATA_SM_RESP, *_LINK),
        _C.UNBIND: _St.UNBINDING,
    },
    _St.BOUND_TRX: {
        **_stay(
            _St.BOUND_TRX,
            _C.SUBMIT_SM,
            _C.DATA_SM,
            _C.QUERY_SM,
            _C.DELIVER_SM_RESP,
            _C.DATA_SM_RESP,
            *_LINK,
        ),
        _C.UNBIND: _St.UNBINDING,
    },
    _St.UNBINDING: {
        **_stay(
            _St.UNBINDING,
            _C.DELIVER_SM_RESP,
            _C.DATA_SM_RESP,
            _C.ENQUIRE_LINK_RESP,
            _C.GENERIC_NACK,
            _C.UNBIND,
        ),
        _C.UNBIND_RESP: _St.CLOSED,
    },
    _St.CLOSED: {},
}
"""What an ESME may send and an SMSC may receive: ``{state: {command_id: next state}}``."""

SMSC_TO_ESME: Final[Mapping[SessionState, Mapping[int, SessionState]]] = {
    _St.OPEN: _stay(_St.OPEN, *_LINK),
    _St.BINDING: {
        _C.BIND_TRANSMITTER_RESP: _St.BOUND_TX,
        _C.BIND_RECEIVER_RESP: _St.BOUND_RX,
        _C.BIND_TRANSCEIVER_RESP: _St.BOUND_TRX,
        _C.ENQUIRE_LINK: _St.BINDING,
        _C.ENQUIRE_LINK_RESP: _St.BINDING,
        _C.GENERIC_NACK: _St.OPEN,
    },
    _St.BOUND_TX: {
        **_stay(_St.BOUND_TX, _C.SUBMIT_SM_RESP, _C.DATA_SM_RESP, _C.QUERY_SM_RESP, *_LINK),
        _C.UNBIND: _St.UNBINDING,
    },
    _St.BOUND_RX: {
        **_stay(_St.BOUND_RX, _C.DELIVER_SM, _C.DATA_SM, *_LINK),
        _C.UNBIND: _St.UNBINDING,
    },
    _St.BOUND_TRX: {
        **_stay(
            _St.BOUND_TRX,
            _C.SUBMIT_SM_RESP,
            _C.DATA_SM_RESP,
            _C.QUERY_SM_RESP,
            _C.DELIVER_SM,
            _C.DATA_SM,
            *_LINK,
        ),
        _C.UNBIND: _St.UNBINDING,
    },
    _St.UNBINDING: {
        **_stay(
            _St.UNBINDING,
            _C.SUBMIT_SM_RESP,
            _C.DATA_SM_RESP,
            _C.QUERY_SM_RESP,
            _C.ENQUIRE_LINK_RESP,
            _C.GENERIC_NACK,
            _C.UNBIND,
        ),
        _C.UNBIND_RESP: _St.CLOSED,
    },
    _St.CLOSED: {},
}
"""What an SMSC may send and an ESME may receive: ``{state: {command_id: next state}}``."""

_BOUND: Final = frozenset({_St.BOUND_TX, _St.BOUND_RX, _St.BOUND_TRX})
_BIND_REQUESTS: Final = frozenset({_C.BIND_TRANSMITTER, _C.BIND_RECEIVER, _C.BIND_TRANSCEIVER})
_BIND_RESPONSES: Final = frozenset(
    {_C.BIND_TRANSMITTER_RESP, _C.BIND_RECEIVER_RESP, _C.BIND_TRANSCEIVER_RESP}
)
# Session housekeeping, not application traffic: these never take a window slot.
_UNWINDOWED: Final = _BIND_REQUESTS | {_C.ENQUIRE_LINK, _C.UNBIND}
_BIND_CLASSES: Final[dict[str, type[Bind]]] = {
    "transmitter": BindTransmitter,
    "receiver": BindReceiver,
    "transceiver": BindTransceiver,
}
_MAX_SEQUENCE: Final = 0x7FFFFFFF


class _Outstanding:
    __slots__ = ("deadline", "request", "windowed")

    def __init__(self, request: Pdu, deadline: float, windowed: bool) -> None:
        self.request = request
        self.deadline = deadline
        self.windowed = windowed


class SmppSession:
    """One SMPP connection's protocol state, as ESME (client) or SMSC (server).

    ``window`` caps our requests awaiting a response (:class:`WindowFull` beyond it);
    ``inbound_window`` caps the peer's requests the application has not answered yet — beyond
    it the session answers ESME_RTHROTTLED (SMSC role) or ESME_RX_T_APPN (ESME role) so the
    peer retries later. ``enquire_link_interval`` of 0 turns keepalive off.
    """

    def __init__(
        self,
        *,
        role: Literal["esme", "smsc"],
        window: int = 10,
        response_timeout: float = 10.0,
        enquire_link_interval: float = 30.0,
        max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH,
        inbound_window: int = 100,
    ) -> None:
        if role not in ("esme", "smsc"):
            raise ValueError(f"role must be 'esme' or 'smsc', not {role!r}")
        if window < 1 or inbound_window < 1:
            raise ValueError("window and inbound_window must be at least 1")
        if response_timeout <= 0 or enquire_link_interval < 0:
            raise ValueError("response_timeout must be positive, enquire_link_interval >= 0")
        self.role = role
        self.window = window
        self.inbound_window = inbound_window
        self.response_timeout = response_timeout
        self.enquire_link_interval = enquire_link_interval
        self._send_table = ESME_TO_SMSC if role == "esme" else SMSC_TO_ESME
        self._receive_table = SMSC_TO_ESME if role == "esme" else ESME_TO_SMSC
        self._state = SessionState.OPEN
        self._reader = PduReader(max_command_length)
        self._outbox: list[bytes] = []
        self._events: list[Event] = []
        self._event_index = 0
        self._outstanding: OrderedDict[int, _Outstanding] = OrderedDict()
        self._windowed = 0
        self._inbound: dict[int, int] = {}
        self._pending_bind: Bind | None = None
        self._next_sequence = 1
        self._enquire_sequence: int | None = None
        self._last_received: float | None = None
        self._closed_reported = False

    # --- introspection ----------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def closed(self) -> bool:
        return self._state is SessionState.CLOSED

    @property
    def bound(self) -> bool:
        return self._state in _BOUND

    @property
    def window_free(self) -> int:
        """How many more requests may be sent before :class:`WindowFull`."""
        return self.window - self._windowed

    @property
    def awaiting_response(self) -> int:
        """Requests sent and not yet answered (housekeeping ones included)."""
        return len(self._outstanding)

    @property
    def awaiting_answer(self) -> int:
        """Peer requests handed to the application and not yet answered."""
        return len(self._inbound)

    # --- output -----------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Every byte queued since the last call."""
        if not self._outbox:
            return b""
        data = b"".join(self._outbox)
        self._outbox.clear()
        return data

    def next_event(self) -> Event | None:
        if self._event_index >= len(self._events):
            return None
        event = self._events[self._event_index]
        self._event_index += 1
        if self._event_index == len(self._events):
            self._events.clear()
            self._event_index = 0
        return event

    # --- application requests ---------------------------------------------------------------

    def bind(
        self,
        kind: BindKind,
        system_id: str,
        password: str,
        now: float,
        system_type: str = "",
        *,
        address_range: str = "",
        addr_ton: int = 0,
        addr_npi: int = 0,
    ) -> int:
        """Send bind_transmitter/receiver/transceiver (ESME role); returns its sequence number."""
        if self.role != "esme":
            raise LocalProtocolError("only an ESME binds; an SMSC answers with accept_bind()")
        cls = _BIND_CLASSES.get(kind)
        if cls is None:
            raise ValueError(f"bind kind must be transmitter, receiver or transceiver: {kind!r}")
        pdu = cls(
            system_id=system_id,
            password=password,
            system_type=system_type,
            interface_version=INTERFACE_VERSION,
            addr_ton=addr_ton,
            addr_npi=addr_npi,
            address_range=address_range,
        )
        return self.send_request(pdu, now)

    def send_request(self, pdu: Pdu, now: float) -> int:
        """Queue a request under the next sequence number, which is returned.

        Raises :class:`WindowFull` when ``window`` requests await responses, and
        :class:`LocalProtocolError` when the current state does not allow this PDU.
        """
        command_id = pdu.command_id
        if command_id & RESPONSE_BIT:
            raise LocalProtocolError(f"{command_name(command_id)} is a response: send_response()")
        if self._send_table[self._state].get(command_id) is None:
            raise LocalProtocolError(
                f"{command_name(command_id)} cannot be sent in state {self._state.value}"
            )
        windowed = command_id not in _UNWINDOWED
        if windowed and self._windowed >= self.window:
            raise WindowFull(f"{self.window} requests already await a response")
        sequence = self._take_sequence()
        if pdu.sequence_number != sequence:
            pdu = with_sequence_number(pdu, sequence)
        self._outbox.append(encode(pdu))
        self._advance(self._send_table, command_id, 0)
        self._outstanding[sequence] = _Outstanding(pdu, now + self.response_timeout, windowed)
        if windowed:
            self._windowed += 1
        if command_id == _C.ENQUIRE_LINK:
            self._enquire_sequence = sequence
        return sequence

    def send_response(self, pdu: Pdu) -> None:
        """Answer a :class:`RequestReceived`; ``pdu.sequence_number`` must be the request's.

        Once the session has closed the response is dropped: there is no one to send it to,
        and the peer resends an unanswered request on its next session.
        """
        if self._state is SessionState.CLOSED:
            return
        command_id = pdu.command_id
        if not command_id & RESPONSE_BIT:
            raise LocalProtocolError(f"{command_name(command_id)} is a request: send_request()")
        request_id = self._inbound.get(pdu.sequence_number)
        if request_id is None:
            raise LocalProtocolError(
                f"no request with sequence number {pdu.sequence_number} awaits an answer"
            )
        if command_id not in (request_id | RESPONSE_BIT, _C.GENERIC_NACK):
            raise LocalProtocolError(
                f"{command_name(command_id)} does not answer {command_name(request_id)}"
            )
        if self._send_table[self._state].get(command_id) is None:
            raise LocalProtocolError(
                f"{command_name(command_id)} cannot be sent in state {self._state.value}"
            )
        del self._inbound[pdu.sequence_number]
        self._outbox.append(encode(pdu))
        self._advance(self._send_table, command_id, pdu.command_status)

    def unbind(self, now: float) -> int:
        """Start ending the session; :class:`Unbound` follows the peer's answer."""
        return self.send_request(Unbind(), now)

    def accept_bind(
        self, system_id: str = "", *, sc_interface_version: int | None = INTERFACE_VERSION
    ) -> None:
        """SMSC role: accept the bind from :class:`BindRequested`; ``system_id`` is ours."""
        bind = self._take_pending_bind()
        response = _bind_response(bind, CommandStatus.ESME_ROK, system_id, sc_interface_version)
        self._outbox.append(encode(response))
        self._advance(self._send_table, response.command_id, 0)
        self._events.append(Bound(system_id=bind.system_id))

    def reject_bind(self, status: int = CommandStatus.ESME_RBINDFAIL) -> None:
        """SMSC role: refuse the bind, e.g. with ESME_RINVPASWD; the session returns to OPEN."""
        if status == CommandStatus.ESME_ROK:
            raise ValueError("a rejection needs an error status")
        bind = self._take_pending_bind()
        response = _bind_response(bind, status, "", None)
        self._outbox.append(encode(response))
        self._advance(self._send_table, response.command_id, status)

    # --- input ------------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes from the peer, in any chunking."""
        if self._state is SessionState.CLOSED or not data:
            return
        self._last_received = now
        reader = self._reader
        reader.feed(data)
        while not self.closed:
            item = reader.next_pdu()
            if item is None:
                return
            if isinstance(item, PduError):
                self._on_error(item)
            else:
                self._on_pdu(item)

    def connection_lost(self) -> None:
        """The transport closed; outstanding requests are reported as timed out."""
        self._outbox.clear()  # nowhere to send it any more
        self._close("connection lost")

    # --- timers -----------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must next run, or None when nothing is scheduled."""
        if self._state is SessionState.CLOSED:
            return None
        deadline: float | None = None
        for entry in self._outstanding.values():
            # Requests go in at now + response_timeout, so the first is the earliest.
            deadline = entry.deadline
            break
        keepalive = self._keepalive_due()
        if keepalive is not None and (deadline is None or keepalive < deadline):
            deadline = keepalive
        return deadline

    def handle_timer(self, now: float) -> None:
        """Time out unanswered requests and send enquire_link on an idle link."""
        while self._outstanding and self._state is not SessionState.CLOSED:
            sequence, entry = next(iter(self._outstanding.items()))
            if entry.deadline > now:
                break
            self._on_timeout(self._forget(sequence))
        keepalive = self._keepalive_due()
        if keepalive is not None and now >= keepalive:
            self.send_request(EnquireLink(), now)

    # --- internals --------------------------------------------------------------------------

    def _keepalive_due(self) -> float | None:
        if (
            self._state not in _BOUND
            or not self.enquire_link_interval
            or self._enquire_sequence is not None
            or self._last_received is None
        ):
            return None
        return self._last_received + self.enquire_link_interval

    def _advance(
        self,
        table: Mapping[SessionState, Mapping[int, SessionState]],
        command_id: int,
        status: int,
    ) -> None:
        """The one place the state changes: ``table[state][command_id]``.

        A bind response carrying an error returns the session to OPEN, where the spec lets the
        ESME try again on the same connection. Only time and the transport move the state
        otherwise: a bind left unanswered returns to OPEN, and closing enters CLOSED.
        """
        next_state = table[self._state].get(command_id)
        if next_state is None:
            raise LocalProtocolError(  # pragma: no cover - every caller checks the table first
                f"{command_name(command_id)} is not allowed in state {self._state.value}"
            )
        if status and command_id in _BIND_RESPONSES:
            next_state = SessionState.OPEN
        self._state = next_state

    def _take_sequence(self) -> int:
        sequence = self._next_sequence
        while sequence in self._outstanding:
            sequence = sequence % _MAX_SEQUENCE + 1
        self._next_sequence = sequence % _MAX_SEQUENCE + 1
        return sequence

    def _take_pending_bind(self) -> Bind:
        if self.role != "smsc":
            raise LocalProtocolError("only an SMSC answers binds")
        bind = self._pending_bind
        if bind is None or self._state is not SessionState.BINDING:
            raise LocalProtocolError("no bind awaits an answer")
        self._pending_bind = None
        return bind

    def _forget(self, sequence: int) -> _Outstanding:
        entry = self._outstanding.pop(sequence)
        if entry.windowed:
            self._windowed -= 1
        if sequence == self._enquire_sequence:
            self._enquire_sequence = None
        return entry

    def _on_error(self, error: PduError) -> None:
        self._events.append(ProtocolError(error=error))
        if self._reader.broken:
            self._outbox.append(
                encode(
                    GenericNack(
                        sequence_number=error.sequence_number,
                        command_status=error.command_status,
                    )
                )
            )
            self._close(f"framing lost: {error.message}")
            return
        self._answer_error(error.command_id, error.sequence_number, error.command_status)

    def _answer_error(self, command_id: int | None, sequence: int, status: int) -> None:
        """Answer a request we will not pass on: its own ``*_resp``, else generic_nack.

        Responses are never answered, or two peers could nack each other forever.
        """
        if command_id is not None and command_id & RESPONSE_BIT:
            return
        cls = response_class(command_id) if command_id is not None else None
        if cls is None:
            cls = GenericNack
        self._outbox.append(encode(cls(sequence_number=sequence, command_status=status)))

    def _on_pdu(self, pdu: Pdu) -> None:
        command_id = pdu.command_id
        allowed = self._receive_table[self._state].get(command_id) is not None
        if command_id & RESPONSE_BIT:
            if allowed:
                self._on_response(pdu)
            else:
                self._reject(pdu, f"not expected in state {self._state.value}", 0)
            return
        if not allowed:
            status = CommandStatus.ESME_RINVBNDSTS
            if command_id in _BIND_REQUESTS and self._state is not SessionState.OPEN:
                status = CommandStatus.ESME_RALYBND
            self._reject(pdu, f"not allowed in state {self._state.value}", status)
            return
        if command_id == _C.ENQUIRE_LINK:
            self._outbox.append(encode(EnquireLinkResp(sequence_number=pdu.sequence_number)))
            return
        if command_id == _C.UNBIND:
            self._advance(self._receive_table, command_id, 0)
            self._outbox.append(encode(UnbindResp(sequence_number=pdu.sequence_number)))
            self._advance(self._send_table, _C.UNBIND_RESP, 0)
            self._events.append(Unbound())
            self._close("unbound")
            return
        if pdu.sequence_number in self._inbound:
            self._reject(pdu, "reuses a sequence number still awaiting an answer", _S_SYSERR)
            return
        if isinstance(pdu, BindTransmitter | BindReceiver | BindTransceiver):
            self._advance(self._receive_table, command_id, 0)
            self._pending_bind = pdu
            self._events.append(BindRequested(pdu=pdu))
            return
        if len(self._inbound) >= self.inbound_window:
            status = _S_THROTTLED if self.role == "smsc" else _S_RETRY_LATER
            self._answer_error(command_id, pdu.sequence_number, status)
            return
        self._advance(self._receive_table, command_id, 0)
        self._inbound[pdu.sequence_number] = command_id
        self._events.append(RequestReceived(pdu=pdu))

    def _reject(self, pdu: Pdu, why: str, status: int) -> None:
        error = PduError(
            f"{command_name(pdu.command_id)} {why}",
            command_id=pdu.command_id,
            sequence_number=pdu.sequence_number,
            command_status=status or CommandStatus.ESME_RINVBNDSTS,
        )
        self._events.append(ProtocolError(error=error))
        if status:
            self._answer_error(pdu.command_id, pdu.sequence_number, status)

    def _on_response(self, pdu: Pdu) -> None:
        sequence = pdu.sequence_number
        entry = self._outstanding.get(sequence)
        if entry is None or pdu.command_id not in (
            entry.request.command_id | RESPONSE_BIT,
            _C.GENERIC_NACK,
        ):
            self._reject(pdu, f"matches no request awaiting a response (sequence {sequence})", 0)
            return
        self._forget(sequence)
        request = entry.request
        status = pdu.command_status
        if isinstance(request, Unbind):
            self._events.append(Unbound())
            self._close("unbound")
            return
        self._advance(self._receive_table, pdu.command_id, status)
        if isinstance(request, EnquireLink):
            return
        if isinstance(request, BindTransmitter | BindReceiver | BindTransceiver):
            if isinstance(pdu, BindTransmitterResp | BindReceiverResp | BindTransceiverResp) and (
                status == CommandStatus.ESME_ROK
            ):
                self._events.append(Bound(system_id=pdu.system_id))
            else:
                # _advance has already gone back to OPEN (error status, or generic_nack).
                self._events.append(
                    BindFailed(
                        status=status or CommandStatus.ESME_RBINDFAIL, reason=status_name(status)
                    )
                )
            return
        self._events.append(ResponseReceived(request=request, response=pdu))

    def _on_timeout(self, entry: _Outstanding) -> None:
        request = entry.request
        waited = f"no answer to {command_name(request.command_id)} in {self.response_timeout:g}s"
        if isinstance(request, EnquireLink | Unbind):
            self._close(waited)
        elif isinstance(request, BindTransmitter | BindReceiver | BindTransceiver):
            self._state = SessionState.OPEN
            self._events.append(BindFailed(status=CommandStatus.ESME_RBINDFAIL, reason=waited))
        else:
            self._events.append(RequestTimedOut(request=request))

    def _close(self, reason: str) -> None:
        """Enter CLOSED once: report every unanswered request, then ConnectionClosed."""
        if self._closed_reported:
            return
        self._closed_reported = True
        self._state = SessionState.CLOSED
        outstanding = list(self._outstanding.values())
        self._outstanding.clear()
        self._windowed = 0
        self._enquire_sequence = None
        self._inbound.clear()
        self._pending_bind = None
        for entry in outstanding:
            request = entry.request
            if isinstance(request, BindTransmitter | BindReceiver | BindTransceiver):
                self._events.append(BindFailed(status=CommandStatus.ESME_RBINDFAIL, reason=reason))
            elif entry.windowed:
                self._events.append(RequestTimedOut(request=request))
        self._events.append(ConnectionClosed(reason=reason))


_S_SYSERR: Final = CommandStatus.ESME_RSYSERR
_S_THROTTLED: Final = CommandStatus.ESME_RTHROTTLED
_S_RETRY_LATER: Final = CommandStatus.ESME_RX_T_APPN


def _bind_response(
    bind: Bind, status: int, system_id: str, sc_interface_version: int | None
) -> BindTransmitterResp | BindReceiverResp | BindTransceiverResp:
    cls: type[BindTransmitterResp | BindReceiverResp | BindTransceiverResp]
    if isinstance(bind, BindTransmitter):
        cls = BindTransmitterResp
    elif isinstance(bind, BindReceiver):
        cls = BindReceiverResp
    else:
        cls = BindTransceiverResp
    return cls(
        sequence_number=bind.sequence_number,
        command_status=status,
        system_id=system_id,
        sc_interface_version=sc_interface_version,
    )
