"""sms insert sentinels: a group of sends inserted in one statement on SQLite

``sms_batches`` and ``sms_messages`` get a nullable integer ``_sentinel``, which SQLAlchemy's
"insertmanyvalues" fills with each row's place in a multi-row INSERT so that the ids
RETURNING gives back can be matched to the rows. SQLite has no other way to do it, and
without the column a group of 100 sends was inserted one statement per row.

Revision ID: 5a0c7e2f91d4
Revises: 94439863ed9d
Create Date: 2026-12-08 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5a0c7e2f91d4"
down_revision: str | None = "94439863ed9d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: neither SQLite nor PostgreSQL rewrites the table.
    op.add_column("sms_batches", sa.Column("_sentinel", sa.Integer(), nullable=True))
    op.add_column("sms_messages", sa.Column("_sentinel", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Dropped in place (SQLite 3.35+ can): a batch rebuild would drop and recreate the tables,
    # which the foreign keys from sms_parts and sms_messages refuse once any message exists.
    op.drop_column("sms_messages", "_sentinel")
    op.drop_column("sms_batches", "_sentinel")
