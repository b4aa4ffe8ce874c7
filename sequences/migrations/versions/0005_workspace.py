"""workspace: indexes behind the hot list and the manager report

Revision ID: 0005_workspace
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_workspace"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The hot list reads the last hours of human opens and clicks: partial, so machine hits
    # (often most of them) do not grow it.
    op.create_index(
        "ix_events_human_at",
        "events",
        ["at"],
        postgresql_where=sa.text("verdict = 'human'"),
        sqlite_where=sa.text("verdict = 'human'"),
    )
    # The manager report counts touches, replies and meetings by type over a period.
    op.create_index("ix_events_type_at", "events", ["type", "at"])


def downgrade() -> None:
    op.drop_index("ix_events_type_at", table_name="events")
    op.drop_index("ix_events_human_at", table_name="events")
