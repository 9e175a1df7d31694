"""feed_batches: the records blob moves to the last column (SQLite only)

SQLite stores a row's columns in declaration order and spills a large value into a chain
of overflow pages, so reading a column declared after ``records`` (``ingested_at``,
``acked``, the lease columns) walks that chain. With the blob last, the queue's lease,
``/figures`` and the retention sweep read small columns only. The table is rebuilt
(copied, dropped, renamed) with its data, indexes and unique constraints. PostgreSQL keeps
large values out of line (TOAST), so the order does not matter there and nothing is done.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_SMALL = ("id", "feed_uid", "batch_key", "first_seq", "last_seq", "count")
_QUEUE = ("ingested_at", "acked", "deliveries", "lease_id", "lease_expires_at")
BLOB_LAST = (*_SMALL, *_QUEUE, "records")
BLOB_BEFORE_QUEUE = (*_SMALL, "records", *_QUEUE)  # as 0006 created it


def upgrade() -> None:
    _reorder(BLOB_LAST)


def downgrade() -> None:
    _reorder(BLOB_BEFORE_QUEUE)


def _reorder(columns: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("feed_batches", recreate="always", partial_reordering=[columns]):
        pass
