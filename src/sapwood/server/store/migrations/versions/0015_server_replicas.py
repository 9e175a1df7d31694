"""server_replicas: each replica's gateway address, with a heartbeat

The leader's autoscaler reads every live replica's gateway, not only its own, so a
request another replica's gateway holds wakes a Service scaled to zero
(server/replicas.py, observe/gateway_load.py).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sapwood.server.store.tables import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_replicas",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("gateway_url", sa.String(255), nullable=False),
        sa.Column("beat", sa.Integer(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_server_replicas"),
    )


def downgrade() -> None:
    op.drop_table("server_replicas")
