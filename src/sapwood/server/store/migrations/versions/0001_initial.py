"""Teams, users, memberships, tokens, objects, labels and events.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sapwood.server.store.tables import Id, Json, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_teams"),
    )
    op.create_table(
        "users",
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_users"),
    )
    op.create_table(
        "memberships",
        sa.Column("user", sa.String(63), nullable=False),
        sa.Column("team", sa.String(63), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["team"], ["teams.name"], name="fk_memberships_team_teams", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user"], ["users.name"], name="fk_memberships_user_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user", "team", name="pk_memberships"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user", sa.String(63), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("scope", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["user"], ["users.name"], name="fk_tokens_user_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
    )
    op.create_index("ix_tokens_user", "tokens", ["user"])
    op.create_table(
        "objects",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("team", sa.String(63), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("labels", Json, nullable=False),
        sa.Column("spec", Json, nullable=False),
        sa.Column("status", Json, nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("resource_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("deletion_timestamp", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["team"], ["teams.name"], name="fk_objects_team_teams", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_objects"),
        sa.UniqueConstraint("kind", "team", "name", name="uq_objects_kind_team_name"),
        sa.UniqueConstraint("uid", name="uq_objects_uid"),
    )
    op.create_index("ix_objects_team", "objects", ["team"])
    op.create_table(
        "labels",
        sa.Column("object_id", Id, nullable=False),
        sa.Column("key", sa.String(317), nullable=False),
        sa.Column("value", sa.String(63), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_id"], ["objects.id"], name="fk_labels_object_id_objects", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("object_id", "key", name="pk_labels"),
    )
    op.create_index("ix_labels_key_value", "labels", ["key", "value"])
    op.create_table(
        "events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("team", sa.String(63), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_uid", "events", ["uid"])
    op.create_index("ix_events_team_kind_name", "events", ["team", "kind", "name"])


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("labels")
    op.drop_table("objects")
    op.drop_table("tokens")
    op.drop_table("memberships")
    op.drop_table("users")
    op.drop_table("teams")
