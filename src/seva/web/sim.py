"""The phone simulator (``/sim``): a basic phone in the browser, for demos and testing.

It texts the shortcode and dials the USSD code through the very adapters the operators' HTTP
callbacks use (``gateway.sms.handle``, ``gateway.ussd.handle``), so it shows exactly what a
handset would get, and its inbox lists the SMS queued to the number (codes from the portal and
the kiosk, application status notifications). Its phone calls walk the voice menu
(``gateway.voice``); a question answered in the caller's own words is recorded by the
browser's microphone and handed over as an 8 kHz WAV, like a SIP call's recording.

The browser session holds only a random key; the conversation thread and the USSD session
live in the dialogue store (database or Redis) under channel ``sim``, because a thread of
Hindi SMS would not fit in a cookie. Mounted only for the demo (``Settings.serves_demo_routes``):
anyone could read any number's codes.
"""

from __future__ import annotations

import re
import secrets
import time
from array import array
from collections import deque
from datetime import datetime, timedelta
from typing import Annotated, Any

import anyio.from_thread
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from seva.bodies import CappedRoute, describe_size
from seva.channels.sms import MAX_INBOUND
from seva.channels.voice.ivr import Prompt
from seva.clock import ist_clock
from seva.db.base import utcnow
from seva.deps import SessionDep
from seva.errors import error_body
from seva.flows.store import Dialogue
from seva.gateway import Gateway, GatewayDep
from seva.i18n import entry
from seva.i18n import text as ui
from seva.messaging import service as messaging
from seva.messaging.models import KINDS, STATES
from seva.messaging.service import MessageView
from seva.numbers import msisdn
from seva.params import AfterBigRowId
from seva.templating import check_csrf, page_lang, render
from seva.voice import recordings
from seva.voice.tts import RATE, read_recording, resample, wav_bytes

router = APIRouter(include_in_schema=False)

CHANNEL = "sim"
SESSION_SIM = "sim"
DEFAULT_PHONE = "+919900000001"
MAX_THREAD = 30
INBOX_SHOWN = 20
KEEP_FOR = timedelta(hours=8)
"""As long as the browser session cookie lives."""
MAX_USSD_INPUT = 160


# -- state ----------------------------------------------------------------------------------


class PhoneState:
    """The simulated handset: its number, the SMS thread and an open USSD session."""

    def __init__(self, dialogue: Dialogue) -> None:
        self.dialogue = dialogue
        meta = dialogue.meta
        self.phone: str = str(meta.get("phone") or DEFAULT_PHONE)
        self.thread: list[dict[str, str]] = list(meta.get("thread") or [])
        self.ussd: dict[str, Any] = dict(meta.get("ussd") or {})
        self.voice: dict[str, Any] = dict(meta.get("voice") or {})

    def add(self, direction: str, text: str, now: datetime) -> dict[str, str]:
        entry = {"dir": direction, "text": text, "at": ist_clock(now)}
        self.thread = list(deque([*self.thread, entry], maxlen=MAX_THREAD))
        return entry

    def save(self, gateway: Gateway, session: Session, now: datetime) -> None:
        self.dialogue.meta = {
            "phone": self.phone,
            "thread": self.thread,
            "ussd": self.ussd,
            "voice": self.voice,
        }
        self.dialogue.expires_at = (now + KEEP_FOR).isoformat()
        gateway.runtime.store.save(session, self.dialogue)


def _load(request: Request, gateway: Gateway, session: Session, now: datetime) -> PhoneState:
    key = request.session.get(SESSION_SIM)
    dialogue = None
    if key:
        dialogue = gateway.runtime.store.load(session, CHANNEL, str(key))
        if dialogue is not None and dialogue.expired(now):
            dialogue = None
    if dialogue is None:
        key = secrets.token_urlsafe(18)
        request.session[SESSION_SIM] = key
        dialogue = Dialogue(channel=CHANNEL, key=str(key), expires_at=(now + KEEP_FOR).isoformat())
    return PhoneState(dialogue)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _expired_form(request: Request) -> Response:
    message = ui("form_expired", page_lang(request))
    if _wants_json(request):
        return JSONResponse(
            {"error": {"code": "csrf", "message": message, "field": "csrf"}}, status_code=400
        )
    return render(request, "portal_message.html", {"message": message, "back": "/sim"}, 400)


def _refused(request: Request, csrf: str) -> Response | None:
    """Why a simulator form post is turned away, if it is: the form has expired."""
    if not check_csrf(request, csrf):
        return _expired_form(request)
    return None


def _inbox(session: Session, phone: str) -> list[MessageView]:
    """The newest messages queued to ``phone``, oldest first, with their status now. Replies
    are left out: they show in the SMS thread."""
    return messaging.latest_to(session, phone, limit=INBOX_SHOWN, leave_out_kind="reply")


def _status_text(status: str, lang: str) -> str:
    return ui(f"sim_status_{status}", lang) if status in STATES else status


def _kind_text(kind: str, lang: str) -> str:
    return ui(f"sim_kind_{kind}", lang) if kind in KINDS else kind


def _inbox_json(message: MessageView, lang: str) -> dict[str, Any]:
    return {
        "id": message.id,
        "sender": message.sender,
        "text": message.text,
        "kind": message.kind,
        "kind_text": _kind_text(message.kind, lang),
        "status": message.status,
        "status_text": _status_text(message.status, lang),
        "at": ist_clock(message.created_at),
    }


# -- pages ----------------------------------------------------------------------------------


@router.get("/sim")
def sim_page(request: Request, session: SessionDep, gateway: GatewayDep) -> Response:
    now = utcnow()
    state = _load(request, gateway, session, now)
    settings = gateway.settings
    inbox = _inbox(session, state.phone)
    lang = page_lang(request)
    return render(
        request,
        "sim.html",
        {
            "phone": state.phone,
            "thread": state.thread,
            "ussd": state.ussd,
            "inbox": [_inbox_json(m, lang) for m in reversed(inbox)],
            "last_inbox_id": inbox[-1].id if inbox else 0,
            "sms_code": settings.shortcode,
            "ussd_code": settings.ussd_code,
            "max_sms": MAX_INBOUND,
            "voice": state.voice,
        },
    )


@router.get("/sim/inbox")
def sim_inbox(
    request: Request, session: SessionDep, gateway: GatewayDep, after: AfterBigRowId = 0
) -> Response:
    """The inbox as JSON (the page polls this): the messages newer than ``after``, and the
    delivery status now of every message the page lists, so a receipt that arrives after a
    message was shown still changes what it says. A browser without script gets the page."""
    if not _wants_json(request):
        return RedirectResponse("/sim#inbox", status_code=303)
    state = _load(request, gateway, session, utcnow())
    lang = page_lang(request)
    shown = _inbox(session, state.phone)
    return JSONResponse(
        {
            "phone": state.phone,
            "messages": [_inbox_json(m, lang) for m in shown if m.id > after],
            "statuses": [
                {"id": m.id, "status": m.status, "status_text": _status_text(m.status, lang)}
                for m in shown
            ],
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post("/sim/number")
def sim_number(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    phone: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if (refused := _refused(request, csrf)) is not None:
        return refused
    number = msisdn(phone[:40], gateway.settings.default_region)
    if number is None:
        message = ui("bad_phone", page_lang(request))
        return render(request, "portal_message.html", {"message": message, "back": "/sim"}, 400)
    now = utcnow()
    state = _load(request, gateway, session, now)
    if number != state.phone:
        state.phone = number
        state.thread = []
        state.ussd = {}
    state.save(gateway, session, now)
    return RedirectResponse("/sim", status_code=303)


@router.post("/sim/sms")
def sim_sms(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    text: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if (refused := _refused(request, csrf)) is not None:
        return refused
    now = utcnow()
    state = _load(request, gateway, session, now)
    body = text[:MAX_INBOUND]
    if gateway.smsc_sim is not None:
        answer = _through_smsc(gateway, state.phone, body, page_lang(request))
    else:
        answer = gateway.sms.handle(session, phone=state.phone, text=body).text
    sent = state.add("out", body, now)
    received = state.add("in", answer, utcnow())
    state.save(gateway, session, now)
    if _wants_json(request):
        return JSONResponse({"sent": sent, "reply": received})
    return RedirectResponse("/sim#thread", status_code=303)


SMSC_REPLY_WAIT = 10.0


def _through_smsc(gateway: Gateway, phone: str, body: str, lang: str) -> str:
    """Send the SMS the way a handset does: the SMSC simulator delivers it to the gateway's
    SMPP bind as an MO ``deliver_sm``; the gateway's reply comes back as an MT ``submit_sm``
    to this number. Waits (a worker thread) until the simulator has it."""
    sim = gateway.smsc_sim
    if sim is None:
        return _SMSC_DOWN.get(lang, _SMSC_DOWN["en"])
    shortcode = gateway.settings.shortcode
    handset = phone.lstrip("+")

    def replies() -> set[str]:
        return {m.message_id for m in sim.messages_to(handset) if m.source == shortcode}

    before = anyio.from_thread.run_sync(replies)
    parts = anyio.from_thread.run_sync(
        lambda: sim.inject_mo(source=handset, destination=shortcode, text=body)
    )
    if not parts:
        return _SMSC_DOWN.get(lang, _SMSC_DOWN["en"])
    deadline = time.monotonic() + SMSC_REPLY_WAIT
    while time.monotonic() < deadline:
        fresh = anyio.from_thread.run_sync(
            lambda: [
                m
                for m in sim.messages_to(handset)
                if m.source == shortcode and m.message_id not in before
            ]
        )
        if fresh:
            return "\n".join(m.text for m in fresh)
        time.sleep(0.05)
    return _NO_REPLY_YET.get(lang, _NO_REPLY_YET["en"])


_SMSC_DOWN = entry("sim_smsc_down")
_NO_REPLY_YET = entry("sim_no_reply_yet")


@router.post("/sim/clear")
def sim_clear(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if (refused := _refused(request, csrf)) is not None:
        return refused
    now = utcnow()
    state = _load(request, gateway, session, now)
    state.thread = []
    state.save(gateway, session, now)
    return RedirectResponse("/sim", status_code=303)


def _dialled(code: str, service_code: str) -> list[str] | None:
    """The inputs a dialled string carries: ``*166#`` → ``[]``, ``*166*2*1#`` → ``["2", "1"]``
    (the shortcut most USSD menus accept); None when it is not this gateway's code."""
    compact = code.strip().replace(" ", "")
    prefix = service_code.rstrip("#")
    if not compact.endswith("#") or not compact.startswith(prefix):
        return None
    rest = compact[len(prefix) : -1]
    if rest == "":
        return []
    if not rest.startswith("*"):
        return None
    parts = rest[1:].split("*")
    return parts if all(parts) else None


def _ussd_reply(request: Request, state: PhoneState, screen: str, end: bool) -> Response:
    if _wants_json(request):
        return JSONResponse({"screen": screen, "end": end})
    return RedirectResponse("/sim#ussd", status_code=303)


@router.post("/sim/dial")
def sim_dial(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    code: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if (refused := _refused(request, csrf)) is not None:
        return refused
    now = utcnow()
    state = _load(request, gateway, session, now)
    inputs = _dialled(code[:64], gateway.settings.ussd_code)
    if inputs is None:
        text = ui("sim_bad_code", page_lang(request))
        state.ussd = {"screen": text, "end": True, "error": True}
        state.save(gateway, session, now)
        return _ussd_reply(request, state, text, True)
    session_id = "sim-" + secrets.token_hex(8)
    # A shortcut is keyed hop by hop, as if the citizen had typed each choice in turn.
    screen = gateway.ussd.handle(session, session_id=session_id, phone=state.phone, text="")
    for hop in range(1, len(inputs) + 1):
        if screen.end:
            inputs = inputs[: hop - 1]
            break
        text = "*".join(inputs[:hop])
        screen = gateway.ussd.handle(session, session_id=session_id, phone=state.phone, text=text)
    state.ussd = {
        "session_id": session_id,
        "inputs": inputs,
        "screen": screen.text,
        "end": screen.end,
    }
    state.save(gateway, session, now)
    return _ussd_reply(request, state, screen.text, screen.end)


@router.post("/sim/ussd")
def sim_ussd(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    value: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The next keypad input of the open USSD session."""
    if (refused := _refused(request, csrf)) is not None:
        return refused
    now = utcnow()
    state = _load(request, gateway, session, now)
    ussd = state.ussd
    if not ussd.get("session_id") or ussd.get("end"):
        text = ui("sim_ussd_ended", page_lang(request))
        state.ussd = {"screen": text, "end": True}
        state.save(gateway, session, now)
        return _ussd_reply(request, state, text, True)
    inputs = [*list(ussd.get("inputs") or []), value.strip()[:MAX_USSD_INPUT]]
    screen = gateway.ussd.handle(
        session, session_id=str(ussd["session_id"]), phone=state.phone, text="*".join(inputs)
    )
    state.ussd = {
        "session_id": ussd["session_id"],
        "inputs": inputs,
        "screen": screen.text,
        "end": screen.end,
    }
    state.save(gateway, session, now)
    return _ussd_reply(request, state, screen.text, screen.end)


@router.post("/sim/hangup")
def sim_hangup(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if (refused := _refused(request, csrf)) is not None:
        return refused
    now = utcnow()
    state = _load(request, gateway, session, now)
    # A handset that hangs up tells the gateway nothing; the session times out there.
    state.ussd = {}
    state.save(gateway, session, now)
    return _ussd_reply(request, state, "", True)


# -- a phone call -------------------------------------------------------------------------

AUDIO_KEY = re.compile(r"^[0-9a-f]{64}$")
MAX_CALL_KEYS = 160


def _call_reply(request: Request, voice: dict[str, Any]) -> Response:
    if _wants_json(request):
        return JSONResponse(voice, headers={"Cache-Control": "no-store"})
    return RedirectResponse("/sim#call", status_code=303)


def _heard(gateway: Gateway, session: Session, call_id: str, prompt: Prompt) -> dict[str, Any]:
    """The call as the page keeps it after ``prompt``, whether keys or a recording led there.

    The audio is made now so it is ready before the browser asks for it (with any sentences
    the department recorded), and a prompt that ends the call hangs up at once: the page has
    nothing more to send."""
    audio_key, _ = gateway.speech.prompt_wav(
        prompt.sentences, prompt.sentence_langs, prompt.department
    )
    if prompt.end:
        gateway.voice.hangup(session, call_id=call_id)
    return {
        "call_id": call_id,
        "text": prompt.text,
        "lang": prompt.lang,
        "end": prompt.end,
        "num_digits": prompt.num_digits,
        "record_seconds": prompt.record_seconds,
        "audio": f"/sim/call/audio/{audio_key}.wav",
    }


@router.post("/sim/call")
def sim_call(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    keys: Annotated[str, Form(max_length=MAX_CALL_KEYS)] = "",
    start: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Call the gateway from the simulated phone: the same phone menu a SIP or TwiML call
    walks, with the prompt's text and its spoken audio for the browser to play."""
    if (refused := _refused(request, csrf)) is not None:
        return refused
    now = utcnow()
    state = _load(request, gateway, session, now)
    call_id = str(state.voice.get("call_id") or "")
    if start or not call_id or state.voice.get("end"):
        call_id = "sim-" + secrets.token_hex(8)
        pressed: str | None = None
    else:
        pressed = "".join(k for k in keys if k in "0123456789*#").rstrip("#") or None
    prompt = gateway.voice.handle(session, call_id=call_id, phone=state.phone, keys=pressed)
    state.voice = _heard(gateway, session, call_id, prompt)
    state.save(gateway, session, now)
    return _call_reply(request, state.voice)


MIN_RECORDING_SECONDS = 0.3
"""Shorter is a slip of the Stop button, not an answer."""
RECORDING_BODY_LIMIT = recordings.MAX_BYTES + 64 * 1024
"""The WAV plus the multipart boundaries and the form token."""


class RecordingRoute(CappedRoute):
    """Refuses a body larger than any recording the gateway keeps before reading it."""

    body_limit = RECORDING_BODY_LIMIT


def _call_refused(
    request: Request, status: int, code: str, message: str, field: str | None = "file"
) -> Response:
    if _wants_json(request):
        return JSONResponse(error_body(code, message, field), status_code=status)
    return render(request, "portal_message.html", {"message": message, "back": "/sim#call"}, status)


def _telephone_audio(data: bytes, seconds: int) -> array[int] | None:
    """``data`` as the 8 kHz samples a phone line would have carried, cut to the ``seconds``
    the question allows; None when it is not a 16-bit mono WAV at a rate microphones use.

    Cut at the source rate first, so an overlong upload costs no resampling work."""
    try:
        samples, rate = read_recording(data)
    except ValueError:
        return None
    return resample(samples[: seconds * rate], rate, RATE)[: seconds * RATE]


def sim_call_recording(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    file: Annotated[UploadFile | None, File()] = None,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The caller's spoken answer to a message question, recorded by the browser: it goes to
    the phone menu as a SIP call's recording does, and the call moves on."""
    if (refused := _refused(request, csrf)) is not None:
        return refused
    lang = page_lang(request)
    now = utcnow()
    state = _load(request, gateway, session, now)
    call_id = str(state.voice.get("call_id") or "")
    seconds = state.voice.get("record_seconds")
    if not call_id or state.voice.get("end") or not isinstance(seconds, int) or seconds < 1:
        message = ui("sim_rec_not_asked", lang)
        return _call_refused(request, 409, "not_recording", message, field=None)
    if file is None:
        return _call_refused(request, 422, "missing_recording", ui("sim_rec_missing", lang))
    data = file.file.read(recordings.MAX_BYTES + 1)  # a plain def: runs in a worker thread
    if len(data) > recordings.MAX_BYTES:
        message = ui("sim_rec_too_large", lang).format(size=describe_size(recordings.MAX_BYTES))
        return _call_refused(request, 413, "too_large", message)
    samples = _telephone_audio(data, seconds)
    if samples is None:
        return _call_refused(request, 422, "bad_recording", ui("sim_rec_bad_wav", lang))
    heard = len(samples) / RATE
    if heard < MIN_RECORDING_SECONDS:
        return _call_refused(request, 422, "too_short", ui("sim_rec_too_short", lang))
    prompt = gateway.voice.recorded(
        session,
        call_id=call_id,
        phone=state.phone,
        channel=CHANNEL,
        seconds=heard,
        wav=wav_bytes(samples, RATE),
    )
    state.voice = _heard(gateway, session, call_id, prompt)
    state.save(gateway, session, now)
    return _call_reply(request, state.voice)


router.add_api_route(
    "/sim/call/recording",
    sim_call_recording,
    methods=["POST"],
    route_class_override=RecordingRoute,
)


@router.post("/sim/call/hangup")
def sim_call_hangup(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if (refused := _refused(request, csrf)) is not None:
        return refused
    now = utcnow()
    state = _load(request, gateway, session, now)
    if state.voice.get("call_id") and not state.voice.get("end"):
        gateway.voice.hangup(session, call_id=str(state.voice["call_id"]))
    state.voice = {}
    state.save(gateway, session, now)
    return _call_reply(request, {"end": True})


@router.get("/sim/call/audio/{name}")
def sim_call_audio(gateway: GatewayDep, name: str) -> Response:
    """A prompt's audio from the voice cache (the simulator's own prompts only exist there
    once a call has asked for them)."""
    key = name.removesuffix(".wav")
    if not AUDIO_KEY.match(key):
        return Response(status_code=404)
    data = gateway.speech.cached_wav(key)
    if data is None:
        return Response(status_code=404)
    return Response(data, media_type="audio/wav", headers={"Cache-Control": "max-age=86400"})
