"""Join tokens and TURN credentials: bound to a seat, expiring, unforgeable."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from seva.rtc.signalling import MEETING, Seat
from seva.rtc.tokens import JoinTokens, TokenRefused
from seva.rtc.turn import ice_servers, split_urls, turn_credential

SEAT = Seat(room="call-42", identity="citizen:7", name="Asha", role="citizen")


def test_a_token_grants_exactly_its_seat_until_it_expires() -> None:
    tokens = JoinTokens("secret")
    token = tokens.issue(SEAT, now=1000, ttl=60)
    assert tokens.check(token, now=1059, room="call-42") == SEAT
    with pytest.raises(TokenRefused, match="expired"):
        tokens.check(token, now=1061)
    with pytest.raises(TokenRefused, match="another room"):
        tokens.check(token, now=1000, room="call-43")
    meeting = Seat(room="m", identity="o", name="DC", role="moderator", kind=MEETING, lobby=True)
    assert tokens.check(tokens.issue(meeting, now=0), now=1) == meeting


@pytest.mark.parametrize(
    "forged",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: JoinTokens("other secret").issue(SEAT, now=1000),
        lambda t: "x" * 5000,
        lambda t: "",
        lambda t: "not.a.token",
    ],
)
def test_an_altered_or_foreign_token_is_refused(forged) -> None:  # type: ignore[no-untyped-def]
    tokens = JoinTokens("secret")
    with pytest.raises(TokenRefused):
        tokens.check(forged(tokens.issue(SEAT, now=1000)), now=1000)


def test_turn_credentials_follow_the_turn_rest_scheme_coturn_checks() -> None:
    username, password = turn_credential("s3cret", "citizen:7", now=1_700_000_000, ttl=600)
    assert username == "1700000600:citizen:7"
    expected = hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()
    assert base64.b64decode(password) == expected
    servers = ice_servers(
        stun=["stun:stun.example.org"],
        turn=split_urls("turn:t.example.org:3478?transport=udp, turns:t.example.org:5349"),
        secret="s3cret",
        user="citizen:7",
        now=1_700_000_000,
        ttl=600,
    )
    assert servers == [
        {"urls": ["stun:stun.example.org"]},
        {
            "urls": ["turn:t.example.org:3478?transport=udp", "turns:t.example.org:5349"],
            "username": username,
            "credential": password,
        },
    ]
    # Without a shared secret no TURN server is offered (it would refuse every allocation).
    assert ice_servers(stun=[], turn=["turn:x"], secret=None, user="u", now=0) == []
