"""Phone calls into Seva's SIP endpoint from sipp (Debian ``sip-tester``), the way an
operator's trunk would hand them over: a caller keys through a service with RFC 4733 DTMF and
hears the answer, in English, Hindi and Urdu; the RTP Seva streams is caught by the test and
checked against the prompt audio (packet count, pacing)."""

from __future__ import annotations

import asyncio
import io
import itertools
import math
import secrets
import shutil
import socket
import statistics
import subprocess
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from seva import i18n
from seva.applications import service as applications
from seva.channels.menus import menu_services
from seva.channels.voice.asyncio.endpoint import SipEndpoint
from seva.channels.voice.ivr import MORE_LANGUAGES_KEY, encode_keypad, language_pages, t
from seva.channels.voice.rtp import Codec, decode
from seva.citizens import service as citizens
from seva.db.base import utcnow
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.messaging import service as messaging
from seva.rtc import service as rtc
from seva.settings import Settings
from seva.tenancy import service as tenancy
from seva.voice.models import VoiceRecording
from seva.voice.tts import Speech
from tests.conftest import free_port, need

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SIPP = shutil.which("sipp")
PCAPS = Path("/usr/share/sip-tester")
SCENARIOS = Path(__file__).parent / "sipp"
KEY_FILES = {**{d: f"dtmf_2833_{d}.pcap" for d in "0123456789"}, "#": "dtmf_2833_pound.pcap",
             "*": "dtmf_2833_star.pcap"}  # fmt: skip


@dataclass
class Sink:
    """The caller's audio socket: every RTP packet Seva sends, with its arrival time."""

    sock: socket.socket
    packets: list[tuple[float, Any]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def run(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                data, _ = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            self.packets.append((time.monotonic(), decode(data)))

    def talkspurts(self) -> list[list[tuple[float, Any]]]:
        """Packets cut where the marker bit starts a new prompt."""
        spurts: list[list[tuple[float, Any]]] = []
        for arrival, packet in self.packets:
            if packet.marker or not spurts:
                spurts.append([])
            spurts[-1].append((arrival, packet))
        return spurts


@pytest.fixture
def sip(gateway: Gateway, seeded: SeedReport, tmp_path: Path) -> Iterator[SipEndpoint]:
    need(SIPP, "sipp (apt-get install sip-tester)")
    need(shutil.which("espeak-ng"), "espeak-ng (apt-get install espeak-ng)")
    need(str(PCAPS) if (PCAPS / "dtmf_2833_1.pcap").exists() else None, "sip-tester's pcaps")

    def run_in_db(work: Any) -> Any:
        with gateway.session() as session:
            return work(session)

    first = 42000 + secrets.randbelow(20000)
    endpoint = SipEndpoint(
        gateway.voice,
        Speech(tmp_path / "voice-cache"),
        run_in_db,
        host="127.0.0.1",
        port=0,
        trunks=["127.0.0.1"],
        rtp_ports=range(first, first + 40),
        max_calls=50,
        missed_calls=gateway.missed_calls,
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(endpoint.start(), loop).result(timeout=10)
    # As on a gateway that has been up a while: the language menu is already synthesised.
    asyncio.run_coroutine_threadsafe(endpoint.warmed(), loop).result(timeout=60)
    yield endpoint
    asyncio.run_coroutine_threadsafe(endpoint.stop(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        data_dir=tmp_path,
        secret_key="test-secret-key-16+",
        base_url=f"http://127.0.0.1:{free_port()}",
        missed_calls="9223166100=STATUS {latest}",
    )


@pytest.fixture
def sink() -> Iterator[Sink]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    catcher = Sink(sock)
    thread = threading.Thread(target=catcher.run, daemon=True)
    thread.start()
    yield catcher
    catcher.stop.set()
    thread.join(timeout=5)
    sock.close()


def key_steps(keys: list[str], gap_ms: int = 1500, digit_ms: int = 350) -> str:
    """Scenario steps pressing ``keys``: each entry a group keyed quickly, groups apart."""
    steps = []
    for group in keys:
        for i, key in enumerate(group):
            steps.append(f'  <pause milliseconds="{gap_ms if i == 0 else digit_ms}"/>')
            steps.append(
                f'  <nop><action><exec play_pcap_audio="{PCAPS / KEY_FILES[key]}"/></action></nop>'
            )
    return "\n".join(steps)


def run_sipp(
    endpoint: SipEndpoint,
    scenario: Path,
    tmp_path: Path,
    *,
    calls: int = 1,
    rate: int = 1,
    timeout: float = 90,
) -> subprocess.CompletedProcess[str]:
    assert SIPP is not None
    command = [
        SIPP, f"127.0.0.1:{endpoint.port}", "-sf", str(scenario), "-m", str(calls),
        "-r", str(rate), "-l", str(calls), "-i", "127.0.0.1", "-p", str(free_port()),
        "-mp", str(free_port()), "-timeout", f"{int(timeout)}s", "-timeout_error",
        "-nostdin", "-trace_err", "-error_file", str(tmp_path / "sipp-errors.log"),
    ]  # fmt: skip
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout + 30, cwd=tmp_path
    )


CALLER_HANGS_UP = """  <send retrans="500">
    <![CDATA[
      BYE sip:166@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Citizen" <sip:CALLER@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:166@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:CALLER@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

  <recv response="200"/>
</scenario>
"""


def scenario_with(
    tmp_path: Path,
    *,
    caller: str,
    sink_port: int,
    keys: str,
    timeout_ms: int,
    codec: Codec = Codec.PCMU,
    hang_up: bool = False,
) -> Path:
    """``call_with_keys.xml`` filled in; ``hang_up``: the caller ends the call after the keys
    instead of waiting for Seva's BYE."""
    template = (SCENARIOS / "call_with_keys.xml").read_text()
    if hang_up:
        template = template[: template.index('  <recv request="BYE"')] + CALLER_HANGS_UP
    text = (
        template.replace("CALLER", caller)
        .replace("SINK_PORT", str(sink_port))
        .replace("\nKEYS\n", f"\n{keys}\n")
        .replace("TIMEOUT_MS", str(timeout_ms))
        .replace("CODEC_PT", str(codec.value))
        .replace("CODEC_NAME", codec.encoding_name)
    )
    path = tmp_path / "scenario.xml"
    path.write_text(text)
    return path


def sms_answer(gateway: Gateway, phone: str, *texts: str) -> str:
    reply = ""
    for text in texts:
        with gateway.session() as session:
            reply = gateway.sms.handle(session, phone=phone, text=text).text
    return reply


# One call per script family: Latin, Devanagari, Perso-Arabic (Urdu), an eastern Brahmic
# script (Bengali) and a southern one (Tamil), each spoken by its own espeak-ng voice.


def key_of(lang: str) -> str:
    """A language's key on the first page of the language menu."""
    return str(i18n.offered().index(lang) + 1)


URDU_KEY = key_of("ur")
"""Urdu's key on the language menu (English is 1, Hindi 2, then the table's order)."""
ANSWERS = {"en": ("ENGLISH", "Ration card 1234567890"), "hi": ("HINDI", "राशन कार्ड 1234567890"),
           "ur": ("URDU", "راشن کارڈ 1234567890"), "bn": ("BENGALI", "রেশন কার্ড 1234567890"),
           "ta": ("TAMIL", "ரேஷன் கார்டு 1234567890")}  # fmt: skip
"""What a citizen sends to choose the language on SMS, and how its answer begins."""


@pytest.mark.parametrize(
    ("lang_key", "lang", "caller", "ahead"),
    [("1", "en", "9811300001", False), ("2", "hi", "9811300002", False),
     ("1", "en", "9811300003", True), (URDU_KEY, "ur", "9811300007", False),
     (key_of("bn"), "bn", "9811300008", False), (key_of("ta"), "ta", "9811300009", False)],
    ids=["english", "hindi", "keyed-ahead", "urdu", "bengali", "tamil"],
)  # fmt: skip
def test_a_caller_keys_through_a_service_and_hears_the_sms_answer(
    sip: SipEndpoint,
    sink: Sink,
    gateway: Gateway,
    tmp_path: Path,
    lang_key: str,
    lang: str,
    caller: str,
    ahead: bool,
) -> None:
    # Language, Food & Civil Supplies (2), ration card status (1), the card number and #; the
    # Hindi caller presses # again while the answer plays, which must not cut it short. A
    # caller who knows the menu keys it all in one go, without waiting for the prompts.
    ending = "##" if lang == "hi" else "#"
    groups = [lang_key, "2", "1", "1234567890#", *(["#"] if lang == "hi" else [])]
    if ahead:
        groups = ["".join(groups)]
    keys = key_steps(groups)
    scenario = scenario_with(
        tmp_path, caller=caller, sink_port=sink.port, keys=keys, timeout_ms=60_000
    )
    done = run_sipp(sip, scenario, tmp_path)
    assert done.returncode == 0, (
        done.stdout[-1500:]
        + done.stderr[-1500:]
        + repr(
            [
                (
                    c.call_id,
                    c.stats.keys,
                    [p[0][:60] for p in c.stats.prompts],
                    c.stats.packets_sent,
                )
                for c in [*sip.finished, *sip.calls.values()]
            ]
        )
        + f" sink={len(sink.packets)}"
    )

    [call] = [c for c in sip.finished if c.caller == f"+91{caller}"]
    assert "".join(call.stats.keys) == f"{lang_key}211234567890{ending}"
    spoken, spoken_lang, played = call.stats.prompts[-1]
    # The same answer SMS gives a citizen who chose that language.
    choose, begins = ANSWERS[lang]
    expected = sms_answer(gateway, "+919811399999", choose, "RATION 1234567890")
    assert spoken == expected and spoken_lang == lang
    assert spoken.startswith(begins)

    # The answer may hold the citizen's details: it was spoken, not kept on disk.
    assert not sip.speech.path(spoken, lang).exists()
    # What reached the caller: the answer's whole audio, 20 ms a packet, evenly paced.
    seconds = sip.speech.seconds(spoken, lang)
    packets = math.ceil(seconds * 8000 / 160)
    last = sink.talkspurts()[-1]
    assert len(last) == packets == played
    assert all(p.payload_type == 0 and len(p.payload) == 160 for _, p in last)
    sequence = [p.sequence for _, p in last]
    assert sequence == [(sequence[0] + i) % 65536 for i in range(len(sequence))]
    stamps = [p.timestamp for _, p in last]
    assert all((b - a) % 2**32 == 160 for a, b in itertools.pairwise(stamps))
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(last)]
    assert abs(statistics.mean(gaps) - 0.020) < 0.002
    # Language, menu, department, question, answer, each once: no key was lost or misread.
    # Prompts whose keys came before they began (keyed ahead, or pressed while a slow machine
    # was still synthesising them) are skipped, so only the first and last are sure to sound.
    assert len(call.stats.prompts) == 5, call.stats.prompts
    assert len(sink.talkspurts()) >= 2


def test_a_caller_books_a_call_with_an_official_and_the_join_link_comes_by_sms(
    sip: SipEndpoint, sink: Sink, gateway: Gateway, tmp_path: Path
) -> None:
    # English (1), Food & Civil Supplies (2), then the key after FOOD's own services (booking
    # a call with an official), then the first free time.
    with gateway.session() as session:
        food = tenancy.department_by_code(session, "FOOD")
        assert food is not None
        book_key = str(len(menu_services(session, food.id)) + 1)
    caller = "9811300020"
    scenario = scenario_with(
        tmp_path, caller=caller, sink_port=sink.port, keys=key_steps(["1", "2", book_key, "1"]),
        timeout_ms=60_000,
    )  # fmt: skip
    done = run_sipp(sip, scenario, tmp_path)
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
    wait_until_idle(sip)

    [call] = [c for c in sip.finished if c.caller == f"+91{caller}"]
    assert "".join(call.stats.keys) == f"12{book_key}1"
    with gateway.session() as session:
        person = citizens.find(session, f"+91{caller}")
        assert person is not None
        [appointment] = rtc.upcoming(session, person, now=utcnow())
        sms = messaging.inbox(session, f"+91{caller}")[-1].text
    when = rtc.ist_label(appointment.starts_at)
    assert appointment.channel == "voice"
    # The caller heard the times as keys, then the booking; the link went by SMS.
    times = next(p for p, _, _ in call.stats.prompts if p.startswith("Call with FOOD (IST):"))
    assert f"For {when}, press 1." in times
    assert call.stats.prompts[-1][0] == (
        f"Call booked for {when} IST. The join link is coming by SMS."
    )
    assert rtc.join_link(gateway.settings.base_url, appointment.room) in sms


def scenario_from(tmp_path: Path, name: str, **values: str) -> Path:
    text = (SCENARIOS / name).read_text()
    for key, value in values.items():
        text = text.replace(key, value)
    path = tmp_path / name
    path.write_text(text)
    return path


def wait_until_idle(endpoint: SipEndpoint, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while endpoint.calls and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not endpoint.calls, list(endpoint.calls)


def test_an_offer_without_g711_is_refused_with_488(
    sip: SipEndpoint, sink: Sink, tmp_path: Path
) -> None:
    scenario = scenario_from(
        tmp_path, "no_common_codec.xml", CALLER="9811300003", SINK_PORT=str(sink.port)
    )
    done = run_sipp(sip, scenario, tmp_path, timeout=20)
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
    assert sink.packets == [] and not sip.calls


VOICE_PCAP = PCAPS / "g711a.pcap"
VOICE_SECONDS = 236 * 240 / 8000
"""sip-tester's recording of a voice: 236 packets of 30 ms of PCMA, speech to the end."""


@pytest.mark.parametrize("ending", ["hash", "hang-up"])
def test_a_caller_describes_the_place_in_their_own_voice_and_the_department_hears_it(
    sip: SipEndpoint,
    sink: Sink,
    gateway: Gateway,
    seeded: SeedReport,
    client: TestClient,
    tmp_path: Path,
    ending: str,
) -> None:
    need(str(VOICE_PCAP) if VOICE_PCAP.exists() else None, "sip-tester's g711a.pcap")
    caller = "9811300010" if ending == "hash" else "9811300011"
    # English (1), MCD (3), civic complaint (2), streetlight (2), the PIN code, a name in the
    # keypad letter form; then the description is spoken after the beep.
    steps = key_steps(["1", "3", "2", "2", "110092#", encode_keypad("RAVI") + "#"])
    question = "Describe the place (landmark, street). " + t("record", "en")
    wait = sip.speech.seconds(question, "en") + 3.0  # the question and the beep, with room
    steps += f'\n  <pause milliseconds="{int(wait * 1000)}"/>'
    steps += f'\n  <nop><action><exec play_pcap_audio="{VOICE_PCAP}"/></action></nop>'
    steps += f'\n  <pause milliseconds="{int(VOICE_SECONDS * 1000) + 500}"/>'
    if ending == "hash":
        steps += "\n" + key_steps(["#", "1"], gap_ms=300)  # done speaking; then "yes"
    scenario = scenario_with(
        tmp_path, caller=caller, sink_port=sink.port, keys=steps, timeout_ms=60_000,
        codec=Codec.PCMA, hang_up=ending == "hang-up",
    )  # fmt: skip
    done = run_sipp(sip, scenario, tmp_path, timeout=120)
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
    wait_until_idle(sip)

    [call] = [c for c in sip.finished if c.caller == f"+91{caller}"]
    # A hang-up's recording is kept after the call ends, by a worker thread (_forget): its
    # row is written after its length is counted, so wait for the row before reading either.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with gateway.session() as session:
            recorded = list(session.scalars(select(VoiceRecording)))
        if recorded:
            break
        time.sleep(0.05)
    # All of the voice was kept, placed by its RTP timestamps: 56,640 samples.
    [kept] = call.stats.recordings
    assert kept == pytest.approx(VOICE_SECONDS, abs=0.001)
    with gateway.session() as session:
        recorded = list(session.scalars(select(VoiceRecording)))
        assert len(recorded) == 1 and recorded[0].channel == "sip"
        token = recorded[0].token
        citizen = citizens.find(session, f"+91{caller}")
        assert citizen is not None
        filed = applications.of_citizen(session, citizen)
    if ending == "hash":
        # The complaint is filed with the recording as its description, and its answer spoken.
        [complaint] = filed
        assert complaint.data["details"] == f"voice:{token}"
        assert call.stats.prompts[-1][0].startswith(f"Complaint {complaint.ref} registered")
        # The question filled in from the caller's answers was spoken but not kept on disk;
        # the fixed questions were.
        [confirm] = [p for p, _, _ in call.stats.prompts if p.startswith("Register complaint")]
        assert "110092" in confirm and not sip.speech.path(confirm, "en").exists()
        # The language menu was kept, each language's sentence in that language's voice.
        first_page = language_pages(i18n.offered())[0]
        for at, code in enumerate(i18n.offered()):
            key = str(at + 1) if code in first_page else MORE_LANGUAGES_KEY
            sentence = i18n.text("ivr_choose_language", code, key=key)
            assert sip.speech.path(sentence, code).exists()
    else:
        assert filed == []  # hung up before confirming: kept, but nothing was filed

    # The department fetches the audio with its API key; another department cannot.
    mcd = {"Authorization": f"Bearer {seeded.api_keys['MCD']}"}
    listed = client.get("/api/v1/voice/recordings", headers=mcd).json()
    assert [(r["id"], r["service"], r["channel"]) for r in listed] == [
        (token, "civic-complaint", "sip")
    ]
    audio = client.get(f"/api/v1/voice/recordings/{token}", headers=mcd)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(audio.content)) as file:
        assert (file.getframerate(), file.getnchannels(), file.getnframes()) == (8000, 1, 56640)
        pcm = file.readframes(file.getnframes())
    # It is the caller's voice, decoded from PCMA, not silence.
    assert pcm == Codec.PCMA.decode(pcap_payloads(VOICE_PCAP))
    food = {"Authorization": f"Bearer {seeded.api_keys['FOOD']}"}
    assert client.get(f"/api/v1/voice/recordings/{token}", headers=food).status_code == 404


def pcap_payloads(path: Path) -> bytes:
    """The RTP payloads of a pcap of UDP over Ethernet and IPv4, in order."""
    data, offset, out = path.read_bytes(), 24, []
    while offset < len(data):
        length = int.from_bytes(data[offset + 8 : offset + 12], "little")
        frame = data[offset + 16 : offset + 16 + length]
        out.append(frame[14 + 20 + 8 + 12 :])
        offset += 16 + length
    return b"".join(out)


def test_a_caller_hanging_up_mid_prompt_ends_the_call_and_its_audio(
    sip: SipEndpoint, sink: Sink, tmp_path: Path
) -> None:
    scenario = scenario_from(
        tmp_path, "hangup_mid_prompt.xml", CALLER="9811300004", SINK_PORT=str(sink.port),
        HOLD_MS="1500",
    )  # fmt: skip
    done = run_sipp(sip, scenario, tmp_path, timeout=20)
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
    wait_until_idle(sip)
    [call] = [c for c in sip.finished if c.caller == "+919811300004"]
    heard = len(sink.packets)
    assert 10 <= heard <= 110  # up to 1.5 s of the language prompt, not all of it
    assert call.stats.prompts == [] or call.stats.prompts[-1][2] < 150
    time.sleep(0.3)
    assert len(sink.packets) == heard  # nothing more after the BYE


def test_a_burst_of_concurrent_calls_is_answered_and_cleaned_up(
    sip: SipEndpoint, sink: Sink, tmp_path: Path
) -> None:
    scenario = scenario_from(
        tmp_path, "hangup_mid_prompt.xml", CALLER="9811300005", SINK_PORT=str(sink.port),
        HOLD_MS="2500",
    )  # fmt: skip
    done = run_sipp(sip, scenario, tmp_path, calls=20, rate=20, timeout=40)
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
    wait_until_idle(sip)
    ended = [c for c in sip.finished if c.caller == "+919811300005"]
    assert len(ended) == 20
    # Every call heard its prompt at the same time as the others: 20 streams interleaved.
    assert len({p.ssrc for _, p in sink.packets}) == 20
    assert all(c.stats.packets_sent >= 20 for c in ended), [c.stats.packets_sent for c in ended]


def test_a_missed_call_is_turned_away_busy_and_answered_by_sms(
    sip: SipEndpoint, sink: Sink, gateway: Gateway, tmp_path: Path
) -> None:
    # The demo citizen's latest application is TEST-0001.
    scenario = scenario_from(
        tmp_path, "missed_call.xml", CALLER="9900000001", DIALLED="9223166100",
        SINK_PORT=str(sink.port),
    )  # fmt: skip
    done = run_sipp(sip, scenario, tmp_path, timeout=20)
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
    deadline = time.monotonic() + 10
    while sip.missed_answered < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    with gateway.session() as session:
        sent = messaging.inbox(session, "+919900000001")[-1].text
    assert sent.startswith("Application TEST-0001 (Food & Civil Supplies): Approved")
    assert sink.packets == [] and not sip.calls


def test_a_caller_who_gives_up_while_ringing_is_never_answered(
    sip: SipEndpoint, sink: Sink, tmp_path: Path
) -> None:
    sip.ring_seconds = 2.0  # as SEVA_SIP_RING_SECONDS
    scenario = scenario_from(
        tmp_path, "cancel_before_answer.xml", CALLER="9811300006", SINK_PORT=str(sink.port)
    )
    done = run_sipp(sip, scenario, tmp_path, timeout=20)
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
    wait_until_idle(sip)
    [call] = [c for c in sip.finished if c.caller == "+919811300006"]
    assert call.media is None and call.stats.prompts == []
    assert sink.packets == []
