"""leases: a term, the fencing token of each holding

A lease's `version` moves with every renewal; its `term` moves only when a holding begins
(created, taken, or taken back after a lapse). The controller's writes check the term they
were started under, so a replica that lost the lease cannot write after its successor
began (server/leader.py, store/leases.py).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leases") as batch:
        batch.add_column(sa.Column("term", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("leases") as batch:
        batch.drop_column("term")
