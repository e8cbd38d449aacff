"""The SIP endpoint: UDP sockets and timers around the sans-IO ``Uas``, with the phone menu
behind each call.

One asyncio loop carries every call. The ``Uas`` says what to send and when media starts and
stops; this layer sends it, opens one RTP socket per call, reads the caller's keys (RFC 4733
telephone events) and plays prompts. Prompt audio for all calls is paced by one timer that
wakes every 20 ms and sends each call's due packet, so a thousand calls cost a thousand sends
per tick, not a thousand timers.

Each call runs the ``VoiceMenu`` conversation under ``sip:<Call-ID>``: the first prompt on
answer; the keys gathered (one for a menu, up to ``#`` otherwise; a key during a prompt cuts
it short); silence after ``GATHER_TIMEOUT`` seconds counts as no answer; the last prompt
plays to its end and the endpoint hangs up. The menu and the speech synthesis run in worker
threads (they touch the database and run espeak-ng), never on the loop.

RTP is taken only from the caller's media address as its SDP gave it (the host; the port may
differ behind NAT or from test tools), everything else is dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import structlog
from sqlalchemy.orm import Session

from seva import i18n
from seva.channels.voice import ivr, sip, uac
from seva.channels.voice.dialog import (
    Action,
    CallEnded,
    CallStarted,
    SendSip,
    StartMedia,
    StopMedia,
    Uas,
)
from seva.channels.voice.ivr import Prompt, VoiceMenu
from seva.channels.voice.missed import MissedCalls
from seva.channels.voice.rtp import (
    PACKET_SECONDS,
    Codec,
    DtmfReceiver,
    Recorder,
    RtpError,
    Sender,
    beep,
    decode,
)
from seva.channels.voice.sdp import Direction
from seva.dashboard import metrics
from seva.db.base import utcnow
from seva.numbers import msisdn
from seva.voice import service as notices
from seva.voice.tts import RATE, Speech

log = structlog.get_logger(__name__)

GATHER_TIMEOUT = 6.0
"""Seconds of silence after a prompt (or between keys) before the menu hears no answer."""
MAX_KEYS = 160
"""Keys in one answer (a line of text in the keypad letter form); more are not taken."""
ENCODED_PROMPTS = 256
"""Prompts kept encoded in memory (about 2.4 MB at 10 s each)."""
TAIL = 0.3
"""Audio still in the caller's jitter buffer when the last packet leaves: wait before BYE."""
RECORD_QUIET = 4.0
"""Seconds of quiet after speech that end a recorded answer (as ``#`` or the limit do)."""
RECORD_NO_SPEECH = 8.0
"""Seconds without any speech after the beep before the question counts as unanswered."""
BEEP = bytes(int(RATE * 0.2) * 2) + beep()
"""A breath of silence, then the tone that starts a recording."""


def parse_ports(spec: str) -> range:
    low, _, high = spec.partition("-")
    first, last = int(low), int(high or low)
    if not 1024 <= first <= last <= 65535:
        raise ValueError("SEVA_SIP_RTP_PORTS must be a range like 31000-31999")
    return range(first, last + 1)


def parse_trunk(spec: str) -> tuple[str, int] | None:
    """``10.20.0.5:5060`` → ``("10.20.0.5", 5060)``; empty → None (no outbound calls)."""
    if not spec.strip():
        return None
    host, _, port = spec.strip().rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("SEVA_SIP_TRUNK must be IP:port, like 10.20.0.5:5060")
    return host.strip("[]"), int(port)


@dataclass
class CallStats:
    """What one call's audio did: for tests, the benchmark and the logs."""

    packets_sent: int = 0
    prompts: list[tuple[str, str, int]] = field(default_factory=list)
    """(text, language, packets) of each prompt played to its end or cut short."""
    keys: list[str] = field(default_factory=list)
    send_lateness: list[float] = field(default_factory=list)
    """Seconds each packet left after its due time (pacing jitter of our side)."""
    dropped_foreign: int = 0
    recordings: list[float] = field(default_factory=list)
    """Seconds kept of each answer the caller recorded."""


class _Rtp(asyncio.DatagramProtocol):
    def __init__(self, call: Call) -> None:
        self.call = call
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.call.rtp_received(data, addr)


@dataclass
class Call:
    call_id: str
    caller: str | None
    endpoint: SipEndpoint
    stats: CallStats = field(default_factory=CallStats)
    media: StartMedia | None = None
    rtp: _Rtp | None = None
    sender: Sender | None = None
    dtmf: DtmfReceiver | None = None
    task: asyncio.Task[None] | None = None
    keys: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=MAX_KEYS))
    typeahead: str = ""
    recorder: Recorder | None = None
    """Set while the caller is recording an answer (and still set if they hang up then)."""
    """Keys pressed beyond what the last answer took (after its ``#`` or its digit count):
    they answer the next prompt, as a caller who knows the menu keys ahead expects."""
    start_time: float = 0.0
    prompt_packets: int = 0
    message_seconds: float = 0.0
    """Length of the prompt now playing (a notification's message)."""
    notice: notices.DueCall | None = None
    """Set on calls Seva places (voice notifications); None on calls it answers."""
    answered: bool = False
    db_lock: threading.Lock = field(default_factory=threading.Lock)
    """Held by the worker thread doing this call's menu step, and by its hang-up."""

    def rtp_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        media = self.media
        if media is None or self.dtmf is None or addr[0] != media.remote_rtp_addr[0]:
            self.stats.dropped_foreign += 1
            return
        try:
            packet = decode(data)
        except RtpError:
            return
        if self.recorder is not None and packet.payload_type == media.payload_type:
            self.recorder.feed(packet)
            return
        digit = self.dtmf.receive(packet, now=time.monotonic())
        if digit is not None:
            if len(self.stats.keys) < MAX_KEYS:
                self.stats.keys.append(digit)
            with contextlib.suppress(asyncio.QueueFull):  # a DTMF flood: keys beyond are lost
                self.keys.put_nowait(self.dtmf.take_digits())

    def send_due(self, now: float) -> None:
        sender, rtp, media = self.sender, self.rtp, self.media
        if sender is None or rtp is None or rtp.transport is None or media is None:
            return
        if not _may_send(media):  # on hold: the prompt keeps time but nothing is sent
            while (due := sender.due_at(self.start_time)) is not None and due <= now:
                sender.pop()
                self.prompt_packets += 1
            return
        due = sender.due_at(self.start_time)
        while due is not None and due <= now + 0.001:
            packet = sender.pop()
            if packet is None:
                break
            rtp.transport.sendto(packet.encode(), media.remote_rtp_addr)
            late = max(0.0, time.monotonic() - due)  # when it really left, not the tick
            self.stats.packets_sent += 1
            self.prompt_packets += 1
            if len(self.stats.send_lateness) < 100_000:
                self.stats.send_lateness.append(late)
            metrics.RTP_SENT.inc()
            metrics.RTP_LATENESS.observe(late)
            due = sender.due_at(self.start_time)

    @property
    def playing(self) -> bool:
        return self.sender is not None and self.sender.queued > 0


class SipEndpoint:
    """Seva's SIP user agent server with the phone menu behind it."""

    def __init__(
        self,
        menu: VoiceMenu,
        speech: Speech,
        run_in_db: Callable[[Callable[[Session], Any]], Any],
        *,
        host: str,
        port: int,
        trunks: list[str],
        rtp_ports: range,
        max_calls: int,
        region: str = "IN",
        gather_timeout: float = GATHER_TIMEOUT,
        on_call_end: Callable[[Call], None] | None = None,
        missed_calls: MissedCalls | None = None,
        trunk: tuple[str, int] | None = None,
        dial_concurrency: int = 20,
        dial_every: float = 1.0,
        ring_seconds: float = 0.0,
    ) -> None:
        self.menu = menu
        self.speech = speech
        self.run_in_db = run_in_db
        self.host = host
        self.port = port
        self.region = region
        self.gather_timeout = gather_timeout
        self.on_call_end = on_call_end
        self.missed_calls = missed_calls
        self.trunk = trunk
        self.dial_concurrency = dial_concurrency
        self.dial_every = dial_every
        self.ring_seconds = ring_seconds
        self.uac: uac.Uac | None = None
        self._free_ports = list(rtp_ports)
        self._used_ports: set[int] = set()
        self._trunks = trunks
        self._max_calls = max_calls
        self.uas = self._new_uas()
        self.calls: dict[str, Call] = {}
        self.finished: list[Call] = []
        """Recently ended calls (the last 1,000), for tests and the benchmark."""
        self._transport: asyncio.DatagramTransport | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._warming: asyncio.Future[None] | None = None
        self._stopping = False
        self.next_tick = time.monotonic()
        self._encoded: OrderedDict[
            tuple[tuple[str, ...], tuple[str, ...], str | None, tuple[float, ...], Codec, bool],
            bytes,
        ] = OrderedDict()
        self._encoded_lock = threading.Lock()
        self.missed_answered = 0

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        endpoint = self

        class _Sip(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
                endpoint._datagram(data, addr)

        transport, _ = await loop.create_datagram_endpoint(_Sip, local_addr=(self.host, self.port))
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        self.uas = self._new_uas()  # its Contact and Via name the port actually bound
        if self.trunk is not None:
            self.uac = uac.Uac(
                local_ip=self.host,
                sip_port=self.port,
                trunk=self.trunk,
                rtp_port_allocator=self._allocate_port,
                max_calls=self.dial_concurrency,
            )
        # Worker threads (the menu's database work, speech synthesis) hold the GIL for up to
        # the switch interval at a time; 5 ms by default would show as jitter in the audio.
        sys.setswitchinterval(0.001)
        self._tasks = [
            asyncio.create_task(self._timers(), name="sip-timers"),
            asyncio.create_task(self._pacer(), name="rtp-pacer"),
        ]
        if self.uac is not None:
            self._tasks.append(asyncio.create_task(self._dialer(), name="sip-dialer"))
        # The language menu every first-time caller hears is thirteen sentences in as many
        # voices: synthesised now, in a worker thread, rather than while the first caller waits.
        self._warming = loop.run_in_executor(None, self._warm_language_menu)
        log.info("sip.listening", host=self.host, port=self.port)

    async def warmed(self) -> None:
        """Return once the language menu is synthesised (for a caller that must not race it)."""
        if self._warming is not None:
            await asyncio.shield(self._warming)

    def _warm_language_menu(self) -> None:
        try:
            for page in range(len(ivr.language_pages(i18n.offered()))):
                lines, langs = ivr.language_menu(page)
                self.speech.prompt_pcm(lines, langs)
        except Exception as exc:  # a warm cache is a nicety: a failure here must not stop calls
            log.warning("sip.warm_failed", error=str(exc))

    async def stop(self) -> None:
        self._stopping = True
        if self._warming is not None:  # a synthesis under way finishes (bounded by its timeout)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._warming), self.speech.timeout)
        now = time.monotonic()
        for call_id in list(self.calls):
            self._hangup(call_id, now)
        await asyncio.sleep(0.05)
        for task in self._tasks:
            task.cancel()
        for call in list(self.calls.values()):
            if call.task is not None:
                call.task.cancel()
            self._close_media(call)
        if self._transport is not None:
            self._transport.close()

    def _new_uas(self) -> Uas:
        return Uas(
            allowed=self._trunks,
            local_ip=self.host,
            rtp_port_allocator=self._allocate_port,
            max_calls=self._max_calls,
            sip_port=self.port,
        )

    # -- the Uas's actions ----------------------------------------------------------------

    def _allocate_port(self) -> int | None:
        while self._free_ports:
            port = self._free_ports.pop(0)
            if port not in self._used_ports:
                self._used_ports.add(port)
                return port
        return None

    def _datagram(self, data: bytes, addr: tuple[Any, ...]) -> None:
        """A SIP datagram: to the client side when it is about a call Seva placed."""
        now = time.monotonic()
        if self.uac is not None:
            try:
                message = sip.parse(data)
                ours = self.uac.owns(message)  # also retransmissions of calls just ended
            except sip.SipError:
                ours = False
            if ours:
                self._apply(self.uac.receive(message, addr, now))
                return
        self._apply(self.uas.datagram_received(data, addr, now))

    def _hangup(self, call_id: str, now: float) -> None:
        call = self.calls.get(call_id)
        if call is not None and call.notice is not None and self.uac is not None:
            self._apply(self.uac.hangup(call_id, now))
        else:
            self._apply(self.uas.hangup(call_id, now))

    def _apply(self, actions: list[Action] | list[uac.Action]) -> None:
        for action in actions:
            if isinstance(action, uac.CallAnswered):
                answered = self.calls.get(action.call_id)
                if answered is not None:
                    answered.answered = True
                continue
            if isinstance(action, uac.CallRinging):
                continue
            if isinstance(action, uac.CallEnded):
                placed = self.calls.pop(action.call_id, None)
                metrics.VOICE_CALLS.set(len(self.calls))
                if placed is not None:
                    self._ended(placed)
                    self._record_notice(placed, action.reason)
                continue
            if isinstance(action, SendSip):
                if self._transport is not None:
                    self._transport.sendto(action.data, action.addr)
            elif isinstance(action, CallStarted):
                phone = msisdn(action.caller, self.region) if action.caller else None
                missed = self.missed_calls
                if missed is not None and missed.registered(action.called):
                    # Turned away busy, so the call costs the citizen nothing; then the SMS.
                    self._apply(self.uas.reject(action.call_id, time.monotonic(), status=486))
                    if phone is not None:
                        self._answer_missed(missed, phone, str(action.called))
                    continue
                self.calls[action.call_id] = Call(action.call_id, phone, self)
                metrics.VOICE_CALLS.set(len(self.calls))
                if self.ring_seconds > 0:  # let it ring (a CANCEL may come meanwhile)
                    asyncio.get_running_loop().call_later(
                        self.ring_seconds, self._answer, action.call_id
                    )
                else:
                    self._answer(action.call_id)
            elif isinstance(action, StartMedia):
                call = self.calls.get(action.call_id)
                if call is not None:
                    self._start_media(call, action)
            elif isinstance(action, StopMedia):
                self._used_ports.discard(action.local_port)
                self._free_ports.append(action.local_port)
                call = self.calls.get(action.call_id)
                if call is not None:
                    self._close_media(call)
            elif isinstance(action, CallEnded):
                ended = self.calls.pop(action.call_id, None)
                metrics.VOICE_CALLS.set(len(self.calls))
                if ended is not None:
                    self._ended(ended)

    def _answer(self, call_id: str) -> None:
        if call_id in self.calls:  # not cancelled while ringing
            self._apply(self.uas.answer(call_id, time.monotonic()))

    def _answer_missed(self, missed: MissedCalls, phone: str, called: str) -> None:
        def work() -> None:
            try:
                self.run_in_db(lambda s: missed.answer(s, caller=phone, called=called))
                self.missed_answered += 1
            except Exception:
                log.exception("sip.missed_call_failed", called=called)

        asyncio.get_running_loop().run_in_executor(None, work)

    def _start_media(self, call: Call, media: StartMedia) -> None:
        if call.media is not None:  # a re-INVITE: same port, new far end, codec or hold
            old = call.media
            call.media = media
            if call.sender is not None and (
                media.codec != old.codec or media.payload_type != old.payload_type
            ):
                call.sender = Sender(
                    ssrc=call.sender.ssrc, codec=media.codec, payload_type=media.payload_type
                )
            return
        call.media = media
        call.sender = Sender(
            ssrc=secrets.randbits(32), codec=media.codec, payload_type=media.payload_type
        )
        call.dtmf = DtmfReceiver(media.dtmf_pt if media.dtmf_pt is not None else 101)
        call.start_time = self.next_tick  # slots on the pacer's ticks
        call.task = asyncio.create_task(self._open_and_run(call, media), name=call.call_id)

    async def _open_and_run(self, call: Call, media: StartMedia) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_datagram_endpoint(
                lambda: _rtp_for(call), local_addr=(self.host, media.local_port)
            )
        except OSError as exc:
            log.warning("sip.rtp_port_failed", port=media.local_port, error=str(exc))
            self._hangup(call.call_id, time.monotonic())
            return
        if call.notice is not None:
            await self._speak_notice(call)
        else:
            await self._conversation(call)

    def _close_media(self, call: Call) -> None:
        if call.rtp is not None and call.rtp.transport is not None:
            call.rtp.transport.close()
        call.rtp = None
        call.sender = None

    def _ended(self, call: Call) -> None:
        if call.task is not None and call.task is not asyncio.current_task():
            call.task.cancel()
        self._close_media(call)
        self.finished.append(call)
        del self.finished[:-1000]
        if self.on_call_end is not None:
            self.on_call_end(call)
        if call.notice is None:
            asyncio.get_running_loop().run_in_executor(None, lambda: self._forget(call))

    def _forget(self, call: Call) -> None:
        # After any menu step still running in a worker thread: cancelling the call's task
        # does not stop that thread, and the two must not write the conversation at once.
        recorder, call.recorder = call.recorder, None
        if recorder is not None and recorder.heard_speech:
            # Hung up while speaking, the way people leave a message: it is kept and
            # answers the question before the call's conversation is closed.
            call.stats.recordings.append(recorder.kept_seconds)
            with contextlib.suppress(Exception):
                self.record_step(call, recorder)
        with call.db_lock, contextlib.suppress(Exception):
            self.menu_hangup(call.call_id)

    # -- the conversation -----------------------------------------------------------------

    def menu_step(self, call: Call, keys: str | None) -> Prompt:
        """Runs in a worker thread: the menu reads and writes the database."""
        with call.db_lock:
            prompt: Prompt = self.run_in_db(
                lambda session: self.menu.handle(
                    session, call_id=f"sip:{call.call_id}", phone=call.caller, keys=keys
                )
            )
        return prompt

    async def _record(self, call: Call, seconds: int) -> Recorder:
        """The caller's answer in their own voice, from the beep until ``#`` (any key), a
        stretch of quiet after speaking, the limit, or the hang-up (see ``_forget``)."""
        media = call.media
        codec = media.codec if media is not None else Codec.PCMU
        payload_type = media.payload_type if media is not None else 0
        recorder = Recorder(codec, payload_type, seconds)
        call.typeahead = ""
        while not call.keys.empty():
            call.keys.get_nowait()
        call.recorder = recorder
        started = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call.keys.get(), timeout=0.1)
                break
            waited = time.monotonic() - started
            if recorder.full or waited >= seconds + 1:
                break
            if recorder.heard_speech and recorder.quiet_for() >= RECORD_QUIET:
                break
            if not recorder.heard_speech and waited >= RECORD_NO_SPEECH:
                break
        call.recorder = None
        call.stats.recordings.append(recorder.kept_seconds)
        return recorder

    def record_step(self, call: Call, recorder: Recorder) -> Prompt:
        """Runs in a worker thread: keeps the recording and moves the service on; a recording
        with no speech in it is silence (the question is asked again)."""
        if not recorder.heard_speech:
            return self.menu_step(call, None)
        with call.db_lock:
            prompt: Prompt = self.run_in_db(
                lambda session: self.menu.recorded(
                    session,
                    call_id=f"sip:{call.call_id}",
                    phone=call.caller,
                    channel="sip",
                    seconds=recorder.kept_seconds,
                    wav=recorder.wav(),
                )
            )
        return prompt

    def menu_hangup(self, call_id: str) -> None:
        self.run_in_db(lambda session: self.menu.hangup(session, call_id=f"sip:{call_id}"))

    async def _conversation(self, call: Call) -> None:
        try:
            prompt = await asyncio.to_thread(self.menu_step, call, None)
            while True:
                interrupted = await self._play(call, prompt)
                if prompt.end:
                    await asyncio.sleep(TAIL)
                    self._hangup(call.call_id, time.monotonic())
                    return
                if prompt.record_seconds is not None:
                    recorder = await self._record(call, prompt.record_seconds)
                    prompt = await asyncio.to_thread(self.record_step, call, recorder)
                    continue
                keys = await self._gather(call, prompt, interrupted)
                prompt = await asyncio.to_thread(self.menu_step, call, keys)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sip.call_failed", call_id=call.call_id)
            self._hangup(call.call_id, time.monotonic())

    async def _play(self, call: Call, prompt: Prompt) -> str:
        """Queue the prompt and wait until it has been sent or a key cut it short; returns
        the keys pressed during it (barge-in), if any. A call's last prompt (its answer) and a
        notification's message are not cut short: a stray key must not cost the citizen it."""
        media = call.media
        codec = media.codec if media is not None else Codec.PCMU
        # A service's answer, or a question filled in from the caller's answers, may hold a
        # citizen's details: synthesised, not kept on disk. A notification is one message to
        # many, so it is kept.
        keep = not (prompt.end or prompt.personal) or call.notice is not None
        audio = await asyncio.to_thread(self._audio, prompt, codec, keep)
        sender = call.sender
        if sender is None:
            return ""
        interruptible = not prompt.end and call.notice is None and prompt.record_seconds is None
        # Keys pressed ahead (while the last answer was looked up or this prompt synthesised)
        # answer this prompt at once; before an answer that must be heard, or a question to
        # be answered by voice, they are dropped.
        ahead, call.typeahead = call.typeahead, ""
        while not call.keys.empty():
            ahead += call.keys.get_nowait()
        if ahead and interruptible:
            call.stats.prompts.append((prompt.text, prompt.lang, 0))
            return ahead
        sender.clear()
        call.prompt_packets = 0
        call.message_seconds = len(audio) / RATE
        sender.queue(audio, at=time.monotonic() - call.start_time)
        while call.playing:
            try:
                keys = await asyncio.wait_for(call.keys.get(), timeout=PACKET_SECONDS * 5)
            except TimeoutError:
                continue
            if not interruptible:
                continue
            sender.clear()  # barge-in
            call.stats.prompts.append((prompt.text, prompt.lang, call.prompt_packets))
            return keys
        call.stats.prompts.append((prompt.text, prompt.lang, call.prompt_packets))
        return ""

    def _audio(self, prompt: Prompt, codec: Codec, keep: bool = True) -> bytes:
        """A prompt in the call's codec; the most recent ones are kept encoded (menus repeat).
        Sentences the department recorded play in its voice."""
        langs = prompt.sentence_langs
        version = self.speech.recordings_version(prompt.sentences, langs, prompt.department)
        cue = prompt.record_seconds is not None
        key = (prompt.sentences, langs, prompt.department, version, codec, cue)
        with self._encoded_lock:
            found = self._encoded.get(key)
            if found is not None:
                self._encoded.move_to_end(key)
                return found
        pcm = self.speech.prompt_pcm(prompt.sentences, langs, prompt.department, cache=keep)
        found = codec.encode(pcm + BEEP if cue else pcm)
        with self._encoded_lock:
            self._encoded[key] = found
            while len(self._encoded) > ENCODED_PROMPTS:
                self._encoded.popitem(last=False)
        return found

    async def _gather(self, call: Call, prompt: Prompt, keys: str) -> str | None:
        """Keys up to ``#`` (or ``prompt.num_digits`` of them); None after silence."""
        while True:
            if prompt.num_digits is not None and len(keys) >= prompt.num_digits:
                call.typeahead = keys[prompt.num_digits :]
                return keys[: prompt.num_digits]
            if "#" in keys:
                answer, call.typeahead = keys.split("#", 1)
                return answer
            if keys == "*" and prompt.num_digits is None:
                pass  # a text answer may start with a letter: wait for more or for #
            if len(keys) >= MAX_KEYS:
                return keys[:MAX_KEYS]
            try:
                more = await asyncio.wait_for(call.keys.get(), timeout=self.gather_timeout)
            except TimeoutError:
                return keys or None
            keys += more

    # -- voice notifications: calls Seva places --------------------------------------------

    async def _speak_notice(self, call: Call) -> None:
        """The answered citizen hears the message once; then Seva hangs up."""
        assert call.notice is not None
        notice = call.notice
        prompt = Prompt(notice.text, notice.lang, end=True, department=notice.department or None)
        try:
            await asyncio.sleep(0.2)  # the phone's audio path settles after the answer
            await self._play(call, prompt)
            await asyncio.sleep(TAIL)
        finally:
            self._hangup(call.call_id, time.monotonic())

    def _record_notice(self, call: Call, reason: uac.OutboundEnd) -> None:
        due = call.notice
        if due is None:
            return
        heard = call.prompt_packets * PACKET_SECONDS  # sent before the call ended
        message = call.message_seconds
        outcome = {
            uac.OutboundEnd.BUSY: "busy",
            uac.OutboundEnd.NO_ANSWER: "no-answer",
            uac.OutboundEnd.TIMEOUT: "no-answer",
            uac.OutboundEnd.REJECTED: "rejected",
        }.get(reason, "failed")
        if call.answered:
            outcome = "answered"

        def work() -> None:
            try:
                self.run_in_db(
                    lambda s: notices.record_attempt(
                        s, due.call_id, outcome=outcome, now=utcnow(), attempt=due.attempt,
                        heard_seconds=heard if call.answered else None,
                        message_seconds=message,
                    )
                )  # fmt: skip
            except Exception:
                log.exception("sip.notice_record_failed", notice_call=due.call_id)

        asyncio.get_running_loop().run_in_executor(None, work)

    async def _dialer(self) -> None:
        """Every ``dial_every`` seconds, due notification calls go out, up to the limit."""
        assert self.uac is not None
        while not self._stopping:
            await asyncio.sleep(self.dial_every)
            placed = sum(1 for c in self.calls.values() if c.notice is not None)
            room = self.dial_concurrency - placed
            if room <= 0:
                continue
            try:
                due = await asyncio.to_thread(self._claim, room)
            except Exception:
                log.exception("sip.dialer_claim_failed")
                continue
            for item in due:
                try:
                    await self._dial(item)
                except Exception:  # one bad call must not stop the dialer
                    log.exception("sip.dial_failed", notice_call=item.call_id)

    def _claim(self, limit: int) -> list[notices.DueCall]:
        claimed: list[notices.DueCall] = self.run_in_db(
            lambda s: notices.claim_due(s, now=utcnow(), limit=limit)
        )
        return claimed

    async def _dial(self, item: notices.DueCall) -> None:
        assert self.uac is not None
        # The message is synthesised before the phone rings, so it plays the moment they answer.
        message = Prompt(item.text, item.lang, end=True, department=item.department or None)
        await asyncio.to_thread(self._audio, message, Codec.PCMU)
        try:
            call_id, actions = self.uac.call(item.phone, time.monotonic())
        except (uac.CapacityExceeded, ValueError) as exc:
            log.warning("sip.dial_failed", error=str(exc))
            await asyncio.to_thread(
                self.run_in_db,
                lambda s: notices.release(s, item.call_id, attempt=item.attempt, now=utcnow()),
            )
            return
        self.calls[call_id] = Call(call_id, item.phone, self, notice=item)
        metrics.VOICE_CALLS.set(len(self.calls))
        self._apply(actions)

    # -- timers ---------------------------------------------------------------------------

    async def _timers(self) -> None:
        while True:
            deadline = self.uas.next_deadline()
            if self.uac is not None:
                theirs = self.uac.next_deadline()
                if theirs is not None:
                    deadline = theirs if deadline is None else min(deadline, theirs)
            now = time.monotonic()
            wait = 0.5 if deadline is None else min(0.5, max(0.0, deadline - now))
            await asyncio.sleep(wait)
            try:
                self._apply(self.uas.tick(time.monotonic()))
                if self.uac is not None:
                    self._apply(self.uac.tick(time.monotonic()))
            except Exception:  # the timers must keep running for every other call
                log.exception("sip.timers_failed")

    async def _pacer(self) -> None:
        """Every 20 ms, every playing call's due packets go out. Calls' packet slots are laid
        on this timer's ticks (``next_tick``), so a packet leaves when its slot comes, not up
        to a tick later; how late it really leaves is measured and exported."""
        self.next_tick = time.monotonic()
        while True:
            self.next_tick += PACKET_SECONDS
            delay = self.next_tick - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -PACKET_SECONDS:
                # Fell behind (a long pause of the loop): catch up without a burst.
                self.next_tick = time.monotonic()
            now = time.monotonic()
            for call in list(self.calls.values()):
                if call.playing:
                    try:
                        call.send_due(now)
                    except Exception:
                        log.exception("sip.send_failed", call_id=call.call_id)
                        call.sender = None


def _may_send(media: StartMedia) -> bool:
    """Audio goes out unless the caller holds the call (RFC 3264 §8.4: ``recvonly`` or
    ``inactive`` on our side, or the old ``c=0.0.0.0``)."""
    if media.direction in (Direction.RECVONLY, Direction.INACTIVE):
        return False
    try:
        return not ipaddress.ip_address(media.remote_rtp_addr[0]).is_unspecified
    except ValueError:  # a host name: sendable
        return True


def _rtp_for(call: Call) -> _Rtp:
    protocol = _Rtp(call)
    call.rtp = protocol
    return protocol
