"""sms receipt timeout and resends after a lease

Revision ID: 2c6e5b91bc82
Revises: 624d783b3bdb
Create Date: 2026-12-07 04:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2c6e5b91bc82"
down_revision: str | None = "624d783b3bdb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sms_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("resent_after_lease", sa.SmallInteger(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            "ix_sms_messages_awaiting_receipt",
            ["submitted_at"],
            unique=False,
            postgresql_where=sa.text("status = 'submitted'"),
            sqlite_where=sa.text("status = 'submitted'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("sms_messages", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_sms_messages_awaiting_receipt",
            postgresql_where=sa.text("status = 'submitted'"),
            sqlite_where=sa.text("status = 'submitted'"),
        )
        batch_op.drop_column("resent_after_lease")
