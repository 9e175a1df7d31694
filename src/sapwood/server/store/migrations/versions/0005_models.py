"""models registry: models, versions, aliases

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder, filled in by the change that adds these tables


def downgrade() -> None:
    pass
