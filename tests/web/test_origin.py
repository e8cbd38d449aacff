"""Links Seva hands out point at ``SEVA_BASE_URL``, whatever Host header a request carries:
a forged one (or one a cache keeps) must not send a citizen to someone else's server."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from seva.citizens import service as citizens
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.locker import service as locker
from seva.settings import Settings
from tests.console.pages import login
from tests.web.pages import csrf_of
from tests.web.test_citizen import log_in

EVIL = {"Host": "evil.example"}
PHONE = "+919811000302"


def test_a_locker_share_link_is_on_the_configured_address(
    client: TestClient, gateway: Gateway, settings: Settings, seeded: SeedReport
) -> None:
    response = client.post(
        "/api/v1/documents",
        headers={"Authorization": f"Bearer {seeded.api_keys['FOOD']}"} | EVIL,
        json={"to": PHONE, "doctype": "RATCR", "title": "Ration card", "fields": {"No": "1"}},
    )
    assert response.status_code == 201, response.text
    assert response.json()["verify_url"].startswith(f"{settings.base_url}/verify/")
    log_in(client, gateway, PHONE)
    with gateway.session() as session:
        citizen = citizens.find(session, PHONE)
        assert citizen is not None
        document = locker.documents(session, citizen)[0]
    shared = client.post(
        f"/me/locker/{document.id}/share",
        data={"csrf": csrf_of(client, "/me/locker"), "shared_with": "Bank", "hours": "1"},
        headers=EVIL,
        follow_redirects=False,
    )
    assert shared.status_code == 303
    assert shared.headers["location"] == "/me/locker"
    page = client.get("/me/locker", headers=EVIL).text
    link = page.split("data-shared-link>")[1].split("<")[0]
    assert link.startswith(f"{settings.base_url}/shared/"), link
    assert "evil.example" not in page


def test_a_meeting_invitation_is_on_the_configured_address(
    client: TestClient, settings: Settings, seeded: SeedReport
) -> None:
    login(client, "food.admin")
    form = client.get("/console/meetings").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    created = client.post(
        "/console/meetings",
        data={"title": "Ward review", "csrf": token.group(1)},
        headers=EVIL,
        follow_redirects=False,
    )
    assert created.status_code == 303
    room = created.headers["location"]
    assert room.startswith("/meet/")
    page = client.get(room, headers=EVIL).text
    assert f'<code id="invite">{settings.base_url}{room}</code>' in page
    assert "evil.example" not in page


def test_the_frameworks_own_redirects_are_on_the_configured_address(
    client: TestClient, settings: Settings, seeded: SeedReport
) -> None:
    for path in ("/console/", "/status/"):
        response = client.get(path, headers=EVIL, follow_redirects=False)
        assert response.status_code == 307
        assert response.headers["location"] == settings.base_url + path.rstrip("/")
