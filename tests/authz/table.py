"""Who may use which route: one entry per (method, path) the app serves.

An entry names the roles that are *allowed*; every other role must be *denied*. What counts as
which (``outcome`` in ``test_matrix``):

* denied — 401, 403 or 404 (JSON routes answer another department's or citizen's thing as not
  found, exactly like one that does not exist), or for HTML pages a redirect to a login page
  (``/login`` for officials, ``/citizen/login`` for citizens); for the signalling socket, a
  close before it is accepted;
* allowed — anything else below 500: a 2xx, a redirect elsewhere, or a 4xx about the request
  itself (a 409 or 422 for a time that is not free, a 400 for a form that needs more), which
  comes only after the role was let through.

A 5xx fails whatever the role. Requests carry minimal, valid bodies so that the role decides
the answer; a route whose denial a body could mask has a body that would otherwise succeed.

Routes that authenticate by something other than a role are categories the matrix does not
run: operators' callbacks (``/channels/…``, a per-route secret or an IP allow-list), the
MSDG-compatible send API (its own username and password) and the demo's simulator and
backend (never mounted in production). Each still has an entry, so a new route is a decision.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.authz.world import PDF, PROMPT, VISITOR, WEBM, Who, wav_bytes


class Skip(enum.Enum):
    OPERATOR = (
        "operators' callbacks authenticate by a per-route secret or an IP allow-list: "
        "tests/channels/ (SMS, USSD, voice)"
    )
    MSDG = (
        "the MSDG-compatible API authenticates by its username and password: "
        "tests/messaging/test_msdg_api.py"
    )
    DEMO = "the demo's simulator and backend, not mounted in production: tests/web/, tests/e2e/"
    SCRAPE = (
        "Prometheus scrapes /metrics from SEVA_METRICS_NETWORKS or with SEVA_METRICS_TOKEN, "
        "whoever is logged in: tests/dashboard/test_metrics.py"
    )


READ, WRITE, DESTROY, SESSION = range(4)
"""The order the matrix calls routes in, so one role's writes never change what a later
request of the same role finds: reads, then writes, then what removes a thing (a revoked key,
a cancelled call), and last what changes who is logged in."""


@dataclass(frozen=True)
class Call:
    """How the matrix calls a route. ``path`` is filled from the world (``World.values``);
    ``form`` gets the caller's CSRF token added; ``prepare`` returns more request arguments
    from what the caller itself can see (a join token from its own call page)."""

    path: str | None = None
    params: dict[str, Any] | None = None
    json: Any = None
    form: dict[str, Any] | None = None
    files: dict[str, Any] | None = None
    content: bytes | None = None
    headers: dict[str, str] | None = None
    phase: int | None = None
    prepare: Callable[[Any], dict[str, Any]] | None = None


@dataclass(frozen=True)
class Entry:
    allowed: frozenset[Who] | Skip
    call: Call = field(default_factory=Call)
    why: str = ""
    shows_a: bool = False
    """A public page that shows what A published for everyone to see (a certificate's
    verification, a share link, the call link; the API examples): exempt from the check that
    nobody else reads A's things."""


def roles(*who: Who) -> frozenset[Who]:
    return frozenset(who)


EVERYONE = frozenset(Who)
CITIZENS = roles(Who.CITIZEN_A, Who.CITIZEN_B)
CITIZEN_A = roles(Who.CITIZEN_A)
KEYS = roles(Who.KEY_A, Who.KEY_B)
KEY_A = roles(Who.KEY_A)
STAFF = roles(Who.OFFICER_A, Who.OFFICIAL_A, Who.OFFICIAL_B, Who.ADMIN)
"""Department officers and admins (each sees their own department) and the gateway admin."""
STAFF_A = roles(Who.OFFICER_A, Who.OFFICIAL_A, Who.ADMIN)
DEPT_ADMINS = roles(Who.OFFICIAL_A, Who.OFFICIAL_B, Who.ADMIN)
OFFICIALS = STAFF | roles(Who.CSC)
KIOSK = roles(Who.CSC, Who.ADMIN)
MEETING_A = roles(Who.OFFICER_A, Who.OFFICIAL_A, Who.ADMIN)
"""Department A's meeting: its officials and the gateway admin; not B's, not a CSC operator."""

LATER = "2030-01-07T05:00:00+00:00"
"""A well-formed time no official offers: booking or moving to it is refused as not free."""
SERVICE_YAML = """seva: 1
service: authz-notice
department: FOOD
title: {en: Shop hours, hi: दुकान का समय}
steps:
  - end: {en: Shops open at ten., hi: दुकानें दस बजे खुलती हैं।}
""".encode()
"""A service definition of department A: only A's key may load it."""
CSV = b"card_no,holder\n1234567890,Sunita Devi\n"


def _own_call_token(context: Any) -> str:
    """The join token the caller's own page of citizen A's call hands it, if any."""
    return str(context.call_token(f"/call/room/{context.world.queue_room}") or "none")


def _received(context: Any) -> dict[str, Any]:
    return {
        "data": {"token": _own_call_token(context), "sha256": hashlib.sha256(PDF).hexdigest()},
        "files": {"file": ("notice.pdf", PDF, "application/pdf")},
    }


def _recording(context: Any) -> dict[str, Any]:
    return {
        "data": {"token": _own_call_token(context), "audio_only": "true"},
        "files": {"file": ("call.webm", WEBM, "video/webm")},
    }


def _wav() -> dict[str, Any]:
    return {"file": ("prompt.wav", wav_bytes(), "audio/wav")}


def _operator(*keys: tuple[str, str]) -> dict[tuple[str, str], Entry]:
    return {key: Entry(Skip.OPERATOR) for key in keys}


TABLE: dict[tuple[str, str], Entry] = {
    # -- operations and documentation --------------------------------------------------------------
    ("GET", "/healthz"): Entry(EVERYONE),
    ("GET", "/metrics"): Entry(Skip.SCRAPE),
    ("GET", "/openapi.json"): Entry(
        EVERYONE, why="its examples use the demo citizen's number", shows_a=True
    ),
    ("GET", "/docs"): Entry(EVERYONE),
    ("GET", "/redoc"): Entry(EVERYONE),
    ("MOUNT", "/static"): Entry(EVERYONE, why="stylesheets and scripts"),
    # -- operators' callbacks ----------------------------------------------------------------------
    **_operator(
        ("GET", "/channels/sms/kannel"),
        ("POST", "/channels/sms/kannel"),
        ("POST", "/channels/ussd/africastalking"),
        ("POST", "/channels/voice/twiml"),
        ("GET", "/channels/voice/audio/{name}"),
        ("GET", "/channels/voice/exotel"),
    ),
    ("GET", "/esms/sendsmsrequestDLT"): Entry(Skip.MSDG),
    ("POST", "/esms/sendsmsrequestDLT"): Entry(Skip.MSDG),
    ("GET", "/esms/sendsmsrequest"): Entry(Skip.MSDG),
    ("POST", "/esms/sendsmsrequest"): Entry(Skip.MSDG),
    # -- officials' login --------------------------------------------------------------------------
    ("GET", "/login"): Entry(EVERYONE),
    ("POST", "/login"): Entry(
        EVERYONE,
        Call(form={"username": VISITOR, "password": "seva-demo-1"}, phase=SESSION),
    ),
    ("POST", "/logout"): Entry(EVERYONE, Call(form={}, phase=SESSION)),
    # -- the citizen app ---------------------------------------------------------------------------
    ("POST", "/api/v1/auth/otp"): Entry(EVERYONE, Call(json={"phone": "+919811000901"})),
    ("POST", "/api/v1/auth/verify"): Entry(
        EVERYONE, Call(json={"phone": "{otp_phone}", "code": "{otp_code}"})
    ),
    ("DELETE", "/api/v1/auth/token"): Entry(CITIZENS, Call(phase=SESSION)),
    ("GET", "/api/v1/departments"): Entry(EVERYONE),
    ("GET", "/api/v1/languages"): Entry(EVERYONE),
    ("GET", "/api/v1/services"): Entry(EVERYONE),
    ("POST", "/api/v1/sessions"): Entry(
        EVERYONE, Call(json={"department": "FOOD", "service": "ration-card-status"})
    ),
    ("GET", "/api/v1/sessions/{conversation}"): Entry(CITIZEN_A),
    ("POST", "/api/v1/sessions/{conversation}/answer"): Entry(CITIZEN_A, Call(json={"text": "12"})),
    ("DELETE", "/api/v1/sessions/{conversation}"): Entry(CITIZEN_A, Call(phase=DESTROY)),
    ("GET", "/api/v1/me"): Entry(CITIZENS),
    ("PUT", "/api/v1/me/language"): Entry(CITIZENS, Call(json={"lang": "hi"})),
    ("GET", "/api/v1/me/applications"): Entry(CITIZENS),
    ("GET", "/api/v1/applications/{ref}"): Entry(
        CITIZEN_A,
        why="A's application has an older counted reference (TEST-0001): it shows only to its "
        "own citizen; a random reference shows to whoever holds it (tests/applications)",
    ),
    ("GET", "/api/v1/calls/departments"): Entry(EVERYONE),
    ("GET", "/api/v1/calls/{code}/slots"): Entry(CITIZENS),
    ("POST", "/api/v1/calls/{code}/appointments"): Entry(CITIZENS, Call(json={"starts_at": LATER})),
    ("GET", "/api/v1/me/calls"): Entry(CITIZENS),
    ("GET", "/api/v1/me/calls/{room}/slots"): Entry(
        CITIZEN_A, Call("/api/v1/me/calls/{appointment}/slots")
    ),
    ("POST", "/api/v1/me/calls/{room}/move"): Entry(
        CITIZEN_A, Call("/api/v1/me/calls/{appointment}/move", json={"starts_at": LATER})
    ),
    ("DELETE", "/api/v1/me/calls/{room}"): Entry(
        CITIZEN_A, Call("/api/v1/me/calls/{cancel_in_app}", phase=DESTROY)
    ),
    ("GET", "/api/v1/me/documents"): Entry(CITIZENS),
    ("GET", "/api/v1/me/documents/{document_id}/file"): Entry(CITIZEN_A),
    # -- the department API ------------------------------------------------------------------------
    ("GET", "/api/v1/dept/services"): Entry(KEYS),
    ("GET", "/api/v1/dept/services/{slug}"): Entry(KEY_A),
    ("PUT", "/api/v1/dept/services/{slug}"): Entry(
        KEY_A,
        Call(
            "/api/v1/dept/services/authz-notice",
            content=SERVICE_YAML,
            headers={"Content-Type": "application/yaml"},
        ),
        why="the definition names department A",
    ),
    ("DELETE", "/api/v1/dept/services/{slug}"): Entry(KEY_A, Call(phase=DESTROY)),
    ("GET", "/api/v1/dept/datasets"): Entry(KEYS),
    ("PUT", "/api/v1/dept/datasets/{name}"): Entry(
        KEYS,
        Call(content=CSV, headers={"Content-Type": "text/csv"}),
        why="a key writes its own department's dataset of that name",
    ),
    ("GET", "/api/v1/dept/offices"): Entry(KEYS),
    ("POST", "/api/v1/dept/offices"): Entry(
        KEYS,
        Call(
            json={
                "name": "Circle office",
                "address": "Laxmi Nagar",
                "pincode": "110092",
                "lat": 28.63,
                "lon": 77.28,
            }
        ),
    ),
    ("GET", "/api/v1/dept/citizens/{phone}"): Entry(
        KEY_A, why="citizen A has used department A's services only"
    ),
    ("GET", "/api/v1/dept/keys"): Entry(KEYS),
    ("POST", "/api/v1/dept/keys"): Entry(KEYS, Call(json={"label": "backend"})),
    ("DELETE", "/api/v1/dept/keys/{prefix}"): Entry(
        KEY_A, Call("/api/v1/dept/keys/{spare_prefix}", phase=DESTROY)
    ),
    ("GET", "/api/v1/dept/applications"): Entry(KEYS),
    ("GET", "/api/v1/dept/applications/{ref}"): Entry(KEY_A),
    ("POST", "/api/v1/dept/applications/{ref}/status"): Entry(
        KEY_A, Call(json={"status": "Dispatched"})
    ),
    ("POST", "/api/v1/voice/notices"): Entry(
        KEYS, Call(json={"to": "9811000905", "text": "Ration distribution on Sunday."})
    ),
    ("GET", "/api/v1/voice/notices/{notice_id}"): Entry(KEY_A),
    ("PUT", "/api/v1/voice/prompts"): Entry(
        KEYS, Call(form={"text": "Offices close at five."}, files=_wav())
    ),
    ("DELETE", "/api/v1/voice/prompts"): Entry(
        KEY_A, Call(params={"text": PROMPT}, phase=DESTROY), why="A's recording of the sentence"
    ),
    ("GET", "/api/v1/voice/recordings"): Entry(KEYS),
    ("GET", "/api/v1/voice/recordings/{token}"): Entry(
        KEY_A, Call("/api/v1/voice/recordings/{voice_token}")
    ),
    ("GET", "/api/v1/messages/{message_id}"): Entry(KEY_A),
    ("GET", "/api/v1/messages"): Entry(KEYS),
    ("POST", "/api/v1/messages"): Entry(
        KEYS, Call(json={"to": "9811000905", "text": "Your card is ready."})
    ),
    ("POST", "/api/v1/messages/preview"): Entry(
        KEYS, Call(json={"to": "9811000905", "text": "Your card is ready."})
    ),
    ("GET", "/api/v1/batches/{batch_id}"): Entry(KEY_A),
    ("GET", "/api/v1/dlt/headers"): Entry(KEYS),
    ("POST", "/api/v1/dlt/headers"): Entry(
        KEYS, Call(json={"header": "SEVAGV", "category": "government"})
    ),
    ("GET", "/api/v1/dlt/templates"): Entry(KEYS),
    ("POST", "/api/v1/dlt/templates"): Entry(
        KEYS,
        Call(
            json={
                "template_id": "1107161000000000099",
                "header": "SEVAGV",
                "category": "government",
                "body": "Your card {#var#} is ready. -Seva",
            }
        ),
    ),
    ("GET", "/api/v1/sms/account"): Entry(KEYS),
    ("PUT", "/api/v1/sms/account"): Entry(KEYS, Call(json={"entity_id": "1101516000000000999"})),
    ("PUT", "/api/v1/sms/msdg-credentials"): Entry(
        KEYS,
        Call(json={"username": "dept.msdg", "password": "secret-1", "secure_key": "key-12345"}),
    ),
    ("POST", "/api/v1/documents"): Entry(
        KEYS,
        Call(json={"to": "9811000905", "doctype": "RATCR", "title": "Ration card", "fields": {}}),
    ),
    ("POST", "/api/v1/documents/{uri}/revoke"): Entry(
        KEY_A, Call(json={"reason": "reissued"}, phase=DESTROY)
    ),
    # -- the officials' console --------------------------------------------------------------------
    ("GET", "/console"): Entry(
        STAFF,
        Call(params={"dept": "FOOD"}),
        why="a CSC operator works at the kiosk, not the console; only the gateway admin "
        "chooses the department",
    ),
    ("GET", "/console/applications/{ref}"): Entry(STAFF_A),
    ("POST", "/console/applications/{ref}/status"): Entry(
        STAFF_A, Call(form={"status": "Dispatched", "note": ""})
    ),
    ("GET", "/console/recordings/{token}.wav"): Entry(
        STAFF_A, Call("/console/recordings/{voice_token}.wav")
    ),
    ("GET", "/console/sms"): Entry(STAFF, Call(params={"dept": "FOOD"})),
    ("GET", "/console/sms/dlt"): Entry(STAFF, Call(params={"dept": "FOOD"})),
    ("GET", "/console/sms/cost"): Entry(STAFF),
    ("POST", "/console/sms/cost"): Entry(
        STAFF, Call(form={"text": "Your card is ready.", "recipients": "10"})
    ),
    ("POST", "/console/sms/dlt/entity"): Entry(
        DEPT_ADMINS, Call(form={"entity_id": "1101516000000000999", "dept": "FOOD"})
    ),
    ("POST", "/console/sms/dlt/headers"): Entry(
        DEPT_ADMINS, Call(form={"header": "SEVAGV", "category": "government", "dept": "FOOD"})
    ),
    ("POST", "/console/sms/dlt/templates"): Entry(
        DEPT_ADMINS,
        Call(
            form={
                "template_id": "1107161000000000099",
                "header": "SEVAGV",
                "category": "government",
                "name": "Ready",
                "body": "Your card {#var#} is ready. -Seva",
                "dept": "FOOD",
            }
        ),
    ),
    ("GET", "/console/sms/{message_id}"): Entry(STAFF_A),
    ("GET", "/console/calls"): Entry(
        roles(Who.OFFICER_A, Who.OFFICIAL_A, Who.OFFICIAL_B),
        why="only a department's officials take calls",
    ),
    ("GET", "/console/recordings/{recording_id}"): Entry(
        roles(Who.OFFICER_A, Who.OFFICIAL_A), why="a department's recorded calls: its officials"
    ),
    ("POST", "/console/calls/duty"): Entry(
        STAFF, Call(form={"on": "1"}), why="the gateway admin is told only departments take calls"
    ),
    ("GET", "/console/calls/offer.json"): Entry(STAFF),
    ("POST", "/console/calls/{entry_id}/accept"): Entry(
        roles(Who.OFFICER_A, Who.OFFICIAL_A),
        Call(form={}),
        why="A's queue: its officials (told the call is taken), nobody else's",
    ),
    ("GET", "/console/meetings"): Entry(OFFICIALS),
    ("POST", "/console/meetings"): Entry(OFFICIALS, Call(form={"title": "Weekly review"})),
    ("POST", "/console/meetings/{room}/invite"): Entry(
        roles(Who.OFFICIAL_A),
        Call("/console/meetings/{meeting}/invite", form={"usernames": "mcd.officer"}),
        why="the meeting's host",
    ),
    ("GET", "/meet/{room}"): Entry(MEETING_A, Call("/meet/{meeting}")),
    ("WS", "/rtc/ws"): Entry(
        MEETING_A, why="with the join token the caller's own page of A's meeting gave it"
    ),
    # -- onboarding --------------------------------------------------------------------------------
    ("GET", "/admin"): Entry(DEPT_ADMINS),
    ("POST", "/admin/departments"): Entry(
        roles(Who.ADMIN),
        Call(form={"code": "WATER", "name_en": "Water", "name_hi": "जल", "sender_id": "WATERB"}),
    ),
    ("GET", "/admin/departments/{code}"): Entry(roles(Who.OFFICIAL_A, Who.ADMIN)),
    ("POST", "/admin/departments/{code}/officials"): Entry(
        roles(Who.OFFICIAL_A, Who.ADMIN),
        Call(
            form={
                "username": "food.clerk",
                "name": "Clerk",
                "role": "officer",
                "password": "a-long-password",
            }
        ),
    ),
    ("POST", "/admin/departments/{code}/keys"): Entry(
        roles(Who.OFFICIAL_A, Who.ADMIN), Call(form={"label": "backend"})
    ),
    ("POST", "/admin/departments/{code}/keys/{prefix}/revoke"): Entry(
        roles(Who.OFFICIAL_A, Who.ADMIN),
        Call("/admin/departments/FOOD/keys/{spare_prefix}/revoke", form={}, phase=DESTROY),
    ),
    ("POST", "/admin/departments/{code}/services"): Entry(
        roles(Who.OFFICIAL_A, Who.ADMIN),
        Call(form={}, files={"definition": ("notice.yaml", SERVICE_YAML, "application/yaml")}),
    ),
    ("POST", "/admin/departments/{code}/datasets"): Entry(
        roles(Who.OFFICIAL_A, Who.ADMIN),
        Call(
            form={"name": "ration-cards", "key_column": "card_no"},
            files={"file": ("cards.csv", CSV, "text/csv")},
        ),
    ),
    # -- public pages ------------------------------------------------------------------------------
    ("GET", "/status"): Entry(EVERYONE),
    ("GET", "/status.json"): Entry(EVERYONE),
    ("GET", "/status/stream"): Entry(EVERYONE, Call(params={"once": "1"})),
    ("GET", "/verify/keys.json"): Entry(EVERYONE),
    ("GET", "/verify/{uri}"): Entry(
        EVERYONE, why="the address printed on the certificate", shows_a=True
    ),
    ("POST", "/verify/{uri}"): Entry(
        EVERYONE, Call(files={"file": ("copy.pdf", PDF, "application/pdf")})
    ),
    ("GET", "/shared/{token}"): Entry(
        EVERYONE,
        Call("/shared/{share_token}"),
        why="the link is the citizen's own share",
        shows_a=True,
    ),
    ("GET", "/"): Entry(EVERYONE),
    ("GET", "/services/{department_code}/{slug}"): Entry(EVERYONE),
    ("POST", "/services/{department_code}/{slug}"): Entry(EVERYONE, Call(form={"answer": "12"})),
    ("GET", "/language"): Entry(EVERYONE),
    ("GET", "/citizen/login"): Entry(EVERYONE),
    ("POST", "/citizen/login"): Entry(EVERYONE, Call(form={"phone": "9811000903"})),
    ("POST", "/citizen/verify"): Entry(EVERYONE, Call(form={"code": "000000"})),
    ("POST", "/citizen/logout"): Entry(EVERYONE, Call(form={}, phase=SESSION)),
    ("GET", "/call"): Entry(EVERYONE),
    ("GET", "/call/a/{room}"): Entry(
        EVERYONE,
        Call("/call/a/{appointment}"),
        why="the SMS link is the capability: a citizen opens it without logging in",
        shows_a=True,
    ),
    # -- the citizen's pages -----------------------------------------------------------------------
    ("GET", "/me"): Entry(CITIZENS),
    ("POST", "/me/language"): Entry(CITIZENS, Call(form={"language": "hi"})),
    ("GET", "/me/locker"): Entry(CITIZENS),
    ("POST", "/me/locker/upload"): Entry(
        CITIZENS, Call(form={}, files={"file": ("id.pdf", PDF, "application/pdf")})
    ),
    ("GET", "/me/locker/{document_id}/file"): Entry(CITIZEN_A),
    ("POST", "/me/locker/{document_id}/share"): Entry(
        CITIZEN_A, Call(form={"shared_with": "School", "hours": "24"})
    ),
    ("POST", "/me/locker/shares/{share_id}/revoke"): Entry(CITIZEN_A, Call(form={}, phase=DESTROY)),
    ("GET", "/call/{code}"): Entry(CITIZENS),
    ("POST", "/call/{code}/queue"): Entry(CITIZENS, Call(form={})),
    ("POST", "/call/{code}/book"): Entry(CITIZENS, Call(form={"starts_at": LATER})),
    ("POST", "/call/a/{room}/move"): Entry(
        CITIZEN_A, Call("/call/a/{appointment}/move", form={"starts_at": LATER})
    ),
    ("POST", "/call/a/{room}/cancel"): Entry(
        CITIZEN_A, Call("/call/a/{cancel_on_web}/cancel", form={}, phase=DESTROY)
    ),
    ("GET", "/call/q/{room}"): Entry(CITIZEN_A, Call("/call/q/{queue_room}")),
    ("GET", "/call/q/{room}/status.json"): Entry(
        CITIZEN_A, Call("/call/q/{queue_room}/status.json")
    ),
    ("POST", "/call/q/{room}/leave"): Entry(
        CITIZEN_A, Call("/call/q/{queue_room}/leave", form={}, phase=DESTROY)
    ),
    ("GET", "/call/room/{room}"): Entry(
        roles(Who.CITIZEN_A, Who.OFFICIAL_A),
        Call("/call/room/{queue_room}"),
        why="the citizen and the official who took the call",
    ),
    ("POST", "/call/room/{room}/received"): Entry(
        CITIZEN_A,
        Call("/call/room/{queue_room}/received", prepare=_received),
        why="a file kept in the citizen's locker, with the citizen's own join token",
    ),
    ("POST", "/call/room/{room}/recording"): Entry(
        roles(Who.OFFICIAL_A),
        Call("/call/room/{queue_room}/recording", prepare=_recording),
        why="handed in by the official's page, with its own join token",
    ),
    # -- the kiosk ---------------------------------------------------------------------------------
    ("GET", "/kiosk"): Entry(KIOSK),
    ("POST", "/kiosk/citizen"): Entry(KIOSK, Call(form={"phone": "9811000904"})),
    ("POST", "/kiosk/verify"): Entry(KIOSK, Call(form={"code": "000000"})),
    ("POST", "/kiosk/release"): Entry(KIOSK, Call(form={})),
    ("GET", "/kiosk/services/{department_code}/{slug}"): Entry(KIOSK),
    ("POST", "/kiosk/services/{department_code}/{slug}"): Entry(KIOSK, Call(form={"answer": "12"})),
    # -- the demo ----------------------------------------------------------------------------------
    ("GET", "/demo/backend/property-tax/{property_id}"): Entry(Skip.DEMO),
    **{
        (method, path): Entry(Skip.DEMO)
        for method, path in (
            ("GET", "/sim"),
            ("GET", "/sim/inbox"),
            ("POST", "/sim/number"),
            ("POST", "/sim/sms"),
            ("POST", "/sim/clear"),
            ("POST", "/sim/dial"),
            ("POST", "/sim/ussd"),
            ("POST", "/sim/hangup"),
            ("POST", "/sim/call"),
            ("POST", "/sim/call/recording"),
            ("POST", "/sim/call/hangup"),
            ("GET", "/sim/call/audio/{name}"),
        )
    },
}
