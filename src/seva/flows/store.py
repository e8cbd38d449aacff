"""Where conversations wait between a citizen's messages: the database or Redis.

A *dialogue* is one channel session (an SMS conversation with a phone, a USSD session id, a web
cookie): the language, the channel's own state (menu position, paging) and, while a service is
running, the flow engine's serialised state. The database store writes in the caller's
transaction, so a reply, the application it created and the conversation's new state commit
together; the Redis store (``SEVA_REDIS_URL``) keeps them out of the database for scale-out
and lets Redis expire them.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import Text, bindparam, cast, delete, insert, select, update
from sqlalchemy.orm import Session

from seva.db.session import after_commit
from seva.flows.models import Conversation
from seva.kv import REDIS_ERRORS

log = structlog.get_logger("seva.flows")


@dataclass(slots=True, kw_only=True)
class Dialogue:
    channel: str
    key: str
    expires_at: str
    phone: str | None = None
    lang: str = "en"
    lang_chosen: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    flow: dict[str, Any] | None = None
    service_id: int | None = None
    operator_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A copy sharing nothing with this dialogue (see ``dumps``)."""
        copied: dict[str, Any] = json.loads(self.dumps())
        return copied

    def dumps(self) -> str:
        """The dialogue as JSON: what every store keeps, made without ``dataclasses.asdict``'s
        recursion (several times slower, on every hop)."""
        return json.dumps({name: getattr(self, name) for name in _FIELDS}, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Dialogue:
        return cls(**data)

    @classmethod
    def loads(cls, raw: str | bytes) -> Dialogue:
        return cls(**json.loads(raw))

    def expired(self, now: datetime) -> bool:
        return now >= datetime.fromisoformat(self.expires_at)


_FIELDS = tuple(f.name for f in fields(Dialogue))

REMEMBER_TIMEOUT = 24 * 3600
"""Seconds an expired conversation is kept after it lapsed, so a late reply is told what timed
out (``seva.flows.conversation``) instead of being taken for an unknown keyword."""


class DialogueStore(Protocol):
    def load(self, session: Session, channel: str, key: str) -> Dialogue | None: ...

    def save(self, session: Session, dialogue: Dialogue) -> None: ...

    def drop(self, session: Session, channel: str, key: str) -> None: ...


_CONVERSATION = select(Conversation.id, cast(Conversation.state, Text)).where(
    Conversation.channel == bindparam("channel"), Conversation.key == bindparam("key")
)
_UPDATE = (
    update(Conversation)
    .where(Conversation.id == bindparam("row"))
    .values(state=bindparam("state"), expires_at=bindparam("expires"))
)
_INSERT = (
    insert(Conversation)
    .values(
        channel=bindparam("channel"),
        key=bindparam("key"),
        state=bindparam("state"),
        expires_at=bindparam("expires"),
    )
    .returning(Conversation.id)
)
_DROP = delete(Conversation).where(
    Conversation.channel == bindparam("channel"), Conversation.key == bindparam("key")
)
"""The statements every message of every conversation runs, built once. Core, not the ORM:
a conversation's row is only ever read and written here, whole, and loading it as an object
to write it back cost an SMS hop more than the rest of its statements together."""
_ROWS = "seva.conversations"


class SqlDialogueStore:
    """Conversations in the ``conversations`` table, in the caller's transaction."""

    def _row(self, session: Session, channel: str, key: str) -> tuple[int | None, str | None]:
        """The row's id and state (as JSON), looked up once per transaction (a hop loads,
        then saves, the same row): (None, None) when there is none."""
        rows: dict[tuple[str, str], tuple[int | None, str | None]] = session.info.setdefault(
            _ROWS, {}
        )
        found = rows.get((channel, key))
        if found is None:
            row = (
                session.connection()
                .execute(_CONVERSATION, {"channel": channel, "key": key})
                .first()
            )
            found = rows[(channel, key)] = (row[0], row[1]) if row is not None else (None, None)
        return found

    def load(self, session: Session, channel: str, key: str) -> Dialogue | None:
        _, state = self._row(session, channel, key)
        return Dialogue.loads(state) if state is not None else None

    def save(self, session: Session, dialogue: Dialogue) -> None:
        expires = datetime.fromisoformat(dialogue.expires_at)
        raw = dialogue.dumps()
        state = json.loads(raw)
        row, _ = self._row(session, dialogue.channel, dialogue.key)
        connection = session.connection()
        if row is not None:
            updated = connection.execute(_UPDATE, {"row": row, "state": state, "expires": expires})
            if updated.rowcount != 1:  # gone since it was read (a purge): written anew
                row = None
        if row is None:
            row = connection.execute(
                _INSERT,
                {
                    "channel": dialogue.channel,
                    "key": dialogue.key,
                    "state": state,
                    "expires": expires,
                },
            ).scalar_one()
        session.info[_ROWS][(dialogue.channel, dialogue.key)] = (row, raw)

    def drop(self, session: Session, channel: str, key: str) -> None:
        session.info.setdefault(_ROWS, {})[(channel, key)] = (None, None)
        session.connection().execute(_DROP, {"channel": channel, "key": key})

    @staticmethod
    def purge_expired(session: Session, now: datetime) -> int:
        result = session.execute(delete(Conversation).where(Conversation.expires_at < now))
        return int(getattr(result, "rowcount", 0) or 0)


class RedisDialogueStore:
    """Conversations as JSON under ``seva:dlg:<channel>:<key>`` with a Redis TTL."""

    def __init__(self, client: Any, *, prefix: str = "seva:dlg:") -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, channel: str, key: str) -> str:
        return f"{self.prefix}{channel}:{key}"

    def load(self, session: Session, channel: str, key: str) -> Dialogue | None:
        raw = self.client.get(self._key(channel, key))
        return Dialogue.loads(raw) if raw else None

    def save(self, session: Session, dialogue: Dialogue) -> None:
        now = datetime.now(datetime.fromisoformat(dialogue.expires_at).tzinfo)
        left = int((datetime.fromisoformat(dialogue.expires_at) - now).total_seconds())
        ttl = max(1, left + REMEMBER_TIMEOUT)
        self.client.set(self._key(dialogue.channel, dialogue.key), dialogue.dumps(), ex=ttl)

    def drop(self, session: Session, channel: str, key: str) -> None:
        self.client.delete(self._key(channel, key))


MEMORY_LIMIT = 50_000
"""Conversations the memory store holds at most (about 1 KiB each); the least recently used
go first."""
MEMORY_KEEP = 600.0
"""Seconds the memory store keeps a conversation past its expiry, so a late reply is told
what timed out; then it is forgotten (a USSD session the citizen walked away from)."""


class MemoryDialogueStore:
    """Conversations in this process's memory, as JSON: for a gateway that runs as one
    process (the embedded default), and for a channel whose sessions last seconds and can be
    rebuilt: USSD, where every hop carries the session's whole history, so a restart only
    replays the keys already pressed. A hop then writes nothing to the database but the facts
    it produced (an application, a finished transaction). Bounded: ``limit`` conversations at
    most, each forgotten ``keep`` seconds after it expired (the oldest are looked at as each
    one is saved, so forgetting costs nothing to a hop)."""

    def __init__(
        self,
        limit: int = MEMORY_LIMIT,
        *,
        keep: float = MEMORY_KEEP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.keep = keep
        self.clock = clock
        self._items: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, session: Session, channel: str, key: str) -> Dialogue | None:
        with self._lock:
            found = self._items.get((channel, key))
            if found is not None and found[1] < self.clock():
                del self._items[(channel, key)]
                found = None
        return Dialogue.loads(found[0]) if found is not None else None

    def save(self, session: Session, dialogue: Dialogue) -> None:
        raw = dialogue.dumps()
        forget_at = datetime.fromisoformat(dialogue.expires_at).timestamp() + self.keep
        now = self.clock()
        with self._lock:
            self._items[(dialogue.channel, dialogue.key)] = (raw, forget_at)
            self._items.move_to_end((dialogue.channel, dialogue.key))
            while self._items and (
                len(self._items) > self.limit or next(iter(self._items.values()))[1] < now
            ):
                self._items.popitem(last=False)

    def drop(self, session: Session, channel: str, key: str) -> None:
        with self._lock:
            self._items.pop((channel, key), None)

    def __len__(self) -> int:
        return len(self._items)


class ChannelDialogueStore:
    """Each channel's conversations in the store chosen for it, the rest in ``default``."""

    def __init__(self, default: DialogueStore, by_channel: dict[str, DialogueStore]) -> None:
        self.default = default
        self.by_channel = by_channel

    def _store(self, channel: str) -> DialogueStore:
        return self.by_channel.get(channel, self.default)

    def load(self, session: Session, channel: str, key: str) -> Dialogue | None:
        return self._store(channel).load(session, channel, key)

    def save(self, session: Session, dialogue: Dialogue) -> None:
        self._store(dialogue.channel).save(session, dialogue)

    def drop(self, session: Session, channel: str, key: str) -> None:
        self._store(channel).drop(session, channel, key)


RETRY_REDIS = 2.0
"""Seconds conversations stay in the database after Redis failed, before Redis is tried again."""


class FallbackDialogueStore:
    """Redis, and the database while Redis cannot be reached: a hop during an outage is
    answered (from the database, slower) rather than refused. A conversation that moved
    store in the middle starts over when it cannot be found in the other; one kept in the
    database meanwhile expires there (``SqlDialogueStore.purge_expired``)."""

    def __init__(
        self,
        primary: RedisDialogueStore,
        fallback: SqlDialogueStore,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary: DialogueStore = AfterCommit(primary, on_error=self._failed, fallback=fallback)
        self.fallback = fallback
        self.clock = clock
        self._down_until = 0.0

    def _use(self) -> DialogueStore:
        return self.fallback if self.clock() < self._down_until else self.primary

    def _failed(self, exc: Exception) -> None:
        if self.clock() >= self._down_until:
            log.warning("redis_unavailable", store="conversations", error=type(exc).__name__)
        self._down_until = self.clock() + RETRY_REDIS

    def load(self, session: Session, channel: str, key: str) -> Dialogue | None:
        store = self._use()
        if store is self.primary:
            try:
                return self.primary.load(session, channel, key)
            except REDIS_ERRORS as exc:
                self._failed(exc)
        return self.fallback.load(session, channel, key)

    def save(self, session: Session, dialogue: Dialogue) -> None:
        if self._use() is self.primary:
            try:
                self.primary.save(session, dialogue)
                return
            except REDIS_ERRORS as exc:
                self._failed(exc)
        self.fallback.save(session, dialogue)

    def drop(self, session: Session, channel: str, key: str) -> None:
        if self._use() is self.primary:
            try:
                self.primary.drop(session, channel, key)
                return
            except REDIS_ERRORS as exc:
                self._failed(exc)
        self.fallback.drop(session, channel, key)


class AfterCommit:
    """A store outside the database (Redis, memory) written when the hop's transaction
    commits, not as the hop runs: a hop whose database write failed must not leave the
    conversation saying it went through (the aggregator's retry would be told so). Until
    then the session sees its own writes. ``on_error``: what a failed write tells (that
    Redis is away); ``fallback``: where the write then goes, in a transaction of its own."""

    def __init__(
        self,
        inner: DialogueStore,
        *,
        on_error: Callable[[Exception], None] | None = None,
        fallback: DialogueStore | None = None,
    ) -> None:
        self.inner = inner
        self.on_error = on_error
        self.fallback = fallback
        self._name = f"seva.dialogues.after_commit.{id(self)}"

    def _pending(self, session: Session) -> dict[tuple[str, str], Dialogue | None]:
        pending: dict[tuple[str, str], Dialogue | None] | None = session.info.get(self._name)
        if pending is None:
            pending = session.info[self._name] = {}
            after_commit(session, lambda: self._write(session))
        return pending

    def load(self, session: Session, channel: str, key: str) -> Dialogue | None:
        pending: dict[tuple[str, str], Dialogue | None] = session.info.get(self._name, {})
        if (channel, key) in pending:
            waiting = pending[(channel, key)]
            return Dialogue.loads(waiting.dumps()) if waiting is not None else None
        return self.inner.load(session, channel, key)

    def save(self, session: Session, dialogue: Dialogue) -> None:
        copy = Dialogue.loads(dialogue.dumps())
        self._pending(session)[(dialogue.channel, dialogue.key)] = copy

    def drop(self, session: Session, channel: str, key: str) -> None:
        self._pending(session)[(channel, key)] = None

    def _write(self, session: Session) -> None:
        pending: dict[tuple[str, str], Dialogue | None] = session.info.pop(self._name, {})
        for (channel, key), dialogue in pending.items():
            try:
                if dialogue is None:
                    self.inner.drop(session, channel, key)
                else:
                    self.inner.save(session, dialogue)
            except REDIS_ERRORS as exc:
                if self.on_error is None or self.fallback is None:
                    raise
                self.on_error(exc)
                self._fall_back(session, channel, key, dialogue)

    def _fall_back(
        self, session: Session, channel: str, key: str, dialogue: Dialogue | None
    ) -> None:
        assert self.fallback is not None
        with Session(bind=session.get_bind()) as own:
            if dialogue is None:
                self.fallback.drop(own, channel, key)
            else:
                self.fallback.save(own, dialogue)
            own.commit()
