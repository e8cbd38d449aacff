"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from sqlalchemy import inspect

from seva.db.base import Base
from seva.db.migrate import check
from seva.db.session import make_engine


def test_models_and_migrations_agree(database_url: str) -> None:
    check(database_url)  # raises when autogenerate would produce operations
    engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables
