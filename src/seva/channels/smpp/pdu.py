"""SMPP v3.4 PDUs: one frozen dataclass per PDU, ``encode``, ``decode`` and stream framing.

Follows the SMPP v3.4 specification (Issue 1.2): §3.2 PDU layout, §4 the PDU bodies, §5.1.3
command_status values, §5.2 field sizes (C-Octet String maxima include the NUL, so a
``system_id`` of "Var. max 16" holds 15 characters) and §5.3 TLV optional parameters.

Decoding is lenient where operators commonly stray from the letter of the spec and strict where
a wrong guess would corrupt a message:

* a ``*_resp`` with an empty body decodes with empty fields: the spec lets an SMSC omit the body
  of an error response, and some omit it even on success;
* ``submit_sm_resp``/``deliver_sm_resp`` may carry TLVs (SMPP 5.0 allows it); they land in
  ``other_tlvs`` instead of failing the PDU;
* a ``receipted_message_id`` TLV without its NUL terminator is accepted;
* C-strings must be ASCII and within the spec's maxima, lengths must add up exactly, and a TLV
  must not overrun the PDU: anything else is a :class:`PduError` carrying the status to answer.

Speed matters (tens of thousands of ``submit_sm`` per second in pure Python), so the message PDUs
have hand-written encoders and decoders over precompiled ``struct.Struct``s rather than a
generic walk over dataclass fields.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeAlias, TypeVar

__all__ = [
    "DEFAULT_MAX_COMMAND_LENGTH",
    "HEADER_LENGTH",
    "INTERFACE_VERSION",
    "RESPONSE_BIT",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "CommandId",
    "CommandStatus",
    "DataSm",
    "DataSmResp",
    "DeliverSm",
    "DeliverSmResp",
    "EnquireLink",
    "EnquireLinkResp",
    "GenericNack",
    "MessageState",
    "Pdu",
    "PduError",
    "PduReader",
    "QuerySm",
    "QuerySmResp",
    "SubmitSm",
    "SubmitSmResp",
    "Tag",
    "Unbind",
    "UnbindResp",
    "command_name",
    "decode",
    "encode",
    "pdu_class",
    "response_class",
    "status_name",
    "with_sequence_number",
]

HEADER_LENGTH: Final = 16
RESPONSE_BIT: Final = 0x80000000
INTERFACE_VERSION: Final = 0x34
DEFAULT_MAX_COMMAND_LENGTH: Final = 65536
_U32_MAX: Final = 0xFFFFFFFF


class CommandId(enum.IntEnum):
    """SMPP v3.4 §5.1.2 command_id values; a response is its request's id with bit 31 set."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    # Named so logs and errors read well; decode() answers them with ESME_RINVCMDID.
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


class CommandStatus(enum.IntEnum):
    """SMPP v3.4 §5.1.3 command_status values (plus ESME_RINVDCS from SMPP 5.0).

    Peers send values outside this list (vendor-specific ranges 0x400-0x4FF and worse), so PDUs
    keep ``command_status`` as a plain ``int``; :func:`status_name` names it when it can.
    """

    ESME_ROK = 0x00
    ESME_RINVMSGLEN = 0x01
    ESME_RINVCMDLEN = 0x02
    ESME_RINVCMDID = 0x03
    ESME_RINVBNDSTS = 0x04
    ESME_RALYBND = 0x05
    ESME_RINVPRTFLG = 0x06
    ESME_RINVREGDLVFLG = 0x07
    ESME_RSYSERR = 0x08
    ESME_RINVSRCADR = 0x0A
    ESME_RINVDSTADR = 0x0B
    ESME_RINVMSGID = 0x0C
    ESME_RBINDFAIL = 0x0D
    ESME_RINVPASWD = 0x0E
    ESME_RINVSYSID = 0x0F
    ESME_RCANCELFAIL = 0x11
    ESME_RREPLACEFAIL = 0x13
    ESME_RMSGQFUL = 0x14
    ESME_RINVSERTYP = 0x15
    ESME_RINVNUMDESTS = 0x33
    ESME_RINVDLNAME = 0x34
    ESME_RINVDESTFLAG = 0x40
    ESME_RINVSUBREP = 0x42
    ESME_RINVESMCLASS = 0x43
    ESME_RCNTSUBDL = 0x44
    ESME_RSUBMITFAIL = 0x45
    ESME_RINVSRCTON = 0x48
    ESME_RINVSRCNPI = 0x49
    ESME_RINVDSTTON = 0x50
    ESME_RINVDSTNPI = 0x51
    ESME_RINVSYSTYP = 0x53
    ESME_RINVREPFLAG = 0x54
    ESME_RINVNUMMSGS = 0x55
    ESME_RTHROTTLED = 0x58
    ESME_RINVSCHED = 0x61
    ESME_RINVEXPIRY = 0x62
    ESME_RINVDFTMSGID = 0x63
    ESME_RX_T_APPN = 0x64
    ESME_RX_P_APPN = 0x65
    ESME_RX_R_APPN = 0x66
    ESME_RQUERYFAIL = 0x67
    ESME_RINVOPTPARSTREAM = 0xC0
    ESME_ROPTPARNOTALLWD = 0xC1
    ESME_RINVPARLEN = 0xC2
    ESME_RMISSINGOPTPARAM = 0xC3
    ESME_RINVOPTPARAMVAL = 0xC4
    ESME_RDELIVERYFAILURE = 0xFE
    ESME_RUNKNOWNERR = 0xFF
    ESME_RINVDCS = 0x104


class Tag(enum.IntEnum):
    """SMPP v3.4 §5.3.2 TLV tags, for building and reading ``other_tlvs``."""

    DEST_ADDR_SUBUNIT = 0x0005
    DEST_NETWORK_TYPE = 0x0006
    DEST_BEARER_TYPE = 0x0007
    DEST_TELEMATICS_ID = 0x0008
    SOURCE_ADDR_SUBUNIT = 0x000D
    SOURCE_NETWORK_TYPE = 0x000E
    SOURCE_BEARER_TYPE = 0x000F
    SOURCE_TELEMATICS_ID = 0x0010
    QOS_TIME_TO_LIVE = 0x0017
    PAYLOAD_TYPE = 0x0019
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    RECEIPTED_MESSAGE_ID = 0x001E
    MS_MSG_WAIT_FACILITIES = 0x0030
    PRIVACY_INDICATOR = 0x0201
    SOURCE_SUBADDRESS = 0x0202
    DEST_SUBADDRESS = 0x0203
    USER_MESSAGE_REFERENCE = 0x0204
    USER_RESPONSE_CODE = 0x0205
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    LANGUAGE_INDICATOR = 0x020D
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    CALLBACK_NUM_PRES_IND = 0x0302
    CALLBACK_NUM_ATAG = 0x0303
    NUMBER_OF_MESSAGES = 0x0304
    CALLBACK_NUM = 0x0381
    DPF_RESULT = 0x0420
    SET_DPF = 0x0421
    MS_AVAILABILITY_STATUS = 0x0422
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    DELIVERY_FAILURE_REASON = 0x0425
    MORE_MESSAGES_TO_SEND = 0x0426
    MESSAGE_STATE = 0x0427
    USSD_SERVICE_OP = 0x0501
    DISPLAY_TIME = 0x1201
    SMS_SIGNAL = 0x1203
    MS_VALIDITY = 0x1204
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    ITS_REPLY_TYPE = 0x1380
    ITS_SESSION_INFO = 0x1383


class MessageState(enum.IntEnum):
    """SMPP v3.4 §5.2.28 message_state (query_sm_resp field and TLV 0x0427)."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


_COMMAND_NAMES: Final = {int(c): c.name.lower() for c in CommandId}
_STATUS_NAMES: Final = {int(s): s.name for s in CommandStatus}


def command_name(command_id: int | None) -> str:
    """``submit_sm`` for 4; a hex form for ids the spec does not define."""
    if command_id is None:
        return "unknown command"
    return _COMMAND_NAMES.get(command_id) or f"command_id 0x{command_id:08x}"


def status_name(command_status: int) -> str:
    """``ESME_RTHROTTLED`` for 0x58; a hex form for vendor-specific values."""
    return _STATUS_NAMES.get(command_status) or f"status 0x{command_status:08x}"


class PduError(Exception):
    """A PDU that cannot be read, with what is needed to answer it.

    ``command_status`` is the status to put in the ``generic_nack`` or ``*_resp`` that answers
    the offending PDU; ``command_id`` is None when the header itself could not be read.
    """

    def __init__(
        self,
        message: str,
        *,
        command_id: int | None = None,
        sequence_number: int = 0,
        command_status: int = CommandStatus.ESME_RSYSERR,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.command_id = command_id
        self.sequence_number = sequence_number
        self.command_status = command_status

    def _key(self) -> tuple[str, int | None, int, int]:
        return (self.message, self.command_id, self.sequence_number, self.command_status)

    # Equal errors compare equal so event streams can be compared in tests and logs deduplicated.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PduError):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"PduError({self.message!r}, command_id={command_name(self.command_id)}, "
            f"sequence_number={self.sequence_number}, "
            f"command_status={status_name(self.command_status)})"
        )


class _FieldError(ValueError):
    """A field value the spec forbids; ``status`` is what decode() answers with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


# --- field validation -----------------------------------------------------------------------

_S = CommandStatus


def _check_cstr(value: str, limit: int, name: str, status: int) -> None:
    if len(value) <= limit and value.isascii() and "\0" not in value:
        return
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if len(value) > limit:
        raise _FieldError(f"{name} is {len(value)} characters; SMPP allows at most {limit}", status)
    raise _FieldError(f"{name} must be ASCII without NUL characters: {value!r}", status)


def _check_time(value: str, name: str, status: int) -> None:
    # §7.1.1: absolute or relative time "YYMMDDhhmmsstnnp" (16 characters) or empty.
    if (len(value) == 16 or not value) and value.isascii() and "\0" not in value:
        return
    raise _FieldError(f"{name} must be empty or a 16-character SMPP time, not {value!r}", status)


def _check_octets(pdu: object, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(pdu, name)
        if not isinstance(value, int) or not 0 <= value <= 0xFF:
            raise ValueError(f"{name} must be an int 0..255, not {value!r}")


def _check_header(pdu: _Header) -> None:
    seq, status = pdu.sequence_number, pdu.command_status
    if 0 <= seq <= _U32_MAX and 0 <= status <= _U32_MAX:
        return
    raise ValueError(
        f"sequence_number and command_status must fit in 32 bits, not {seq!r} and {status!r}"
    )


def _check_optional_int(value: int | None, top: int, name: str) -> None:
    if value is None or (isinstance(value, int) and 0 <= value <= top):
        return
    raise _FieldError(f"{name} must be None or an int 0..{top}, not {value!r}", _S.ESME_RINVPARLEN)


def _check_other_tlvs(tlvs: tuple[tuple[int, bytes], ...], typed: frozenset[int]) -> None:
    if not isinstance(tlvs, tuple):
        raise TypeError("other_tlvs must be a tuple of (tag, value) pairs")
    for item in tlvs:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise ValueError(f"other_tlvs entries must be (tag, value) pairs, not {item!r}")
        tag, value = item
        if not (isinstance(tag, int) and 0 <= tag <= 0xFFFF):
            raise ValueError(f"TLV tag must be an int 0..0xFFFF, not {tag!r}")
        if not (isinstance(value, bytes) and len(value) <= 0xFFFF):
            raise ValueError(f"TLV 0x{tag:04x} value must be bytes of at most 65535, not {value!r}")
        if tag in typed:
            raise ValueError(f"TLV 0x{tag:04x} has its own field; set that instead of other_tlvs")


# --- PDU classes ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Header:
    command_id: ClassVar[int]
    sequence_number: int = 0
    command_status: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class _Bind(_Header):
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    def __post_init__(self) -> None:
        _check_header(self)
        _check_cstr(self.system_id, 15, "system_id", _S.ESME_RINVSYSID)
        _check_cstr(self.password, 8, "password", _S.ESME_RINVPASWD)
        _check_cstr(self.system_type, 12, "system_type", _S.ESME_RINVSYSTYP)
        _check_cstr(self.address_range, 40, "address_range", _S.ESME_RINVSRCADR)
        _check_octets(self, ("interface_version", "addr_ton", "addr_npi"))

    def __repr__(self) -> str:
        # The password stays out of logs and tracebacks.
        return (
            f"{type(self).__name__}(sequence_number={self.sequence_number}, "
            f"command_status={self.command_status}, system_id={self.system_id!r}, "
            f"password='***', system_type={self.system_type!r}, "
            f"interface_version=0x{self.interface_version:02x}, addr_ton={self.addr_ton}, "
            f"addr_npi={self.addr_npi}, address_range={self.address_range!r})"
        )


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class BindTransmitter(_Bind):
    """§4.1.1 bind_transmitter: submit only."""

    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class BindReceiver(_Bind):
    """§4.1.3 bind_receiver: receive deliver_sm only."""

    command_id: ClassVar[int] = CommandId.BIND_RECEIVER


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class BindTransceiver(_Bind):
    """§4.1.5 bind_transceiver: both directions on one connection."""

    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER


_BIND_RESP_TLVS: Final = frozenset({Tag.SC_INTERFACE_VERSION})


@dataclass(frozen=True, slots=True, kw_only=True)
class _BindResp(_Header):
    system_id: str = ""
    sc_interface_version: int | None = None
    other_tlvs: tuple[tuple[int, bytes], ...] = ()

    def __post_init__(self) -> None:
        _check_header(self)
        _check_cstr(self.system_id, 15, "system_id", _S.ESME_RINVSYSID)
        _check_optional_int(self.sc_interface_version, 0xFF, "sc_interface_version")
        if self.other_tlvs:
            _check_other_tlvs(self.other_tlvs, _BIND_RESP_TLVS)


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransmitterResp(_BindResp):
    """§4.1.2 bind_transmitter_resp."""

    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class BindReceiverResp(_BindResp):
    """§4.1.4 bind_receiver_resp."""

    command_id: ClassVar[int] = CommandId.BIND_RECEIVER_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransceiverResp(_BindResp):
    """§4.1.6 bind_transceiver_resp."""

    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER_RESP


_MESSAGE_TLVS: Final = frozenset(
    {
        Tag.MESSAGE_PAYLOAD,
        Tag.SAR_MSG_REF_NUM,
        Tag.SAR_TOTAL_SEGMENTS,
        Tag.SAR_SEGMENT_SEQNUM,
        Tag.RECEIPTED_MESSAGE_ID,
        Tag.MESSAGE_STATE,
        Tag.USER_MESSAGE_REFERENCE,
        Tag.NETWORK_ERROR_CODE,
    }
)


def _check_message_tlvs(pdu: _ShortMessage | DataSm) -> None:
    if (
        pdu.message_payload is None
        and pdu.sar_msg_ref_num is None
        and pdu.sar_total_segments is None
        and pdu.sar_segment_seqnum is None
        and pdu.receipted_message_id is None
        and pdu.message_state is None
        and pdu.user_message_reference is None
        and pdu.network_error_code is None
        and not pdu.other_tlvs
    ):
        return
    payload = pdu.message_payload
    if payload is not None and not (isinstance(payload, bytes) and len(payload) <= 0xFFFF):
        raise ValueError("message_payload must be bytes of at most 65535")
    _check_optional_int(pdu.sar_msg_ref_num, 0xFFFF, "sar_msg_ref_num")
    _check_optional_int(pdu.sar_total_segments, 0xFF, "sar_total_segments")
    _check_optional_int(pdu.sar_segment_seqnum, 0xFF, "sar_segment_seqnum")
    _check_optional_int(pdu.message_state, 0xFF, "message_state")
    _check_optional_int(pdu.user_message_reference, 0xFFFF, "user_message_reference")
    if pdu.receipted_message_id is not None:
        _check_cstr(pdu.receipted_message_id, 64, "receipted_message_id", _S.ESME_RINVOPTPARAMVAL)
    code = pdu.network_error_code
    if code is not None and not (isinstance(code, bytes) and len(code) == 3):
        raise _FieldError("network_error_code must be 3 bytes", _S.ESME_RINVPARLEN)
    if pdu.other_tlvs:
        _check_other_tlvs(pdu.other_tlvs, _MESSAGE_TLVS)


_MESSAGE_OCTETS: Final = (
    "source_addr_ton",
    "source_addr_npi",
    "dest_addr_ton",
    "dest_addr_npi",
    "esm_class",
    "protocol_id",
    "priority_flag",
    "registered_delivery",
    "replace_if_present_flag",
    "data_coding",
    "sm_default_msg_id",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class _ShortMessage(_Header):
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    # TLVs (§5.3.2) Seva reads and writes; None when absent.
    message_payload: bytes | None = None
    sar_msg_ref_num: int | None = None
    sar_total_segments: int | None = None
    sar_segment_seqnum: int | None = None
    receipted_message_id: str | None = None
    message_state: int | None = None
    user_message_reference: int | None = None
    network_error_code: bytes | None = None
    other_tlvs: tuple[tuple[int, bytes], ...] = ()

    def __post_init__(self) -> None:
        _check_header(self)
        _check_cstr(self.service_type, 5, "service_type", _S.ESME_RINVSERTYP)
        _check_cstr(self.source_addr, 20, "source_addr", _S.ESME_RINVSRCADR)
        _check_cstr(self.destination_addr, 20, "destination_addr", _S.ESME_RINVDSTADR)
        _check_time(self.schedule_delivery_time, "schedule_delivery_time", _S.ESME_RINVSCHED)
        _check_time(self.validity_period, "validity_period", _S.ESME_RINVEXPIRY)
        # One OR over the octets is in 0..255 exactly when every one of them is.
        if not (
            0
            <= (
                self.source_addr_ton
                | self.source_addr_npi
                | self.dest_addr_ton
                | self.dest_addr_npi
                | self.esm_class
                | self.protocol_id
                | self.priority_flag
                | self.registered_delivery
                | self.replace_if_present_flag
                | self.data_coding
                | self.sm_default_msg_id
            )
            <= 0xFF
        ):
            _check_octets(self, _MESSAGE_OCTETS)
        sm = self.short_message
        if not isinstance(sm, bytes) or len(sm) > 254:
            raise _FieldError(
                "short_message must be bytes of at most 254 (use message_payload for more)",
                _S.ESME_RINVMSGLEN,
            )
        _check_message_tlvs(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitSm(_ShortMessage):
    """§4.4.1 submit_sm: one short message from the ESME to the SMSC."""

    command_id: ClassVar[int] = CommandId.SUBMIT_SM


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverSm(_ShortMessage):
    """§4.6.1 deliver_sm: a mobile-originated message or a delivery receipt from the SMSC."""

    command_id: ClassVar[int] = CommandId.DELIVER_SM


@dataclass(frozen=True, slots=True, kw_only=True)
class _MessageIdResp(_Header):
    message_id: str = ""
    other_tlvs: tuple[tuple[int, bytes], ...] = ()

    def __post_init__(self) -> None:
        _check_header(self)
        _check_cstr(self.message_id, 64, "message_id", _S.ESME_RINVMSGID)
        if self.other_tlvs:
            _check_other_tlvs(self.other_tlvs, frozenset())


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitSmResp(_MessageIdResp):
    """§4.4.2 submit_sm_resp: ``message_id`` is the SMSC's id, echoed in delivery receipts."""

    command_id: ClassVar[int] = CommandId.SUBMIT_SM_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverSmResp(_MessageIdResp):
    """§4.6.2 deliver_sm_resp: ``message_id`` is unused and sent empty."""

    command_id: ClassVar[int] = CommandId.DELIVER_SM_RESP


_DATA_SM_OCTETS: Final = (
    "source_addr_ton",
    "source_addr_npi",
    "dest_addr_ton",
    "dest_addr_npi",
    "esm_class",
    "registered_delivery",
    "data_coding",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSm(_Header):
    """§4.7.1 data_sm: the payload travels in ``message_payload``; addresses may be 64 long."""

    command_id: ClassVar[int] = CommandId.DATA_SM
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0
    # TLVs (§5.3.2) Seva reads and writes; None when absent.
    message_payload: bytes | None = None
    sar_msg_ref_num: int | None = None
    sar_total_segments: int | None = None
    sar_segment_seqnum: int | None = None
    receipted_message_id: str | None = None
    message_state: int | None = None
    user_message_reference: int | None = None
    network_error_code: bytes | None = None
    other_tlvs: tuple[tuple[int, bytes], ...] = ()

    def __post_init__(self) -> None:
        _check_header(self)
        _check_cstr(self.service_type, 5, "service_type", _S.ESME_RINVSERTYP)
        _check_cstr(self.source_addr, 64, "source_addr", _S.ESME_RINVSRCADR)
        _check_cstr(self.destination_addr, 64, "destination_addr", _S.ESME_RINVDSTADR)
        _check_octets(self, _DATA_SM_OCTETS)
        _check_message_tlvs(self)


_DATA_SM_RESP_TLVS: Final = frozenset({Tag.DELIVERY_FAILURE_REASON, Tag.NETWORK_ERROR_CODE})


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSmResp(_Header):
    """§4.7.2 data_sm_resp."""

    command_id: ClassVar[int] = CommandId.DATA_SM_RESP
    message_id: str = ""
    delivery_failure_reason: int | None = None
    network_error_code: bytes | None = None
    other_tlvs: tuple[tuple[int, bytes], ...] = ()

    def __post_init__(self) -> None:
        _check_header(self)
        _check_cstr(self.message_id, 64, "message_id", _S.ESME_RINVMSGID)
        _check_optional_int(self.delivery_failure_reason, 0xFF, "delivery_failure_reason")
        code = self.network_error_code
        if code is not None and not (isinstance(code, bytes) and len(code) == 3):
            raise _FieldError("network_error_code must be 3 bytes", _S.ESME_RINVPARLEN)
        if self.other_tlvs:
            _check_other_tlvs(self.other_tlvs, _DATA_SM_RESP_TLVS)


@dataclass(frozen=True, slots=True, kw_only=True)
class QuerySm(_Header):
    """§4.8.1 query_sm: the state of a message submitted earlier."""

    command_id: ClassVar[int] = CommandId.QUERY_SM
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""

    def __post_init__(self) -> None:
        _check_header(self)
        _check_cstr(self.message_id, 64, "message_id", _S.ESME_RINVMSGID)
        _check_cstr(self.source_addr, 20, "source_addr", _S.ESME_RINVSRCADR)
        _check_octets(self, ("source_addr_ton", "source_addr_npi"))


@dataclass(frozen=True, slots=True, kw_only=True)
class QuerySmResp(_Header):
    """§4.8.2 query_sm_resp; ``message_state`` takes :class:`MessageState` values."""

    command_id: ClassVar[int] = CommandId.QUERY_SM_RESP
    message_id: str = ""
    final_date: str = ""
    message_state: int = 0
    error_code: int = 0

    def __post_init__(self) -> None:
        _check_header(self)
        _check_cstr(self.message_id, 64, "message_id", _S.ESME_RINVMSGID)
        _check_time(self.final_date, "final_date", _S.ESME_RSYSERR)
        _check_octets(self, ("message_state", "error_code"))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Empty(_Header):
    def __post_init__(self) -> None:
        _check_header(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class EnquireLink(_Empty):
    """§4.11.1 enquire_link: keepalive, answered by either side."""

    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK


@dataclass(frozen=True, slots=True, kw_only=True)
class EnquireLinkResp(_Empty):
    """§4.11.2 enquire_link_resp."""

    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class Unbind(_Empty):
    """§4.2.1 unbind: either side ends the session."""

    command_id: ClassVar[int] = CommandId.UNBIND


@dataclass(frozen=True, slots=True, kw_only=True)
class UnbindResp(_Empty):
    """§4.2.2 unbind_resp."""

    command_id: ClassVar[int] = CommandId.UNBIND_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class GenericNack(_Empty):
    """§4.3.1 generic_nack: the answer to a PDU whose header could not be acted on."""

    command_id: ClassVar[int] = CommandId.GENERIC_NACK


Pdu: TypeAlias = (
    BindTransmitter
    | BindReceiver
    | BindTransceiver
    | BindTransmitterResp
    | BindReceiverResp
    | BindTransceiverResp
    | SubmitSm
    | SubmitSmResp
    | DeliverSm
    | DeliverSmResp
    | DataSm
    | DataSmResp
    | QuerySm
    | QuerySmResp
    | EnquireLink
    | EnquireLinkResp
    | Unbind
    | UnbindResp
    | GenericNack
)

_CLASSES: Final[tuple[type[Pdu], ...]] = (
    BindTransmitter,
    BindReceiver,
    BindTransceiver,
    BindTransmitterResp,
    BindReceiverResp,
    BindTransceiverResp,
    SubmitSm,
    SubmitSmResp,
    DeliverSm,
    DeliverSmResp,
    DataSm,
    DataSmResp,
    QuerySm,
    QuerySmResp,
    EnquireLink,
    EnquireLinkResp,
    Unbind,
    UnbindResp,
    GenericNack,
)
_CLASS_BY_ID: Final[dict[int, type[Pdu]]] = {cls.command_id: cls for cls in _CLASSES}


def pdu_class(command_id: int) -> type[Pdu] | None:
    """The class for a command_id this module implements, else None."""
    return _CLASS_BY_ID.get(command_id)


def response_class(command_id: int) -> type[Pdu] | None:
    """The ``*_resp`` class answering a request command_id; None for responses and unknowns."""
    if command_id & RESPONSE_BIT:
        return None
    return _CLASS_BY_ID.get(command_id | RESPONSE_BIT)


# --- encoding -------------------------------------------------------------------------------

_HEADER: Final = struct.Struct(">IIII")
_U32: Final = struct.Struct(">I")
_TLV_HEAD: Final = struct.Struct(">HH")
_U16: Final = struct.Struct(">H")
_B5: Final = struct.Struct(">BBBBB")


def _tlv(tag: int, value: bytes) -> bytes:
    return _TLV_HEAD.pack(tag, len(value)) + value


def _enc_other(tlvs: tuple[tuple[int, bytes], ...]) -> bytes:
    return b"".join([_TLV_HEAD.pack(tag, len(value)) + value for tag, value in tlvs])


def _enc_message_tlvs(p: _ShortMessage | DataSm) -> bytes:
    out = []
    if p.message_payload is not None:
        out.append(_tlv(Tag.MESSAGE_PAYLOAD, p.message_payload))
    if p.sar_msg_ref_num is not None:
        out.append(_tlv(Tag.SAR_MSG_REF_NUM, _U16.pack(p.sar_msg_ref_num)))
    if p.sar_total_segments is not None:
        out.append(_tlv(Tag.SAR_TOTAL_SEGMENTS, bytes((p.sar_total_segments,))))
    if p.sar_segment_seqnum is not None:
        out.append(_tlv(Tag.SAR_SEGMENT_SEQNUM, bytes((p.sar_segment_seqnum,))))
    if p.receipted_message_id is not None:
        out.append(_tlv(Tag.RECEIPTED_MESSAGE_ID, p.receipted_message_id.encode() + b"\0"))
    if p.message_state is not None:
        out.append(_tlv(Tag.MESSAGE_STATE, bytes((p.message_state,))))
    if p.user_message_reference is not None:
        out.append(_tlv(Tag.USER_MESSAGE_REFERENCE, _U16.pack(p.user_message_reference)))
    if p.network_error_code is not None:
        out.append(_tlv(Tag.NETWORK_ERROR_CODE, p.network_error_code))
    if p.other_tlvs:
        out.append(_enc_other(p.other_tlvs))
    return b"".join(out)


def _has_message_tlvs(p: _ShortMessage | DataSm) -> bool:
    return not (
        p.message_payload is None
        and p.sar_msg_ref_num is None
        and p.sar_total_segments is None
        and p.sar_segment_seqnum is None
        and p.receipted_message_id is None
        and p.message_state is None
        and p.user_message_reference is None
        and p.network_error_code is None
        and not p.other_tlvs
    )


def _enc_short_message(p: Any) -> bytes:
    sm = p.short_message
    body = b"%b\0%c%c%b\0%c%c%b\0%c%c%c%b\0%b\0%c%c%c%c%c%b" % (
        p.service_type.encode(),
        p.source_addr_ton,
        p.source_addr_npi,
        p.source_addr.encode(),
        p.dest_addr_ton,
        p.dest_addr_npi,
        p.destination_addr.encode(),
        p.esm_class,
        p.protocol_id,
        p.priority_flag,
        p.schedule_delivery_time.encode(),
        p.validity_period.encode(),
        p.registered_delivery,
        p.replace_if_present_flag,
        p.data_coding,
        p.sm_default_msg_id,
        len(sm),
        sm,
    )
    if _has_message_tlvs(p):
        return body + _enc_message_tlvs(p)
    return body


def _enc_message_id_resp(p: Any) -> bytes:
    body: bytes = p.message_id.encode() + b"\0"
    if p.other_tlvs:
        return body + _enc_other(p.other_tlvs)
    return body


def _enc_bind(p: Any) -> bytes:
    return b"%b\0%b\0%b\0%c%c%c%b\0" % (
        p.system_id.encode(),
        p.password.encode(),
        p.system_type.encode(),
        p.interface_version,
        p.addr_ton,
        p.addr_npi,
        p.address_range.encode(),
    )


def _enc_bind_resp(p: Any) -> bytes:
    body: bytes = p.system_id.encode() + b"\0"
    if p.sc_interface_version is not None:
        body += _tlv(Tag.SC_INTERFACE_VERSION, bytes((p.sc_interface_version,)))
    if p.other_tlvs:
        body += _enc_other(p.other_tlvs)
    return body


def _enc_data_sm(p: Any) -> bytes:
    body = b"%b\0%c%c%b\0%c%c%b\0%c%c%c" % (
        p.service_type.encode(),
        p.source_addr_ton,
        p.source_addr_npi,
        p.source_addr.encode(),
        p.dest_addr_ton,
        p.dest_addr_npi,
        p.destination_addr.encode(),
        p.esm_class,
        p.registered_delivery,
        p.data_coding,
    )
    return body + _enc_message_tlvs(p)


def _enc_data_sm_resp(p: Any) -> bytes:
    body: bytes = p.message_id.encode() + b"\0"
    if p.delivery_failure_reason is not None:
        body += _tlv(Tag.DELIVERY_FAILURE_REASON, bytes((p.delivery_failure_reason,)))
    if p.network_error_code is not None:
        body += _tlv(Tag.NETWORK_ERROR_CODE, p.network_error_code)
    if p.other_tlvs:
        body += _enc_other(p.other_tlvs)
    return body


def _enc_query_sm(p: Any) -> bytes:
    return b"%b\0%c%c%b\0" % (
        p.message_id.encode(),
        p.source_addr_ton,
        p.source_addr_npi,
        p.source_addr.encode(),
    )


def _enc_query_sm_resp(p: Any) -> bytes:
    return b"%b\0%b\0%c%c" % (
        p.message_id.encode(),
        p.final_date.encode(),
        p.message_state,
        p.error_code,
    )


def _enc_empty(p: Any) -> bytes:
    return b""


_ENCODERS: Final[dict[type[Pdu], Callable[[Any], bytes]]] = {
    BindTransmitter: _enc_bind,
    BindReceiver: _enc_bind,
    BindTransceiver: _enc_bind,
    BindTransmitterResp: _enc_bind_resp,
    BindReceiverResp: _enc_bind_resp,
    BindTransceiverResp: _enc_bind_resp,
    SubmitSm: _enc_short_message,
    DeliverSm: _enc_short_message,
    SubmitSmResp: _enc_message_id_resp,
    DeliverSmResp: _enc_message_id_resp,
    DataSm: _enc_data_sm,
    DataSmResp: _enc_data_sm_resp,
    QuerySm: _enc_query_sm,
    QuerySmResp: _enc_query_sm_resp,
    EnquireLink: _enc_empty,
    EnquireLinkResp: _enc_empty,
    Unbind: _enc_empty,
    UnbindResp: _enc_empty,
    GenericNack: _enc_empty,
}


def encode(pdu: Pdu) -> bytes:
    """The whole PDU on the wire: 16-byte header (§3.2) followed by the body."""
    body = _ENCODERS[type(pdu)](pdu)
    return (
        _HEADER.pack(
            HEADER_LENGTH + len(body), pdu.command_id, pdu.command_status, pdu.sequence_number
        )
        + body
    )


# --- decoding -------------------------------------------------------------------------------
# Decoders read the body of one PDU held in ``data`` (header included, so offsets start at 16)
# and leave field validation to the dataclass constructors. A truncated field shows up as an
# IndexError or a ValueError from bytes.index, which decode() turns into ESME_RINVCMDLEN.

_Decoder: TypeAlias = Callable[[bytes, int, int], Any]
_TlvReader: TypeAlias = Callable[[int, bytes], Any]


def _tlv_u8(tag: int, value: bytes) -> int:
    if len(value) != 1:
        raise _FieldError(f"TLV 0x{tag:04x} must be 1 byte, not {len(value)}", _S.ESME_RINVPARLEN)
    return value[0]


def _tlv_u16(tag: int, value: bytes) -> int:
    if len(value) != 2:
        raise _FieldError(f"TLV 0x{tag:04x} must be 2 bytes, not {len(value)}", _S.ESME_RINVPARLEN)
    return int(_U16.unpack(value)[0])


def _tlv_octets(tag: int, value: bytes) -> bytes:
    return value


def _tlv_cstr(tag: int, value: bytes) -> str:
    # The spec says C-Octet String; SMSCs that forget the NUL are common enough to accept.
    nul = value.find(0)
    if nul >= 0:
        value = value[:nul]
    return value.decode("latin-1")


_MESSAGE_TLV_READERS: Final[dict[int, tuple[str, _TlvReader]]] = {
    Tag.MESSAGE_PAYLOAD: ("message_payload", _tlv_octets),
    Tag.SAR_MSG_REF_NUM: ("sar_msg_ref_num", _tlv_u16),
    Tag.SAR_TOTAL_SEGMENTS: ("sar_total_segments", _tlv_u8),
    Tag.SAR_SEGMENT_SEQNUM: ("sar_segment_seqnum", _tlv_u8),
    Tag.RECEIPTED_MESSAGE_ID: ("receipted_message_id", _tlv_cstr),
    Tag.MESSAGE_STATE: ("message_state", _tlv_u8),
    Tag.USER_MESSAGE_REFERENCE: ("user_message_reference", _tlv_u16),
    Tag.NETWORK_ERROR_CODE: ("network_error_code", _tlv_octets),
}
_BIND_RESP_TLV_READERS: Final[dict[int, tuple[str, _TlvReader]]] = {
    Tag.SC_INTERFACE_VERSION: ("sc_interface_version", _tlv_u8),
}
_DATA_SM_RESP_TLV_READERS: Final[dict[int, tuple[str, _TlvReader]]] = {
    Tag.DELIVERY_FAILURE_REASON: ("delivery_failure_reason", _tlv_u8),
    Tag.NETWORK_ERROR_CODE: ("network_error_code", _tlv_octets),
}
_NO_TLV_READERS: Final[dict[int, tuple[str, _TlvReader]]] = {}


def _read_tlvs(data: bytes, pos: int, readers: dict[int, tuple[str, _TlvReader]]) -> dict[str, Any]:
    """Keyword arguments for the typed TLV fields, unknown tags kept in ``other_tlvs``."""
    end = len(data)
    fields: dict[str, Any] = {}
    other: list[tuple[int, bytes]] = []
    while pos < end:
        if end - pos < 4:
            raise _FieldError(
                "truncated TLV header at the end of the PDU", _S.ESME_RINVOPTPARSTREAM
            )
        tag, length = _TLV_HEAD.unpack_from(data, pos)
        pos += 4
        if pos + length > end:
            raise _FieldError(
                f"TLV 0x{tag:04x} of length {length} runs past the end of the PDU",
                _S.ESME_RINVOPTPARSTREAM,
            )
        value = data[pos : pos + length]
        pos += length
        reader = readers.get(tag)
        if reader is None:
            other.append((tag, value))
        else:
            name, convert = reader
            fields[name] = convert(tag, value)
    if other:
        fields["other_tlvs"] = tuple(other)
    return fields


def _slot(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    raise AttributeError(name)  # pragma: no cover - only reached by a typo in this module


def _builder(cls: type, leading: tuple[str, ...]) -> Callable[..., Any]:
    """A constructor taking ``leading`` positionally, the remaining fields by keyword.

    It stores the fields and runs ``__post_init__`` exactly as the dataclass ``__init__``
    does, so validation is identical; it only binds each slot's setter once instead of going
    through ``object.__setattr__`` per field per call, which makes submit_sm/deliver_sm decode
    about a third faster.
    """
    fields = dataclasses.fields(cls)
    rest = [f for f in fields if f.name not in leading]
    names = [*leading, *(f.name for f in rest)]
    namespace: dict[str, Any] = {
        "_new": object.__new__,
        "_cls": cls,
        "_post": getattr(cls, "__post_init__"),  # noqa: B009 - mypy cannot see it on `type`
    }
    for name in names:
        namespace[f"_set_{name}"] = _slot(cls, name).__set__
    for f in rest:
        namespace[f"_default_{f.name}"] = f.default
    params = ", ".join([*leading, *(f"{f.name}=_default_{f.name}" for f in rest)])
    body = "".join(f"    _set_{name}(o, {name})\n" for name in names)
    source = f"def build({params}):\n    o = _new(_cls)\n{body}    _post(o)\n    return o\n"
    exec(source, namespace)  # noqa: S102 - the source is made of this module's field names
    build: Callable[..., Any] = namespace["build"]
    return build


def _renumberer(cls: type) -> Callable[[Any, int], Any]:
    names = [f.name for f in dataclasses.fields(cls) if f.name != "sequence_number"]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for name in ["sequence_number", *names]:
        namespace[f"_set_{name}"] = _slot(cls, name).__set__
    body = "".join(f"    _set_{name}(o, pdu.{name})\n" for name in names)
    source = (
        "def renumber(pdu, sequence_number):\n    o = _new(_cls)\n"
        f"    _set_sequence_number(o, sequence_number)\n{body}    return o\n"
    )
    exec(source, namespace)  # noqa: S102 - the source is made of this module's field names
    renumber: Callable[[Any, int], Any] = namespace["renumber"]
    return renumber


_RENUMBER: Final[dict[type, Callable[[Any, int], Any]]] = {
    cls: _renumberer(cls) for cls in _CLASSES
}
_P = TypeVar("_P", bound=Pdu)


def with_sequence_number(pdu: _P, sequence_number: int) -> _P:
    """``pdu`` under another sequence number.

    The same as ``dataclasses.replace(pdu, sequence_number=...)`` but without validating the
    other fields again (they were checked when ``pdu`` was built), which is most of the cost
    of numbering each request a session sends.
    """
    if not 0 <= sequence_number <= _U32_MAX:
        raise ValueError(f"sequence_number must fit in 32 bits, not {sequence_number!r}")
    renumbered: _P = _RENUMBER[type(pdu)](pdu, sequence_number)
    return renumbered


_SHORT_MESSAGE_ORDER: Final = (
    "sequence_number",
    "command_status",
    "service_type",
    "source_addr_ton",
    "source_addr_npi",
    "source_addr",
    "dest_addr_ton",
    "dest_addr_npi",
    "destination_addr",
    "esm_class",
    "protocol_id",
    "priority_flag",
    "schedule_delivery_time",
    "validity_period",
    "registered_delivery",
    "replace_if_present_flag",
    "data_coding",
    "sm_default_msg_id",
    "short_message",
)


def _dec_short_message(cls: type[_ShortMessage]) -> _Decoder:
    build = _builder(cls, _SHORT_MESSAGE_ORDER)

    def decode_body(data: bytes, seq: int, status: int) -> Any:
        end = len(data)
        n = data.index(0, 16, end)
        service_type = data[16:n].decode("latin-1")
        p = n + 3
        source_addr_ton = data[n + 1]
        source_addr_npi = data[n + 2]
        n = data.index(0, p, end)
        source_addr = data[p:n].decode("latin-1")
        p = n + 3
        dest_addr_ton = data[n + 1]
        dest_addr_npi = data[n + 2]
        n = data.index(0, p, end)
        destination_addr = data[p:n].decode("latin-1")
        esm_class = data[n + 1]
        protocol_id = data[n + 2]
        priority_flag = data[n + 3]
        p = n + 4
        n = data.index(0, p, end)
        schedule_delivery_time = data[p:n].decode("latin-1")
        p = n + 1
        n = data.index(0, p, end)
        validity_period = data[p:n].decode("latin-1")
        registered, replace, data_coding, default_msg_id, sm_length = _B5.unpack_from(data, n + 1)
        p = n + 6
        if p + sm_length > end:
            raise _FieldError(
                f"sm_length {sm_length} runs past the end of the PDU", _S.ESME_RINVMSGLEN
            )
        short_message = data[p : p + sm_length]
        p += sm_length
        args = (
            seq,
            status,
            service_type,
            source_addr_ton,
            source_addr_npi,
            source_addr,
            dest_addr_ton,
            dest_addr_npi,
            destination_addr,
            esm_class,
            protocol_id,
            priority_flag,
            schedule_delivery_time,
            validity_period,
            registered,
            replace,
            data_coding,
            default_msg_id,
            short_message,
        )
        if p < end:
            return build(*args, **_read_tlvs(data, p, _MESSAGE_TLV_READERS))
        return build(*args)

    return decode_body


def _dec_message_id_resp(cls: type[_MessageIdResp]) -> _Decoder:
    def decode_body(data: bytes, seq: int, status: int) -> Any:
        end = len(data)
        if end == 16:
            return cls(sequence_number=seq, command_status=status)
        n = data.index(0, 16, end)
        message_id = data[16:n].decode("latin-1")
        if n + 1 < end:
            tlvs = _read_tlvs(data, n + 1, _NO_TLV_READERS)
            return cls(sequence_number=seq, command_status=status, message_id=message_id, **tlvs)
        return cls(sequence_number=seq, command_status=status, message_id=message_id)

    return decode_body


class _Cursor:
    """Sequential reads for the PDUs off the hot path."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = HEADER_LENGTH

    def cstr(self) -> str:
        n = self.data.index(0, self.pos)
        value = self.data[self.pos : n].decode("latin-1")
        self.pos = n + 1
        return value

    def octet(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        return value

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise _FieldError(
                f"{len(self.data) - self.pos} unexpected bytes after the last field",
                _S.ESME_RINVCMDLEN,
            )


def _dec_bind(cls: type[_Bind]) -> _Decoder:
    def decode_body(data: bytes, seq: int, status: int) -> Any:
        c = _Cursor(data)
        pdu = cls(
            sequence_number=seq,
            command_status=status,
            system_id=c.cstr(),
            password=c.cstr(),
            system_type=c.cstr(),
            interface_version=c.octet(),
            addr_ton=c.octet(),
            addr_npi=c.octet(),
            address_range=c.cstr(),
        )
        c.finish()
        return pdu

    return decode_body


def _dec_bind_resp(cls: type[_BindResp]) -> _Decoder:
    def decode_body(data: bytes, seq: int, status: int) -> Any:
        c = _Cursor(data)
        if c.at_end():
            return cls(sequence_number=seq, command_status=status)
        system_id = c.cstr()
        tlvs = _read_tlvs(data, c.pos, _BIND_RESP_TLV_READERS)
        return cls(sequence_number=seq, command_status=status, system_id=system_id, **tlvs)

    return decode_body


def _dec_data_sm(data: bytes, seq: int, status: int) -> Any:
    c = _Cursor(data)
    fields: dict[str, Any] = {
        "service_type": c.cstr(),
        "source_addr_ton": c.octet(),
        "source_addr_npi": c.octet(),
        "source_addr": c.cstr(),
        "dest_addr_ton": c.octet(),
        "dest_addr_npi": c.octet(),
        "destination_addr": c.cstr(),
        "esm_class": c.octet(),
        "registered_delivery": c.octet(),
        "data_coding": c.octet(),
    }
    fields.update(_read_tlvs(data, c.pos, _MESSAGE_TLV_READERS))
    return DataSm(sequence_number=seq, command_status=status, **fields)


def _dec_data_sm_resp(data: bytes, seq: int, status: int) -> Any:
    c = _Cursor(data)
    if c.at_end():
        return DataSmResp(sequence_number=seq, command_status=status)
    message_id = c.cstr()
    tlvs = _read_tlvs(data, c.pos, _DATA_SM_RESP_TLV_READERS)
    return DataSmResp(sequence_number=seq, command_status=status, message_id=message_id, **tlvs)


def _dec_query_sm(data: bytes, seq: int, status: int) -> Any:
    c = _Cursor(data)
    pdu = QuerySm(
        sequence_number=seq,
        command_status=status,
        message_id=c.cstr(),
        source_addr_ton=c.octet(),
        source_addr_npi=c.octet(),
        source_addr=c.cstr(),
    )
    c.finish()
    return pdu


def _dec_query_sm_resp(data: bytes, seq: int, status: int) -> Any:
    c = _Cursor(data)
    if c.at_end():
        return QuerySmResp(sequence_number=seq, command_status=status)
    pdu = QuerySmResp(
        sequence_number=seq,
        command_status=status,
        message_id=c.cstr(),
        final_date=c.cstr(),
        message_state=c.octet(),
        error_code=c.octet(),
    )
    c.finish()
    return pdu


def _dec_empty(cls: type[_Empty]) -> _Decoder:
    def decode_body(data: bytes, seq: int, status: int) -> Any:
        if len(data) != HEADER_LENGTH:
            raise _FieldError(
                f"{command_name(cls.command_id)} has no body, got {len(data) - 16} bytes",
                _S.ESME_RINVCMDLEN,
            )
        return cls(sequence_number=seq, command_status=status)

    return decode_body


_DECODERS: Final[dict[int, _Decoder]] = {
    CommandId.BIND_TRANSMITTER: _dec_bind(BindTransmitter),
    CommandId.BIND_RECEIVER: _dec_bind(BindReceiver),
    CommandId.BIND_TRANSCEIVER: _dec_bind(BindTransceiver),
    CommandId.BIND_TRANSMITTER_RESP: _dec_bind_resp(BindTransmitterResp),
    CommandId.BIND_RECEIVER_RESP: _dec_bind_resp(BindReceiverResp),
    CommandId.BIND_TRANSCEIVER_RESP: _dec_bind_resp(BindTransceiverResp),
    CommandId.SUBMIT_SM: _dec_short_message(SubmitSm),
    CommandId.DELIVER_SM: _dec_short_message(DeliverSm),
    CommandId.SUBMIT_SM_RESP: _dec_message_id_resp(SubmitSmResp),
    CommandId.DELIVER_SM_RESP: _dec_message_id_resp(DeliverSmResp),
    CommandId.DATA_SM: _dec_data_sm,
    CommandId.DATA_SM_RESP: _dec_data_sm_resp,
    CommandId.QUERY_SM: _dec_query_sm,
    CommandId.QUERY_SM_RESP: _dec_query_sm_resp,
    CommandId.ENQUIRE_LINK: _dec_empty(EnquireLink),
    CommandId.ENQUIRE_LINK_RESP: _dec_empty(EnquireLinkResp),
    CommandId.UNBIND: _dec_empty(Unbind),
    CommandId.UNBIND_RESP: _dec_empty(UnbindResp),
    CommandId.GENERIC_NACK: _dec_empty(GenericNack),
}


def decode(data: bytes) -> Pdu:
    """One whole PDU, header included; anything malformed raises :class:`PduError`."""
    if type(data) is not bytes:
        data = bytes(data)
    if len(data) < HEADER_LENGTH:
        raise PduError(
            f"{len(data)} bytes is shorter than the 16-byte PDU header",
            command_status=_S.ESME_RINVCMDLEN,
        )
    length, command_id, status, seq = _HEADER.unpack_from(data)
    if length != len(data):
        raise PduError(
            f"command_length {length} does not match the {len(data)} bytes of the PDU",
            command_id=command_id,
            sequence_number=seq,
            command_status=_S.ESME_RINVCMDLEN,
        )
    decoder = _DECODERS.get(command_id)
    if decoder is None:
        raise PduError(
            f"{command_name(command_id)} is not supported",
            command_id=command_id,
            sequence_number=seq,
            command_status=_S.ESME_RINVCMDID,
        )
    try:
        pdu: Pdu = decoder(data, seq, status)
    except _FieldError as exc:
        raise PduError(
            f"{command_name(command_id)}: {exc}",
            command_id=command_id,
            sequence_number=seq,
            command_status=exc.status,
        ) from None
    except (IndexError, ValueError, struct.error):
        raise PduError(
            f"{command_name(command_id)} body is truncated or a C-string lacks its NUL",
            command_id=command_id,
            sequence_number=seq,
            command_status=_S.ESME_RINVCMDLEN,
        ) from None
    return pdu


class PduReader:
    """Cuts a TCP byte stream into PDUs by their command_length (§3.2).

    A command_length below 16 or above ``max_command_length`` means framing is lost: the reader
    reports one :class:`PduError` and is ``broken`` from then on (the connection must be
    closed). A well-framed PDU with a bad body is reported and skipped; the stream goes on.
    The header is judged only once all 16 bytes are in, so how the bytes were chunked never
    changes what is reported.
    """

    __slots__ = ("_broken", "_buf", "_max", "_pos")

    # Consumed bytes are dropped from the front once this many have piled up, so reading N
    # PDUs costs O(N) copying rather than one whole-buffer copy per PDU.
    _COMPACT_AT: ClassVar[int] = 65536

    def __init__(self, max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH) -> None:
        if max_command_length < HEADER_LENGTH:
            raise ValueError(f"max_command_length must be at least {HEADER_LENGTH}")
        self._buf = bytearray()
        self._pos = 0
        self._max = max_command_length
        self._broken = False

    @property
    def broken(self) -> bool:
        return self._broken

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a PDU."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> None:
        if not self._broken:
            self._buf += data

    def next_pdu(self) -> Pdu | PduError | None:
        """The next PDU, a PduError for a bad one, or None until more bytes arrive."""
        if self._broken:
            return None
        buf, pos = self._buf, self._pos
        available = len(buf) - pos
        if available < HEADER_LENGTH:
            # A command_length that cannot be right is refused as soon as it is readable, not
            # after the 16 header bytes a garbled peer may never send.
            if available >= 4:
                (length,) = _U32.unpack_from(buf, pos)
                if length < HEADER_LENGTH or length > self._max:
                    self._broken = True
                    self._buf = bytearray()
                    self._pos = 0
                    return PduError(
                        f"command_length {length} is outside 16..{self._max}; framing is lost",
                        command_id=None,
                        sequence_number=0,
                        command_status=_S.ESME_RINVCMDLEN,
                    )
            return None
        length, command_id, _, seq = _HEADER.unpack_from(buf, pos)
        if length < HEADER_LENGTH or length > self._max:
            self._broken = True
            self._buf = bytearray()
            self._pos = 0
            return PduError(
                f"command_length {length} is outside 16..{self._max}; framing is lost",
                command_id=command_id,
                sequence_number=seq,
                command_status=_S.ESME_RINVCMDLEN,
            )
        end = pos + length
        if end > len(buf):
            return None
        chunk = bytes(buf[pos:end])
        if end == len(buf):
            buf.clear()
            self._pos = 0
        elif end >= self._COMPACT_AT:
            del buf[:end]
            self._pos = 0
        else:
            self._pos = end
        try:
            return decode(chunk)
        except PduError as exc:
            return exc
