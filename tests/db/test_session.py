"""A PostgreSQL connection the server dropped: tried before use when it rested, and the pool
emptied after the first failure when it was busy (a restart under load)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from seva.db import session as db_session
from seva.db.session import make_engine


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    made = make_engine(postgres_url)
    yield made
    made.dispose()


def _pid(engine: Engine) -> int:
    with engine.connect() as conn:
        pid: int = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return pid


def _dropped(engine: Engine) -> int:
    """The backend of the connection ``engine`` pooled, after the server ended it (as a
    restart does, from a connection of another engine)."""
    pid = _pid(engine)
    other = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with other.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            conn.commit()
    finally:
        other.dispose()
    return pid


def test_a_rested_connection_the_server_dropped_is_replaced_unseen(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _dropped(engine)
    later = db_session.time.monotonic() + db_session.IDLE_PING + 1
    monkeypatch.setattr(db_session.time, "monotonic", lambda: later)
    assert _pid(engine) != first  # no error: the dead connection was tried and replaced


def test_a_busy_connection_the_server_dropped_fails_once_then_the_pool_recovers(
    engine: Engine,
) -> None:
    first = _dropped(engine)
    with engine.connect() as conn:
        with pytest.raises(OperationalError):
            conn.execute(text("SELECT 1"))
        conn.rollback()
    assert _pid(engine) != first
