"""Three officials meet through a real Janus SFU (in a network namespace, see
``tests/janus_netns.py``): Seva admits them, Janus carries the media, and the host's mute and
remove are enforced by Janus, not only asked of the pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from seva.demo.seed import SeedReport
from seva.rtc.janus import room_number
from seva.settings import Settings
from tests.conftest import free_port
from tests.e2e.test_calls_browser import official_page
from tests.janus_netns import JanusServer, janus_server  # noqa: F401 - the fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

FRAMES_FROM_TWO = (
    "async () => { let n = 0; for (const p of window.sevaCall.peers.values()) {"
    " if (!p.pc) continue; const s = await p.pc.getStats(); s.forEach(r => {"
    " if (r.type === 'inbound-rtp' && r.kind === 'video' && r.framesDecoded > 0) n++; }); }"
    " return n === 2; }"
)


@pytest.fixture
def settings(tmp_path: Path, janus_server: JanusServer) -> Settings:  # noqa: F811
    return Settings(
        env="test",
        data_dir=tmp_path,
        secret_key="test-secret-key-16+",
        base_url=f"http://127.0.0.1:{free_port()}",
        janus_admin_url=janus_server.admin_url,
        janus_ws_url=janus_server.ws_url,
        janus_admin_secret=janus_server.admin_secret,
        janus_admin_key=janus_server.admin_key,
    )


def janus_feeds(server: JanusServer, room: str) -> list[str]:
    """Who Janus itself has in the room, by their display (Seva's peer id)."""
    request = {"request": "listparticipants", "room": room_number(room, "test-secret-key-16+")}
    reply = httpx.post(
        server.admin_url,
        json={
            "janus": "message_plugin",
            "transaction": "list",
            "admin_secret": server.admin_secret,
            "plugin": "janus.plugin.videoroom",
            "request": request,
        },
        timeout=5,
    ).json()
    return sorted(str(p.get("display")) for p in reply["response"]["participants"])


def test_three_officials_meet_through_janus_and_the_host_mutes_and_removes(
    browser: Any,
    live: str,
    seeded: SeedReport,
    janus_server: JanusServer,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    people = [
        official_page(browser, live, name)
        for name in ("food.admin", "transport.officer", "mcd.officer")
    ]
    try:
        (_, host), (_, second), (_, third) = people
        expect(host.locator("main")).to_contain_text("through the meeting server (Janus)")
        host.locator("#title").fill("District review")
        # The guests are of other departments: the link lets them in once they are invited.
        host.locator("#invitees").fill("transport.officer, mcd.officer")
        host.locator("#create-meeting").click()
        host.wait_for_url("**/meet/m**")
        room = host.url.rsplit("/", 1)[1]
        link = host.locator("#invite").inner_text()
        for guest in (second, third):
            guest.goto(link)
            expect(guest.locator("#call-status")).to_contain_text("Waiting for the host")
        # Waiting in the lobby gives no way into Janus: nothing of the room is handed out.
        assert second.evaluate("window.sevaCall.sfu") is None
        expect(host.locator("#lobby-list button")).to_have_count(2)
        host.locator("#lobby-list button").first.click()
        expect(host.locator("#lobby-list button")).to_have_count(1)
        host.locator("#lobby-list button").first.click()

        ids = {}
        for page in (host, second, third):
            page.wait_for_function("() => window.sevaCall.peers.size === 2", timeout=20_000)
            page.wait_for_function(FRAMES_FROM_TWO, timeout=20_000)
            assert page.evaluate("window.sevaCall.mode") == "sfu"
            # Media comes from Janus's address, not from the other browsers.
            assert page.evaluate("window.sevaCall.remoteAddresses()") == [janus_server.ip]
            ids[page] = page.evaluate("window.sevaCall.me")
        assert janus_feeds(janus_server, room) == sorted(ids.values())

        # Mute: Janus stops forwarding the second official's audio to the others.
        host.locator(f"figure.tile[data-peer='{ids[second]}'] button[data-action=mute]").click()
        expect(second.locator("#call-status")).to_contain_text("muted you")
        third.wait_for_timeout(1500)  # packets already in flight arrive
        before = third.evaluate("window.sevaCall.inboundAudioPackets()")[ids[second]]
        third.wait_for_timeout(1500)
        after = third.evaluate("window.sevaCall.inboundAudioPackets()")
        assert after[ids[second]] == before, "Janus still forwards muted audio"
        assert after[ids[host]] > 0

        # Remove: the page is closed by Seva and its feed is gone from Janus.
        host.locator(f"figure.tile[data-peer='{ids[third]}'] button[data-action=remove]").click()
        third.wait_for_function("() => window.sevaCall.closed !== null")
        assert third.evaluate("window.sevaCall.closed.code") == 4003
        second.wait_for_function("() => window.sevaCall.peers.size === 1")
        assert janus_feeds(janus_server, room) == sorted([ids[host], ids[second]])
    finally:
        for context, _ in people:
            context.close()
