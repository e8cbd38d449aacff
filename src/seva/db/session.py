"""Engine and session factory for the configured database.

SQLite (the embedded default) runs in WAL mode with foreign keys on, so one writer and many
readers share the file the way the demo's threads need; PostgreSQL is used as given.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import structlog
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from seva.db import catalog

log = structlog.get_logger("seva.db")

T = TypeVar("T")


class WouldWait(Exception):
    """Work run by ``without_waiting`` reached something it would have to wait for: another
    process's write to the SQLite database, or the outside world. Nothing it did is kept (its
    session rolls back); the caller runs it again where waiting is allowed."""


_NOT_WAITING = threading.local()


def without_waiting(work: Callable[[], T]) -> T:
    """Run ``work`` on this thread, where it must not wait: the event loop's, for a citizen's
    hop on the embedded database (``channels.front``), with this process's writer turn
    already taken (``writer_turn``). SQLite's busy handler is off for its writes, so another
    process's write is not waited for, and a step that would wait on the outside world says
    so first (``about_to_wait``); either raises ``WouldWait``."""
    _NOT_WAITING.here = True
    try:
        return work()
    except OperationalError as exc:
        if "database is locked" in str(exc.orig):
            raise WouldWait("another process is writing the database") from exc
        raise
    finally:
        _NOT_WAITING.here = False


def about_to_wait() -> None:
    """Say that the work is about to wait on the outside world (a department's backend), before
    it commits anything: raises ``WouldWait`` inside ``without_waiting``."""
    if getattr(_NOT_WAITING, "here", False):
        raise WouldWait("a step waits on the outside world")


BUSY_TIMEOUT_MS = 10_000
"""How long SQLite waits for another process's write before failing a statement."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


WRITER_WAIT = 10.0
"""Seconds a thread waits for this process's SQLite writer turn before trying anyway."""

_TURNS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def writer_turn(engine: Engine) -> threading.Lock | None:
    """This process's writer turn at ``engine``'s SQLite database (None on PostgreSQL): held
    from a connection's first write until it goes back to the pool, or for the whole of work
    run ``without_waiting``."""
    return _TURNS.get(engine)


def _one_writer_at_a_time(engine: Engine) -> None:
    """Queue this process's SQLite writers on a lock instead of SQLite's busy handler.

    SQLite allows one writer; a second one gets SQLITE_BUSY and its busy handler sleeps and
    retries, in steps of up to 100 ms, so under load requests wait far longer than the writes
    take. Taking a lock at a connection's first write and giving it back when the connection
    returns to the pool (after its commit or rollback) hands the database over at once.
    Other processes (``seva dispatch``) still meet the busy handler. Work that must not wait
    (``without_waiting``) holds the turn before it starts and writes with the busy handler off.
    """
    lock = _TURNS[engine] = threading.Lock()

    def take(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        info = conn.info
        if (
            info.get("seva.writer")
            or info.get("seva.busy_off")
            or statement.lstrip()[:6].upper() in ("SELECT", "PRAGMA")
        ):
            return
        if getattr(_NOT_WAITING, "here", False):  # its caller holds the turn
            info["seva.busy_off"] = True
            cursor.connection.execute("PRAGMA busy_timeout=0")
            return
        info["seva.writer"] = lock.acquire(timeout=WRITER_WAIT)

    def give_back(dbapi_connection: Any, record: Any, *args: Any) -> None:
        if record is None:
            return
        if record.info.pop("seva.busy_off", False) and dbapi_connection is not None:
            dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if record.info.pop("seva.writer", False):
            lock.release()

    def discard(dbapi_connection: Any, record: Any, *args: Any) -> None:
        """A connection thrown away (its busy handler no longer matters)."""
        if record is not None:
            record.info.pop("seva.busy_off", None)
            if record.info.pop("seva.writer", False):
                lock.release()

    event.listen(engine, "before_cursor_execute", take)
    event.listen(engine.pool, "checkin", give_back)
    event.listen(engine.pool, "invalidate", discard)


IDLE_PING = 10.0
"""Seconds a pooled connection may rest before it is tried (``SELECT 1``) as it is handed out."""


def _ping_when_idle(engine: Engine) -> None:
    """Try a connection that rested more than ``IDLE_PING`` before a request gets it (the
    server may have restarted, or a firewall dropped it, while nobody used it); a busy
    connection is not tried. SQLAlchemy's ``pool_pre_ping`` tries every one, every time: a
    round trip and 80 µs of CPU on each citizen's hop. When the database restarts under load,
    the first statement on each old connection fails (a 503 the caller may retry), which
    empties the whole pool, and the next request connects afresh."""

    def checkin(dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["seva.rested_from"] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        rested = record.info.get("seva.rested_from")
        if rested is None or time.monotonic() - rested < IDLE_PING:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_connection.rollback()
        except Exception as exc:  # any driver error: the pool connects afresh
            raise DisconnectionError("the connection did not answer after resting") from exc

    event.listen(engine.pool, "checkin", checkin)
    event.listen(engine.pool, "checkout", checkout)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        _one_writer_at_a_time(engine)
    else:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        engine = create_engine(url, pool_size=10, max_overflow=20)
        _ping_when_idle(engine)
    catalog.watch(engine)
    return engine


class Database:
    """The process's engine and a factory of short-lived sessions."""

    def __init__(self, url: str, *, catalog_seconds: float = catalog.SECONDS) -> None:
        self.url = url
        self.engine = make_engine(url)
        catalog.watch(self.engine, seconds=catalog_seconds)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def writer(self) -> threading.Lock | None:
        """This process's SQLite writer turn (``writer_turn``); None on PostgreSQL."""
        return writer_turn(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error; what was to be done
        once it committed (``after_commit``) is done then, and dropped on a rollback."""
        with self.sessionmaker() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.info.pop(_AFTER_COMMIT, None)
                session.rollback()
                raise
            committed(session)

    def dispose(self) -> None:
        self.engine.dispose()


_AFTER_COMMIT = "seva.after_commit"


def after_commit(session: Session, work: Callable[[], None]) -> None:
    """Do ``work`` once ``session``'s transaction has committed (a write outside the database
    that must not show what the database then lost), in the order given; nothing if it rolls
    back. A session from ``Database.session`` does it as it commits; code that commits a
    session itself does so with ``commit``."""
    session.info.setdefault(_AFTER_COMMIT, []).append(work)


def commit(session: Session) -> None:
    """Commit in the middle of a session's work (before waiting on the outside world, say),
    and do what waited for the commit (``after_commit``)."""
    session.commit()
    committed(session)


def committed(session: Session) -> None:
    """The session's transaction committed: do what waited for it (see ``after_commit``)."""
    for work in session.info.pop(_AFTER_COMMIT, ()):
        try:
            work()
        except Exception:  # one failed write must not stop the others, nor the answer
            log.exception("after_commit_failed")
