"""feed_batches.body_sha256: the fingerprint of the post that stored a batch

A batch id names one body: a post that reuses the id with another body is refused (422)
instead of answering as the first post did. Batches stored before this have none and are
taken as matching. On SQLite the column goes before ``records``, which stays last (see
0010): the table is rebuilt with its rows. PostgreSQL just adds it.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BEFORE = (
    "id",
    "feed_uid",
    "batch_key",
    "first_seq",
    "last_seq",
    "count",
    "ingested_at",
    "acked",
    "deliveries",
    "lease_id",
    "lease_expires_at",
)
_COLUMN = "body_sha256"


def upgrade() -> None:
    column = sa.Column(_COLUMN, sa.String(64), nullable=True)
    if op.get_bind().dialect.name != "sqlite":
        op.add_column("feed_batches", column)
        return
    order = (*_BEFORE, _COLUMN, "records")
    with op.batch_alter_table(
        "feed_batches", recreate="always", partial_reordering=[order]
    ) as batch:
        batch.add_column(column)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("feed_batches", _COLUMN)
        return
    with op.batch_alter_table("feed_batches", recreate="always") as batch:
        batch.drop_column(_COLUMN)
