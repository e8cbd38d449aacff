"""The per-process memo of departments and services (``seva.db.catalog``): a hop reads them
without a query, and still sees an admin's change at once in this process, through Redis in
the others, and after ``SEVA_CATALOG_SECONDS`` when nothing told it."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import event, update

from seva.db import catalog
from seva.db.catalog_bus import CatalogBus
from seva.demo.seed import SeedReport
from seva.flows import service as services
from seva.flows.models import Service
from seva.gateway import Gateway
from seva.tenancy import service as tenancy
from tests.conftest import REDIS_URL, need


def _menu(gateway: Gateway) -> list[str]:
    """The titles on the Food department's menu, as every keypad channel lists them."""
    with gateway.session() as session:
        food = tenancy.departments(session).code("FOOD")
        assert food is not None
        own, _ = services.services_memo(session).live_menu(food.id)
        return [s.slug for s in own]


@pytest.fixture
def statements(gateway: Gateway) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(gateway.db.engine, "before_cursor_execute", note)
    yield seen
    event.remove(gateway.db.engine, "before_cursor_execute", note)


def test_a_menu_read_twice_is_read_from_the_database_once(
    gateway: Gateway, seeded: SeedReport, statements: list[str]
) -> None:
    first = _menu(gateway)
    read = len(statements)
    assert first and read > 0
    assert _menu(gateway) == first
    assert len(statements) == read  # the second hop asked the database nothing


def test_a_change_committed_in_this_process_is_seen_at_once(
    gateway: Gateway, seeded: SeedReport
) -> None:
    before = _menu(gateway)
    with gateway.session() as session:
        session.execute(update(Service).where(Service.slug == before[0]).values(active=False))
    assert _menu(gateway) == before[1:]


def test_a_change_rolled_back_is_never_remembered(gateway: Gateway, seeded: SeedReport) -> None:
    before = _menu(gateway)
    with pytest.raises(RuntimeError), gateway.session() as session:
        session.execute(update(Service).where(Service.slug == before[0]).values(active=False))
        # Read inside the transaction that wrote: the answer holds the uncommitted change...
        food = tenancy.departments(session).code("FOOD")
        assert food is not None
        own, _ = services.services_memo(session).live_menu(food.id)
        assert [s.slug for s in own] == before[1:]
        raise RuntimeError("rolled back")
    # ...but was not kept for anyone else.
    assert _menu(gateway) == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_change_made_elsewhere_is_seen_within_the_age_limit(
    gateway: Gateway, seeded: SeedReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _menu(gateway)
    # Another process (here: a connection SQLAlchemy does not know) hides the first service.
    path = gateway.db.engine.url.database
    assert path
    with sqlite3.connect(path) as other:
        other.execute("UPDATE services SET active = 0 WHERE slug = ?", (before[0],))
    assert _menu(gateway) == before  # nothing told this process yet
    now = catalog.time.monotonic()
    monkeypatch.setattr(catalog.time, "monotonic", lambda: now + catalog.SECONDS + 0.1)
    assert _menu(gateway) == before[1:]


@pytest.mark.redis
def test_a_change_told_through_redis_drops_the_other_processes_memos(
    gateway: Gateway, seeded: SeedReport
) -> None:
    client = redis.Redis.from_url(need(REDIS_URL, "SEVA_TEST_REDIS_URL"), decode_responses=True)
    channel = f"seva-test:catalog:{uuid.uuid4().hex}"
    here, there = CatalogBus(client, channel=channel), CatalogBus(client, channel=channel)
    try:
        there.start()
        assert there.subscribed.wait(10)
        _menu(gateway)
        name = catalog.database_name_of(gateway.db.engine)
        generation = catalog.generation(name)
        here._publish()  # as a process that committed a change does
        deadline = catalog.time.monotonic() + 10
        while there.heard == 0 and catalog.time.monotonic() < deadline:
            there.subscribed.wait(0.02)
        assert there.heard == 1
        assert catalog.generation(name) > generation
    finally:
        here.close()
        there.close()
        client.close()
