"""events.count and events.last_seen_at: repeats of an event fold into one row

An event identical to its object's latest one (type, reason, message) within the fold
window adds to that row's ``count`` and moves its ``last_seen_at`` instead of writing a
new row (store/events.py). Rows written before this happened once, when they were
written: count 1, last seen at ``created_at``.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sapwood.server.store.tables import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("count", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("last_seen_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE events SET last_seen_at = created_at")
    with op.batch_alter_table("events") as batch:
        batch.alter_column("last_seen_at", existing_type=UTCDateTime(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("last_seen_at")
        batch.drop_column("count")
