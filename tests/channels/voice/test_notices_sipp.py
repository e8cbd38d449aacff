"""Voice notifications end to end: Seva calls out through a trunk (sipp playing the citizen's
phone as a UAS), speaks the message when answered, hangs up, and reports who heard it; a busy
phone is left queued for a retry."""

from __future__ import annotations

import asyncio
import math
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seva.channels.voice.asyncio.endpoint import SipEndpoint
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.tenancy import service as tenancy
from seva.voice import service as notices
from seva.voice.models import VoiceNoticeCall
from tests.channels.voice.test_sipp import SCENARIOS, SIPP, Sink, sink  # noqa: F401
from tests.conftest import free_port, need

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class Phone:
    """sipp as the citizen's phone, listening for Seva's call."""

    def __init__(self, scenario: Path, tmp_path: Path, *, calls: int = 1) -> None:
        assert SIPP is not None
        self.port = free_port()
        self.proc = subprocess.Popen(
            [SIPP, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(self.port),
             "-m", str(calls), "-nostdin", "-timeout", "60s", "-timeout_error",
             "-mp", str(free_port())],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        )  # fmt: skip
        time.sleep(0.5)  # listening

    def wait(self, timeout: float = 60) -> int:
        self.output, errors = self.proc.communicate(timeout=timeout)
        self.output += errors
        return self.proc.returncode


def phone_playing(name: str, tmp_path: Path, **values: str) -> Phone:
    """sipp running ``name`` from the scenario folder with its placeholders filled in."""
    text = (SCENARIOS / name).read_text()
    for key, value in values.items():
        text = text.replace(key, value)
    scenario = tmp_path / name
    scenario.write_text(text)
    return Phone(scenario, tmp_path)


def endpoint_for(gateway: Gateway, tmp_path: Path, trunk_port: int) -> Iterator[SipEndpoint]:
    def run_in_db(work: Any) -> Any:
        with gateway.session() as session:
            return work(session)

    first = 42000 + secrets.randbelow(20000)
    endpoint = SipEndpoint(
        gateway.voice,
        gateway.speech,
        run_in_db,
        host="127.0.0.1",
        port=0,
        trunks=["127.0.0.1"],
        rtp_ports=range(first, first + 40),
        max_calls=20,
        trunk=("127.0.0.1", trunk_port),
        dial_every=0.2,
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(endpoint.start(), loop).result(timeout=10)
    try:
        yield endpoint
    finally:
        asyncio.run_coroutine_threadsafe(endpoint.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def notice_to(gateway: Gateway, phone: str, text: str) -> int:
    with gateway.session() as session:
        department = tenancy.department_by_code(session, "FOOD")
        assert department is not None
        notice = notices.create_notice(
            session, department, to=[phone], text=text, lang="en", max_attempts=3,
            retry_seconds=600, now=notices_now(),
        )  # fmt: skip
        return notice.id


def notices_now() -> Any:
    from seva.db.base import utcnow

    return utcnow()


def wait_for_status(gateway: Gateway, notice_id: int, wanted: set[str]) -> VoiceNoticeCall:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        with gateway.session() as session:
            row = session.query(VoiceNoticeCall).filter_by(notice_id=notice_id).one()
            if row.status in wanted:
                session.expunge(row)
                return row
        time.sleep(0.1)
    raise AssertionError(f"the call never reached {wanted}")


def test_an_answered_notice_is_spoken_whole_and_reported_heard(
    gateway: Gateway,
    seeded: SeedReport,
    sink: Sink,  # noqa: F811
    tmp_path: Path,
) -> None:
    need(SIPP, "sipp (apt-get install sip-tester)")
    need(shutil.which("espeak-ng"), "espeak-ng (apt-get install espeak-ng)")
    phone = phone_playing("uas_answer.xml", tmp_path, SINK_PORT=str(sink.port), TIMEOUT_MS="30000")
    text = "Ration distribution is on Saturday at FPS 112, Shakarpur."
    notice_id = notice_to(gateway, "+919811700001", text)
    for endpoint in endpoint_for(gateway, tmp_path, phone.port):
        heard = wait_for_status(gateway, notice_id, {"heard", "partly", "unreached"})
        assert phone.wait() == 0, phone.output[-1500:]
        assert heard.status == "heard" and heard.attempts == 1
        seconds = endpoint.speech.seconds(text, "en")
        assert heard.heard_seconds is not None and abs(heard.heard_seconds - seconds) < 0.05
        packets = math.ceil(seconds * 8000 / 160)
        assert len(sink.packets) == packets
        assert all(p.payload_type == 0 for _, p in sink.packets)


def test_a_busy_phone_is_left_queued_for_a_retry(
    gateway: Gateway,
    seeded: SeedReport,
    sink: Sink,  # noqa: F811
    tmp_path: Path,
) -> None:
    need(SIPP, "sipp (apt-get install sip-tester)")
    phone = Phone(SCENARIOS / "uas_busy.xml", tmp_path)
    notice_id = notice_to(gateway, "+919811700002", "Water supply is off tomorrow.")
    for _endpoint in endpoint_for(gateway, tmp_path, phone.port):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with gateway.session() as session:
                row = session.query(VoiceNoticeCall).filter_by(notice_id=notice_id).one()
                if row.last_outcome is not None:
                    break
            time.sleep(0.1)
        assert phone.wait() == 0
        assert row.last_outcome == "busy" and row.status == "queued" and row.attempts == 1
        assert sink.packets == []


def test_a_citizen_who_hangs_up_early_is_reported_with_the_seconds_heard(
    gateway: Gateway,
    seeded: SeedReport,
    sink: Sink,  # noqa: F811
    tmp_path: Path,
) -> None:
    need(SIPP, "sipp (apt-get install sip-tester)")
    need(shutil.which("espeak-ng"), "espeak-ng (apt-get install espeak-ng)")
    phone = phone_playing("uas_hangup.xml", tmp_path, SINK_PORT=str(sink.port), HOLD_MS="2000")
    text = (
        "The ration shop at Shakarpur will be closed on Monday for stock taking. "
        "Distribution resumes on Tuesday at ten in the morning."
    )
    notice_id = notice_to(gateway, "+919811700003", text)
    for _endpoint in endpoint_for(gateway, tmp_path, phone.port):
        row = wait_for_status(gateway, notice_id, {"heard", "partly", "unreached"})
        assert phone.wait() == 0, phone.output[-1500:]
        assert row.status == "partly" and row.last_outcome == "hung-up"
        # Answered 0.3 s after ringing, the message starts 0.2 s later; 2 s of listening.
        assert row.heard_seconds is not None and 0.5 <= row.heard_seconds <= 2.3
        assert 25 <= len(sink.packets) <= 115


def test_a_notice_the_department_recorded_is_played_in_its_voice(
    gateway: Gateway,
    seeded: SeedReport,
    sink: Sink,  # noqa: F811
    tmp_path: Path,
) -> None:
    import math as maths
    from array import array

    from seva.voice.tts import wav_bytes

    need(SIPP, "sipp (apt-get install sip-tester)")
    text = "Ration cards are ready for collection."
    tone = array("h", (int(6000 * maths.sin(2 * maths.pi * 440 * n / 8000)) for n in range(8000)))
    gateway.speech.recorded(text, "en", wav_bytes(tone), owner="FOOD")  # one second
    phone = phone_playing("uas_answer.xml", tmp_path, SINK_PORT=str(sink.port), TIMEOUT_MS="30000")
    notice_id = notice_to(gateway, "+919811700004", text)
    for _endpoint in endpoint_for(gateway, tmp_path, phone.port):
        row = wait_for_status(gateway, notice_id, {"heard", "partly", "unreached"})
        assert phone.wait() == 0, phone.output[-1500:]
        assert row.status == "heard"
        assert len(sink.packets) == 50  # the recording, not speech
