"""The gate on hops (``seva.flows.gate``): at most ``size`` at once, and a hop waiting on a
department's backend makes way for the others."""

from __future__ import annotations

import threading

from seva.flows.gate import Gate


def test_a_hop_waiting_on_the_outside_world_lets_another_through() -> None:
    gate = Gate(1)
    waiting, through, done = threading.Event(), threading.Event(), threading.Event()

    def slow() -> None:
        with gate.hold(), gate.away():
            waiting.set()
            done.wait(10)  # the backend, answering only once the other hop went through

    def quick() -> None:
        waiting.wait(10)
        with gate.hold():
            through.set()

    threads = [threading.Thread(target=slow), threading.Thread(target=quick)]
    for thread in threads:
        thread.start()
    assert through.wait(10)
    done.set()
    for thread in threads:
        thread.join(10)


def test_no_more_hops_than_the_gate_holds_run_at_once() -> None:
    gate = Gate(2)
    inside, most, lock = [0], [0], threading.Lock()
    start, never = threading.Barrier(6), threading.Event()

    def hop() -> None:
        start.wait(10)
        with gate.hold():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            never.wait(0.05)  # long enough for every other hop to have come in, were it let
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=hop) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most[0] == 2


def test_away_without_a_slot_is_a_plain_wait() -> None:
    gate = Gate(1)
    with gate.away():  # a thread that holds no slot (a web page, the phone menu)
        pass
    with gate.hold():  # and the slot is still there
        pass
