"""login abuse: one-time-code send claims per phone

Revision ID: 7c41d0a9e2b5
Revises: 3ed1c968dded
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import seva.db.base

revision: str = "7c41d0a9e2b5"
down_revision: str | None = "3ed1c968dded"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "otp_send_claims",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("last_sent_at", seva.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_otp_send_claims")),
    )


def downgrade() -> None:
    op.drop_table("otp_send_claims")
