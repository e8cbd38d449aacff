"""private application lookups

Every application made so far has a counted (or, in the demo, given) reference, so the new
``guessable_ref`` column is true for all existing rows: a lookup by such a reference shows the
application to its own citizen only. New applications get random references and false.

``application_events.internal_note`` is the officials' own note on a status change, apart from
``note``, which goes to the citizen; every existing note was sent to the citizen by SMS, so it
stays where it is and existing rows get an empty internal note.

Revision ID: 624d783b3bdb
Revises: 21ce58fef6e0
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "624d783b3bdb"
down_revision: str | None = "21ce58fef6e0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases (SQLite has had DROP COLUMN since 3.35): a batch copy of
# ``applications`` would have to drop a table that ``application_events`` refers to.


def upgrade() -> None:
    op.add_column(
        "applications",
        sa.Column("guessable_ref", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column(
        "application_events",
        sa.Column("internal_note", sa.Text(), server_default="", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("application_events", "internal_note")
    op.drop_column("applications", "guessable_ref")
