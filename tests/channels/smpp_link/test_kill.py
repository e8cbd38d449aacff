"""``kill -9`` of the dispatcher in the middle of 20,000 messages loses none of them.

The dispatcher runs as a real ``seva dispatch`` process bound to an SMSC simulator in this
test; it is killed with SIGKILL once thousands of messages have reached the SMSC and started
again. Every message must reach the SMSC; duplicates (sent, but the record of it died with the
process) must stay within what was in flight, and the queue counts every message that may
have been one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seva.channels.smpp.asyncio.simulator import SimConfig, SmscSimulator
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from seva.messaging import service as queue
from seva.messaging.service import Send
from tests.channels.smpp_link.waiting import until

pytestmark = pytest.mark.asyncio

MESSAGES = 20_000
WINDOW = 50
BINDS = 2
MAX_UNRECORDED = 300
SEVA = Path(sys.executable).parent / "seva"


def start_dispatcher(
    database_url: str, port: int, tmp_path: Path, name: str
) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "SEVA_DATABASE_URL": database_url,
        "SEVA_DATA_DIR": str(tmp_path),
        "SEVA_SECRET_KEY": "test-secret-key-16+",
        "SEVA_SMSC": f"smpp://seva:secret@127.0.0.1:{port}?window={WINDOW}&binds={BINDS}"
        "&reconnect_min=0.1",
        "SEVA_SMS_LEASE_SECONDS": "2",
        "SEVA_SMS_MAX_UNRECORDED": str(MAX_UNRECORDED),
    }
    with (tmp_path / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [str(SEVA), "dispatch"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def test_kill_9_mid_campaign_loses_nothing(
    gateway: Gateway, seeded: SeedReport, database_url: str, tmp_path: Path
) -> None:
    phones = [f"+9196{n:08d}" for n in range(MESSAGES)]
    with gateway.session() as session:
        batch = queue.send(session, Send(to=phones, text="Voter list camp, ward 12", kind="bulk"))
        earlier = sum(queue.status_counts(session).values()) - MESSAGES
    sim = SmscSimulator(
        SimConfig(receipt_delay=-1, track_unique=True, keep_messages=0, accounts={"seva": "secret"})
    )
    _, port = await sim.start("127.0.0.1", 0)
    started = time.monotonic()
    first = start_dispatcher(database_url, port, tmp_path, "first")
    second: subprocess.Popen[bytes] | None = None
    try:
        await until(
            lambda: sim.stats.submits >= 4000, explain=lambda: "4,000 submits before the kill"
        )
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        at_kill = sim.stats.submits
        rate = at_kill / (time.monotonic() - started)
        assert at_kill < MESSAGES + earlier, "the campaign finished before the kill"

        second = start_dispatcher(database_url, port, tmp_path, "second")

        def all_submitted() -> bool:
            with gateway.session() as session:
                return queue.batch_counts(session, batch.batch_id) == {"submitted": MESSAGES}

        await until(
            all_submitted, timeout=120, explain=lambda: "every message recorded as submitted"
        )
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(10)
        await sim.stop()
    unique = sim.unique_submits
    duplicates = sim.stats.submits - unique
    print(f"killed at {at_kill} submits ({rate:.0f}/s); {unique} unique, {duplicates} duplicates")
    assert unique == MESSAGES + earlier  # the campaign and the seed's own messages, all of them
    # Resent after the kill: only what was out with the SMSC and not yet written down.
    assert duplicates <= MAX_UNRECORDED
    # Each duplicate is counted: the operator sees at most that many messages possibly sent
    # twice (some taken back were still waiting in the dead dispatcher's window).
    with gateway.session() as session:
        resent = queue.resent_after_lease(session)
    assert duplicates <= resent.messages <= MAX_UNRECORDED
    assert resent.times == resent.messages  # one crash: each taken back once
