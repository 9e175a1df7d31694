"""feeds: records queue, results

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sapwood.server.store.tables import Id, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_batches",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("feed_uid", sa.String(36), nullable=False),
        sa.Column("batch_key", sa.String(128), nullable=True),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("records", sa.LargeBinary(), nullable=False),
        sa.Column("ingested_at", UTCDateTime(), nullable=False),
        sa.Column("acked", sa.Boolean(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("lease_id", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_feed_batches"),
        sa.UniqueConstraint("feed_uid", "first_seq", name="uq_feed_batches_feed_uid_first_seq"),
        sa.UniqueConstraint("feed_uid", "batch_key", name="uq_feed_batches_feed_uid_batch_key"),
    )
    op.create_index(
        "ix_feed_batches_feed_uid_acked_id", "feed_batches", ["feed_uid", "acked", "id"]
    )
    op.create_index("ix_feed_batches_ingested_at", "feed_batches", ["ingested_at"])
    op.create_table(
        "feed_results",
        sa.Column("feed_uid", sa.String(36), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("ingested_at", UTCDateTime(), nullable=False),
        sa.Column("scored_at", UTCDateTime(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("labelled", sa.Integer(), nullable=False),
        sa.Column("true_pos", sa.Integer(), nullable=False),
        sa.Column("false_pos", sa.Integer(), nullable=False),
        sa.Column("true_neg", sa.Integer(), nullable=False),
        sa.Column("false_neg", sa.Integer(), nullable=False),
        sa.Column("results", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("feed_uid", "first_seq", name="pk_feed_results"),
    )
    op.create_index("ix_feed_results_feed_uid_scored_at", "feed_results", ["feed_uid", "scored_at"])


def downgrade() -> None:
    op.drop_table("feed_results")
    op.drop_table("feed_batches")
