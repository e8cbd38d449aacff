"""Test fixtures: one database per backend per run, emptied before each test.

Tests that use ``gateway``/``client`` run on SQLite always, and again on PostgreSQL when
``SEVA_TEST_POSTGRES_URL`` is set (``.ci/run`` sets it). With ``SEVA_TEST_STRICT=1`` a missing
PostgreSQL/Redis/browser fails the run instead of skipping.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

import seva.tables  # noqa: F401 - registers every table
from seva.app import create_app
from seva.db.base import Base
from seva.db.migrate import upgrade
from seva.db.session import make_engine
from seva.demo.seed import SeedReport, seed
from seva.gateway import Gateway, build_gateway
from seva.settings import Settings

POSTGRES_URL = os.environ.get("SEVA_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("SEVA_TEST_REDIS_URL")
STRICT = os.environ.get("SEVA_TEST_STRICT") == "1"


def need(value: str | None, what: str) -> str:
    """The value, or skip (fail under SEVA_TEST_STRICT) naming the variable to set."""
    if value:
        return value
    if STRICT:
        pytest.fail(f"{what} is required when SEVA_TEST_STRICT=1")
    pytest.skip(f"{what} is not set")


CLUSTER_TESTS = "tests/cluster/"


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``make test`` runs ``--dist loadgroup``: every test of tests/cluster goes to one worker
    (they share one cluster and take turns failing its parts), the others one by one.

    Grouped here by path, because xdist's own grouping by the ``xdist_group`` mark does
    nothing on pytest 9.2: it renames the test's node id, which pytest no longer reads back
    (pytest-xdist issue #1386). The mark stays on those tests for when it is fixed."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ClusterTestsTogether(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith(CLUSTER_TESTS):
                return CLUSTER_TESTS
            return str(super()._split_scope(nodeid))

    return ClusterTestsTogether(config, log)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("db") / "seva-test.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database created for this run next to the one named by the variable, so
    parallel runs never truncate each other's tables; dropped at the end."""
    base = need(POSTGRES_URL, "SEVA_TEST_POSTGRES_URL (a PostgreSQL database for tests)")
    name = f"seva_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    name = request.param
    url: str = request.getfixturevalue(f"{name}_url")
    _empty(url)
    return url


def _empty(url: str) -> None:
    engine = make_engine(url) if url.startswith("postgresql") else create_engine(url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


LOOPBACK = "127.0.0.1, ::1"
LOCAL_CLIENT = ("127.0.0.1", 50000)
"""Where TestClient's requests come from: loopback, which the test settings let call the
operator routes (``channels.operators``; tests/channels/test_operators.py shows the refusals)."""


@pytest.fixture(autouse=True)
def command_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run by tests read SEVA_SECRET_KEY like any other (every command but the demo
    refuses to start without one); the tests of that refusal remove it themselves."""
    monkeypatch.setenv(
        "SEVA_SECRET_KEY", os.environ.get("SEVA_SECRET_KEY") or "test-command-key-" + "k" * 24
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Test settings; ``@pytest.mark.demo_routes`` serves /sim and /demo/backend as well."""
    return Settings(
        env="test",
        data_dir=tmp_path,
        secret_key="test-secret-key-16+",
        base_url=f"http://127.0.0.1:{free_port()}",
        webhook_retries=0,
        webhook_timeout_seconds=2,
        # Test backends listen on loopback; the SSRF tests build settings without this.
        outbound_allow="127.0.0.0/8",
        demo_routes=request.node.get_closest_marker("demo_routes") is not None,
        kannel_allow=LOOPBACK,
        africastalking_allow=LOOPBACK,
        twiml_allow=LOOPBACK,
        exotel_allow=LOOPBACK,
    )


@pytest.fixture
def gateway(settings: Settings, database_url: str) -> Iterator[Gateway]:
    gw = build_gateway(settings, database_url=database_url)
    yield gw
    gw.close()


@pytest.fixture
def seeded(gateway: Gateway, database_url: str) -> SeedReport:
    """The demo data. Seeding runs once per database; later tests get its rows copied back,
    which is several times cheaper than seeding again (scrypt, YAML, validation)."""
    cached = _SEEDS.get(database_url)
    if cached is None:
        with gateway.session() as session:
            report = seed(session)
        _SEEDS[database_url] = (report, _snapshot(gateway))
        return report
    report, rows = cached
    _restore(gateway, rows)
    return report


_SEEDS: dict[str, tuple[SeedReport, dict[str, list[dict[str, Any]]]]] = {}


def _snapshot(gateway: Gateway) -> dict[str, list[dict[str, Any]]]:
    with gateway.db.engine.connect() as conn:
        return {
            table.name: [dict(row._mapping) for row in conn.execute(table.select())]
            for table in Base.metadata.sorted_tables
        }


def _restore(gateway: Gateway, rows: dict[str, list[dict[str, Any]]]) -> None:
    engine = gateway.db.engine
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            if rows[table.name]:
                conn.execute(table.insert(), rows[table.name])
        if engine.dialect.name == "postgresql":
            for table in Base.metadata.sorted_tables:
                if "id" in table.c and rows[table.name]:
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT MAX(id) FROM {table.name}))"
                        )
                    )


@pytest.fixture
def live(gateway: Gateway, settings: Settings) -> Iterator[str]:
    """The app served by uvicorn on ``settings.base_url`` (for webhooks and browsers)."""
    app = create_app(settings, gateway=gateway)
    port = int(settings.base_url.rsplit(":", 1)[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    yield settings.base_url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def client(gateway: Gateway, settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, gateway=gateway)
    with TestClient(app, client=LOCAL_CLIENT) as test_client:
        yield test_client
