"""local keywords: a service's keyword in the Indian scripts

Each word a service is found by beside its Latin keywords (``seva.flows.keywords``), folded,
unique across the gateway, with the consonant skeleton a lenient match looks up. Services
loaded before have none until they are loaded again with ``local_keywords``.

Revision ID: 94439863ed9d
Revises: df05a1589e6b
Create Date: 2026-12-07 14:33:24.921046
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "94439863ed9d"
down_revision: str | None = "df05a1589e6b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "local_keywords",
        sa.Column("word", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("derived", sa.Boolean(), nullable=False),
        sa.Column("skeleton", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_local_keywords_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("word", name=op.f("pk_local_keywords")),
    )
    with op.batch_alter_table("local_keywords", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_local_keywords_service_id"), ["service_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_local_keywords_skeleton"), ["skeleton"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("local_keywords", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_local_keywords_skeleton"))
        batch_op.drop_index(batch_op.f("ix_local_keywords_service_id"))
    op.drop_table("local_keywords")
