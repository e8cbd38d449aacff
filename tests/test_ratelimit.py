"""The rate limiter: a sliding window in this process or in Redis, the same answers from both."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from seva.ratelimit import Limiter, MemoryLimiter, Rate, RedisLimiter, wait_seconds
from tests.conftest import REDIS_URL, need

T0 = 1_000_000 * 60.0
"""A moment at the start of a one-minute window, so tests say where in the window they are."""


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[Limiter]:
    if request.param == "memory":
        yield MemoryLimiter()
        return
    import redis

    client = redis.Redis.from_url(need(REDIS_URL, "SEVA_TEST_REDIS_URL"), decode_responses=True)
    prefix = f"seva-test:{uuid.uuid4().hex}:"
    yield RedisLimiter(client, prefix=prefix)
    for name in client.scan_iter(match=f"{prefix}*"):
        client.delete(name)
    client.close()


def test_allows_the_limit_then_refuses_until_the_window_moves_on(limiter: Limiter) -> None:
    rate = Rate(3, 60)
    assert [limiter.hit("k", rate, now=T0 + 10) for _ in range(3)] == [0.0, 0.0, 0.0]
    refused = limiter.hit("k", rate, now=T0 + 10)
    # This window is full: wait into the next one until this one's share (3 x overlap) < 2.
    assert refused == pytest.approx(50 + 60 / 3)
    assert limiter.wait("k", rate, now=T0 + 10) == pytest.approx(refused)
    assert limiter.hit("other", rate, now=T0 + 10) == 0.0
    assert limiter.hit("k", rate, now=T0 + 10 + refused - 1) > 0
    assert limiter.hit("k", rate, now=T0 + 10 + refused + 0.01) == 0.0


def test_the_previous_window_counts_by_its_overlap(limiter: Limiter) -> None:
    rate = Rate(4, 60)
    for _ in range(4):
        assert limiter.hit("k", rate, now=T0 + 59) == 0.0
    # One second into the next window, the four are still almost all within the last minute.
    assert limiter.hit("k", rate, now=T0 + 61) == pytest.approx(15 - 1)
    assert limiter.hit("k", rate, now=T0 + 75.5) == 0.0
    assert limiter.hit("k", rate, now=T0 + 75.5) > 0


def test_refused_attempts_are_not_counted(limiter: Limiter) -> None:
    rate = Rate(1, 60)
    assert limiter.hit("k", rate, now=T0) == 0.0
    for second in range(1, 50):
        assert limiter.hit("k", rate, now=T0 + second) > 0
    assert limiter.hit("k", rate, now=T0 + 120) == 0.0


def test_wait_counts_nothing_and_clear_forgets(limiter: Limiter) -> None:
    rate = Rate(2, 60)
    for _ in range(5):
        assert limiter.wait("k", rate, now=T0) == 0.0
    limiter.hit("k", rate, now=T0)
    limiter.hit("k", rate, now=T0)
    assert limiter.wait("k", rate, now=T0) > 0
    limiter.clear("k", rate, now=T0)
    assert limiter.hit("k", rate, now=T0) == 0.0


def test_concurrent_hits_never_exceed_the_limit(limiter: Limiter) -> None:
    rate = Rate(25, 3600)
    allowed: list[bool] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait(timeout=10)
        for _ in range(10):
            allowed.append(limiter.hit("shared", rate) == 0.0)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(allowed) == 25
    assert len(allowed) == 80


def test_two_nodes_share_the_counts_in_redis() -> None:
    import redis

    url = need(REDIS_URL, "SEVA_TEST_REDIS_URL")
    prefix = f"seva-test:{uuid.uuid4().hex}:"
    one = redis.Redis.from_url(url, decode_responses=True)
    two = redis.Redis.from_url(url, decode_responses=True)
    try:
        node_a, node_b = RedisLimiter(one, prefix=prefix), RedisLimiter(two, prefix=prefix)
        rate = Rate(2, 60)
        assert node_a.hit("login:x", rate, now=T0) == 0.0
        assert node_b.hit("login:x", rate, now=T0) == 0.0
        assert node_a.hit("login:x", rate, now=T0) > 0
        assert node_b.wait("login:x", rate, now=T0) > 0
    finally:
        for name in one.scan_iter(match=f"{prefix}*"):
            one.delete(name)
        one.close()
        two.close()


def test_an_unreachable_redis_lets_requests_through() -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    limiter = RedisLimiter(client)
    assert limiter.hit("k", Rate(1, 60)) == 0.0
    assert limiter.hit("k", Rate(1, 60)) == 0.0
    client.close()


def test_memory_limiter_drops_keys_whose_windows_have_passed() -> None:
    limiter = MemoryLimiter()
    rate = Rate(5, 60)
    for n in range(MemoryLimiter.SWEEP_EVERY - 1):
        limiter.hit(f"client:{n}", rate, now=T0)
    limiter.hit("late", rate, now=T0 + 600)
    assert limiter.wait("late", rate, now=T0 + 600) == 0.0
    assert len(limiter._counts) == 1


def test_wait_seconds_rounds_up_and_never_says_zero() -> None:
    assert wait_seconds(0.001) == 1
    assert wait_seconds(59.2) == 60
    with pytest.raises(ValueError):
        Rate(0, 60)
