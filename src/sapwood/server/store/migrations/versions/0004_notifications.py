"""Notification channels, rules, the delivery log and the notifier's event cursor.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sapwood.server.store.tables import Id, Json, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_channels",
        sa.Column("team", sa.String(63), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team"],
            ["teams.name"],
            name="fk_notification_channels_team_teams",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team", "name", name="pk_notification_channels"),
    )
    op.create_table(
        "notification_rules",
        sa.Column("team", sa.String(63), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("channel", sa.String(63), nullable=False),
        sa.Column("events", Json, nullable=False),
        sa.Column("selector", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team"], ["teams.name"], name="fk_notification_rules_team_teams", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team", "name", name="pk_notification_rules"),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("team", sa.String(63), nullable=False),
        sa.Column("channel", sa.String(63), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notification_deliveries"),
    )
    op.create_index("ix_notification_deliveries_team_id", "notification_deliveries", ["team", "id"])
    op.create_table(
        "event_cursors",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_event_cursors"),
    )


def downgrade() -> None:
    op.drop_table("event_cursors")
    op.drop_table("notification_deliveries")
    op.drop_table("notification_rules")
    op.drop_table("notification_channels")
