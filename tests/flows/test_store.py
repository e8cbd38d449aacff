"""Conversations survive between messages in the database or in Redis (scale-out)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import delete, func, select

from seva.app import create_app
from seva.db.base import utcnow
from seva.demo.seed import seed
from seva.flows.models import Conversation
from seva.flows.store import (
    REMEMBER_TIMEOUT,
    RETRY_REDIS,
    Dialogue,
    FallbackDialogueStore,
    MemoryDialogueStore,
    RedisDialogueStore,
    SqlDialogueStore,
)
from seva.gateway import Gateway, build_gateway
from seva.settings import Settings
from tests.conftest import LOCAL_CLIENT, REDIS_URL, free_port, need


@pytest.fixture
def redis_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"redis_url": SecretStr(need(REDIS_URL, "SEVA_TEST_REDIS_URL"))}
    )


@pytest.fixture
def redis_gateway(redis_settings: Settings, database_url: str) -> Iterator[Gateway]:
    gw = build_gateway(redis_settings, database_url=database_url)
    gw.runtime.store = RedisDialogueStore(gw.redis, prefix=f"seva-test:{uuid.uuid4().hex}:")
    gw.sms.runtime = gw.ussd.runtime = gw.runtime
    yield gw
    gw.close()


def _dialogue(key: str) -> Dialogue:
    return Dialogue(
        channel="sms",
        key=key,
        phone="+919811000001",
        lang="hi",
        expires_at=(utcnow() + timedelta(minutes=5)).isoformat(),
        meta={"consumed": 2, "pages": ["एक", "दो"]},
        flow={"service": "x", "phase": "input", "vars": {"a": "१"}},
    )


def test_sql_store_round_trip(gateway: Gateway) -> None:
    store = SqlDialogueStore()
    with gateway.session() as session:
        store.save(session, _dialogue("k1"))
    with gateway.session() as session:
        loaded = store.load(session, "sms", "k1")
        expected = _dialogue("k1")
        assert loaded is not None
        assert (loaded.phone, loaded.lang, loaded.meta, loaded.flow) == (
            expected.phone,
            expected.lang,
            expected.meta,
            expected.flow,
        )
        store.drop(session, "sms", "k1")
    with gateway.session() as session:
        assert store.load(session, "sms", "k1") is None


def test_redis_store_round_trip_and_ttl(redis_gateway: Gateway) -> None:
    store = redis_gateway.runtime.store
    assert isinstance(store, RedisDialogueStore)
    with redis_gateway.session() as session:
        store.save(session, _dialogue("k2"))
        loaded = store.load(session, "sms", "k2")
        assert loaded is not None and loaded.flow == _dialogue("k2").flow
        ttl = redis_gateway.redis.ttl(store._key("sms", "k2"))
        # Kept a day past its expiry, so a late reply hears what timed out; then gone.
        assert 5 * 60 + REMEMBER_TIMEOUT - 5 < ttl <= 5 * 60 + REMEMBER_TIMEOUT
        store.drop(session, "sms", "k2")
        assert store.load(session, "sms", "k2") is None


def test_conversation_over_redis_spans_two_gateways(
    redis_gateway: Gateway, redis_settings: Settings, database_url: str
) -> None:
    """Two nodes sharing Redis and the database: a reply may land on either."""
    with redis_gateway.session() as session:
        seed(session)
    other = build_gateway(redis_settings, database_url=database_url)
    other.runtime.store = redis_gateway.runtime.store
    other.sms.runtime = other.runtime
    try:
        with (
            TestClient(
                create_app(redis_settings, gateway=redis_gateway), client=LOCAL_CLIENT
            ) as node_a,
            TestClient(create_app(redis_settings, gateway=other), client=LOCAL_CLIENT) as node_b,
        ):
            params = {"from": "9811000077", "to": "166"}
            first = node_a.get("/channels/sms/kannel", params=params | {"text": "MANDI"})
            assert first.text.startswith("Choose the crop")
            second = node_b.get("/channels/sms/kannel", params=params | {"text": "3"})
            assert second.text.startswith("Mustard at Alwar (Rajasthan)")
    finally:
        other.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_embedded_gateway_keeps_ussd_sessions_in_memory_and_the_rest_in_the_database(
    gateway: Gateway, seeded: object
) -> None:
    """One process on SQLite: a USSD hop writes no conversation row; an SMS conversation, which
    may outlive a restart by hours, still does."""
    with gateway.session() as session:
        screen = gateway.ussd.handle(session, session_id="mem-1", phone="+919811000009", text="")
        assert not screen.end
    with gateway.session() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 0
        gateway.runtime.store.save(session, _dialogue("sms-kept"))
    with gateway.session() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 1
        # The second hop finds the first's state in memory.
        screen = gateway.ussd.handle(session, session_id="mem-1", phone="+919811000009", text="1")
        assert not screen.end and "1." in screen.text


def test_the_memory_store_forgets_the_least_recently_used_beyond_its_limit(
    gateway: Gateway,
) -> None:
    store = MemoryDialogueStore(limit=2)
    with gateway.session() as session:
        for key in ("a", "b", "c"):
            store.save(session, replace(_dialogue(key), channel="ussd"))
        assert store.load(session, "ussd", "a") is None
        assert store.load(session, "ussd", "c") is not None and len(store) == 2


def test_conversations_go_to_the_database_while_redis_is_away_and_back_after(
    gateway: Gateway,
) -> None:
    """A Redis that refuses connections (nothing listens on the port): hops are answered from
    the database, and Redis is tried again after ``RETRY_REDIS``."""
    away = redis.Redis(port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
    now = [100.0]
    store = FallbackDialogueStore(
        RedisDialogueStore(away), SqlDialogueStore(), clock=lambda: now[0]
    )
    with gateway.session() as session:
        store.save(session, _dialogue("fallback-1"))
    with gateway.session() as session:
        found = store.load(session, "sms", "fallback-1")
        assert found is not None and found.flow == _dialogue("x").flow
        assert session.scalar(select(func.count()).select_from(Conversation)) == 1
    assert store._use() is store.fallback
    now[0] += RETRY_REDIS + 0.1
    assert store._use() is store.primary
    away.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_hop_whose_transaction_rolls_back_leaves_the_session_where_it_was(
    gateway: Gateway, seeded: object
) -> None:
    """The memory (like Redis) store is written when the database commits: a hop that failed
    after its screen was drawn leaves the session at the screen before, for the retry."""
    with gateway.session() as session:
        gateway.ussd.handle(session, session_id="rb-1", phone="+919811000019", text="")
    with pytest.raises(RuntimeError), gateway.session() as session:
        gateway.ussd.handle(session, session_id="rb-1", phone="+919811000019", text="2")
        assert gateway.runtime.store.load(session, "ussd", "rb-1") is not None
        raise RuntimeError("the commit failed")
    with gateway.session() as session:
        kept = gateway.runtime.store.load(session, "ussd", "rb-1")
        assert kept is not None and kept.meta["ussd"]["consumed"] == 0


def test_the_memory_store_forgets_a_session_some_minutes_after_it_expired(
    gateway: Gateway,
) -> None:
    """A USSD session the citizen walked away from does not stay in memory for ever: it is
    gone ``keep`` seconds after its expiry, from a load and from the store itself."""
    now = [utcnow().timestamp()]
    store = MemoryDialogueStore(keep=60, clock=lambda: now[0])
    with gateway.session() as session:
        store.save(session, replace(_dialogue("left"), channel="ussd"))  # expires in 5 min
        now[0] += 5 * 60 + 30
        assert store.load(session, "ussd", "left") is not None  # expired, still remembered
        now[0] += 60
        later = datetime.fromtimestamp(now[0] + 300, UTC).isoformat()
        store.save(session, replace(_dialogue("new"), channel="ussd", expires_at=later))
        assert len(store) == 1 and store.load(session, "ussd", "left") is None


def test_a_conversation_removed_while_a_hop_ran_is_written_again(gateway: Gateway) -> None:
    """A row read by a hop and deleted before the hop saves (on PostgreSQL, expired
    conversations purged by another transaction) is inserted again, not silently lost."""
    store = SqlDialogueStore()
    with gateway.session() as session:
        store.save(session, _dialogue("gone-1"))
    with gateway.session() as hop:
        loaded = store.load(hop, "sms", "gone-1")
        assert loaded is not None
        hop.execute(delete(Conversation))  # behind the store's back
        loaded.meta["step"] = "after"
        store.save(hop, loaded)
    with gateway.session() as session:
        found = store.load(session, "sms", "gone-1")
        assert found is not None and found.meta["step"] == "after"
