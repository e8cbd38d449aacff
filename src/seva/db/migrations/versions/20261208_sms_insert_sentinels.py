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
    with op.batch_alter_table("sms_messages", schema=None) as batch_op:
        batch_op.drop_column("_sentinel")
    with op.batch_alter_table("sms_batches", schema=None) as batch_op:
        batch_op.drop_column("_sentinel")
