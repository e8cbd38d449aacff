"""SDP offer/answer: codec choice in the offerer's order, directions, refused streams, garbage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seva.channels.voice import sdp
from seva.channels.voice.rtp import Codec
from seva.channels.voice.sdp import Direction, NoCommonCodec, SdpError
from tests.channels.voice import messages as m

HEAD = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"


def offer(*media_lines: str, head: str = HEAD) -> str:
    return head + "".join(line + "\r\n" for line in media_lines)


def test_sipp_offers() -> None:
    for body, codec, dtmf in (
        (m.OFFER_PCMU, Codec.PCMU, None),
        (m.OFFER_DTMF, Codec.PCMU, 101),
        (m.OFFER_PCAP, Codec.PCMA, 101),
    ):
        choice = sdp.negotiate(sdp.parse(body.encode()))
        assert (choice.codec, choice.payload_type, choice.dtmf_payload_type) == (
            codec,
            int(codec),
            dtmf,
        )
        assert (choice.remote_address, choice.remote_port) == ("127.0.0.1", 6000)
        assert choice.local_direction is Direction.SENDRECV


@pytest.mark.parametrize(
    ("lines", "codec", "pt", "dtmf"),
    [
        (["m=audio 4000 RTP/AVP 0"], Codec.PCMU, 0, None),
        (["m=audio 4000 RTP/AVP 8 0"], Codec.PCMA, 8, None),  # offerer's preference order
        (["m=audio 4000 RTP/AVP 0 8"], Codec.PCMU, 0, None),
        (
            ["m=audio 4000 RTP/AVP 18 3 8 0 101", "a=rtpmap:101 telephone-event/8000"],
            Codec.PCMA,
            8,
            101,
        ),
        (["m=audio 4000 RTP/AVP 96 0", "a=rtpmap:96 opus/48000/2"], Codec.PCMU, 0, None),
        (["m=audio 4000 RTP/AVP 97", "a=rtpmap:97 PCMU/8000"], Codec.PCMU, 97, None),  # dynamic
        (["m=audio 4000 RTP/AVP 0", "a=rtpmap:0 pcmu/8000"], Codec.PCMU, 0, None),
        (  # telephone-event at another clock rate is no use to a G.711 stream
            ["m=audio 4000 RTP/AVP 0 100", "a=rtpmap:100 telephone-event/16000"],
            Codec.PCMU,
            0,
            None,
        ),
        (
            [
                "m=audio 4000 RTP/AVP 0 100 101",
                "a=rtpmap:100 telephone-event/16000",
                "a=rtpmap:101 telephone-event/8000",
            ],
            Codec.PCMU,
            0,
            101,
        ),
        (  # a static type rebound to another codec is that codec, not G.711
            ["m=audio 4000 RTP/AVP 0 8", "a=rtpmap:0 G722/8000"],
            Codec.PCMA,
            8,
            None,
        ),
        (["m=audio 4000/2 RTP/AVP 0"], Codec.PCMU, 0, None),
    ],
)
def test_codec_choice(lines: list[str], codec: Codec, pt: int, dtmf: int | None) -> None:
    choice = sdp.negotiate(sdp.parse(offer(*lines)))
    assert (choice.codec, choice.payload_type, choice.dtmf_payload_type) == (codec, pt, dtmf)


@pytest.mark.parametrize(
    "lines",
    [
        ["m=audio 4000 RTP/AVP 18", "a=rtpmap:18 G729/8000"],
        ["m=audio 4000 RTP/AVP 96", "a=rtpmap:96 PCMU/16000"],
        ["m=audio 4000 RTP/AVP 96"],  # dynamic without rtpmap: unknown
        ["m=audio 0 RTP/AVP 0"],  # refused stream
        ["m=audio 4000 RTP/SAVP 0"],  # SRTP is not spoken here
        ["m=video 4000 RTP/AVP 0"],
        [],
    ],
)
def test_no_common_codec(lines: list[str]) -> None:
    with pytest.raises(NoCommonCodec):
        sdp.negotiate(sdp.parse(offer(*lines)))
    assert issubclass(NoCommonCodec, SdpError)


def test_first_usable_audio_stream_is_chosen() -> None:
    description = sdp.parse(
        offer(
            "m=video 5000 RTP/AVP 31",
            "m=audio 0 RTP/AVP 0",
            "m=audio 4002 RTP/AVP 18",
            "m=audio 4004 RTP/AVP 8",
        )
    )
    choice = sdp.negotiate(description)
    assert (choice.index, choice.remote_port, choice.codec) == (3, 4004, Codec.PCMA)


def test_media_connection_overrides_session() -> None:
    body = offer("m=audio 4000 RTP/AVP 0", "c=IN IP4 198.51.100.7")
    assert sdp.negotiate(sdp.parse(body)).remote_address == "198.51.100.7"
    v6 = offer("m=audio 4000 RTP/AVP 0", "c=IN IP6 2001:db8::7")
    assert sdp.negotiate(sdp.parse(v6)).remote_address == "2001:db8::7"


def test_connection_needed_somewhere() -> None:
    head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"
    with pytest.raises(SdpError, match="no c= line"):
        sdp.negotiate(sdp.parse(offer("m=audio 4000 RTP/AVP 0", head=head)))
    # A refused stream needs none.
    description = sdp.parse(
        offer("m=audio 0 RTP/AVP 0", "m=audio 4000 RTP/AVP 0", "c=IN IP4 192.0.2.9", head=head)
    )
    assert sdp.negotiate(description).remote_address == "192.0.2.9"


@pytest.mark.parametrize(
    ("session", "media", "remote", "local"),
    [
        (None, None, Direction.SENDRECV, Direction.SENDRECV),
        (None, "sendonly", Direction.SENDONLY, Direction.RECVONLY),
        (None, "recvonly", Direction.RECVONLY, Direction.SENDONLY),
        (None, "inactive", Direction.INACTIVE, Direction.INACTIVE),
        ("sendonly", None, Direction.SENDONLY, Direction.RECVONLY),
        ("sendonly", "sendrecv", Direction.SENDRECV, Direction.SENDRECV),
    ],
)
def test_directions(
    session: str | None, media: str | None, remote: Direction, local: Direction
) -> None:
    head = HEAD + (f"a={session}\r\n" if session else "")
    lines = ["m=audio 4000 RTP/AVP 0"] + ([f"a={media}"] if media else [])
    choice = sdp.negotiate(sdp.parse(offer(*lines, head=head)))
    assert (choice.direction, choice.local_direction) == (remote, local)


def test_old_style_hold_means_do_not_send() -> None:
    body = offer("m=audio 4000 RTP/AVP 0", "c=IN IP4 0.0.0.0")
    description = sdp.parse(body)
    assert description.media[0].connection is not None
    assert description.media[0].connection.unspecified
    assert sdp.negotiate(description).local_direction is Direction.RECVONLY


def test_answer_mirrors_every_m_line() -> None:
    description = sdp.parse(
        offer(
            "m=video 5000 RTP/AVP 31 34",
            "m=audio 4000 RTP/AVP 18 8 101",
            "a=rtpmap:101 telephone-event/8000",
            "a=sendonly",
            "m=audio 4002 RTP/AVP 0",
            "m=application 9 UDP/BFCP *",
        )
    )
    choice = sdp.negotiate(description)
    body = sdp.build_answer(
        description, choice, address="203.0.113.5", port=20002, session_id=77, session_version=1
    )
    text = body.decode()
    assert text.startswith(
        "v=0\r\no=seva 77 1 IN IP4 203.0.113.5\r\ns=Seva\r\nc=IN IP4 203.0.113.5\r\n"
    )
    assert text.endswith("\r\n")
    answer = sdp.parse(body)
    assert [(x.media, x.port, x.proto, x.formats) for x in answer.media] == [
        ("video", 0, "RTP/AVP", ("31", "34")),
        ("audio", 20002, "RTP/AVP", ("8", "101")),
        ("audio", 0, "RTP/AVP", ("0",)),
        ("application", 0, "UDP/BFCP", ("*",)),
    ]
    assert answer.media[1].direction is Direction.RECVONLY
    assert answer.media[1].ptime == 20
    assert "a=fmtp:101 0-15\r\n" in text
    again = sdp.negotiate(answer)
    assert (again.codec, again.dtmf_payload_type, again.remote_port) == (Codec.PCMA, 101, 20002)


def test_offer_for_an_offerless_invite() -> None:
    body = sdp.build_offer(address="::1", port=30000, session_id=5, session_version=2)
    description = sdp.parse(body)
    assert description.connection == sdp.Connection(address_type="IP6", address="::1")
    assert description.media[0].formats == ("0", "8", "101")
    choice = sdp.negotiate(description)
    assert (choice.codec, choice.dtmf_payload_type) == (Codec.PCMU, 101)


def test_building_refuses_bad_arguments() -> None:
    description = sdp.parse(m.OFFER_PCMU)
    choice = sdp.negotiate(description)
    with pytest.raises(ValueError):
        sdp.build_answer(
            description, choice, address="host.example", port=1, session_id=1, session_version=1
        )
    with pytest.raises(ValueError):
        sdp.build_offer(address="127.0.0.1", port=0, session_id=1, session_version=1)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"", "v=0"),
        (b"hello world", "v=0"),
        (b"v=1\r\n", "v=0"),
        (b"\xff\xfe\x00", "UTF-8"),
        (b"v=0\r\nthis is not sdp\r\n", "line 2"),
        (b"v=0\r\nm=audio\r\n", "m="),
        (b"v=0\r\nm=audio 99999 RTP/AVP 0\r\n", "port"),
        (b"v=0\r\nm=audio -1 RTP/AVP 0\r\n", "port"),
        (b"v=0\r\nm=audio 4000 RTP/AVP abc\r\n", "payload types"),
        (b"v=0\r\nm=audio 4000 RTP/AVP 128\r\n", "payload types"),
        (b"v=0\r\nc=IN IP4\r\n", "c="),
        (b"v=0\r\nc=IN IP4 ::1\r\n", "IP4"),
        (b"v=0\r\nc=IN IP4 not_an_address!\r\n", "neither"),
        (b"v=0\r\nc=ATM NSAP 47.0091\r\n", "c="),
        (b"v=0\r\nM=audio 4000 RTP/AVP 0\r\n", "line 2"),
    ],
)
def test_garbage_is_sdp_error(body: bytes, match: str) -> None:
    with pytest.raises(SdpError, match=match):
        sdp.parse(body)


def test_unknown_lines_and_bad_rtpmaps_are_ignored() -> None:
    body = offer(
        "b=AS:64",
        "m=audio 4000 RTP/AVP 0",
        "a=rtpmap:nonsense",
        "a=rtpmap:0 PCMU/rate",
        "a=ptime:abc",
        "a=x-vendor:thing",
        "z=whatever",
    )
    choice = sdp.negotiate(sdp.parse(body))
    assert (choice.codec, choice.ptime) == (Codec.PCMU, None)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda t: ("v=0\r\n" + t).encode()))
def test_anything_raises_only_sdp_error(body: bytes) -> None:
    try:
        description = sdp.parse(body)
        sdp.negotiate(description)
    except SdpError:
        pass


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "m=audio 4000 RTP/AVP 0 8 101",
                "m=audio 0 RTP/AVP 0",
                "m=video 5000 RTP/AVP 31",
                "m=audio 4000 RTP/AVP 18",
                "a=rtpmap:101 telephone-event/8000",
                "a=rtpmap:8 PCMA/8000",
                "a=sendonly",
                "a=inactive",
                "c=IN IP4 192.0.2.44",
                "c=IN IP6 ::1",
                "a=ptime:30",
            ]
        ),
        max_size=12,
    )
)
def test_answers_always_mirror_the_offer(lines: list[str]) -> None:
    description = sdp.parse(offer(*lines))
    try:
        choice = sdp.negotiate(description)
    except NoCommonCodec:
        return
    answer = sdp.parse(
        sdp.build_answer(
            description, choice, address="127.0.0.1", port=4444, session_id=1, session_version=1
        )
    )
    assert len(answer.media) == len(description.media)
    assert [x.media for x in answer.media] == [x.media for x in description.media]
    assert [x.port != 0 for x in answer.media].count(True) == 1
