"""login abuse: one-time-code send claims per phone, officials' sessions, citizen tokens

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
    op.create_table(
        "official_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("official_id", sa.Integer(), nullable=False),
        sa.Column("created_at", seva.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", seva.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["official_id"],
            ["officials.id"],
            name=op.f("fk_official_sessions_official_id_officials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_official_sessions")),
    )
    with op.batch_alter_table("official_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_official_sessions_official_id"), ["official_id"], unique=False
        )
    op.create_table(
        "citizen_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("created_at", seva.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", seva.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_citizen_tokens")),
    )
    with op.batch_alter_table("citizen_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_citizen_tokens_phone"), ["phone"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("citizen_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_citizen_tokens_phone"))
    op.drop_table("citizen_tokens")
    with op.batch_alter_table("official_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_official_sessions_official_id"))
    op.drop_table("official_sessions")
    op.drop_table("otp_send_claims")
