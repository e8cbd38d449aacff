"""Database access: one engine per process, typed models per domain, Alembic migrations."""

from seva.db.base import Base, utcnow
from seva.db.session import Database

__all__ = ["Base", "Database", "utcnow"]
