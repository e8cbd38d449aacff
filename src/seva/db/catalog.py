"""What every hop reads and admins rarely change, remembered per process.

Each citizen's keypress reads the departments, the services and their definitions, the
keywords, which departments take calls and where a dataset is: the same few rows, thousands
of times a second, changed a few times a day by an admin. Read from the database on every hop
they were most of a hop's statements. Here each such read is remembered per process and
database (``remember``) until one of the tables it comes from changes:

- **in this process** at once: every connection watches its own INSERT, UPDATE and DELETE on
  the ``WATCHED`` tables, and when it gives back a transaction that committed one, the
  database's *generation* moves on and every memo taken before is stale;
- **in another process or node** at once when Redis is configured (``gateway`` publishes each
  change and every process listening moves its generation on; ``publish``/``changed``), and
  otherwise after at most ``seconds`` (``watch``), the age at which a memo is read again
  whatever the generation says. The same bound covers a change made by hand in SQL, and a
  message lost while Redis was away.

A memo is taken through the caller's own connection, so it sees the database as the request
does. A transaction that has written one of the watched tables reads them afresh and keeps
nothing: it sees its own change, and its uncommitted rows do not outlive a rollback. What
``remember`` hands out is shared by every thread of the process: rows in it are detached from
any session and must be treated as read only (never changed, never added to a session).
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

T = TypeVar("T")

WATCHED: Final = frozenset(
    {
        "departments",
        "services",
        "service_revisions",
        "keywords",
        "local_keywords",
        "datasets",
        "rtc_availability",
    }
)
"""The tables memos are read from: a write to any of them ends every memo of its database."""

SECONDS: Final = 2.0
"""How old a memo may grow before it is read again, whatever the generation says."""

_WRITE = re.compile(r'\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.I)
_WROTE: Final = "seva.catalog.wrote"
_COMMITTED: Final = "seva.catalog.committed"


@dataclass(slots=True)
class _Memos:
    """One database's memos and generation."""

    seconds: float = SECONDS
    generation: int = 0
    entries: dict[Hashable, tuple[int, float, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_databases: dict[str, _Memos] = {}
_guard = threading.Lock()
_listeners: list[Callable[[str], None]] = []


_names: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _name(engine: Engine) -> str:
    """The database an engine reaches, as memos are kept by (rendered once per engine)."""
    name = _names.get(engine)
    if name is None:
        name = _names[engine] = engine.url.render_as_string(hide_password=True)
    return name


def _memos(name: str) -> _Memos:
    found = _databases.get(name)
    if found is None:
        with _guard:
            found = _databases.setdefault(name, _Memos())
    return found


def watch(engine: Engine, *, seconds: float = SECONDS) -> None:
    """Watch ``engine``'s writes to the catalog tables (``make_engine`` does, for every
    engine). ``seconds``: the most a memo may age; 0 remembers nothing."""
    name = _name(engine)
    _memos(name).seconds = seconds
    if event.contains(engine, "before_cursor_execute", _note_write):
        return
    event.listen(engine, "before_cursor_execute", _note_write)
    event.listen(engine, "commit", _note_commit)
    event.listen(engine, "rollback", _note_rollback)
    event.listen(engine.pool, "checkin", _given_back(name))


def _note_write(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    found = _WRITE.match(statement)  # anchored: a SELECT fails at its first letter
    if found is not None and found.group(1).lower() in WATCHED:
        conn.info[_WROTE] = True


def _note_commit(conn: Any) -> None:
    if conn.info.pop(_WROTE, False):
        conn.info[_COMMITTED] = True


def _note_rollback(conn: Any) -> None:
    if not conn.invalidated:  # a dropped connection has no info left (and wrote nothing)
        conn.info.pop(_WROTE, None)


def _given_back(name: str) -> Callable[..., None]:
    def checkin(dbapi_connection: Any, record: Any) -> None:
        # The commit is done and visible by now: memos taken from here on see it.
        if record is not None and record.info.pop(_COMMITTED, False):
            changed(name, publish=True)

    return checkin


def changed(name: str, *, publish: bool = False) -> None:
    """The catalog of database ``name`` changed: every memo of it is stale. ``publish``: the
    change was made here, so tell the other processes (``on_change``)."""
    memos = _memos(name)
    with memos.lock:
        memos.generation += 1
        memos.entries.clear()
    if publish:
        for listener in list(_listeners):
            listener(name)


def changed_everywhere() -> None:
    """Every database's memos are stale (after Redis was away: a change may have been missed)."""
    for name in list(_databases):
        changed(name)


def on_change(listener: Callable[[str], None]) -> Callable[[], None]:
    """Call ``listener(database name)`` after each change made in this process; returns the
    function that stops it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def database_name(session: Session) -> str:
    bind = session.get_bind()
    return database_name_of(bind if isinstance(bind, Engine) else bind.engine)


def database_name_of(engine: Engine) -> str:
    return _name(engine)


def generation(name: str) -> int:
    """How many changes this process has seen to database ``name``'s catalog."""
    return _memos(name).generation


def remember(session: Session, key: Hashable, load: Callable[[Session], T]) -> T:
    """``load``'s answer, from the memo when it is current, else read now (through
    ``session``'s connection, in a session of its own whose rows are then detached)."""
    memos = _memos(database_name(session))
    now = time.monotonic()
    connection = session.connection()
    wrote = connection.info.get(_WROTE, False)
    found = memos.entries.get(key)
    if (
        found is not None
        and not wrote  # this transaction changed the catalog: it reads its own change
        and found[0] == memos.generation
        and now - found[1] < memos.seconds
    ):
        return found[2]  # type: ignore[no-any-return]
    generation = memos.generation
    with Session(bind=connection, expire_on_commit=False, autoflush=False) as reader:
        value = load(reader)
    if memos.seconds > 0 and not wrote:
        with memos.lock:
            if memos.generation == generation:
                memos.entries[key] = (generation, now, value)
    return value
