"""ICE servers for the browser, with time-limited TURN credentials.

Follows the TURN REST API scheme (draft-uberti-behave-turn-rest-00) that coturn implements
with ``use-auth-secret``/``static-auth-secret``: the username is ``<expiry>:<user>`` and the
password is base64(HMAC-SHA1(shared secret, username)); coturn recomputes it and refuses the
credential after the expiry, so nothing per user is stored on either side.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any


def turn_credential(secret: str, user: str, *, now: float, ttl: int) -> tuple[str, str]:
    username = f"{int(now) + ttl}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(
    *,
    stun: Sequence[str],
    turn: Sequence[str],
    secret: str | None,
    user: str,
    now: float,
    ttl: int = 3600,
) -> list[dict[str, Any]]:
    """``RTCConfiguration.iceServers`` for one user; TURN only when a secret is configured."""
    servers: list[dict[str, Any]] = []
    if stun:
        servers.append({"urls": list(stun)})
    if turn and secret:
        username, credential = turn_credential(secret, user, now=now, ttl=ttl)
        servers.append({"urls": list(turn), "username": username, "credential": credential})
    return servers


def split_urls(value: str) -> list[str]:
    return [u for u in value.replace(",", " ").split() if u]
