"""SMSC delivery receipts: reading them from deliver_sm/data_sm, writing them for the simulator.

Follows SMPP v3.4 Appendix B (the receipt text format, which the spec gives only as an example
of common practice), §5.2.12 (esm_class message type bits 2-5: 0x04 SMSC delivery receipt,
0x20 intermediate delivery notification) and §5.3.2.12/§5.3.2.35 (the receipted_message_id and
message_state TLVs, which win over the text when both are present).

Operators vary the text: key case (``ID:``, ``Text:``), ``submit_date`` with an underscore,
12-digit dates with seconds, full state words (``DELIVERED``), fields left out, and a message
id in decimal when submit_sm_resp gave it in hex (or the other way round). The parser reads what
it can and never raises; :func:`id_candidates` gives the forms an id may have been stored in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from seva.channels.smpp.pdu import DataSm, DeliverSm, MessageState

__all__ = [
    "FINAL_STATES",
    "STATES",
    "DeliveryReceipt",
    "format_receipt",
    "id_candidates",
    "is_receipt",
    "parse_receipt",
]

STATES: Final = (
    "DELIVRD",
    "EXPIRED",
    "DELETED",
    "UNDELIV",
    "ACCEPTD",
    "UNKNOWN",
    "REJECTD",
    "ENROUTE",
)
FINAL_STATES: Final = frozenset(STATES) - {"ENROUTE"}
"""Appendix B: every state but ENROUTE is final."""

_STATE_BY_NUMBER: Final[dict[int, str]] = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}
_STATE_ALIASES: Final = {
    "DELIVERED": "DELIVRD",
    "DELIVRED": "DELIVRD",
    "UNDELIVERABLE": "UNDELIV",
    "UNDELIVERED": "UNDELIV",
    "ACCEPTED": "ACCEPTD",
    "REJECTED": "REJECTD",
    "EXPIRD": "EXPIRED",
    "DELETD": "DELETED",
    "FAILED": "UNDELIV",
}

_RECEIPT_TYPES: Final = (0x04, 0x20)
_TYPE_MASK: Final = 0x3C

# Keys as operators write them; "text" ends the scan because the text may contain anything.
_KEY: Final = re.compile(
    r"(?:^|(?<=\s))(id|sub|dlvrd|submit[ _]?date|done[ _]?date|stat|err|text)\s*:",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryReceipt:
    """What an SMSC reported about a message it accepted earlier.

    ``message_id`` is as the SMSC wrote it; match it against the submit_sm_resp id with
    :func:`id_candidates`. Dates are the SMSC's ``YYMMDDhhmm[ss]`` strings, empty when absent.
    """

    message_id: str
    state: str
    submitted: int = 0
    delivered: int = 0
    submit_date: str = ""
    done_date: str = ""
    error: str = ""
    text: str = ""

    @property
    def final(self) -> bool:
        """No further receipt will follow for this message."""
        return self.state in FINAL_STATES

    @property
    def delivered_ok(self) -> bool:
        return self.state == "DELIVRD"


def is_receipt(esm_class: int) -> bool:
    """Whether esm_class marks a delivery receipt or an intermediate notification."""
    return esm_class & _TYPE_MASK in _RECEIPT_TYPES


def _fields(text: str) -> dict[str, str]:
    matches = list(_KEY.finditer(text))
    out: dict[str, str] = {}
    for index, match in enumerate(matches):
        key = match.group(1).lower().replace("_", " ")
        if key in ("submitdate", "donedate"):
            key = key[:-4] + " date"
        if key == "text":
            out["text"] = text[match.end() :].lstrip(" ")
            break
        stop = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        words = text[match.end() : stop].split()
        out.setdefault(key, words[0] if words else "")
    return out


def _count(value: str | None) -> int:
    if value is None:
        return 0
    try:
        return max(0, int(value))
    except ValueError:
        return 0


def _state(value: str) -> str:
    word = value.strip().upper()
    if word in STATES:
        return word
    return _STATE_ALIASES.get(word, "UNKNOWN")


def _body_text(pdu: DeliverSm | DataSm) -> str:
    if pdu.message_payload is not None:
        body = pdu.message_payload
    elif isinstance(pdu, DeliverSm):
        body = pdu.short_message
    else:
        body = b""
    # Receipt text is ASCII in practice whatever data_coding says; reading it as GSM 7-bit
    # would turn "_" and "@" in ids into other characters. UCS-2 receipts do exist.
    if pdu.data_coding == 0x08:
        return body.decode("utf-16-be", "replace")
    return body.decode("latin-1")


def parse_receipt(pdu: DeliverSm | DataSm) -> DeliveryReceipt | None:
    """The receipt a deliver_sm/data_sm carries, or None when it is not a receipt.

    TLVs (receipted_message_id, message_state, network_error_code) win over the text. A receipt
    with neither an id in a TLV nor in the text is None: nothing could be matched to it.
    """
    if not is_receipt(pdu.esm_class):
        return None
    fields = _fields(_body_text(pdu))
    message_id = pdu.receipted_message_id or fields.get("id", "")
    if not message_id:
        return None
    if pdu.message_state is not None:
        state = _STATE_BY_NUMBER.get(pdu.message_state, "UNKNOWN")
    else:
        state = _state(fields.get("stat", ""))
    error = fields.get("err", "")
    if not error and pdu.network_error_code is not None:
        error = f"{int.from_bytes(pdu.network_error_code[1:], 'big'):03d}"
    return DeliveryReceipt(
        message_id=message_id,
        state=state,
        submitted=_count(fields.get("sub")),
        delivered=_count(fields.get("dlvrd")),
        submit_date=fields.get("submit date", ""),
        done_date=fields.get("done date", ""),
        error=error,
        text=fields.get("text", ""),
    )


def receipt_outcome(pdu: DeliverSm | DataSm) -> tuple[str, str, str] | None:
    """(message id, state, error) of a receipt — the gateway's hot path.

    When the SMSC sends the receipted_message_id and message_state TLVs (most do, and Seva's
    simulator does) the text is not parsed at all; otherwise this is ``parse_receipt``.
    """
    if not is_receipt(pdu.esm_class):
        return None
    if pdu.receipted_message_id and pdu.message_state is not None:
        error = ""
        if pdu.network_error_code is not None:
            error = f"{int.from_bytes(pdu.network_error_code[1:], 'big'):03d}"
        return (
            pdu.receipted_message_id,
            _STATE_BY_NUMBER.get(pdu.message_state, "UNKNOWN"),
            error,
        )
    receipt = parse_receipt(pdu)
    return None if receipt is None else (receipt.message_id, receipt.state, receipt.error)


def format_receipt(receipt: DeliveryReceipt) -> bytes:
    """The Appendix B text, for short_message; ``text`` keeps its first 20 characters."""
    line = (
        f"id:{receipt.message_id} sub:{receipt.submitted:03d} dlvrd:{receipt.delivered:03d} "
        f"submit date:{receipt.submit_date} done date:{receipt.done_date} "
        f"stat:{receipt.state} err:{receipt.error or '000'} text:{receipt.text[:20]}"
    )
    return line.encode("ascii", "replace")


def id_candidates(message_id: str) -> tuple[str, ...]:
    """Forms the same SMSC message id may take: as given, hex↔decimal, without leading zeros.

    Many SMSCs return the id in hex in submit_sm_resp and in decimal in the receipt text (or the
    reverse), so a lookup tries every form.
    """
    raw = message_id.strip()
    forms = [raw]
    if raw.isascii() and raw.isdigit():  # not str.isdigit alone: it takes '²', int() does not
        number = int(raw)
        forms += [str(number), f"{number:x}", f"{number:X}"]
    if re.fullmatch(r"[0-9A-Fa-f]{1,32}", raw):
        number = int(raw, 16)
        forms += [raw.lower(), raw.upper(), f"{number:x}", f"{number:X}", str(number)]
    return tuple(dict.fromkeys(form for form in forms if form))
