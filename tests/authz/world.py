"""The people and the things the authorisation matrix tries every route with.

Department A is FOOD and citizen A is the demo citizen (who holds FOOD's application
``TEST-0001``); department B is MCD and citizen B another phone. Everything a route's path can
name — an application, a conversation, calls, a meeting, messages, voice notices and
recordings, locker documents and shares, API keys — is made here for A, with the service
functions the routes themselves use, so that a B role asking for it shows whether the wall
holds. Each role then logs in the way its people do: citizens by an SMS code on the portal and
in the app, officials by the console's login form, departments with their API key.
"""

from __future__ import annotations

import enum
import io
import wave
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from seva.channels.app_session import AppConversations
from seva.citizens import service as citizens
from seva.citizens.api_auth import OTP_PURPOSE
from seva.citizens.models import OtpChallenge, OtpSendClaim
from seva.demo.seed import DEMO_APPLICATION, DEMO_CITIZEN, SeedReport
from seva.flows import service as services
from seva.gateway import Gateway
from seva.locker import service as locker
from seva.locker.service import WEBM_MAGIC
from seva.messaging import service as messaging
from seva.rtc import service as rtc
from seva.rtc.models import BOOKED, Appointment
from seva.rtc.signalling import RoomEvent
from seva.tenancy import service as tenancy
from seva.tenancy.models import Role
from seva.voice import recordings
from seva.voice import service as voice
from tests.api.helpers import login as app_login
from tests.console.pages import csrf_of
from tests.console.pages import login as console_login
from tests.web.test_citizen import log_in as portal_login

CITIZEN_A = DEMO_CITIZEN
CITIZEN_B = "+919900000002"
PROMPT = "The ration shop opens at ten."
"""A sentence department A recorded in a human voice (``/api/v1/voice/prompts``)."""
MEETING_TITLE = "Stock review"
MESSAGE_TEXT = "Your ration card is ready."
NOTICE_TEXT = "Ration distribution on Saturday."
SHARED_WITH = "Bank of Seva"
VISITOR = "authz.visitor"
"""An official whose credentials the matrix posts to ``/login`` (any role may log in)."""


class Who(enum.StrEnum):
    """The roles of the matrix."""

    ANONYMOUS = "anonymous"
    CITIZEN_A = "citizen A"
    CITIZEN_B = "citizen B"
    CSC = "CSC operator"
    OFFICER_A = "officer of dept A"
    OFFICIAL_A = "admin of dept A"
    OFFICIAL_B = "admin of dept B"
    ADMIN = "gateway admin"
    KEY_A = "API key of dept A"
    KEY_B = "API key of dept B"


USERNAMES = {
    Who.CSC: "csc.laxminagar",
    Who.OFFICER_A: "food.officer",
    Who.OFFICIAL_A: "food.admin",
    Who.OFFICIAL_B: "mcd.admin",
    Who.ADMIN: "admin",
}
"""Department A's admin and officer differ in role; the two departments' admins differ only
in department, so a refusal of B's admin is the department wall and nothing else."""


@dataclass
class World:
    """What belongs to department A and citizen A, by the names route paths use."""

    ref: str = DEMO_APPLICATION
    phone: str = CITIZEN_A
    code: str = "FOOD"
    department_code: str = "FOOD"
    slug: str = "ration-card-status"
    name: str = "ration-cards"
    conversation: str = ""
    appointment: str = ""
    """Citizen A's call, starting in a few minutes (its link opens now)."""
    cancel_on_web: str = ""
    cancel_in_app: str = ""
    queue_room: str = ""
    """Citizen A's "connect now" call, taken by department A's admin."""
    entry_id: int = 0
    recording_id: int = 0
    meeting: str = ""
    message_id: int = 0
    batch_id: int = 0
    notice_id: int = 0
    voice_token: str = ""
    document_id: int = 0
    uri: str = ""
    share_id: int = 0
    share_token: str = ""
    spare_prefix: str = ""
    """A second key of department A, for the routes that revoke one."""
    otp_phone: str = "+919811000902"
    otp_code: str = ""
    keys: dict[Who, str] = field(default_factory=dict)

    def values(self) -> dict[str, object]:
        return {k: v for k, v in vars(self).items() if k != "keys"}

    def secrets(self) -> dict[str, str]:
        """What only department A's people and citizen A may read: none of it may appear in
        an answer to anyone else (unless their request named it)."""
        return {
            "citizen A's number": CITIZEN_A[3:],
            "citizen A's name": "Sunita Devi",
            "citizen A's application": self.ref,
            "A's meeting": MEETING_TITLE,
            "A's message": MESSAGE_TEXT,
            "A's voice notice": NOTICE_TEXT,
            "citizen A's share": SHARED_WITH,
            "citizen A's document": self.uri,
            "A's voice recording": self.voice_token,
            "citizen A's call": self.appointment,
            "citizen A's queue turn": self.queue_room,
            "citizen A's conversation": self.conversation,
            "A's spare key": self.spare_prefix,
        }


def wav_bytes(seconds: float = 0.2) -> bytes:
    """A short silent 16-bit mono WAV at 8 kHz: a recording any voice route accepts."""
    out = io.BytesIO()
    with wave.open(out, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(b"\0\0" * int(8000 * seconds))
    return out.getvalue()


WEBM = WEBM_MAGIC + b"\x42\x86\x81\x01\x42\x82\x84webm" + b"\0" * 64
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def build(gateway: Gateway, seeded: SeedReport) -> World:
    world = World()
    now = datetime.now(UTC)
    with gateway.session() as session:
        food = tenancy.department_by_code(session, "FOOD")
        mcd = tenancy.department_by_code(session, "MCD")
        agri = tenancy.department_by_code(session, "AGRI")
        food_admin = tenancy.official_by_username(session, "food.admin")
        assert food and mcd and agri and food_admin
        for username, role, department in (
            ("food.officer", Role.OFFICER, food),
            ("mcd.admin", Role.DEPARTMENT_ADMIN, mcd),
            (VISITOR, Role.OFFICER, agri),
        ):
            tenancy.create_official(
                session,
                username=username,
                name=username,
                role=role,
                password="unused-here",
                password_hash=food_admin.password_hash,  # the demo password
                department=department,
            )
        world.spare_prefix = tenancy.issue_api_key(session, food, label="spare").key.prefix
        citizen = citizens.get_or_create(session, CITIZEN_A)

        service = services.find_service(session, "FOOD", "ration-card-status")
        assert service is not None
        world.conversation = (
            AppConversations(gateway.runtime).start(session, service, phone=CITIZEN_A).id
        )

        rooms = []
        for n, start in enumerate((now + timedelta(minutes=5), now + timedelta(days=2))):
            for copy in range(1 if n == 0 else 2):
                room = rtc.new_room("a")
                session.add(
                    Appointment(
                        department_id=food.id,
                        official_id=food_admin.id,
                        citizen_id=citizen.id,
                        starts_at=start + timedelta(hours=copy),
                        ends_at=start + timedelta(hours=copy, minutes=15),
                        status=BOOKED,
                        slot_key=f"{food_admin.id}@{room}",
                        room=room,
                    )
                )
                rooms.append(room)
        world.appointment, world.cancel_on_web, world.cancel_in_app = rooms

        rtc.set_on_duty(session, food_admin, True, now=now)
        entry = rtc.join_queue(session, food, citizen, now=now)
        offered = rtc.offer_for(session, food_admin, now=now)
        assert offered is not None and offered.id == entry.id
        rtc.accept(session, food_admin, entry.id, now=now)
        world.queue_room, world.entry_id = entry.room, entry.id
        # Both sides agreed to record, twice: one recording is kept, one is still to come.
        consent = [
            (RoomEvent(entry.room, "recording", f"citizen:{citizen.id}", "citizen", 0), False),
            (RoomEvent(entry.room, "recording", f"official:{food_admin.id}", "official", 0), False),
        ]
        rtc.record_room_events(session, consent, now=now)
        kept = rtc.save_recording(
            session,
            gateway.locker,
            entry.room,
            official_id=food_admin.id,
            data=WEBM,
            audio_only=True,
            now=now,
        )
        world.recording_id = kept.id
        rtc.record_room_events(session, consent, now=now)

        world.meeting = rtc.create_meeting(
            session, food_admin, title=MEETING_TITLE, lobby=True
        ).room

        sent = messaging.send(
            session,
            messaging.Send(
                to=[CITIZEN_A],
                text=MESSAGE_TEXT,
                sender=None,
                department_id=food.id,
                department_code=food.code,
            ),
        )
        world.message_id, world.batch_id = sent.message_ids[0], sent.batch_id

        world.notice_id = voice.create_notice(
            session,
            food,
            to=[CITIZEN_A],
            text=NOTICE_TEXT,
            lang="en",
            max_attempts=1,
            retry_seconds=600,
            now=now,
        ).id
        world.voice_token = recordings.save(
            session,
            gateway.locker.storage,
            department_id=food.id,
            service_id=None,
            channel="sip",
            seconds=0.2,
            wav=wav_bytes(),
        ).token
        gateway.speech.recorded(PROMPT, "en", wav_bytes(), owner="FOOD")

        document = locker.issue(
            session,
            gateway.locker,
            food,
            phone=CITIZEN_A,
            doctype="RATCR",
            title="Ration card",
            fields={"Card number": "1234567890"},
        )
        assert document.uri is not None  # an issued document has one
        world.document_id, world.uri = document.id, document.uri
        share, world.share_token = locker.share(
            session, citizen, document.id, shared_with=SHARED_WITH, hours=24
        )
        world.share_id = share.id

        world.otp_code = citizens.issue_otp(
            session,
            world.otp_phone,
            OTP_PURPOSE,
            secret=gateway.settings.secret_key.get_secret_value(),
            ttl=timedelta(minutes=5),
        )
    world.keys = {Who.KEY_A: seeded.api_keys["FOOD"], Who.KEY_B: seeded.api_keys["MCD"]}
    return world


@dataclass
class Caller:
    """A role, logged in on the test's client: its headers, and its form token if it has a
    browser session."""

    who: Who
    headers: dict[str, str] = field(default_factory=dict)
    csrf: str = ""


def sign_in(client: TestClient, gateway: Gateway, world: World, who: Who) -> Caller:
    """Log ``who`` in on ``client`` through the real login flows."""
    caller = Caller(who)
    if who in (Who.KEY_A, Who.KEY_B):
        # The key in X-API-Key (the other convention it is accepted in): a citizen route then
        # sees no bearer token at all, the way a department's backend calling it would.
        caller.headers = {"X-API-Key": world.keys[who]}
        return caller
    if who in (Who.CITIZEN_A, Who.CITIZEN_B):
        phone = CITIZEN_A if who is Who.CITIZEN_A else CITIZEN_B
        portal_login(client, gateway, phone)
        # One code per phone every 30 seconds: the portal's code is made a minute old, as if
        # the citizen opened the app a minute after the browser.
        with gateway.session() as session:
            session.execute(
                update(OtpChallenge)
                .where(OtpChallenge.phone == phone)
                .values(created_at=datetime.now(UTC) - timedelta(minutes=1))
            )
            session.execute(
                update(OtpSendClaim)
                .where(OtpSendClaim.phone == phone)
                .values(last_sent_at=datetime.now(UTC) - timedelta(minutes=1))
            )
        caller.headers = {"Authorization": f"Bearer {app_login(client, gateway, phone)}"}
    elif who is not Who.ANONYMOUS:
        console_login(client, USERNAMES[who])
    # A logged-in page's form token (an official's login starts a fresh session).
    caller.csrf = csrf_of(client.get("/login").text)
    return caller
