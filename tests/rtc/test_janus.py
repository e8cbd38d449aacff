"""Seva's control of a real Janus: rooms, tokens, ACLs, mute and kick, as a page would meet them.

The page side is Janus's WebSocket API spoken here directly (``janus-protocol``), the same
requests ``static/rtc/sfu.js`` makes, without media.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from seva.rtc.janus import JanusAdmin, JanusError, JanusSfu, janus_config, room_number
from tests.janus_netns import JanusServer, janus_server  # noqa: F401 - the fixture

_tx = itertools.count(1)


class Page:
    """One browser's Janus session: create, attach VideoRoom, send requests, read events."""

    def __init__(self, server: JanusServer, token: str | None) -> None:
        self._stack = ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(server.ws_url, subprotocols=["janus-protocol"], open_timeout=5)  # type: ignore[list-item]
        )
        self.token = token
        self.session: int | None = None
        self.handle: int | None = None

    def call(self, janus: str, **fields: Any) -> dict[str, Any]:
        tx = f"t{next(_tx)}"
        body: dict[str, Any] = {"janus": janus, "transaction": tx, **fields}
        if self.token is not None:
            body["token"] = self.token
        if self.session is not None:
            body.setdefault("session_id", self.session)
        self.ws.send(json.dumps(body))
        while True:
            reply = json.loads(self.ws.recv(timeout=5))
            if reply.get("transaction") != tx or reply.get("janus") == "ack":
                continue
            return reply  # type: ignore[no-any-return]

    def open(self) -> None:
        created = self.call("create")
        assert created["janus"] == "success", created
        self.session = created["data"]["id"]
        attached = self.call("attach", plugin="janus.plugin.videoroom")
        assert attached["janus"] == "success", attached
        self.handle = attached["data"]["id"]

    def videoroom(self, body: dict[str, Any]) -> dict[str, Any]:
        reply = self.call("message", handle_id=self.handle, body=body)
        return reply.get("plugindata", {}).get("data", {})  # type: ignore[no-any-return]

    def close(self) -> None:
        self._stack.close()


def make_sfu(server: JanusServer) -> JanusSfu:
    return JanusSfu(
        JanusAdmin(server.admin_url, server.admin_secret),
        ws_url=server.ws_url,
        secret_key="test-secret",
        admin_key=server.admin_key,
    )


def test_a_page_without_a_seva_token_is_refused(janus_server: JanusServer) -> None:  # noqa: F811
    for token in (None, "made-up-token"):
        page = Page(janus_server, token)
        try:
            refused = page.call("create")
            assert refused["janus"] == "error"
            assert refused["error"]["code"] == 403  # JANUS_ERROR_UNAUTHORIZED
        finally:
            page.close()


def test_admitted_page_joins_only_its_room_and_leaves_when_released(
    janus_server: JanusServer,  # noqa: F811
) -> None:
    async def scenario() -> None:
        sfu = make_sfu(janus_server)
        one = await sfu.admit("room-one", "official:1", "Asha")
        two = await sfu.admit("room-two", "official:2", "Bala")
        assert one.room == room_number("room-one", "test-secret") != two.room
        page = Page(janus_server, one.token)
        try:
            page.open()
            # Another meeting's room refuses this token (the room ACL); creating a room
            # needs the admin key Seva keeps.
            other = page.videoroom(
                {"request": "join", "ptype": "publisher", "room": two.room, "token": one.token}
            )
            assert other.get("error_code") == 433, other  # JANUS_VIDEOROOM_ERROR_UNAUTHORIZED
            made = page.videoroom({"request": "create", "room": 424242})
            assert "error" in made, made
            joined = page.videoroom(
                {
                    "request": "join",
                    "ptype": "publisher",
                    "room": one.room,
                    "id": one.feed,
                    "display": "Asha",
                    "token": one.token,
                }
            )
            assert joined.get("videoroom") == "joined", joined
            assert joined["id"] == one.feed
            assert [p["id"] for p in await sfu.participants("room-one")] == [one.feed]

            # Removed: the feed is kicked and the session cannot even keep itself alive.
            await sfu.release("room-one", "official:1", room_empty=True)
            assert page.call("keepalive")["janus"] == "error"
            again = Page(janus_server, one.token)
            try:
                assert again.call("create")["janus"] == "error"
            finally:
                again.close()
            gone = await sfu.admin.videoroom({"request": "exists", "room": one.room})
            assert gone["exists"] is False
        finally:
            page.close()
            await sfu.release("room-two", "official:2", room_empty=True)
            await sfu.aclose()

    asyncio.run(scenario())


def test_mute_needs_a_published_feed(janus_server: JanusServer) -> None:  # noqa: F811
    async def scenario() -> None:
        sfu = make_sfu(janus_server)
        try:
            await sfu.admit("room-three", "official:3", "Chitra")
            # Not published yet: Janus has no such feed to moderate and says so.
            with pytest.raises(JanusError):
                await sfu.mute("room-three", "official:3")
            assert await sfu.mute("room-three", "nobody") is False
        finally:
            await sfu.release("room-three", "official:3", room_empty=True)
            await sfu.aclose()

    asyncio.run(scenario())


def test_admin_api_refuses_a_wrong_secret(janus_server: JanusServer) -> None:  # noqa: F811
    async def scenario() -> None:
        admin = JanusAdmin(janus_server.admin_url, "not-the-secret")
        try:
            with pytest.raises(JanusError, match="refused"):
                await admin.request("list_tokens")
        finally:
            await admin.aclose()

    asyncio.run(scenario())


def test_config_names_only_what_seva_uses() -> None:
    files = janus_config(
        configs_folder="/etc/seva-janus",
        admin_secret="s3cret",
        admin_key="k3y",
        ip="10.0.0.5",
        other_plugins=("libjanus_echotest.so", "libjanus_sip.so"),
        other_transports=("libjanus_mqtt.so",),
    )
    assert set(files) == {
        "janus.jcfg",
        "janus.transport.websockets.jcfg",
        "janus.transport.http.jcfg",
        "janus.plugin.videoroom.jcfg",
    }
    core = files["janus.jcfg"]
    assert "token_auth = true" in core
    assert 'admin_secret = "s3cret"' in core
    assert 'disable = "libjanus_echotest.so,libjanus_sip.so"' in core
    assert 'admin_ip = "10.0.0.5"' in files["janus.transport.http.jcfg"]
    assert "http = false" in files["janus.transport.http.jcfg"]  # no plain HTTP API
    assert 'admin_key = "k3y"' in files["janus.plugin.videoroom.jcfg"]


def test_janus_config_command_writes_private_files_and_the_settings_to_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from seva.cli import app
    from seva.settings import get_settings

    monkeypatch.setenv("SEVA_JANUS_ADMIN_SECRET", "kept-by-seva")
    monkeypatch.setenv("SEVA_SECRET_KEY", "test-secret-key-16+")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app, ["janus-config", "--out", str(tmp_path / "janus"), "--ip", "10.0.0.5"]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "SEVA_JANUS_ADMIN_URL=http://10.0.0.5:7088/admin" in result.stdout
    assert "SEVA_JANUS_WS_URL=ws://10.0.0.5:8188/" in result.stdout
    assert "SEVA_JANUS_ADMIN_SECRET" not in result.stdout  # already set: not repeated
    core = tmp_path / "janus" / "janus.jcfg"
    assert 'admin_secret = "kept-by-seva"' in core.read_text()
    assert core.stat().st_mode & 0o077 == 0  # secrets: owner only
