"""SIP message parsing and building: sipp's messages, RFC 3261 corner cases, only SipError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seva.channels.voice import sip
from seva.channels.voice.sip import (
    MAX_HEADERS,
    MAX_MESSAGE_SIZE,
    Request,
    Response,
    SipError,
    make_response,
    parse,
    parse_name_addr,
    parse_uri,
    parse_via,
    stamp_via,
)
from tests.channels.voice import messages as m

INVITE = m.invite(body=m.OFFER_DTMF)

# A response as sipp's uas scenario sends it.
RINGING = (
    b"SIP/2.0 180 Ringing\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc;received=127.0.0.1\r\n"
    b"From: <sip:seva@127.0.0.1:5060>;tag=ours\r\n"
    b"To: sipp <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag011\r\n"
    b"Call-ID: c1@127.0.0.1\r\n"
    b"CSeq: 1 BYE\r\n"
    b"Contact: <sip:127.0.0.1:5061;transport=UDP>\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def parse_request(data: bytes) -> Request:
    request = parse(data)
    assert isinstance(request, Request)
    return request


def with_header_lines(data: bytes, transform: object) -> bytes:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert callable(transform)
    return b"\r\n".join(transform(lines)) + b"\r\n\r\n" + body


def test_sipp_invite_is_read_whole() -> None:
    request = parse(INVITE)
    assert isinstance(request, Request)
    assert request.method == "INVITE"
    assert request.uri == "sip:service@127.0.0.1:5060"
    assert request.call_id == "1-4242@127.0.0.1"
    assert request.cseq == sip.CSeq(1, "INVITE")
    assert request.top_via.branch == "z9hG4bK-4242-1-0"
    assert request.top_via.sent_by == "127.0.0.1:5061"
    assert request.from_.user == "sipp"
    assert request.from_.tag == "4242SIPpTag001"
    assert request.from_.display_name == "sipp"
    assert request.to.tag is None
    assert request.header("subject") == "Performance Test"
    assert request.header("content-type") == "application/sdp"
    assert request.body == m.OFFER_DTMF.encode()


def test_response_is_read() -> None:
    response = parse(RINGING)
    assert isinstance(response, Response)
    assert (response.status, response.reason) == (180, "Ringing")
    assert response.to.tag == "4242SIPpTag011"
    assert response.top_via.branch == "z9hG4bKabc"


@pytest.mark.parametrize(
    ("compact", "full"),
    [
        ("v", "Via"),
        ("f", "From"),
        ("t", "To"),
        ("i", "Call-ID"),
        ("m", "Contact"),
        ("l", "Content-Length"),
        ("c", "Content-Type"),
        ("k", "Supported"),
        ("s", "Subject"),
    ],
)
def test_compact_header_names(compact: str, full: str) -> None:
    def shorten(lines: list[bytes]) -> list[bytes]:
        out = []
        for line in lines:
            name, sep, value = line.partition(b": ")
            if sep and name.decode().lower() == full.lower():
                line = compact.encode() + b": " + value
            out.append(line)
        return out + ([b"k: timer"] if compact == "k" else [])

    data = with_header_lines(INVITE, shorten)
    request = parse(data)
    assert request.header(full) is not None
    assert request.header(compact) == request.header(full)
    assert request.header(full.upper()) == request.header(full)
    assert request.body == m.OFFER_DTMF.encode()


@pytest.mark.parametrize("name", ["call-id", "CALL-ID", "Call-Id", "i"])
def test_header_names_are_case_insensitive(name: str) -> None:
    data = INVITE.replace(b"Call-ID:", name.encode() + b":")
    assert parse(data).call_id == "1-4242@127.0.0.1"


def test_folded_header_lines_are_joined() -> None:
    data = INVITE.replace(b"Subject: Performance Test", b"Subject: Performance\r\n   Test")
    assert parse(data).header("Subject") == "Performance Test"


def test_via_rows_keep_their_order_split_or_joined() -> None:
    proxy = b"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy1"
    first = b"branch=z9hG4bK-4242-1-0"
    rows = INVITE.replace(first + b"\r\n", first + b"\r\nVia: " + proxy + b"\r\n", 1)
    joined = INVITE.replace(first, first + b" , " + proxy, 1)
    for data in (rows, joined):
        request = parse_request(data)
        assert [v.branch for v in request.vias] == ["z9hG4bK-4242-1-0", "z9hG4bKproxy1"]
        response = parse(make_response(request, 200, to_tag="t").encode())
        assert [v.branch for v in response.vias] == ["z9hG4bK-4242-1-0", "z9hG4bKproxy1"]


def test_leading_empty_lines_and_bare_lf_are_tolerated() -> None:
    head, _, body = INVITE.partition(b"\r\n\r\n")
    data = b"\r\n\r\n" + head.replace(b"\r\n", b"\n") + b"\n\n" + body
    request = parse(data)
    assert request.call_id == "1-4242@127.0.0.1"
    assert request.body == m.OFFER_DTMF.encode()


def test_content_length_shorter_than_datagram_truncates() -> None:
    request = parse(INVITE + b"trailing junk from a broken UA")
    assert request.body == m.OFFER_DTMF.encode()


def test_no_content_length_means_the_rest_of_the_datagram() -> None:
    data = with_header_lines(
        INVITE, lambda lines: [x for x in lines if not x.startswith(b"Content-Length")]
    )
    assert parse(data).body == m.OFFER_DTMF.encode()


def test_content_length_longer_than_datagram_is_400() -> None:
    with pytest.raises(SipError) as info:
        parse(INVITE[:-10])
    assert info.value.status == 400
    assert info.value.request is not None
    assert info.value.request.call_id == "1-4242@127.0.0.1"


def test_response_with_short_body_is_dropped_not_answered() -> None:
    data = RINGING.replace(b"Content-Length: 0", b"Content-Length: 50")
    with pytest.raises(SipError) as info:
        parse(data)
    assert info.value.status is None


def test_size_limits() -> None:
    with pytest.raises(SipError) as info:
        parse(INVITE + b"x" * MAX_MESSAGE_SIZE)
    assert info.value.status is None
    many = [f"X-Filler-{i}: {i}".encode() for i in range(MAX_HEADERS)]
    data = with_header_lines(INVITE, lambda lines: lines + many)
    with pytest.raises(SipError, match="header fields") as info:
        parse(data)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("header", "replacement", "status"),
    [
        (b"Via", None, None),
        (b"From", None, None),
        (b"To", None, None),
        (b"Call-ID", None, None),
        (b"CSeq", None, None),
        (b"CSeq", b"CSeq: 1 BYE", 400),  # method must match the request's
        (b"CSeq", b"CSeq: 2147483648 INVITE", 400),  # below 2**31 (§8.1.1.5)
        (b"CSeq", b"CSeq: one INVITE", 400),
        (b"From", b"From: sipp <sip:sipp@127.0.0.1:5061;tag=1", 400),  # no '>'
        (b"Content-Length", b"Content-Length: -5", 400),
        (b"Content-Length", b"Content-Length: many", 400),
        (b"Max-Forwards", b"Max-Forwards 70", 400),  # no colon
        (b"Via", b"Via: SIP/2.0/UDP", None),  # no sent-by: unanswerable
    ],
)
def test_bad_headers(header: bytes, replacement: bytes | None, status: int | None) -> None:
    def edit(lines: list[bytes]) -> list[bytes]:
        out = []
        for line in lines:
            if line.split(b":", 1)[0] == header:
                if replacement is None:
                    continue
                line = replacement
            out.append(line)
        return out

    with pytest.raises(SipError) as info:
        parse(with_header_lines(INVITE, edit))
    assert info.value.status == status
    assert (info.value.request is not None) == (status is not None)


def test_missing_max_forwards_is_tolerated() -> None:
    data = with_header_lines(INVITE, lambda ls: [x for x in ls if not x.startswith(b"Max-")])
    assert parse(data).header("Max-Forwards") is None


def test_repeated_singleton_header_is_rejected() -> None:
    data = with_header_lines(INVITE, lambda ls: [*ls, b"Call-ID: other@127.0.0.1"])
    with pytest.raises(SipError, match="repeated Call-ID"):
        parse(data)


def test_other_sip_version_is_505() -> None:
    data = INVITE.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1)
    with pytest.raises(SipError) as info:
        parse(data)
    assert info.value.status == 505


@pytest.mark.parametrize(
    "start_line",
    [b"", b"INVITE", b"INVITE sip:x@y", b"INV ITE sip:x@y SIP/2.0", b"SIP/2.0 20 OK", b"\xff\xfe"],
)
def test_bad_start_lines_are_not_answered(start_line: bytes) -> None:
    data = start_line + INVITE[INVITE.index(b"\r\n") :]
    with pytest.raises(SipError) as info:
        parse(data)
    assert info.value.status in (None, 400)
    if start_line.startswith(b"INV ITE"):
        assert info.value.status is None


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"\r\n"])
def test_keepalives_are_empty_messages(data: bytes) -> None:
    with pytest.raises(SipError, match="empty"):
        parse(data)


def test_encode_round_trip() -> None:
    request = parse(INVITE)
    assert parse(request.encode()) == request
    assert request.encode() == INVITE
    response = parse(RINGING)
    assert response.encode() == RINGING


def test_encode_writes_content_length_from_body() -> None:
    request = Request(
        method="OPTIONS",
        uri="sip:service@127.0.0.1",
        headers=(("Content-Length", "999"), ("Call-ID", "x")),
        body=b"abc",
    )
    assert request.encode() == (
        b"OPTIONS sip:service@127.0.0.1 SIP/2.0\r\nCall-ID: x\r\nContent-Length: 3\r\n\r\nabc"
    )


@pytest.mark.parametrize(
    "headers",
    [
        (("Subject", "hi\r\nVia: SIP/2.0/UDP evil"),),
        (("Bad Name", "x"),),
        (("Subject", "x\n"),),
    ],
)
def test_header_injection_is_refused(headers: tuple[tuple[str, str], ...]) -> None:
    with pytest.raises(ValueError):
        Request(method="OPTIONS", uri="sip:a@b", headers=headers)


def test_response_construction_is_validated() -> None:
    with pytest.raises(ValueError):
        Response(status=99)
    with pytest.raises(ValueError):
        Response(status=200, reason="OK\r\nX: y")


def test_make_response_copies_what_8_2_6_says() -> None:
    data = INVITE.replace(
        b"Max-Forwards", b"Record-Route: <sip:10.0.0.1;lr>\r\nTimestamp: 54\r\nMax-Forwards"
    )
    request = parse_request(data)
    trying = make_response(request, 100)
    assert trying.header("To") == request.header("To")  # no tag on 100 Trying
    assert trying.header("Timestamp") == "54"
    assert trying.header("Record-Route") is None
    ok = make_response(request, 200, to_tag="abc", headers=[("Contact", "<sip:a@b>")], body=b"x")
    for name in ("Via", "From", "Call-ID", "CSeq"):
        assert ok.header_all(name) == request.header_all(name)
    assert ok.to.tag == "abc"
    assert ok.header("Record-Route") == "<sip:10.0.0.1;lr>"
    assert ok.reason == "OK"
    wire = ok.encode()
    assert wire.startswith(b"SIP/2.0 200 OK\r\n")
    assert wire.endswith(b"Content-Length: 1\r\n\r\nx")
    fresh = make_response(request, 486)
    assert fresh.to.tag and len(fresh.to.tag) >= 8
    assert fresh.header("Record-Route") is None


def test_make_response_keeps_an_existing_to_tag() -> None:
    bye = parse_request(m.in_dialog("BYE", to_tag="ours", cseq=2))
    assert make_response(bye, 200, to_tag="other").to.tag == "ours"


@pytest.mark.parametrize(
    ("value", "display", "uri", "tag", "user"),
    [
        ("sipp <sip:sipp@127.0.0.1:5061>;tag=1", "sipp", "sip:sipp@127.0.0.1:5061", "1", "sipp"),
        (
            '"Ram Kumar" <sip:+919876543210@10.0.0.5;user=phone>;tag=a1b2',
            "Ram Kumar",
            "sip:+919876543210@10.0.0.5;user=phone",
            "a1b2",
            "+919876543210",
        ),
        ('"say \\"hi\\"" <sip:a@b>', 'say "hi"', "sip:a@b", None, "a"),
        (
            "<sip:9876543210@trunk.example.in>",
            "",
            "sip:9876543210@trunk.example.in",
            None,
            "9876543210",
        ),
        ("sip:sipp@127.0.0.1:5061;tag=xyz", "", "sip:sipp@127.0.0.1:5061", "xyz", "sipp"),
        ("<tel:+919876543210>;tag=t", "", "tel:+919876543210", "t", "+919876543210"),
        (
            "Anonymous <sip:anonymous@anonymous.invalid>;tag=9",
            "Anonymous",
            "sip:anonymous@anonymous.invalid",
            "9",
            "anonymous",
        ),
        ("<sip:%2B919876543210@gw>", "", "sip:%2B919876543210@gw", None, "+919876543210"),
        ("<sip:127.0.0.1:5061>;TAG=up", "", "sip:127.0.0.1:5061", "up", None),
    ],
)
def test_name_addr(value: str, display: str, uri: str, tag: str | None, user: str | None) -> None:
    addr = parse_name_addr(value)
    assert (addr.display_name, addr.uri, addr.tag, addr.user) == (display, uri, tag, user)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sipp",
        '"unterminated <sip:a@b>',
        '"x" sip:a@b',
        "<sip:a@b",
        "<sip:a@b>junk",
        "<sip a@b>",
    ],
)
def test_bad_name_addr(value: str) -> None:
    with pytest.raises(SipError):
        parse_name_addr(value)


@pytest.mark.parametrize(
    ("text", "scheme", "user", "hostport"),
    [
        ("sip:service@127.0.0.1:5060", "sip", "service", ("127.0.0.1", 5060)),
        ("sip:127.0.0.1", "sip", None, ("127.0.0.1", 5060)),
        ("sips:alice@example.com", "sips", "alice", ("example.com", 5061)),
        ("sip:bob:secret@[2001:db8::1]:5070;transport=udp", "sip", "bob", ("2001:db8::1", 5070)),
        ("SIP:Bob@Example.COM", "sip", "Bob", ("Example.COM", 5060)),
        ("tel:+919876543210;phone-context=+91", "tel", "+919876543210", ("", 5060)),
    ],
)
def test_parse_uri(text: str, scheme: str, user: str | None, hostport: tuple[str, int]) -> None:
    uri = parse_uri(text)
    assert (uri.scheme, uri.user, uri.hostport) == (scheme, user, hostport)


@pytest.mark.parametrize(
    "text", ["mailto:a@b", "sip:", "sip:a@", "sip:a@b:99999", "sip:@host", "nourl", "sip:a@b c"]
)
def test_bad_uri(text: str) -> None:
    with pytest.raises(SipError):
        parse_uri(text)


def test_via_parsing() -> None:
    via = parse_via("SIP / 2.0 / udp 10.0.0.1:5060 ; branch=z9hG4bK1;rport;received=1.2.3.4")
    assert (via.transport, via.host, via.port, via.branch) == ("UDP", "10.0.0.1", 5060, "z9hG4bK1")
    assert dict(via.params)["rport"] is None
    assert parse_via("SIP/2.0/UDP [::1];branch=z9hG4bKx").sent_by == "[::1]"


def test_stamp_via_adds_received_and_rport() -> None:
    data = INVITE.replace(b"branch=z9hG4bK-4242-1-0", b"branch=z9hG4bK-4242-1-0;rport")
    request = stamp_via(parse_request(data), ("192.0.2.9", 40000))
    via = request.top_via
    assert dict(via.params)["rport"] == "40000"
    assert dict(via.params)["received"] == "192.0.2.9"
    same = parse_request(INVITE)
    assert stamp_via(same, ("127.0.0.1", 5061)) is same


def test_tags_and_branches_are_random_and_marked() -> None:
    branches = {sip.new_branch() for _ in range(100)}
    assert len(branches) == 100
    assert all(b.startswith(sip.MAGIC_COOKIE) for b in branches)
    assert len({sip.new_tag() for _ in range(100)}) == 100
    assert sip.new_call_id("127.0.0.1").endswith("@127.0.0.1")


def test_error_repr_names_status() -> None:
    with pytest.raises(SipError) as info:
        parse(INVITE[:-10])
    assert "status=400" in repr(info.value)


# --- nothing but SipError --------------------------------------------------------------------

SAMPLES = [
    INVITE,
    m.invite(),
    m.cancel(),
    m.options(),
    m.in_dialog("BYE", to_tag="t", cseq=2),
    RINGING,
]
NOISE = st.sampled_from(
    [
        b"\r\n",
        b"\n",
        b" ",
        b"\t",
        b":",
        b";",
        b",",
        b"<",
        b">",
        b'"',
        b"\\",
        b"=",
        b"@",
        b"\x00",
        b"\xff",
        b"\xc3",
        b"%",
        b"[",
        b"]",
        b"/",
        b"SIP/2.0",
        b"Content-Length: 99999",
        b"tag=",
        b"z9hG4bK",
    ]
) | st.binary(max_size=8)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
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


def _only_sip_errors(data: bytes) -> None:
    try:
        message = parse(data)
    except SipError as exc:
        if exc.status is not None:
            assert exc.request is not None
            make_response(exc.request, exc.status)  # an answerable error can be answered
        return
    # What parses re-encodes and parses back to itself.
    assert parse(message.encode()) == parse(parse(message.encode()).encode())


@settings(max_examples=250, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_sip_error(data: bytes) -> None:
    _only_sip_errors(data)


@settings(max_examples=350, deadline=None)
@given(mutated())
def test_mutated_messages_raise_only_sip_error(data: bytes) -> None:
    _only_sip_errors(data)
