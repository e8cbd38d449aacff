"""Officials' meetings are internal to a department: who the meeting page gives a seat and a
join token to, whom its host may invite, and what the signalling socket lets in."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.rtc.models import Meeting, MeetingInvite
from seva.rtc.signalling import MEETING, Seat
from seva.tenancy import service as tenancy
from seva.tenancy.models import Role
from tests.console.pages import csrf_of, login

CONFIG_RE = re.compile(r"data-config='([^']+)'")


def official(client: TestClient, username: str) -> TestClient:
    """A browser of its own, logged in as ``username``."""
    browser = TestClient(client.app)
    login(browser, username)
    return browser


def add_food_officer(gateway: Gateway) -> None:
    """A second official of the Food department, beside its admin."""
    with gateway.session() as session:
        food = tenancy.department_by_code(session, "FOOD")
        admin = tenancy.official_by_username(session, "food.admin")
        assert food is not None and admin is not None
        tenancy.create_official(
            session,
            username="food.officer",
            name="Supply Inspector",
            role=Role.OFFICER,
            password="unused-here",
            password_hash=admin.password_hash,  # the demo password
            department=food,
        )


def create_meeting(host: TestClient, title: str = "Ration review", invitees: str = "") -> str:
    page = host.get("/console/meetings")
    created = host.post(
        "/console/meetings",
        data={"csrf": csrf_of(page.text), "title": title, "lobby": "1", "invitees": invitees},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    location: str = created.headers["location"]
    return location.rsplit("/", 1)[1]


def page_config(page_html: str) -> dict[str, Any]:
    """The call page's configuration for its script: seat, role and join token."""
    found = CONFIG_RE.search(page_html)
    assert found, "the meeting page carries no join configuration"
    config: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return config


def join_token(page_html: str) -> str:
    return str(page_config(page_html)["token"])


def test_a_meeting_link_opens_only_for_its_department_and_the_gateway_admin(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    add_food_officer(gateway)
    host = official(client, "food.admin")
    room = create_meeting(host)

    for username in ("food.officer", "admin"):
        page = official(client, username).get(f"/meet/{room}")
        assert page.status_code == 200, username
        assert join_token(page.text)
    for username in ("csc.laxminagar", "mcd.officer", "transport.officer"):
        page = official(client, username).get(f"/meet/{room}")
        # Answered like a link nobody made: no title, no token, no sign the meeting exists.
        assert page.status_code == 404, username
        assert "data-config" not in page.text and "Ration review" not in page.text
        assert "Ration review" not in official(client, username).get("/console/meetings").text

    # Colleagues find their department's meetings in their list.
    assert "Ration review" in official(client, "food.officer").get("/console/meetings").text


def test_the_host_invites_officials_of_other_departments(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    host = official(client, "food.admin")
    room = create_meeting(host)
    mcd = official(client, "mcd.officer")
    assert mcd.get(f"/meet/{room}").status_code == 404

    page = host.get("/console/meetings")
    invited = host.post(
        f"/console/meetings/{room}/invite",
        data={"csrf": csrf_of(page.text), "usernames": "mcd.officer"},
        follow_redirects=False,
    )
    assert invited.status_code == 303
    assert "Invited: mcd.officer" in host.get("/console/meetings").text

    seat = mcd.get(f"/meet/{room}")
    assert seat.status_code == 200
    assert page_config(seat.text)["role"] == "official"  # a guest, not the host
    assert "Ration review" in mcd.get("/console/meetings").text
    # The invitation is for this official only.
    assert official(client, "csc.laxminagar").get(f"/meet/{room}").status_code == 404


def test_only_the_host_invites_and_an_unknown_name_is_not_told_apart(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    add_food_officer(gateway)
    host = official(client, "food.admin")
    room = create_meeting(host)

    def invite(browser: TestClient, usernames: str) -> int:
        page = browser.get("/console/meetings")
        return browser.post(
            f"/console/meetings/{room}/invite",
            data={"csrf": csrf_of(page.text), "usernames": usernames},
            follow_redirects=False,
        ).status_code

    assert invite(official(client, "food.officer"), "csc.laxminagar") == 403  # a colleague
    assert invite(official(client, "mcd.officer"), "mcd.officer") == 404  # an outsider
    with gateway.session() as session:
        assert session.scalars(select(MeetingInvite)).all() == []
    # A name nobody has is answered like one that exists: the answer names no one.
    assert invite(host, "nobody.here") == invite(host, "transport.officer") == 303
    with gateway.session() as session:
        assert len(session.scalars(select(MeetingInvite)).all()) == 1

    # Invited as the meeting is made; a wrong name there is passed over the same way.
    page = host.get("/console/meetings")
    made = host.post(
        "/console/meetings",
        data={"csrf": csrf_of(page.text), "title": "Second", "invitees": "nobody.here"},
        follow_redirects=False,
    )
    assert made.status_code == 303 and "nobody.here" not in made.text
    second = create_meeting(host, "Joint drive", invitees="mcd.officer transport.officer")
    for username in ("mcd.officer", "transport.officer"):
        assert official(client, username).get(f"/meet/{second}").status_code == 200


def test_the_signalling_socket_admits_a_meeting_token_only_while_its_official_may_attend(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    host = official(client, "food.admin")
    room = create_meeting(host, invitees="mcd.officer")
    guest_token = join_token(official(client, "mcd.officer").get(f"/meet/{room}").text)
    with client.websocket_connect(f"/rtc/ws?token={guest_token}") as socket:
        assert socket.receive_json()["type"] == "lobby"  # waits for the host to admit

    # A validly signed seat for an official the meeting does not admit (a CSC operator's
    # token from before this rule, say) is refused when the socket opens.
    with gateway.session() as session:
        csc = tenancy.official_by_username(session, "csc.laxminagar")
        assert csc is not None
        outsider = Seat(
            room=room,
            identity=f"official:{csc.id}",
            name=csc.name,
            role="official",
            kind=MEETING,
            lobby=True,
        )
    forged = gateway.rtc_tokens.issue(outsider, now=datetime.now(UTC).timestamp())
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect(f"/rtc/ws?token={forged}") as socket:
            socket.receive_json()
    assert refused.value.code == 4403

    # Once the meeting has ended its earlier tokens open nothing.
    with gateway.session() as session:
        meeting = session.scalar(select(Meeting).where(Meeting.room == room))
        assert meeting is not None
        meeting.ended_at = datetime.now(UTC)
    with pytest.raises(WebSocketDisconnect) as ended:
        with client.websocket_connect(f"/rtc/ws?token={guest_token}") as socket:
            socket.receive_json()
    assert ended.value.code == 4403
    assert official(client, "mcd.officer").get(f"/meet/{room}").status_code == 404


def test_a_csc_operator_of_the_meetings_department_needs_an_invitation(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    """Meetings are for the department's officials; a CSC operator serves citizens at a
    counter and joins only when invited, even in the same department."""
    with gateway.session() as session:
        food = tenancy.department_by_code(session, "FOOD")
        admin = tenancy.official_by_username(session, "food.admin")
        assert food is not None and admin is not None
        tenancy.create_official(
            session,
            username="csc.food",
            name="CSC Operator, Food counter",
            role=Role.CSC_OPERATOR,
            password="unused-here",
            password_hash=admin.password_hash,  # the demo password
            department=food,
        )
    host = official(client, "food.admin")
    room = create_meeting(host)
    operator = official(client, "csc.food")
    assert operator.get(f"/meet/{room}").status_code == 404
    page = host.get("/console/meetings")
    host.post(
        f"/console/meetings/{room}/invite",
        data={"csrf": csrf_of(page.text), "usernames": "csc.food"},
        follow_redirects=False,
    )
    assert operator.get(f"/meet/{room}").status_code == 200
