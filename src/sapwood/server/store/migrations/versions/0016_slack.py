"""slack: linked Slack users, link codes, handled interactions, tracked messages,
under-use dismissals; objects.owner and notification_channels.slack_channel

Slack is a front end over the same services (server/slack/): a Slack user acts as the
Sapwood user it is linked to; a retried or redelivered interaction is found in
slack_deliveries and not handled twice; a workspace's message is updated in place.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sapwood.server.store.tables import Id, UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("objects") as batch:
        batch.add_column(sa.Column("owner", sa.String(63), nullable=True))
    with op.batch_alter_table("notification_channels") as batch:
        batch.add_column(sa.Column("slack_channel", sa.String(80), nullable=True))
    op.create_table(
        "slack_links",
        sa.Column("slack_team", sa.String(32), nullable=False),
        sa.Column("slack_user", sa.String(32), nullable=False),
        sa.Column("user", sa.String(63), nullable=False),
        sa.Column("linked_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user"], ["users.name"], name="fk_slack_links_user_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("slack_team", "slack_user", name="pk_slack_links"),
    )
    op.create_index("ix_slack_links_user", "slack_links", ["user"])
    op.create_table(
        "slack_link_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("slack_team", sa.String(32), nullable=False),
        sa.Column("slack_user", sa.String(32), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("code_hash", name="pk_slack_link_codes"),
    )
    op.create_table(
        "slack_deliveries",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_slack_deliveries"),
    )
    op.create_index("ix_slack_deliveries_created_at", "slack_deliveries", ["created_at"])
    op.create_table(
        "slack_messages",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("team", sa.String(63), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("channel", sa.String(80), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("shown", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_slack_messages"),
        sa.UniqueConstraint("channel", "ts", name="uq_slack_messages_channel_ts"),
    )
    op.create_index("ix_slack_messages_uid", "slack_messages", ["uid"])
    op.create_table(
        "underuse_dismissals",
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uid", name="pk_underuse_dismissals"),
    )


def downgrade() -> None:
    op.drop_table("underuse_dismissals")
    op.drop_index("ix_slack_messages_uid", table_name="slack_messages")
    op.drop_table("slack_messages")
    op.drop_index("ix_slack_deliveries_created_at", table_name="slack_deliveries")
    op.drop_table("slack_deliveries")
    op.drop_table("slack_link_codes")
    op.drop_index("ix_slack_links_user", table_name="slack_links")
    op.drop_table("slack_links")
    with op.batch_alter_table("notification_channels") as batch:
        batch.drop_column("slack_channel")
    with op.batch_alter_table("objects") as batch:
        batch.drop_column("owner")
