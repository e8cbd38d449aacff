"""SIP and SDP messages as sipp sends them (its built-in ``uac`` and ``uac_pcap`` scenarios).

sipp fills ``[branch]`` with ``z9hG4bK-<pid>-<call>-<n>``, tags with ``<pid>SIPpTag00<call>``,
Call-IDs with ``<call>-<pid>@<ip>`` and strips the scenario's indentation; lines end in CRLF.
"""

from __future__ import annotations

SIPP = ("127.0.0.1", 5061)
SERVICE = "127.0.0.1:5060"
PID = 4242

OFFER_PCMU = (
    "v=0\r\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 6000 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
)

OFFER_DTMF = (
    "v=0\r\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 6000 RTP/AVP 0 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-11,16\r\n"
)

# sipp's uac_pcap offer: PCMA first, telephone-event on 101.
OFFER_PCAP = (
    "v=0\r\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 6000 RTP/AVP 8 101\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-11,16\r\n"
)

OFFER_G729_ONLY = (
    "v=0\r\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 6000 RTP/AVP 18\r\n"
    "a=rtpmap:18 G729/8000\r\n"
)


def call_id(call: int = 1) -> str:
    return f"{call}-{PID}@127.0.0.1"


def from_tag(call: int = 1) -> str:
    return f"{PID}SIPpTag00{call}"


def branch(call: int = 1, n: int = 0) -> str:
    return f"z9hG4bK-{PID}-{call}-{n}"


def _message(lines: list[str], body: str = "") -> bytes:
    head = "\r\n".join([*lines, f"Content-Length: {len(body.encode())}"])
    return (head + "\r\n\r\n" + body).encode()


def invite(
    call: int = 1,
    *,
    body: str | None = OFFER_PCMU,
    n: int = 0,
    from_user: str = "sipp",
    to_tag: str | None = None,
    cseq: int = 1,
    extra: tuple[str, ...] = (),
    contact: str = "sip:sipp@127.0.0.1:5061",
) -> bytes:
    to = f"service <sip:service@{SERVICE}>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"INVITE sip:service@{SERVICE} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:5061;branch={branch(call, n)}",
        f"From: sipp <sip:{from_user}@127.0.0.1:5061>;tag={from_tag(call)}",
        f"To: {to}",
        f"Call-ID: {call_id(call)}",
        f"CSeq: {cseq} INVITE",
        f"Contact: {contact}",
        "Max-Forwards: 70",
        "Subject: Performance Test",
        *extra,
    ]
    if body is not None:
        lines.append("Content-Type: application/sdp")
    return _message(lines, body or "")


def in_dialog(
    method: str,
    call: int = 1,
    *,
    to_tag: str | None,
    cseq: int,
    n: int = 1,
    body: str = "",
    extra: tuple[str, ...] = (),
) -> bytes:
    """ACK, BYE (or anything else) as sipp sends it inside the call."""
    to = f"service <sip:service@{SERVICE}>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} sip:service@{SERVICE} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:5061;branch={branch(call, n)}",
        f"From: sipp <sip:sipp@127.0.0.1:5061>;tag={from_tag(call)}",
        f"To: {to}",
        f"Call-ID: {call_id(call)}",
        f"CSeq: {cseq} {method}",
        "Contact: sip:sipp@127.0.0.1:5061",
        "Max-Forwards: 70",
        "Subject: Performance Test",
        *extra,
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    return _message(lines, body)


def cancel(call: int = 1) -> bytes:
    """CANCEL as RFC 3261 §9.1 builds it: the INVITE's branch, Request-URI and CSeq number."""
    return _message(
        [
            f"CANCEL sip:service@{SERVICE} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:5061;branch={branch(call, 0)}",
            f"From: sipp <sip:sipp@127.0.0.1:5061>;tag={from_tag(call)}",
            f"To: service <sip:service@{SERVICE}>",
            f"Call-ID: {call_id(call)}",
            "CSeq: 1 CANCEL",
            "Max-Forwards: 70",
        ]
    )


def ack_for_failure(call: int = 1, *, to_tag: str) -> bytes:
    """ACK of a non-2xx final (§17.1.1.3): same branch as the INVITE, hop by hop."""
    return in_dialog("ACK", call, to_tag=to_tag, cseq=1, n=0)


def options(n: int = 0) -> bytes:
    return _message(
        [
            f"OPTIONS sip:service@{SERVICE} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:5061;branch={branch(99, n)}",
            "From: sipp <sip:sipp@127.0.0.1:5061>;tag=opt1",
            f"To: <sip:service@{SERVICE}>",
            "Call-ID: options-1@127.0.0.1",
            "CSeq: 1 OPTIONS",
            "Max-Forwards: 70",
            "Accept: application/sdp",
        ]
    )


def request(method: str, n: int = 0) -> bytes:
    """An out-of-dialog request of any method, for 405/501 tests."""
    return _message(
        [
            f"{method} sip:service@{SERVICE} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:5061;branch={branch(98, n)}",
            "From: sipp <sip:sipp@127.0.0.1:5061>;tag=x1",
            f"To: <sip:service@{SERVICE}>",
            f"Call-ID: {method.lower()}-1@127.0.0.1",
            f"CSeq: 1 {method}",
            "Max-Forwards: 70",
        ]
    )


def answer_sdp(port: int = 6000) -> str:
    """What sipp (as answerer) would send back to our offer."""
    return (
        "v=0\r\n"
        "o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
        "s=-\r\n"
        "c=IN IP4 127.0.0.1\r\n"
        "t=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
    )
