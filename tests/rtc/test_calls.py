"""Appointments and the instant queue over HTTP and in the service: booking races, reminders,
offers that lapse, abandoned turns, and who may open which call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from seva.citizens import service as citizens
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.messaging import service as messaging
from seva.rtc import service as rtc
from seva.rtc.models import (
    ABANDONED,
    BOOKED,
    CONNECTED,
    MISSED,
    OFFERED,
    WAITING,
    Appointment,
    QueueEntry,
)
from seva.rtc.service import CallRefused
from seva.rtc.signalling import Seat
from seva.tenancy import service as tenancy
from tests.web.test_citizen import log_in

MONDAY_9 = datetime(2026, 11, 30, 3, 30, tzinfo=UTC)
"""Monday 30 November 2026, 09:00 in India: the demo's officials open at 10:00 IST."""
TEN_IST = datetime(2026, 11, 30, 4, 30, tzinfo=UTC)


def food(gateway: Gateway):  # type: ignore[no-untyped-def]
    with gateway.session() as session:
        department = tenancy.department_by_code(session, "FOOD")
        official = tenancy.official_by_username(session, "food.admin")
        assert department is not None and official is not None
        return department, official


def test_a_slot_is_booked_once_and_its_sms_carries_the_join_link(
    gateway: Gateway, seeded: SeedReport
) -> None:
    department, _official = food(gateway)
    with gateway.session() as session:
        free = rtc.free_slots(session, department.id, now=MONDAY_9, days=1)
        assert free[0][0] == TEN_IST  # 10:00 IST, the first slot after the 30-minute notice
        asha = citizens.get_or_create(session, "+919811000501")
        booked = rtc.book(
            session,
            department=department,
            citizen=asha,
            starts_at=TEN_IST,
            now=MONDAY_9,
            base_url="http://seva.test",
        )
        assert booked.ends_at - booked.starts_at == timedelta(minutes=15)
        sms = messaging.inbox(session, "+919811000501")[-1]
        assert f"http://seva.test/call/a/{booked.room}" in sms.text
        assert "30-11 10:00" in sms.text
        # FOOD's one official with hours is busy from 10:00 to 10:15 and 5 minutes after
        # (the buffer): the 10:15 slot's own buffer would overlap it, 10:30 is free.
        after = [start for start, _ in rtc.free_slots(session, department.id, now=MONDAY_9, days=1)]
        assert TEN_IST not in after and TEN_IST + timedelta(minutes=15) not in after
        assert TEN_IST + timedelta(minutes=30) in after
        ravi = citizens.get_or_create(session, "+919811000502")
        with pytest.raises(CallRefused) as taken:
            rtc.book(session, department=department, citizen=ravi, starts_at=TEN_IST, now=MONDAY_9)
        assert taken.value.code == "slot_taken"
        with pytest.raises(CallRefused):  # not on the grid of slots
            rtc.book(
                session,
                department=department,
                citizen=ravi,
                starts_at=TEN_IST + timedelta(minutes=7),
                now=MONDAY_9,
            )


def test_reminders_go_once_and_unattended_appointments_are_missed(
    gateway: Gateway, seeded: SeedReport
) -> None:
    department, _ = food(gateway)
    with gateway.session() as session:
        asha = citizens.get_or_create(session, "+919811000503")
        booked = rtc.book(
            session, department=department, citizen=asha, starts_at=TEN_IST, now=MONDAY_9
        )
        room = booked.room
    with gateway.session() as session:
        assert rtc.send_due_reminders(session, now=TEN_IST - timedelta(hours=1), base_url="") == 0
        assert (
            rtc.send_due_reminders(session, now=TEN_IST - timedelta(minutes=10), base_url="") == 1
        )
    with gateway.session() as session:
        assert rtc.send_due_reminders(session, now=TEN_IST - timedelta(minutes=5), base_url="") == 0
        texts = [m.text for m in messaging.inbox(session, "+919811000503")]
        assert sum("Reminder" in t for t in texts) == 1
        assert rtc.mark_missed(session, now=TEN_IST + timedelta(hours=1)) == 1
        row = session.scalar(select(Appointment).where(Appointment.room == room))
        assert row is not None and row.status == MISSED and row.slot_key is None


def test_the_queue_offers_the_oldest_citizen_and_a_lapsed_offer_goes_back(
    gateway: Gateway, seeded: SeedReport
) -> None:
    department, official = food(gateway)
    t0 = MONDAY_9
    with gateway.session() as session:
        first = rtc.join_queue(
            session, department, citizens.get_or_create(session, "+919811000511"), now=t0
        )
        second = rtc.join_queue(
            session, department, citizens.get_or_create(session, "+919811000512"), now=t0
        )
        again = rtc.join_queue(
            session, department, citizens.get_or_create(session, "+919811000511"), now=t0
        )
        assert again.id == first.id  # one turn per citizen
        view = rtc.queue_view(session, second, now=t0)
        assert view.position == 2 and view.wait_seconds is None  # nobody on duty
        officer = tenancy.official_by_id(session, official.id)
        assert officer is not None
        assert rtc.offer_for(session, officer, now=t0) is None  # not on duty
        rtc.set_on_duty(session, officer, True, now=t0)
        offered = rtc.offer_for(session, officer, now=t0 + timedelta(seconds=1))
        assert offered is not None and offered.id == first.id and offered.status == OFFERED
        view = rtc.queue_view(session, second, now=t0 + timedelta(seconds=2))
        assert view.position == 2 and view.wait_seconds is not None and view.wait_seconds > 0
        # The official lets the offer lapse: the citizen is waiting again, one missed offer.
        for entry in (first, second):
            rtc.queue_view(session, entry, now=t0 + timedelta(seconds=40))
        session.refresh(first)
        assert first.status == WAITING and first.missed_offers == 1 and first.official_id is None
        offered = rtc.offer_for(session, officer, now=t0 + timedelta(seconds=41))
        assert offered is not None and offered.id == first.id
        taken = rtc.accept(session, officer, first.id, now=t0 + timedelta(seconds=42))
        assert taken.status == CONNECTED
        with pytest.raises(CallRefused):
            rtc.accept(session, officer, second.id, now=t0 + timedelta(seconds=43))
        # The second citizen's page closes: after a minute of silence the turn is abandoned.
        rtc.tidy_queue(session, department.id, now=t0 + timedelta(seconds=120))
        session.refresh(second)
        assert second.status == ABANDONED


def test_pages_keep_calls_to_their_owners_and_queues_to_their_department(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    department, _ = food(gateway)
    log_in(client, gateway, "+919811000521")
    assert client.get("/call").status_code == 200
    page = client.get("/call/FOOD")
    assert page.status_code == 200 and "connect-now" in page.text
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    queued = client.post("/call/FOOD/queue", data={"csrf": csrf}, follow_redirects=False)
    room = queued.headers["location"].rsplit("/", 1)[1]
    status = client.get(f"/call/q/{room}/status.json").json()
    assert status["position"] == 1 and status["status"] == WAITING
    assert client.get(f"/call/room/{room}").status_code == 410  # nobody has taken it yet

    stranger = TestClient(client.app)
    log_in(stranger, gateway, "+919811000522")
    assert stranger.get(f"/call/q/{room}/status.json").status_code == 404
    assert stranger.get(f"/call/room/{room}").status_code == 403
    assert stranger.get("/call/a/aDoesNotExist123").status_code == 404

    officer = TestClient(client.app)
    login = officer.get("/login").text
    token = login.split('name="csrf" value="')[1].split('"')[0]
    officer.post(
        "/login",
        data={"csrf": token, "username": "transport.officer", "password": "seva-demo-1"},
    )
    # A Transport officer on duty is never offered FOOD's caller.
    with gateway.session() as session:
        transport = tenancy.official_by_username(session, "transport.officer")
        assert transport is not None
        rtc.set_on_duty(session, transport, True, now=datetime.now(UTC))
    offer = officer.get("/console/calls/offer.json").json()
    assert offer["offer"] is None and offer["queue"] == []
    with gateway.session() as session:
        entry = session.scalar(select(QueueEntry).where(QueueEntry.room == room))
        assert entry is not None and entry.department_id == department.id
        assert entry.status == WAITING


def test_the_signalling_socket_refuses_bad_tokens_and_closes_on_bad_messages(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect("/rtc/ws?token=forged") as socket:
            socket.receive_json()
    assert refused.value.code == 4401
    seat = Seat(room="qTestRoom12345", identity="citizen:1", name="A", role="citizen")
    token = gateway.rtc_tokens.issue(seat, now=datetime.now(UTC).timestamp())
    with client.websocket_connect(f"/rtc/ws?token={token}") as socket:
        assert socket.receive_json()["type"] == "welcome"
        socket.send_text("{not json")
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 4400 and closed.value.reason == "not a JSON message"


def test_an_appointment_link_opens_only_around_its_time(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    department, _ = food(gateway)
    now = datetime.now(UTC)
    with gateway.session() as session:
        asha = citizens.get_or_create(session, "+919811000531")
        appointment = Appointment(
            department_id=department.id,
            official_id=food(gateway)[1].id,
            citizen_id=asha.id,
            starts_at=now + timedelta(days=1),
            ends_at=now + timedelta(days=1, minutes=15),
            status=BOOKED,
            slot_key="x@1",
            room="aLaterRoom1234",
        )
        session.add(appointment)
        soon = Appointment(
            department_id=department.id,
            official_id=food(gateway)[1].id,
            citizen_id=asha.id,
            starts_at=now + timedelta(minutes=5),
            ends_at=now + timedelta(minutes=20),
            status=BOOKED,
            slot_key="x@2",
            room="aSoonRoom12345",
        )
        session.add(soon)
    assert client.get("/call/a/aLaterRoom1234").status_code == 425
    page = client.get("/call/a/aSoonRoom12345")
    assert page.status_code == 200 and "data-config" in page.text


def test_booking_a_call_by_sms(gateway: Gateway, seeded: SeedReport) -> None:
    phone = "+919811000541"
    with gateway.session() as session:
        which = gateway.sms.handle(session, phone=phone, text="CALL", now=MONDAY_9)
        assert "CALL FOOD" in which.text and "CALL TRANSPORT" in which.text
        offer = gateway.sms.handle(session, phone=phone, text="call food", now=MONDAY_9)
    assert offer.text == (
        "Call with FOOD (IST), reply 1-5: "
        "1) 30-11 10:00 2) 30-11 10:15 3) 30-11 10:30 4) 30-11 10:45 5) 30-11 11:00"
    )
    with gateway.session() as session:
        booked = gateway.sms.handle(session, phone=phone, text="2", now=MONDAY_9)
    assert booked.text.startswith("Your call with Food & Civil Supplies is booked for 30-11 10:15")
    assert "/call/a/a" in booked.text
    with gateway.session() as session:
        person = citizens.find(session, phone)
        assert person is not None
        [appointment] = rtc.upcoming(session, person, now=MONDAY_9)
        assert appointment.channel == "sms"
        # The same numbers mean nothing once used: no second booking.
        again = gateway.sms.handle(session, phone=phone, text="2", now=MONDAY_9)
        assert "booked" not in again.text and "not a Seva keyword" in again.text
        assert len(rtc.upcoming(session, person, now=MONDAY_9)) == 1


def test_a_call_is_cancelled_and_moved_by_sms(gateway: Gateway, seeded: SeedReport) -> None:
    phone = "+919811000551"
    with gateway.session() as session:
        nothing = gateway.sms.handle(session, phone=phone, text="CALL CANCEL", now=MONDAY_9)
        assert nothing.text.startswith("You have no call booked")
        gateway.sms.handle(session, phone=phone, text="CALL FOOD", now=MONDAY_9)
        gateway.sms.handle(session, phone=phone, text="1", now=MONDAY_9)
    with gateway.session() as session:
        cancelled = gateway.sms.handle(session, phone=phone, text="call cancel", now=MONDAY_9)
        assert cancelled.text == (
            "Your call on 30-11 10:00 is cancelled. Send CALL FOOD to choose another time."
        )
        person = citizens.find(session, phone)
        assert person is not None and rtc.upcoming(session, person, now=MONDAY_9) == []
        # The freed slot can be booked again, by anyone.
        offer = gateway.sms.handle(session, phone="+919811000552", text="CALL FOOD", now=MONDAY_9)
        assert "1) 30-11 10:00" in offer.text


def test_a_wrong_number_answer_to_a_call_offer_books_nothing(
    gateway: Gateway, seeded: SeedReport
) -> None:
    phone = "+919811000561"
    with gateway.session() as session:
        gateway.sms.handle(session, phone=phone, text="CALL FOOD", now=MONDAY_9)
        wrong = gateway.sms.handle(session, phone=phone, text="9", now=MONDAY_9)
        assert wrong.text.startswith(
            "Please choose a number from 1 to 5.\nCall with FOOD (IST), reply 1-5: 1) 30-11 10:00"
        )
        assert session.scalars(select(Appointment)).all() == []


def test_a_call_is_moved_by_sms_and_a_refused_move_keeps_the_old_time(
    gateway: Gateway, seeded: SeedReport
) -> None:
    phone = "+919811000571"
    with gateway.session() as session:
        assert gateway.sms.handle(session, phone=phone, text="CALL MOVE", now=MONDAY_9).text == (
            "You have no call booked. Send CALL and a department code to book one."
        )
        gateway.sms.handle(session, phone=phone, text="CALL FOOD", now=MONDAY_9)
        gateway.sms.handle(session, phone=phone, text="1", now=MONDAY_9)
    with gateway.session() as session:
        offer = gateway.sms.handle(session, phone=phone, text="call move", now=MONDAY_9)
        assert offer.text.startswith(
            "Your call with FOOD is at 30-11 10:00. Choose the new time (IST), reply 1-5: "
        )
        # The time it holds is not offered; the times its buffer blocked are.
        assert offer.text.endswith(
            "1) 30-11 10:15 2) 30-11 10:30 3) 30-11 10:45 4) 30-11 11:00 5) 30-11 11:15"
        )
        moved = gateway.sms.handle(session, phone=phone, text="3", now=MONDAY_9)
        assert moved.text.startswith("Your call with Food & Civil Supplies is moved to 30-11 10:45")
        person = citizens.find(session, phone)
        assert person is not None
        [appointment] = rtc.upcoming(session, person, now=MONDAY_9)
        assert appointment.starts_at == datetime(2026, 11, 30, 5, 15, tzinfo=UTC)
        assert appointment.room in moved.text
        # The old time is free again.
        other = gateway.sms.handle(session, phone="+919811000572", text="CALL FOOD", now=MONDAY_9)
        assert "1) 30-11 10:00" in other.text

    # A move to a time that was taken meanwhile leaves the citizen with the call they had.
    with gateway.session() as session:
        person = citizens.find(session, phone)
        assert person is not None
        [kept] = rtc.upcoming(session, person, now=MONDAY_9)
        department, _ = food(gateway)
        taken_by = citizens.get_or_create(session, "+919811000573", channel="web")
        taken = rtc.book(
            session,
            department=department,
            citizen=taken_by,
            starts_at=TEN_IST + timedelta(minutes=90),
            now=MONDAY_9,
            notify=False,
        )
        with pytest.raises(CallRefused):
            rtc.reschedule(session, kept, starts_at=taken.starts_at, now=MONDAY_9, channel="web")
        assert kept.status == BOOKED and kept.slot_key is not None
        assert [a.id for a in rtc.upcoming(session, person, now=MONDAY_9)] == [kept.id]


def ussd(gateway: Gateway, phone: str, inputs: list[str]) -> str:
    with gateway.session() as session:
        screen = gateway.ussd.handle(
            session, session_id=f"s-{phone}", phone=phone, text="*".join(inputs), now=MONDAY_9
        )
    return screen.render()


def test_booking_moving_and_cancelling_a_call_by_ussd(gateway: Gateway, seeded: SeedReport) -> None:
    phone = "+919811000581"
    root = ussd(gateway, phone, [])
    assert "My booked calls" not in root
    food_key = next(line.split(".")[0] for line in root.splitlines() if "Food" in line)
    department = ussd(gateway, phone, [food_key])
    book_key = next(line.split(".")[0] for line in department.splitlines() if "Book a call" in line)
    times = ussd(gateway, phone, [food_key, book_key])
    assert times.startswith("CON Call with FOOD (IST):\n1. 30-11 10:00\n2. 30-11 10:15")
    booked = ussd(gateway, phone, [food_key, book_key, "2"])
    assert booked == "END Call booked for 30-11 10:15 IST. The join link is coming by SMS."
    with gateway.session() as session:
        person = citizens.find(session, phone)
        assert person is not None
        [appointment] = rtc.upcoming(session, person, now=MONDAY_9)
        assert appointment.channel == "ussd"
        assert appointment.room in messaging.inbox(session, phone)[-1].text

    # The department's menu now offers the booked call too.
    with gateway.session() as session:
        again = gateway.ussd.handle(
            session, session_id="s-again", phone=phone, text=food_key, now=MONDAY_9
        )
    assert "Book a call with an official\n4. My booked calls\n0. Back" in again.text

    # A new session: the first menu now offers the booked call, to move or cancel it.
    root = ussd(gateway, phone, [])
    assert "My booked calls" in root
    mine_key = next(line.split(".")[0] for line in root.splitlines() if "My booked calls" in line)
    listed = ussd(gateway, phone, [mine_key])
    assert listed == "CON Your calls with FOOD (IST):\n1. 30-11 10:15"
    actions = ussd(gateway, phone, [mine_key, "1"])
    assert actions == (
        "CON Your call with FOOD at 30-11 10:15 IST:\n1. Cancel\n2. Move to another time"
    )
    moving = ussd(gateway, phone, [mine_key, "1", "2"]).splitlines()
    assert moving[0] == "CON Your call with FOOD is at 30-11 10:15. Choose the new time (IST):"
    # The time it holds is not offered.
    assert moving[1] == "1. 30-11 10:00" and not [m for m in moving[1:] if "10:15" in m]
    moved = ussd(gateway, phone, [mine_key, "1", "2", "1"])
    assert moved == "END Call moved to 30-11 10:00 IST. The new join link is coming by SMS."
    with gateway.session() as session:
        person = citizens.find(session, phone)
        assert person is not None
        [now_at] = rtc.upcoming(session, person, now=MONDAY_9)
        assert now_at.starts_at == TEN_IST
        assert "moved to 30-11 10:00" in messaging.inbox(session, phone)[-1].text
        assert now_at.room in messaging.inbox(session, phone)[-1].text

    cancelled = ussd(gateway, phone, [mine_key, "1", "1"])
    assert cancelled == "END Your call on 30-11 10:00 IST is cancelled."
    with gateway.session() as session:
        person = citizens.find(session, phone)
        assert person is not None and rtc.upcoming(session, person, now=MONDAY_9) == []


def test_a_booked_call_is_moved_on_the_web_and_only_by_its_citizen(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    log_in(client, gateway, "+919811000591")
    page = client.get("/call/FOOD").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    first = page.split('data-slot="')[1].split('"')[0]
    booked = client.post(
        "/call/FOOD/book", data={"csrf": csrf, "starts_at": first}, follow_redirects=False
    )
    assert booked.status_code == 303
    with gateway.session() as session:
        person = citizens.find(session, "+919811000591")
        assert person is not None
        [appointment] = rtc.upcoming(session, person, now=datetime.now(UTC))
        room = appointment.room

    listing = client.get("/call/FOOD").text
    assert f'data-move="{room}"' in listing
    moving = client.get(f"/call/FOOD?move={room}").text
    assert "Choose the new time for your call" in moving
    assert f'data-slot="{first}"' not in moving  # where it already is
    assert f'action="/call/a/{room}/move"' in moving
    target = moving.split('data-slot="')[1].split('"')[0]

    stranger = TestClient(client.app)
    log_in(stranger, gateway, "+919811000592")
    theirs = stranger.get("/call/FOOD").text
    token = theirs.split('name="csrf" value="')[1].split('"')[0]
    refused = stranger.post(
        f"/call/a/{room}/move", data={"csrf": token, "starts_at": target}, follow_redirects=False
    )
    assert refused.status_code == 404

    moved = client.post(
        f"/call/a/{room}/move", data={"csrf": csrf, "starts_at": target}, follow_redirects=False
    )
    assert moved.status_code == 303 and "booked=" in moved.headers["location"]
    with gateway.session() as session:
        person = citizens.find(session, "+919811000591")
        assert person is not None
        [now_at] = rtc.upcoming(session, person, now=datetime.now(UTC))
        assert now_at.starts_at == datetime.fromisoformat(target)
        assert "is moved to" in messaging.inbox(session, "+919811000591")[-1].text


WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm" + bytes(2000)


def test_a_recording_is_kept_only_with_both_sides_consent(
    client: TestClient, gateway: Gateway, seeded: SeedReport
) -> None:
    import time

    from seva.locker import service as locker
    from seva.rtc.signalling import RoomEvent

    department, official = food(gateway)
    with gateway.session() as session:
        asha = citizens.get_or_create(session, "+919811000601")
        booked = rtc.book(
            session,
            department=department,
            citizen=asha,
            starts_at=TEN_IST,
            now=MONDAY_9,
            notify=False,
        )
        room, citizen_id = booked.room, asha.id
    token = gateway.rtc_tokens.issue(rtc.official_seat(official, room), now=time.time())

    def upload(data: bytes = WEBM, with_token: str = token) -> Any:
        return client.post(
            f"/call/room/{room}/recording",
            data={"token": with_token},
            files={"file": ("recording.webm", data, "video/webm")},
        )

    refused = upload()
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "no_consent"

    def events(*pairs: tuple[str, str]) -> None:
        with gateway.session() as session:
            rtc.record_room_events(
                session,
                [(RoomEvent(room, event, who, "x", 0.0), False) for event, who in pairs],
                now=MONDAY_9,
            )

    # The official alone agreeing is not consent.
    events(("recording", f"official:{official.id}"))
    assert upload().status_code == 403
    events(("recording-stopped", f"official:{official.id}"))
    events(("recording", f"citizen:{citizen_id}"), ("recording", f"official:{official.id}"))
    assert upload(b"%PDF-1.4 not a recording").json()["error"]["code"] == "file_type"
    citizen_token = gateway.rtc_tokens.issue(
        Seat(room=room, identity=f"citizen:{citizen_id}", name="A", role="citizen"),
        now=time.time(),
    )
    assert upload(with_token=citizen_token).status_code == 403
    kept = upload()
    assert kept.status_code == 201, kept.text
    assert upload().status_code == 403  # one file per consent

    with gateway.session() as session:
        person = session.get(type(asha), citizen_id)
        [document] = [d for d in locker.documents(session, person) if d.mime == "video/webm"]
        assert document.sha256 == kept.json()["sha256"] and document.kind == "received"
        assert document.title.startswith("Recording of your call with FOOD")

    # The department's copy: FOOD's officials see and download it, others do not.
    officer = TestClient(client.app)
    form = officer.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    officer.post("/login", data={"csrf": form, "username": "food.admin", "password": "seva-demo-1"})
    console = officer.get("/console/calls").text
    recording_id = kept.json()["recording"]
    assert f'data-recording="{recording_id}"' in console
    download = officer.get(f"/console/recordings/{recording_id}")
    assert download.status_code == 200 and download.content == WEBM
    other = TestClient(client.app)
    form = other.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    other.post(
        "/login", data={"csrf": form, "username": "transport.officer", "password": "seva-demo-1"}
    )
    assert other.get(f"/console/recordings/{recording_id}").status_code == 404
