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
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from seva.db import catalog

log = structlog.get_logger("seva.db")

T = TypeVar("T")


class WouldWait(Exception):
    """Work run by ``without_waiting`` reached something it would have to wait for: another
    process's write to the SQLite database, or the outside world. Nothing it did is kept (its
    session rolls back); the caller runs it again where waiting is allowed."""


class WriterBusy(WouldWait):
    """A thread of this process holds the writer turn: the work may be tried again on this
    thread once it is free."""


_NOT_WAITING = threading.local()


def without_waiting(work: Callable[[], T]) -> T:
    """Run ``work`` on this thread, where it must not wait: the event loop's, for a citizen's
    hop on the embedded database (``channels.front``). Its sessions come from the loop's own
    connections (``Database.session``), so it never waits for one a thread holds; they take
    this process's writer turn only if it is free and have SQLite's busy handler off, so
    neither a thread's write nor another process's is waited for; and a step that would wait
    on the outside world says so first (``about_to_wait``). Each raises ``WouldWait``."""
    _NOT_WAITING.here = True
    try:
        return work()
    except OperationalError as exc:
        if "database is locked" in str(exc.orig):
            raise WouldWait("another process is writing the database") from exc
        raise
    except PoolTimeout as exc:
        raise WouldWait("no connection of the loop's own is free") from exc
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


def _loop_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """The event loop's connections wait for no other process (SQLite's busy handler off) and
    leave checkpoints to a thread (``Database.loop_committed``)."""
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


CHECKPOINT_EVERY = 1000
"""Hops of the event loop between two checkpoints of SQLite's write-ahead log."""

WRITER_WAIT = 10.0
"""Seconds a thread waits for this process's SQLite writer turn before trying anyway (then
SQLite's own busy handler waits up to ``BUSY_TIMEOUT_MS`` more)."""

_TURNS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def writer_turn(engine: Engine) -> threading.Lock | None:
    """This process's writer turn at ``engine``'s SQLite database (None on PostgreSQL): held
    from a connection's first write until it goes back to the pool."""
    return _TURNS.get(engine)


def _one_writer_at_a_time(engine: Engine, lock: threading.Lock, *, wait: bool = True) -> None:
    """Queue this process's SQLite writers on a lock instead of SQLite's busy handler.

    SQLite allows one writer; a second one gets SQLITE_BUSY and its busy handler sleeps and
    retries, in steps of up to 100 ms, so under load requests wait far longer than the writes
    take. Taking a lock at a connection's first write and giving it back when the connection
    returns to the pool (after its commit or rollback) hands the database over at once.
    Other processes (``seva dispatch``) still meet the busy handler. ``lock`` is shared by the
    engines of one database in this process; an engine that may not ``wait`` (the event
    loop's, ``without_waiting``) takes it only if it is free.
    """
    _TURNS[engine] = lock

    def take(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        info = conn.info
        if info.get("seva.writer") or statement.lstrip()[:6].upper() in ("SELECT", "PRAGMA"):
            return
        if wait:
            info["seva.writer"] = lock.acquire(timeout=WRITER_WAIT)
        elif lock.acquire(blocking=False):
            info["seva.writer"] = True
        else:
            raise WriterBusy("another thread is writing the database")

    def give_back(dbapi_connection: Any, record: Any, *args: Any) -> None:
        if record is not None and record.info.pop("seva.writer", False):
            lock.release()

    event.listen(engine, "before_cursor_execute", take)
    event.listen(engine.pool, "checkin", give_back)
    event.listen(engine.pool, "invalidate", give_back)


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


def make_engine(url: str, *, turn: threading.Lock | None = None, loop: bool = False) -> Engine:
    """An engine for ``url``. On SQLite, ``turn`` is the process's writer turn at that
    database when another engine already has one; ``loop``: the event loop's own engine
    (``Database``), a few connections that are never waited for."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        pool: dict[str, Any] = (
            {"pool_size": 2, "max_overflow": 0, "pool_timeout": 0} if loop else {}
        )
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, **pool
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if loop:
            event.listen(engine, "connect", _loop_pragmas)
        _one_writer_at_a_time(engine, turn or threading.Lock(), wait=not loop)
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
        self.loop_engine: Engine | None = None
        """On an SQLite file, the event loop's own connections (``without_waiting``): a hop
        on the loop never waits for a connection the threads hold, and shares their writer
        turn."""
        self._loop_sessionmaker = self.sessionmaker
        self._loop_commits = 0
        self._checkpointing = threading.Lock()
        turn = writer_turn(self.engine)
        if turn is not None and self.engine.url.database not in (None, "", ":memory:"):
            self.loop_engine = make_engine(url, turn=turn, loop=True)
            catalog.watch(self.loop_engine, seconds=catalog_seconds)
            self._loop_sessionmaker = sessionmaker(self.loop_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error; what was to be done
        once it committed (``after_commit``) is done then, and dropped on a rollback."""
        on_loop = getattr(_NOT_WAITING, "here", False)
        with (self._loop_sessionmaker if on_loop else self.sessionmaker)() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.info.pop(_AFTER_COMMIT, None)
                session.rollback()
                raise
            committed(session)

    def loop_committed(self) -> None:
        """A hop on the event loop committed. Its connections do not copy SQLite's write-ahead
        log into the database (a checkpoint, done by the commit that fills the log, and long
        when a read held it up): every ``CHECKPOINT_EVERY`` of them a thread does, in SQLite's
        mode that waits for no reader or writer."""
        self._loop_commits += 1
        if self._loop_commits % CHECKPOINT_EVERY == 0 and not self._checkpointing.locked():
            threading.Thread(target=self._checkpoint, name="seva-checkpoint", daemon=True).start()

    def _checkpoint(self) -> None:
        with self._checkpointing:
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception:  # the next one tries again
                log.exception("checkpoint_failed")

    def dispose(self) -> None:
        self.engine.dispose()
        if self.loop_engine is not None:
            self.loop_engine.dispose()


def read_through(session: Session) -> Connection:
    """The session's connection, for a Core statement built once, with what the session holds
    written first: a query through the ORM would autoflush, and a statement run on the
    connection directly would otherwise miss a key revoked or a quota lowered earlier in the
    same transaction. Writing nothing costs nothing."""
    session.flush()
    return session.connection()


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
