"""A citizen and an official meet in two real browsers (Debian Chromium with fake camera and
microphone): queue, connect, video both ways, screen share, chat, and a file that lands in the
citizen's locker."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from seva.citizens import service as citizens
from seva.demo.seed import DEMO_PASSWORD, SeedReport
from seva.gateway import Gateway
from seva.locker import service as locker
from seva.rtc.models import DONE, QueueEntry
from tests.e2e.conftest import log_in_citizen

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

CITIZEN = "+919811000401"


def one_mib_pdf() -> bytes:
    body = b"%PDF-1.4\n% a 1 MiB test document\n"
    filler = bytes(range(256)) * 4096  # 1 MiB of every byte value
    return body + filler[: 1024 * 1024 - len(body) - 6] + b"\n%%EOF"


@pytest.fixture
def two_people(browser: Any, live: str, seeded: SeedReport) -> Iterator[tuple[Any, Any]]:
    contexts = [
        browser.new_context(base_url=live, permissions=["camera", "microphone"]) for _ in range(2)
    ]
    pages = [context.new_page() for context in contexts]
    for page in pages:
        page.set_default_timeout(15_000)
    yield pages[0], pages[1]
    for context in contexts:
        context.close()


def test_a_citizen_queues_and_talks_to_an_official_who_sends_a_file_to_their_locker(
    two_people: tuple[Any, Any], gateway: Gateway
) -> None:
    from playwright.sync_api import expect

    citizen, official = two_people

    official.goto("/login?next=/console/calls")
    official.get_by_label("Username").fill("food.admin")
    official.get_by_label("Password").fill(DEMO_PASSWORD)
    official.get_by_role("button", name="Log in").click()
    official.locator("#duty").click()
    expect(official.locator("#duty-h")).to_have_text("On duty: taking calls")

    log_in_citizen(citizen, gateway, CITIZEN, "/call/FOOD")
    citizen.locator("#connect-now").click()
    citizen.wait_for_url("**/call/q/**")
    expect(citizen.locator("#position")).to_contain_text("number 1")

    expect(official.locator("#offer")).to_be_visible()
    official.locator("#accept").click()
    official.wait_for_url("**/call/room/q**")
    citizen.wait_for_url("**/call/room/q**")

    for page in (citizen, official):
        page.wait_for_function("async () => (await window.sevaCall.inboundVideoFrames()) > 0")
    expect(citizen.locator("#call-status")).to_contain_text("Connected")

    camera = official.evaluate("window.sevaCall.videoTrackLabels()")
    official.locator("#screen").click()
    expect(official.locator("#screen")).to_have_attribute("aria-pressed", "true")
    shared = official.evaluate("window.sevaCall.videoTrackLabels()")
    assert shared != camera and shared[0] and shared[0].startswith("screen"), (camera, shared)
    frames = citizen.evaluate("window.sevaCall.inboundVideoFrames()")
    citizen.wait_for_function(
        f"async () => (await window.sevaCall.inboundVideoFrames()) > {frames}"
    )

    official.locator("#chat-text").fill("Your certificate is on its way")
    official.locator("#chat-form button").click()
    expect(citizen.locator("#chat-log")).to_contain_text("Your certificate is on its way")

    pdf = one_mib_pdf()
    official.locator("#file").set_input_files(
        {"name": "certificate.pdf", "mimeType": "application/pdf", "buffer": pdf}
    )
    citizen.wait_for_function("() => window.sevaCall.files.saved.length === 1", timeout=30_000)
    expect(official.locator("#file-status")).to_contain_text("in the citizen's locker")
    with gateway.session() as session:
        person = citizens.find(session, CITIZEN)
        assert person is not None
        kept = [d for d in locker.documents(session, person) if d.kind == "received"]
        assert len(kept) == 1
        assert kept[0].sha256 == hashlib.sha256(pdf).hexdigest()
        assert kept[0].size == len(pdf) and kept[0].source and "FOOD" in kept[0].source

    # Recording: the official asks, the citizen agrees, the official stops it; the WebM
    # lands in the citizen's locker.
    official.locator("#record").click()
    expect(citizen.locator("#record-ask")).to_be_visible()
    expect(official.locator("#record-status")).to_contain_text("Waiting for the other side")
    citizen.locator("#record-allow").click()
    for page in (citizen, official):
        expect(page.locator("#record-status")).to_contain_text("Recording: both sides agreed")
    official.wait_for_timeout(2500)
    official.locator("#record").click()
    official.wait_for_function(
        "() => window.sevaCall.files.recordings.length === 1", timeout=30_000
    )
    expect(official.locator("#record-status")).to_contain_text("saved to the citizen's locker")
    with gateway.session() as session:
        person = citizens.find(session, CITIZEN)
        assert person is not None
        [recording] = [d for d in locker.documents(session, person) if d.mime == "video/webm"]
        assert recording.size > 10_000  # 2.5 s of video and sound, not an empty container

    official.locator("#hangup").click()
    citizen.locator("#hangup").click()
    citizen.wait_for_timeout(500)
    with gateway.session() as session:
        entry = session.query(QueueEntry).one()
        assert entry.status == DONE and entry.connected_at is not None


def official_page(browser: Any, live: str, username: str) -> tuple[Any, Any]:
    context = browser.new_context(base_url=live, permissions=["camera", "microphone"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login?next=/console/meetings")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/console/meetings")
    return context, page


def test_three_officials_meet_after_the_host_admits_them_and_the_host_can_remove_one(
    browser: Any, live: str, seeded: SeedReport
) -> None:
    from playwright.sync_api import expect

    people = [
        official_page(browser, live, name)
        for name in ("food.admin", "transport.officer", "mcd.officer")
    ]
    try:
        (_, host), (_, second), (_, third) = people
        host.locator("#title").fill("Ration distribution stand-up")
        # The guests are of other departments: the link lets them in once they are invited.
        host.locator("#invitees").fill("transport.officer, mcd.officer")
        host.locator("#create-meeting").click()
        host.wait_for_url("**/meet/m**")
        link = host.locator("#invite").inner_text()
        for guest in (second, third):
            guest.goto(link)
            expect(guest.locator("#call-status")).to_contain_text("Waiting for the host")
        expect(host.locator("#lobby-list button")).to_have_count(2)
        host.locator("#lobby-list button").first.click()
        expect(host.locator("#lobby-list button")).to_have_count(1)
        host.locator("#lobby-list button").first.click()
        for page in (host, second, third):
            page.wait_for_function("() => window.sevaCall.peers.size === 2")
            page.wait_for_function(
                "async () => { let n = 0; for (const p of window.sevaCall.peers.values()) {"
                " const s = await p.pc.getStats(); s.forEach(r => { if (r.type === 'inbound-rtp'"
                " && r.kind === 'video' && r.framesDecoded > 0) n++; }); } return n === 2; }"
            )
        expect(host.locator("figure.tile button[data-action=remove]")).to_have_count(2)
        assert second.locator("figure.tile button[data-action=remove]").count() == 0
        host.locator("figure.tile", has_text="Ward Officer, MCD").locator(
            "button[data-action=remove]"
        ).click()
        third.wait_for_function("() => window.sevaCall.closed !== null")
        assert third.evaluate("window.sevaCall.closed.code") == 4003
        second.wait_for_function("() => window.sevaCall.peers.size === 1")
    finally:
        for context, _ in people:
            context.close()


def test_a_call_booked_by_sms_is_joined_from_the_reminder_link(
    two_people: tuple[Any, Any], gateway: Gateway, live: str
) -> None:
    import re
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from seva.messaging import service as messaging
    from seva.rtc import service as rtc
    from seva.rtc.models import Appointment

    citizen, official = two_people
    phone = "+919811000411"
    with gateway.session() as session:
        offer = gateway.sms.handle(session, phone=phone, text="CALL FOOD")
        assert "reply 1-" in offer.text, offer.text
        booked = gateway.sms.handle(session, phone=phone, text="1")
    assert "is booked for" in booked.text, booked.text

    # The booked time comes near (the slot is moved to five minutes from now) and the
    # reminder sweep sends the join link.
    now = datetime.now(UTC)
    with gateway.session() as session:
        appointment = session.scalars(select(Appointment)).one()
        appointment.starts_at = now + timedelta(minutes=5)
        appointment.ends_at = now + timedelta(minutes=20)
        session.flush()
        assert rtc.send_due_reminders(session, now=now, base_url=live) == 1
        reminder = messaging.inbox(session, phone)[-1].text
        room = appointment.room
    assert reminder.startswith("Reminder: your call with Food & Civil Supplies")
    found = re.search(r"https?://\S+", reminder)
    assert found is not None and found.group(0) == f"{live}/call/a/{room}"

    official.goto("/login?next=/console/calls")
    official.get_by_label("Username").fill("food.admin")
    official.get_by_label("Password").fill(DEMO_PASSWORD)
    official.get_by_role("button", name="Log in").click()
    official.locator(f"a[href='/call/room/{room}']").click()
    citizen.goto(found.group(0))  # straight from the SMS: the link is the key
    for page in (citizen, official):
        page.wait_for_function("async () => (await window.sevaCall.inboundVideoFrames()) > 0")
    # The connection is written to the call's record by the signalling's bookkeeping.
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    status = ""
    while datetime.now(UTC) < deadline and status != "completed":
        citizen.wait_for_timeout(200)
        with gateway.session() as session:
            status = session.scalars(select(Appointment)).one().status
    assert status == "completed"
