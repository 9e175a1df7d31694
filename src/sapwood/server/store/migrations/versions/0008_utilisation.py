"""utilisation samples and activity

Utilisation samples are rows of the existing ``metrics`` table (names ``sapwood.*``);
notification rules gain the parameters of the ``underutilised`` event.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sapwood.server.store.tables import Json

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notification_rules", sa.Column("params", Json, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notification_rules") as batch:
        batch.drop_column("params")
