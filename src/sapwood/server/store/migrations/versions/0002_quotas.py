"""Team quotas.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sapwood.server.store.tables import Json, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quotas",
        sa.Column("team", sa.String(63), nullable=False),
        sa.Column("guaranteed", Json, nullable=False),
        sa.Column("max", Json, nullable=True),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team"], ["teams.name"], name="fk_quotas_team_teams", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team", name="pk_quotas"),
    )


def downgrade() -> None:
    op.drop_table("quotas")
