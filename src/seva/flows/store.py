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
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from seva.flows.models import Conversation


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
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Dialogue:
        return cls(**data)

    def expired(self, now: datetime) -> bool:
        return now >= datetime.fromisoformat(self.expires_at)


REMEMBER_TIMEOUT = 24 * 3600
"""Seconds an expired conversation is kept after it lapsed, so a late reply is told what timed
out (``seva.flows.conversation``) instead of being taken for an unknown keyword."""


class DialogueStore(Protocol):
    def load(self, session: Session, channel: str, key: str) -> Dialogue | None: ...

    def save(self, session: Session, dialogue: Dialogue) -> None: ...

    def drop(self, session: Session, channel: str, key: str) -> None: ...


class SqlDialogueStore:
    """Conversations in the ``conversations`` table, in the caller's transaction."""

    def _row(self, session: Session, channel: str, key: str) -> Conversation | None:
        """The row, looked up once per transaction (a hop loads, then saves, the same row)."""
        cache: dict[tuple[str, str], Conversation | None] = session.info.setdefault(
            "seva.conversations", {}
        )
        if (channel, key) not in cache:
            cache[(channel, key)] = session.scalar(
                select(Conversation).where(Conversation.channel == channel, Conversation.key == key)
            )
        return cache[(channel, key)]

    def load(self, session: Session, channel: str, key: str) -> Dialogue | None:
        row = self._row(session, channel, key)
        return Dialogue.from_dict(row.state) if row is not None else None

    def save(self, session: Session, dialogue: Dialogue) -> None:
        expires = datetime.fromisoformat(dialogue.expires_at)
        row = self._row(session, dialogue.channel, dialogue.key)
        if row is None:
            row = Conversation(
                channel=dialogue.channel,
                key=dialogue.key,
                state=dialogue.to_dict(),
                expires_at=expires,
            )
            session.add(row)
            session.info["seva.conversations"][(dialogue.channel, dialogue.key)] = row
        else:
            row.state = dialogue.to_dict()
            # The loaded dialogue shares its nested dicts with the row's JSON, so a change made
            # in place (``meta.pop``) is already in what SQLAlchemy compares against: written
            # always, or an offer taken within the same second would stay open.
            flag_modified(row, "state")
            row.expires_at = expires
        session.flush()

    def drop(self, session: Session, channel: str, key: str) -> None:
        session.info.setdefault("seva.conversations", {})[(channel, key)] = None
        session.execute(
            delete(Conversation).where(Conversation.channel == channel, Conversation.key == key)
        )

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
        return Dialogue.from_dict(json.loads(raw)) if raw else None

    def save(self, session: Session, dialogue: Dialogue) -> None:
        now = datetime.now(datetime.fromisoformat(dialogue.expires_at).tzinfo)
        left = int((datetime.fromisoformat(dialogue.expires_at) - now).total_seconds())
        ttl = max(1, left + REMEMBER_TIMEOUT)
        payload = json.dumps(dialogue.to_dict(), ensure_ascii=False)
        self.client.set(self._key(dialogue.channel, dialogue.key), payload, ex=ttl)

    def drop(self, session: Session, channel: str, key: str) -> None:
        self.client.delete(self._key(channel, key))
