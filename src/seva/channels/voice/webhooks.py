"""Cloud telephony front ends for the phone menu: TwiML (Twilio and its many imitators) and
Exotel's Gather/Passthru applets, the way most Indian departments buy IVR today.

Both advance the same ``VoiceMenu`` conversation the SIP endpoint does, keyed by the
provider's call id, so a service behaves the same whichever carries the call.

* **TwiML** (``POST /channels/voice/twiml``, also the ``action`` of every ``<Gather>``): the
  form carries ``CallSid``, ``From``, ``To``, ``Digits`` (after a gather) and ``CallStatus``.
  A prompt is ``<Gather input="dtmf">`` around a ``<Say language=…>`` (one for each run of
  sentences in one language, each with that language's provider code from the languages
  table: the language menu is ``<Say language="en-IN">``, ``<Say language="hi-IN">``, …
  ``<Say language="ur-IN">``), followed by a ``<Redirect>`` back here so silence is reported
  as a request without ``Digits``; the last prompt is ``<Say>`` then ``<Hangup/>``. A status
  callback with a finished ``CallStatus`` ends the conversation. A question answered in the
  caller's own words (a message) is
  ``<Say>`` then ``<Record>`` (beep, ``#`` or any key ends it); the provider keeps the audio
  and posts ``RecordingUrl`` and ``RecordingDuration`` back here, and Seva keeps that address
  as the answer (the department fetches the audio from the provider).
* **Exotel** (``GET /channels/voice/exotel``): make a flow of a Gather applet whose dynamic
  URL is this address, then a Passthru applet with this address too, whose 200 branch goes
  back to the Gather and whose 302 branch hangs up. The Gather's request (no ``digits``)
  gets the current prompt as Exotel's JSON (``gather_prompt``, ``max_input_digits``,
  ``finish_on_key``, ``input_timeout``); the Passthru's request carries the ``digits`` the
  caller pressed, advances the conversation and answers 200 (the Gather then plays what comes
  next, the answer included); the Passthru after the answer was played gets 302. Exotel's
  Gather takes keys only, so a message question is keyed as text (the keypad letter form).
  Its ``gather_prompt`` has no language to give (the account's text-to-speech speaks one),
  so a prompt in more than one language (the language menu) goes as ``audio_url``: Seva's
  own audio, each sentence in its language's voice.

Where a department recorded a sentence of a prompt (``seva.voice.tts``, in any language), both
get the prompt's audio instead of its text (``<Play>``, ``audio_url``): the recording for that
sentence, Seva's speech for the rest.

The caller's number is taken from the provider's request, so the request must be the
provider's: the router takes requests from the operator only (``channels.operators``: TwiML
by ``X-Twilio-Signature`` with ``SEVA_TWILIO_AUTH_TOKEN``, a secret in the URL or an address
allow-list; Exotel, which signs nothing, by the secret or the allow-list). The prompt audio
they fetch is at links Seva signs.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, Response

from seva.channels.operators import AUDIO_SIGNATURE_PARAM, audio_link, operator_only
from seva.channels.voice.ivr import Prompt
from seva.dashboard import metrics
from seva.deps import SessionDep
from seva.errors import ApiError
from seva.gateway import Gateway, GatewayDep
from seva.i18n.languages import speech_code
from seva.numbers import msisdn
from seva.voice import recordings

router = APIRouter(
    prefix="/channels/voice", tags=["channels"], dependencies=[Depends(operator_only)]
)

TWIML_PATH = "/channels/voice/twiml"
AUDIO_PATH = "/channels/voice/audio"
AUDIO_KEY = re.compile(r"^[0-9a-f]{64}$")
GATHER_TIMEOUT = 8
RECORD_QUIET = 4
"""Seconds of quiet that end a recorded answer."""
"""Seconds a caller has to press the first key (and between keys)."""
MAX_KEYS = 160
"""Keys in one answer: a line of text in the keypad letter form takes about three per letter."""
ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})

CallId = Annotated[str, Form(alias="CallSid", min_length=1, max_length=64)]


def _caller(raw: str | None, region: str) -> str | None:
    """The caller's number, when the provider gave a valid one (withheld numbers are None)."""
    if not raw:
        return None
    return msisdn(raw, region)


def _keys(raw: str | None) -> str | None:
    if raw is None:
        return None
    keys = raw.strip().strip('"')
    if len(keys) > MAX_KEYS or any(k not in "0123456789*#" for k in keys):
        raise ApiError(400, "invalid_digits", "Digits must be keypad keys", "Digits")
    return keys.rstrip("#")


def audio_url(gateway: Gateway, prompt: Prompt, *, one_language: bool = False) -> str | None:
    """Where the provider can fetch the prompt's audio when it must play Seva's audio rather
    than speak the text: a department recorded part of it (the provider's text-to-speech would
    not use the recording), or, for a provider that speaks a prompt in one language only
    (``one_language``: Exotel), its sentences are in more than one."""
    speech = gateway.speech
    langs = prompt.sentence_langs
    mixed = one_language and len(prompt.runs) > 1
    if not mixed and not speech.has_recording(prompt.sentences, langs, prompt.department):
        return None
    key = speech.prompt_key(prompt.sentences, langs, prompt.department)
    if not speech.has_wav(key):  # made once; later calls only name it
        speech.prompt_wav(prompt.sentences, langs, prompt.department)
    name = f"{key}.wav"
    signature = audio_link(gateway.settings.secret_key, name)
    return (
        f"{gateway.settings.base_url.rstrip('/')}{AUDIO_PATH}/{name}"
        f"?{AUDIO_SIGNATURE_PARAM}={signature}"
    )


def _voice(parent: ET.Element, prompt: Prompt, audio: str | None) -> None:
    if audio is not None:
        ET.SubElement(parent, "Play").text = audio
        return
    for lang, text in prompt.runs:
        ET.SubElement(parent, "Say", language=speech_code(lang)).text = text


def twiml(prompt: Prompt, action: str = TWIML_PATH, audio: str | None = None) -> str:
    """The TwiML document for one prompt (``audio``: a recording to ``<Play>`` instead)."""
    response = ET.Element("Response")
    if prompt.end:
        _voice(response, prompt, audio)
        ET.SubElement(response, "Hangup")
    elif prompt.record_seconds is not None:
        _voice(response, prompt, audio)
        ET.SubElement(
            response,
            "Record",
            {
                "action": action,
                "method": "POST",
                "maxLength": str(prompt.record_seconds),
                "timeout": str(RECORD_QUIET),
                "finishOnKey": "1234567890*#",
                "playBeep": "true",
                "trim": "trim-silence",
            },
        )
        ET.SubElement(response, "Redirect", method="POST").text = action
    else:
        attributes = {
            "input": "dtmf",
            "action": action,
            "method": "POST",
            "timeout": str(GATHER_TIMEOUT),
            "finishOnKey": prompt.finish_on_key,
        }
        if prompt.num_digits is not None:
            attributes["numDigits"] = str(prompt.num_digits)
        gather = ET.SubElement(response, "Gather", attributes)
        _voice(gather, prompt, audio)
        ET.SubElement(response, "Redirect", method="POST").text = action
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(response, encoding="unicode")


@router.post("/twiml", summary="Voice call step (TwiML webhook)", response_class=Response)
def twiml_webhook(
    request: Request,
    gateway: GatewayDep,
    session: SessionDep,
    call_id: CallId,
    caller: Annotated[str | None, Form(alias="From", max_length=32)] = None,
    called: Annotated[str | None, Form(alias="To", max_length=32)] = None,
    digits: Annotated[str | None, Form(alias="Digits", max_length=200)] = None,
    status: Annotated[str | None, Form(alias="CallStatus", max_length=20)] = None,
    recording_url: Annotated[str | None, Form(alias="RecordingUrl", max_length=500)] = None,
    recording_seconds: Annotated[
        float | None, Form(alias="RecordingDuration", ge=0, le=3600)
    ] = None,
) -> Response:
    key = f"twiml:{call_id}"
    phone = _caller(caller, gateway.settings.default_region)
    if called and gateway.missed_calls.registered(called):
        # A missed-call number: turned away busy (nothing charged), answered by SMS.
        if phone is not None and status not in ENDED:
            gateway.missed_calls.answer(session, caller=phone, called=called)
        return Response(twiml_reject(), media_type="application/xml")
    if status in ENDED:
        gateway.voice.hangup(session, call_id=key)
        return Response(twiml_empty(), media_type="application/xml")
    metrics.REQUESTS.labels("voice").inc()
    if recording_url is not None:
        source = recordings.provider_url(recording_url)
        if source is None:
            raise ApiError(400, "invalid_recording", "RecordingUrl must be an http(s) URL")
        prompt = gateway.voice.recorded(
            session,
            call_id=key,
            phone=phone,
            channel="twiml",
            seconds=recording_seconds or 0.0,
            source_url=source,
        )
    else:
        prompt = gateway.voice.handle(session, call_id=key, phone=phone, keys=_keys(digits))
    # The next step comes back to the URL the provider was given, query and all: a secret
    # there (``channels.operators``) would be lost by a bare path.
    action = TWIML_PATH + (f"?{request.url.query}" if request.url.query else "")
    return Response(
        twiml(prompt, action, audio=audio_url(gateway, prompt)), media_type="application/xml"
    )


@router.get(
    "/audio/{name}", summary="A prompt's audio (recorded sentences)", response_class=Response
)
def prompt_audio(gateway: GatewayDep, name: str) -> Response:
    key = name.removesuffix(".wav")
    data = gateway.speech.cached_wav(key) if AUDIO_KEY.match(key) else None
    if data is None:
        return Response(status_code=404)
    return Response(data, media_type="audio/wav", headers={"Cache-Control": "max-age=86400"})


def twiml_empty() -> str:
    return '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def twiml_reject() -> str:
    return '<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="busy"/></Response>'


def exotel_gather(prompt: Prompt, audio: str | None = None) -> dict[str, object]:
    """Exotel's Gather applet parameters for one prompt (dynamic URL, version 1.0)."""
    said: dict[str, str] = {"audio_url": audio} if audio else {"text": prompt.text}
    return {
        "gather_prompt": said,
        "max_input_digits": 1 if prompt.end else (prompt.num_digits or MAX_KEYS),
        "finish_on_key": prompt.finish_on_key,
        "input_timeout": 1 if prompt.end else GATHER_TIMEOUT,
        "repeat_menu": 0 if prompt.end else 2,
        "repeat_gather_prompt": said,
    }


def _passthru_ok() -> Response:
    """Exotel's Passthru applet reads only the status."""
    return Response(status_code=200, media_type="text/plain")


@router.get(
    "/exotel",
    summary="Voice call step (Exotel Gather and Passthru applets)",
    responses={
        200: {
            "description": "The Gather applet's JSON; an empty body for Passthru.",
            "content": {"application/json": {}, "text/plain": {}},
        },
        302: {"description": "Passthru: the caller heard the answer; take the hang-up branch."},
    },
)
def exotel_webhook(
    gateway: GatewayDep,
    session: SessionDep,
    call_id: Annotated[str, Query(alias="CallSid", min_length=1, max_length=64)],
    caller: Annotated[str | None, Query(alias="CallFrom", max_length=32)] = None,
    called: Annotated[str | None, Query(alias="CallTo", max_length=32)] = None,
    digits: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(alias="CallStatus", max_length=20)] = None,
) -> Response:
    key = f"exotel:{call_id}"
    phone = _caller(caller, gateway.settings.default_region)
    if called and gateway.missed_calls.registered(called):
        # A missed-call number (a Passthru applet on it): answered by SMS, then hang up.
        if phone is not None and status not in ENDED:
            gateway.missed_calls.answer(session, caller=phone, called=called)
        return Response(status_code=302)
    if status in ENDED:
        gateway.voice.hangup(session, call_id=key)
        return _passthru_ok()
    if digits is None:  # the Gather applet asks what to play
        prompt = gateway.voice.current(session, call_id=key, phone=phone, record=False)
        return JSONResponse(exotel_gather(prompt, audio_url(gateway, prompt, one_language=True)))
    # the Passthru applet brings what was keyed; once the caller has heard the answer (the
    # Gather played the final prompt), 302 sends the flow to its hang-up branch
    if gateway.voice.current(session, call_id=key, phone=phone, record=False).end:
        gateway.voice.hangup(session, call_id=key)
        return Response(status_code=302)
    metrics.REQUESTS.labels("voice").inc()
    # Exotel sends an empty digits both for silence and for a lone #: both count as silence.
    gateway.voice.handle(
        session, call_id=key, phone=phone, keys=_keys(digits) or None, record=False
    )
    return _passthru_ok()
