"""The signalling hub, driven without sockets: who hears what, who is refused, and that no
message a client can send escapes as an exception."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seva.rtc import signalling as sig
from seva.rtc.signalling import Close, Hub, RoomEvent, Seat, Send


class Harness:
    """A hub and the mailboxes of the connections it talks to."""

    def __init__(self, hub: Hub | None = None) -> None:
        self.hub = hub or Hub()
        self.inbox: dict[int, list[dict[str, Any]]] = {}
        self.closed: dict[int, tuple[int, str]] = {}
        self.events: list[RoomEvent] = []
        self.now = 1000.0

    def apply(self, outputs: list[sig.Output]) -> None:
        for out in outputs:
            if isinstance(out, Send):
                assert out.conn not in self.closed, "sent to a closed connection"
                json.dumps(out.message)  # always serialisable
                self.inbox.setdefault(out.conn, []).append(out.message)
            elif isinstance(out, Close):
                self.closed[out.conn] = (out.code, out.reason)
            else:
                self.events.append(out)

    def join(self, conn: int, **seat: Any) -> None:
        fields = {"room": "r1", "identity": f"id{conn}", "name": f"N{conn}", "role": "citizen"}
        fields.update(seat)
        self.apply(self.hub.join(conn, Seat(**fields), self.now))

    def send(self, conn: int, message: Any) -> None:
        data = message if isinstance(message, str | bytes) else json.dumps(message)
        self.apply(self.hub.receive(conn, data, self.now))

    def types(self, conn: int) -> list[str]:
        return [m["type"] for m in self.inbox.get(conn, [])]

    def last(self, conn: int) -> dict[str, Any]:
        return self.inbox[conn][-1]


def test_two_peers_meet_and_relay_offer_answer_and_candidates() -> None:
    h = Harness()
    h.join(1, identity="citizen:7", role="citizen")
    assert h.last(1) == {
        "type": "welcome",
        "you": "1",
        "room": "r1",
        "kind": "call",
        "role": "citizen",
        "peers": [],
    }
    h.join(2, identity="official:3", role="official", name="Officer")
    assert h.last(2)["peers"][0]["id"] == "1"
    assert h.last(1) == {
        "type": "peer-joined",
        "peer": {
            "id": "2",
            "name": "Officer",
            "role": "official",
            "state": {"audio": True, "video": True, "screen": False},
        },
    }
    assert [e.event for e in h.events] == ["joined", "joined", "connected", "connected"]

    h.send(2, {"type": "offer", "to": "1", "sdp": "v=0..."})
    assert h.last(1) == {"type": "offer", "from": "2", "sdp": "v=0..."}
    h.send(1, {"type": "answer", "to": "2", "sdp": "v=0 answer"})
    assert h.last(2) == {"type": "answer", "from": "1", "sdp": "v=0 answer"}
    candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0"}
    h.send(2, {"type": "candidate", "to": "1", "candidate": candidate})
    assert h.last(1)["candidate"] == {**candidate, "sdpMLineIndex": None}
    h.send(2, {"type": "candidate", "to": "1", "candidate": None})  # end of candidates
    assert h.last(1) == {"type": "candidate", "from": "2", "candidate": None}


def test_chat_state_and_leave_reach_the_others() -> None:
    h = Harness()
    h.join(1)
    h.join(2)
    h.send(1, {"type": "chat", "text": "  Namaste  "})
    assert h.last(1)["text"] == h.last(2)["text"] == "Namaste"
    assert h.last(2)["from"] == "1" and h.last(2)["name"] == "N1"
    h.send(1, {"type": "state", "screen": True, "video": False})
    assert h.last(2) == {
        "type": "state",
        "peer": "1",
        "state": {"audio": True, "video": False, "screen": True},
    }
    h.send(1, {"type": "leave"})
    assert h.closed[1] == (sig.CLOSE_NORMAL, "left")
    assert h.last(2) == {"type": "peer-left", "peer": "1"}
    assert h.hub.occupants("r1") == ["id2"]
    h.apply(h.hub.disconnected(2, h.now))
    assert h.hub.rooms() == 0 and h.hub.connections() == 0


def test_a_call_room_holds_two_and_a_reload_replaces_the_old_window() -> None:
    h = Harness()
    h.join(1, identity="citizen:7")
    h.join(2, identity="official:3", role="official")
    h.join(3, identity="citizen:99")
    assert h.closed[3][0] == sig.CLOSE_FULL
    h.join(4, identity="citizen:7")  # the citizen reloads the page
    assert h.closed[1] == (sig.CLOSE_REPLACED, "joined again from another window")
    assert h.types(2)[-2:] == ["peer-left", "peer-joined"]
    assert h.last(4)["peers"][0]["id"] == "2"
    assert sorted(h.hub.occupants("r1")) == ["citizen:7", "official:3"]


def test_relay_to_someone_not_in_the_room_is_an_error_not_a_crash() -> None:
    h = Harness()
    h.join(1, room="a")
    h.join(2, room="b")
    h.send(1, {"type": "offer", "to": "2", "sdp": "x"})  # 2 is in another room
    assert (h.last(1)["code"] == "unknown_peer" and 2 not in h.inbox) or h.types(2) == ["welcome"]
    h.send(1, {"type": "offer", "to": "1", "sdp": "x"})  # itself
    assert h.last(1)["code"] == "unknown_peer"


def test_a_meeting_lobby_waits_for_the_moderator_who_can_mute_and_remove() -> None:
    h = Harness()
    meeting = {"room": "standup", "kind": sig.MEETING, "lobby": True}
    h.join(1, identity="dc", role="moderator", name="Collector", **meeting)
    h.join(2, identity="sdm", role="official", name="SDM", **meeting)
    assert h.types(2) == ["lobby"]
    assert h.last(1) == {
        "type": "waiting",
        "peers": [
            {
                "id": "2",
                "name": "SDM",
                "role": "official",
                "state": {"audio": True, "video": True, "screen": False},
            }
        ],
    }
    h.send(2, {"type": "chat", "text": "let me in"})
    assert h.last(2)["code"] == "in_lobby"
    h.join(3, identity="tehsildar", role="official", **meeting)
    h.send(3, {"type": "admit", "peer": "2"})  # still in the lobby itself
    assert h.last(3)["code"] == "in_lobby"
    h.send(1, {"type": "admit", "peer": "3"})
    h.send(3, {"type": "admit", "peer": "2"})  # admitted, but not a moderator
    assert h.last(3)["code"] == "not_allowed"
    assert h.types(2) == ["lobby", "error"]  # still waiting: only its own refused chat
    h.send(1, {"type": "admit", "peer": "2"})
    assert h.last(2)["type"] == "welcome"
    assert [p["id"] for p in h.last(2)["peers"]] == ["1", "3"]
    h.send(1, {"type": "mute", "peer": "2"})
    assert h.last(2) == {"type": "mute-request", "by": "Collector"}
    h.send(1, {"type": "remove", "peer": "2"})
    assert h.closed[2] == (sig.CLOSE_REMOVED, "removed by Collector")
    assert {"type": "peer-left", "peer": "2"} in h.inbox[1]


def test_meetings_cap_their_seats() -> None:
    h = Harness(Hub(meeting_capacity=3))
    for conn in range(1, 5):
        h.join(conn, kind=sig.MEETING, identity=f"o{conn}", role="official")
    assert list(h.closed) == [4] and h.closed[4][0] == sig.CLOSE_FULL


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("not json", "not a JSON message"),
        (b"\xff\xfe", "not a JSON message"),
        ("[1, 2]", "a message is a JSON object"),
        ({"kind": "offer"}, "a message needs a string 'type'"),
        ({"type": "dance"}, "unknown message type 'dance'"),
        ({"type": "offer", "to": "2"}, "sdp must be a string"),
        ({"type": "offer", "to": 2, "sdp": "x"}, "to must be a string"),
        ({"type": "offer", "to": "2", "sdp": "x" * 40_000}, "sdp is longer than 32768 characters"),
        ({"type": "candidate", "to": "2", "candidate": "x"}, "candidate must be an object or null"),
        (
            {
                "type": "candidate",
                "to": "2",
                "candidate": {"candidate": "c", "sdpMLineIndex": True},
            },
            "candidate.sdpMLineIndex must be a small integer or null",
        ),
        ({"type": "chat", "text": "   "}, "chat text is empty"),
        ({"type": "state", "audio": "off"}, "state.audio must be true or false"),
    ],
)
def test_malformed_messages_close_with_a_reason(message: Any, reason: str) -> None:
    h = Harness()
    h.join(1)
    h.join(2)
    h.send(1, message)
    assert h.closed[1] == (sig.CLOSE_BAD_MESSAGE, reason)
    assert h.last(2) == {"type": "peer-left", "peer": "1"}


def test_size_and_rate_limits_close_the_connection() -> None:
    h = Harness(Hub(max_message_bytes=1000, burst=5, per_second=1))
    h.join(1)
    h.send(1, {"type": "chat", "text": "x" * 2000})
    assert h.closed[1][0] == sig.CLOSE_TOO_BIG
    h.join(2)
    for _ in range(5):
        h.send(2, {"type": "ping"})
    assert h.types(2)[-1] == "pong" and 2 not in h.closed
    h.send(2, {"type": "ping"})
    assert h.closed[2] == (sig.CLOSE_TOO_MANY, "too many messages")
    h.join(3)
    h.now += 2  # the bucket refills with time
    for _ in range(2):
        h.send(3, {"type": "ping"})
    assert 3 not in h.closed


def test_messages_before_joining_and_joining_twice_are_refused() -> None:
    h = Harness()
    h.send(9, {"type": "ping"})
    assert h.closed[9] == (sig.CLOSE_BAD_MESSAGE, "join first")
    h.join(1)
    h.join(1)
    assert h.closed[1] == (sig.CLOSE_BAD_MESSAGE, "this connection has already joined")


def test_a_seat_must_make_sense() -> None:
    with pytest.raises(ValueError):
        Seat(room="r", identity="i", name="n", role="king")
    with pytest.raises(ValueError):
        Seat(room="r", identity="i", name="n", role="citizen", kind="party")
    with pytest.raises(ValueError):
        Seat(room="", identity="i", name="n", role="citizen")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
messages = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                [
                    "offer",
                    "answer",
                    "candidate",
                    "chat",
                    "state",
                    "admit",
                    "mute",
                    "remove",
                    "leave",
                    "ping",
                    "x",
                ]
            )
        },
        optional={
            "to": json_values,
            "peer": json_values,
            "sdp": json_values,
            "text": json_values,
            "candidate": json_values,
            "audio": json_values,
        },
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), messages), max_size=25))
def test_no_message_sequence_escapes_the_hub(script: list[tuple[int, Any]]) -> None:
    h = Harness()
    h.join(1, kind=sig.MEETING, role="moderator", identity="m", lobby=True)
    h.join(2, kind=sig.MEETING, role="official", identity="o2", lobby=True)
    h.join(3, kind=sig.MEETING, role="official", identity="o3", lobby=True)
    for conn, message in script:
        if conn in h.closed:
            continue
        h.send(conn, message)
    assert h.hub.connections() == 3 - len(h.closed)


def test_recording_starts_only_when_both_agree_and_stops_on_a_no_or_a_leave() -> None:
    h = Harness()
    h.join(1, identity="citizen:7", role="citizen")
    h.join(2, identity="official:3", role="official")
    h.send(2, {"type": "record", "consent": True})
    asked = h.last(1)
    assert asked == {"type": "recording", "on": False, "consented": ["2"], "by": "2"}
    assert not [e for e in h.events if e.event == "recording"]

    h.send(1, {"type": "record", "consent": True})
    assert h.last(1)["on"] is True and h.last(2)["on"] is True
    started = [e for e in h.events if e.event == "recording"]
    assert sorted(e.identity for e in started) == ["citizen:7", "official:3"]

    # Either side's no stops it, and the question starts afresh.
    h.send(1, {"type": "record", "consent": False})
    assert h.last(2) == {"type": "recording", "on": False, "consented": [], "by": "1"}
    assert [e.event for e in h.events][-1] == "recording-stopped"

    h.send(1, {"type": "record", "consent": True})
    h.send(2, {"type": "record", "consent": True})
    assert h.last(1)["on"] is True
    h.send(2, {"type": "leave"})
    assert h.inbox[1][-2:] == [
        {"type": "recording", "on": False, "consented": [], "by": "2"},
        {"type": "peer-left", "peer": "2"},
    ]
    assert "recording-stopped" in [e.event for e in h.events[-2:]]


def test_recording_is_for_calls_and_takes_a_yes_or_no() -> None:
    h = Harness()
    h.join(1, room="m1", identity="official:1", role="moderator", kind=sig.MEETING)
    h.send(1, {"type": "record", "consent": True})
    assert h.last(1)["code"] == "not_allowed"
    h.join(2, identity="citizen:7")
    h.send(2, {"type": "record", "consent": "yes"})
    assert h.closed[2][0] == sig.CLOSE_BAD_MESSAGE
