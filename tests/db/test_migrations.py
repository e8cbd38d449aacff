"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic import command
from sqlalchemy import delete, insert, inspect, select

from seva.db.base import Base
from seva.db.migrate import alembic_config, check
from seva.db.session import make_engine
from seva.messaging.models import SmsBatch, SmsMessage, SmsPart


def test_models_and_migrations_agree(database_url: str) -> None:
    check(database_url)  # raises when autogenerate would produce operations
    engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables


def test_the_latest_migration_goes_down_and_up_again_with_messages_queued(
    database_url: str,
) -> None:
    """Stepping back one revision keeps the queue: the sentinel columns are dropped in place,
    not by rebuilding tables that other tables' foreign keys point at."""
    config = alembic_config(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            batch = connection.execute(
                insert(SmsBatch).returning(SmsBatch.id),
                [{"sender": "SEVA", "text": "hello", "kind": "transactional", "due_at": 0.0}],
            ).scalar_one()
            message = connection.execute(
                insert(SmsMessage).returning(SmsMessage.id),
                [{"batch_id": batch, "to_phone": "+919811000001", "priority": 0, "due_at": 0.0}],
            ).scalar_one()
            connection.execute(
                insert(SmsPart), [{"route": "r", "smsc_id": "x1", "message_id": message, "seq": 1}]
            )
        command.downgrade(config, "-1")
        command.upgrade(config, "head")
        check(database_url)
        with engine.connect() as connection:
            assert connection.execute(select(SmsMessage.to_phone)).scalars().all() == [
                "+919811000001"
            ]
    finally:
        with engine.begin() as connection:
            connection.execute(delete(SmsPart))
            connection.execute(delete(SmsMessage))
            connection.execute(delete(SmsBatch))
        engine.dispose()
