"""an index for the utilisation retention sweep

The sweep deletes utilisation samples (metric names ``sapwood.*``) older than the
retention; ``(metric, time)`` finds them without reading training metrics.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_metrics_metric_time", "metrics", ["metric", "time"])


def downgrade() -> None:
    op.drop_index("ix_metrics_metric_time", table_name="metrics")
