"""application status codes and translations

A suggested status gets a stable code (``approved``) that a citizen reads in their own
language from the message catalog; an official's own words keep a NULL code and may carry
their translations (``status_texts``, and ``note_texts`` for the note to the citizen).

Existing rows whose status is one of the suggested names (any case) get its code, so an
application approved before the upgrade reads "स्वीकृत" to a Hindi citizen after it. The
names are written out here rather than read from the catalog: a migration means what it
meant on the day it was written.

Revision ID: df05a1589e6b
Revises: 2c6e5b91bc82
Create Date: 2026-12-07 11:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "df05a1589e6b"
down_revision: str | None = "2c6e5b91bc82"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUGGESTED = {
    "received": "received",
    "under review": "under_review",
    "documents required": "documents_required",
    "verified": "verified",
    "approved": "approved",
    "rejected": "rejected",
    "ready for collection": "ready_for_collection",
    "closed": "closed",
}
TABLES = ("applications", "application_events")

# Plain ALTER TABLE on both databases, as in 624d783b3bdb: a batch copy of ``applications``
# would have to drop a table that ``application_events`` refers to.


def upgrade() -> None:
    empty = sa.text("'{}'")
    for table in TABLES:
        op.add_column(table, sa.Column("status_code", sa.String(length=32), nullable=True))
        op.add_column(
            table, sa.Column("status_texts", sa.JSON(), server_default=empty, nullable=False)
        )
    op.add_column(
        "application_events",
        sa.Column("note_texts", sa.JSON(), server_default=empty, nullable=False),
    )
    for table in TABLES:
        rows = sa.table(table, sa.column("status", sa.String), sa.column("status_code", sa.String))
        for name, code in SUGGESTED.items():
            op.execute(
                rows.update().where(sa.func.lower(rows.c.status) == name).values(status_code=code)
            )


def downgrade() -> None:
    op.drop_column("application_events", "note_texts")
    for table in reversed(TABLES):
        op.drop_column(table, "status_texts")
        op.drop_column(table, "status_code")
