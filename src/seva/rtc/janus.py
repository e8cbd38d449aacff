"""Meetings through the Janus SFU: Seva owns the rooms, the tokens and Janus's secrets.

Past four people a browser-to-browser mesh runs out of uplink (each page sends its video to
every other), so larger officials' meetings go through Janus's VideoRoom plugin: each page
sends one stream up and Janus forwards it to the others. Browsers talk to Janus's WebSocket
API themselves (it carries the SDP and ICE), but only with what Seva hands out once the
signalling hub admits them:

* a **core token** (Janus ``token_auth``; added with the admin API's ``add_token``, limited to
  the VideoRoom plugin) without which Janus refuses every request, and which Seva removes when
  the participant leaves or is removed, so the removed page's session cannot be kept alive;
* a **room token** on the room's ACL (VideoRoom ``allowed``), so a token for one meeting does
  not open another;
* the **publisher id** Seva chose, so a moderator's mute (VideoRoom ``moderate``) and remove
  (``kick``) reach the right feed.

The room's ``secret`` (derived from ``SEVA_SECRET_KEY``), the admin API's ``admin_secret`` and
the VideoRoom ``admin_key`` (needed to create rooms) never leave Seva; every administrative
request goes through the admin API's ``message_plugin``, one stateless HTTP POST each, so
Seva keeps no Janus session of its own. Janus's HTTP admin API and WebSocket API are
documented at https://janus.conf.meetecho.com/docs/ (``admin.html``, ``videoroom.html``).

``janus_config`` writes the configuration ``seva janus-config`` prints and the tests run
Janus with: VideoRoom only, token auth on, the admin API on a private address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

log = structlog.get_logger(__name__)

VIDEOROOM = "janus.plugin.videoroom"
DEBIAN_LIBDIR = "/usr/lib/x86_64-linux-gnu/janus"
_MAX_JS_INT = 2**53 - 1
"""Room and publisher ids stay below JavaScript's largest exact integer."""


class JanusError(Exception):
    """Janus refused a request or could not be reached."""


def room_number(room: str, secret_key: str) -> int:
    """The Janus room id for a Seva room name: the same on every Seva node, not guessable."""
    digest = hmac.new(secret_key.encode(), b"janus-room:" + room.encode(), hashlib.sha256)
    return int.from_bytes(digest.digest()[:6], "big") or 1


def room_secret(room: str, secret_key: str) -> str:
    return hmac.new(
        secret_key.encode(), b"janus-secret:" + room.encode(), hashlib.sha256
    ).hexdigest()


@dataclass(frozen=True, slots=True)
class Admission:
    """What one admitted participant's page needs to join the room in Janus."""

    room: int
    feed: int
    token: str

    def for_page(self, ws_url: str) -> dict[str, Any]:
        return {"url": ws_url, "room": self.room, "feed": self.feed, "token": self.token}


class JanusAdmin:
    """The admin API over HTTP: ``add_token``/``remove_token`` and ``message_plugin``."""

    def __init__(
        self,
        admin_url: str,
        admin_secret: str,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.admin_url = admin_url.rstrip("/")
        self._secret = admin_secret
        self._timeout = timeout
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    async def request(self, janus: str, **fields: Any) -> dict[str, Any]:
        body = {
            "janus": janus,
            "transaction": secrets.token_hex(6),
            "admin_secret": self._secret,
            **fields,
        }
        if self._http is None:  # made on first use, in the loop that uses it
            self._http = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
        try:
            response = await self._http.post(self.admin_url, json=body)
            reply = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise JanusError(f"Janus admin API unreachable: {exc}") from exc
        if not isinstance(reply, dict) or reply.get("janus") != "success":
            error = reply.get("error", {}) if isinstance(reply, dict) else {}
            raise JanusError(f"Janus refused {janus}: {error.get('reason', reply)}")
        return reply

    async def videoroom(self, request: dict[str, Any]) -> dict[str, Any]:
        reply = await self.request("message_plugin", plugin=VIDEOROOM, request=request)
        answer = reply.get("response")
        if not isinstance(answer, dict):
            raise JanusError("Janus gave no VideoRoom response")
        if answer.get("videoroom") == "event" and "error" in answer:
            raise JanusError(
                f"VideoRoom refused {request.get('request')}: "
                f"{answer.get('error_code')} {answer['error']}"
            )
        return answer

    async def aclose(self) -> None:
        """Close the connections; a later request opens new ones (in its own loop)."""
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()


class JanusSfu:
    """Seva's side of the meetings Janus carries: rooms made on first admission, removed when
    the last participant leaves; one token and one publisher id per admitted participant."""

    def __init__(
        self,
        admin: JanusAdmin,
        *,
        ws_url: str,
        secret_key: str,
        admin_key: str,
        publishers: int = 30,
    ) -> None:
        self.admin = admin
        self.ws_url = ws_url
        self._secret_key = secret_key
        self._admin_key = admin_key
        self.publishers = publishers
        self._rooms: set[str] = set()
        self._seats: dict[tuple[str, str], Admission] = {}

    def admission(self, room: str, identity: str) -> Admission | None:
        return self._seats.get((room, identity))

    async def admit(self, room: str, identity: str, name: str) -> Admission:
        number = room_number(room, self._secret_key)
        secret = room_secret(room, self._secret_key)
        if room not in self._rooms:
            await self._ensure_room(room, number, secret, name)
            self._rooms.add(room)
        old = self._seats.pop((room, identity), None)
        if old is not None:  # the same person from a new window: the old feed goes
            await self._forget(number, secret, old)
        admission = Admission(number, secrets.randbelow(_MAX_JS_INT - 1) + 1, secrets.token_hex(16))
        await self.admin.request("add_token", token=admission.token, plugins=[VIDEOROOM])
        await self.admin.videoroom(
            {
                "request": "allowed",
                "room": number,
                "secret": secret,
                "action": "add",
                "allowed": [admission.token],
            }
        )
        self._seats[(room, identity)] = admission
        return admission

    async def release(self, room: str, identity: str, *, room_empty: bool) -> None:
        """The participant left or was removed: their feed, room token and core token go."""
        number = room_number(room, self._secret_key)
        secret = room_secret(room, self._secret_key)
        admission = self._seats.pop((room, identity), None)
        if admission is not None:
            await self._forget(number, secret, admission)
        if room_empty and room in self._rooms:
            self._rooms.discard(room)
            try:
                await self.admin.videoroom(
                    {"request": "destroy", "room": number, "secret": secret, "permanent": False}
                )
            except JanusError as exc:
                log.warning("janus.destroy_failed", room=room, error=str(exc))

    async def mute(self, room: str, identity: str) -> bool:
        """Stop forwarding the participant's audio (mid 0: the page publishes audio first)."""
        admission = self._seats.get((room, identity))
        if admission is None:
            return False
        await self.admin.videoroom(
            {
                "request": "moderate",
                "room": admission.room,
                "secret": room_secret(room, self._secret_key),
                "id": admission.feed,
                "mid": "0",
                "mute": True,
            }
        )
        return True

    async def participants(self, room: str) -> list[dict[str, Any]]:
        answer = await self.admin.videoroom(
            {"request": "listparticipants", "room": room_number(room, self._secret_key)}
        )
        found = answer.get("participants", [])
        return found if isinstance(found, list) else []

    async def _ensure_room(self, room: str, number: int, secret: str, host: str) -> None:
        exists = await self.admin.videoroom({"request": "exists", "room": number})
        if exists.get("exists"):
            return
        await self.admin.videoroom(
            {
                "request": "create",
                "admin_key": self._admin_key,
                "room": number,
                "description": f"Seva meeting {room[:24]}",
                "secret": secret,
                "is_private": True,
                "publishers": self.publishers,
                "permanent": False,
                "audiolevel_event": False,
                "notify_joining": True,
                "allowed": [],
            }
        )

    async def _forget(self, number: int, secret: str, admission: Admission) -> None:
        steps: list[tuple[str, dict[str, Any]]] = [
            ("kick", {"request": "kick", "room": number, "secret": secret, "id": admission.feed}),
            (
                "allowed",
                {
                    "request": "allowed",
                    "room": number,
                    "secret": secret,
                    "action": "remove",
                    "allowed": [admission.token],
                },
            ),
        ]
        for name, request in steps:
            try:
                await self.admin.videoroom(request)
            except JanusError as exc:  # not published yet, or the room is already gone
                log.info("janus.release_step_skipped", step=name, error=str(exc))
        try:
            await self.admin.request("remove_token", token=admission.token)
        except JanusError as exc:
            log.warning("janus.remove_token_failed", error=str(exc))

    async def aclose(self) -> None:
        await self.admin.aclose()


KEPT_PLUGINS = ("libjanus_videoroom.so",)
KEPT_TRANSPORTS = ("libjanus_http.so", "libjanus_websockets.so")


def other_libraries(libdir: str = DEBIAN_LIBDIR) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The installed plugins and transports Seva does not use, to be disabled."""
    from pathlib import Path

    def others(kind: str, kept: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(p.name for p in Path(libdir, kind).glob("*.so") if p.name not in kept))

    return others("plugins", KEPT_PLUGINS), others("transports", KEPT_TRANSPORTS)


def janus_config(
    *,
    configs_folder: str,
    admin_secret: str,
    admin_key: str,
    ip: str,
    ws_port: int = 8188,
    admin_port: int = 7088,
    rtp_ports: str = "20000-40000",
    nat_1_1: str | None = None,
    libdir: str = DEBIAN_LIBDIR,
    other_plugins: tuple[str, ...] = (),
    other_transports: tuple[str, ...] = (),
) -> dict[str, str]:
    """Janus's configuration files (name → text) for Seva's meetings.

    ``ip`` is where the WebSocket API (for browsers) and the admin API (for Seva only) listen;
    in production put the admin API behind a firewall or on a private address. ``other_*``
    are the library files to disable (everything but VideoRoom and the WebSocket and HTTP
    transports); ``seva janus-config`` lists them from ``libdir``.
    """
    nat = f'\tnat_1_1_mapping = "{nat_1_1}"\n' if nat_1_1 else ""
    disabled_plugins = ",".join(other_plugins)
    disabled_transports = ",".join(other_transports)
    return {
        "janus.jcfg": (
            "general: {\n"
            f'\tconfigs_folder = "{configs_folder}"\n'
            f'\tplugins_folder = "{libdir}/plugins"\n'
            f'\ttransports_folder = "{libdir}/transports"\n'
            f'\tevents_folder = "{libdir}/events"\n'
            f'\tloggers_folder = "{libdir}/loggers"\n'
            "\tdebug_level = 4\n"
            '\tserver_name = "seva-janus"\n'
            "\tsession_timeout = 30\n"
            "\ttoken_auth = true\n"
            f'\tadmin_secret = "{admin_secret}"\n'
            "}\n"
            f'media: {{\n\trtp_port_range = "{rtp_ports}"\n}}\n'
            f'nat: {{\n{nat}\tice_ignore_list = "vmnet"\n}}\n'
            f'plugins: {{\n\tdisable = "{disabled_plugins}"\n}}\n'
            f'transports: {{\n\tdisable = "{disabled_transports}"\n}}\n'
            "events: {\n\tbroadcast = false\n}\n"
            'loggers: {\n\tdisable = "libjanus_jsonlog.so"\n}\n'
        ),
        "janus.transport.websockets.jcfg": (
            "general: {\n"
            '\tjson = "compact"\n'
            "\tws = true\n"
            f"\tws_port = {ws_port}\n"
            f'\tws_ip = "{ip}"\n'
            "\twss = false\n"
            "}\n"
            "admin: {\n\tadmin_ws = false\n\tadmin_wss = false\n}\n"
        ),
        "janus.transport.http.jcfg": (
            "general: {\n"
            '\tjson = "compact"\n'
            '\tbase_path = "/janus"\n'
            "\thttp = false\n"
            "\thttps = false\n"
            "}\n"
            "admin: {\n"
            '\tadmin_base_path = "/admin"\n'
            "\tadmin_http = true\n"
            f"\tadmin_port = {admin_port}\n"
            f'\tadmin_ip = "{ip}"\n'
            "\tadmin_https = false\n"
            "}\n"
        ),
        "janus.plugin.videoroom.jcfg": (
            f'general: {{\n\tadmin_key = "{admin_key}"\n\tlock_rtp_forward = true\n}}\n'
        ),
    }
