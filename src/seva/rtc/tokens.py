"""Short-lived join tokens: a signed promise of one seat (room, identity, role) until a time.

A page gets a token from the endpoint that decided the person may join (the citizen's own
booking or queue turn, an official of that department, a meeting's invitee) and presents it
when the WebSocket opens; the signalling hub never looks anything up. Signed with
itsdangerous (HMAC-SHA256 under ``SEVA_SECRET_KEY`` with its own salt), so a token cannot be
altered or reused for another room, and expiring, so a leaked link stops working.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from seva.rtc.signalling import Seat

SALT = "seva-rtc-join"
DEFAULT_TTL = 2 * 3600


class TokenRefused(Exception):
    pass


class JoinTokens:
    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SALT)

    def issue(self, seat: Seat, *, now: float, ttl: float = DEFAULT_TTL) -> str:
        claims: dict[str, Any] = {
            "r": seat.room,
            "i": seat.identity,
            "n": seat.name,
            "o": seat.role,
            "k": seat.kind,
            "l": seat.lobby,
            "e": int(now + ttl),
        }
        return str(self._serializer.dumps(claims))

    def check(self, token: str, *, now: float, room: str | None = None) -> Seat:
        """The seat a token grants, or TokenRefused saying why not."""
        if len(token) > 2048:
            raise TokenRefused("the join token is malformed")
        try:
            claims = self._serializer.loads(token)
        except BadSignature:
            raise TokenRefused("the join token is not valid") from None
        if not isinstance(claims, dict):
            raise TokenRefused("the join token is not valid")
        if not isinstance(claims.get("e"), int) or claims["e"] < now:
            raise TokenRefused("the join token has expired; open the call link again")
        if room is not None and claims.get("r") != room:
            raise TokenRefused("the join token is for another room")
        try:
            return Seat(
                room=str(claims["r"]),
                identity=str(claims["i"]),
                name=str(claims["n"]),
                role=str(claims["o"]),
                kind=str(claims["k"]),
                lobby=bool(claims["l"]),
            )
        except (KeyError, ValueError):
            raise TokenRefused("the join token is not valid") from None
