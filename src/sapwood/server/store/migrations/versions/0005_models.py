"""models registry: models, versions, aliases

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sapwood.server.store.tables import Json, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("team", sa.String(63), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team"], ["teams.name"], name="fk_models_team_teams", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team", "name", name="pk_models"),
    )
    op.create_table(
        "model_versions",
        sa.Column("team", sa.String(63), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("inputs", Json, nullable=False),
        sa.Column("outputs", Json, nullable=False),
        sa.Column("opset", sa.Integer(), nullable=True),
        sa.Column("features", Json, nullable=True),
        sa.Column("props", Json, nullable=False),
        sa.Column("framework", sa.String(63), nullable=True),
        sa.Column("metrics", Json, nullable=False),
        sa.Column("lineage", Json, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team", "name"],
            ["models.team", "models.name"],
            name="fk_model_versions_team_models",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team", "name", "version", name="pk_model_versions"),
        sa.UniqueConstraint("team", "name", "sha256", name="uq_model_versions_team_name_sha256"),
    )
    op.create_index("ix_model_versions_sha256", "model_versions", ["sha256"])
    op.create_table(
        "model_aliases",
        sa.Column("team", sa.String(63), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("alias", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team", "name"],
            ["models.team", "models.name"],
            name="fk_model_aliases_team_models",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team", "name", "alias", name="pk_model_aliases"),
    )


def downgrade() -> None:
    op.drop_table("model_aliases")
    op.drop_index("ix_model_versions_sha256", table_name="model_versions")
    op.drop_table("model_versions")
    op.drop_table("models")
