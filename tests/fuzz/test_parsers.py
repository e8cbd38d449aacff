"""Bounded fuzzing of every parser that reads what the outside world sends.

Each target gets arbitrary bytes and mutations of valid messages (``targets.SEEDS``): a
parser may refuse an input only with its own documented error. The USSD menu is fuzzed through
the gateway with a real database: an aggregator's ``text`` history can be anything, and every
answer must be a screen of at most 182 characters. ``bench/fuzz_parsers.py`` runs the same
targets for many more inputs.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seva.channels.ussd import MAX_SCREEN
from seva.demo.seed import SeedReport
from seva.gateway import Gateway
from tests.fuzz.targets import SEEDS, TARGETS


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A valid message with a few bytes flipped, inserted, removed or the tail cut."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 8))):
        edit = draw(st.sampled_from(["flip", "insert", "delete", "cut", "repeat"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if edit == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif edit == "delete" and data:
            del data[at : at + draw(st.integers(1, 16))]
        elif edit == "cut":
            del data[at:]
        elif edit == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


def inputs(name: str) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=2048), mutated(SEEDS[name]))


def _fuzz(name: str) -> None:
    @settings(max_examples=300, deadline=None, database=None)
    @given(data=inputs(name))
    def run(data: bytes) -> None:
        TARGETS[name](data)

    run()


def test_smpp_pdu() -> None:
    _fuzz("smpp_pdu")


def test_smpp_session() -> None:
    _fuzz("smpp_session")


def test_sip() -> None:
    _fuzz("sip")


def test_sdp() -> None:
    _fuzz("sdp")


def test_rtp() -> None:
    _fuzz("rtp")


def test_signalling() -> None:
    _fuzz("signalling")


def test_every_target_is_fuzzed() -> None:
    fuzzed = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    assert set(TARGETS) <= fuzzed


histories = st.lists(
    st.one_of(
        st.sampled_from(["1", "2", "3", "0", "98", "99", "1234567890"]), st.text(max_size=20)
    ),
    max_size=12,
).map("*".join)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    history=histories,
    # What the route lets through (tests/channels cover the refusal of control characters).
    session_id=st.text(st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1, max_size=40),
)
def test_ussd_menu(gateway: Gateway, seeded: SeedReport, history: str, session_id: str) -> None:
    with gateway.session() as session:
        screen = gateway.ussd.handle(
            session, session_id=session_id, phone="+919811000900", text=history
        )
    assert len(screen.text) <= MAX_SCREEN
