"""workspace: partial, covering indexes behind the hot list, the report and step statistics

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

# Written out here (not imported) so this migration never changes with the models.
TOUCH_TYPES = "type IN ('sent', 'call', 'reply', 'meeting_booked', 'conversion')"
OUTCOME_TYPES = "type IN ('open', 'click', 'reply', 'bounce', 'unsubscribe')"


def upgrade() -> None:
    # Each index holds every column its page reads, so PostgreSQL answers from the index alone
    # (an index-only scan) instead of visiting one heap page per event; each is partial, so
    # machine hits and bookkeeping rows do not grow it.
    op.create_index(
        "ix_events_human_at",
        "events",
        ["at", "prospect_id", "type"],
        postgresql_where=sa.text("verdict = 'human'"),
        sqlite_where=sa.text("verdict = 'human'"),
    )
    op.create_index(
        "ix_events_touches",
        "events",
        ["type", "at", "prospect_id"],
        postgresql_where=sa.text(TOUCH_TYPES),
        sqlite_where=sa.text(TOUCH_TYPES),
    )
    op.create_index(
        "ix_events_message_outcome",
        "events",
        ["message_id", "type", "verdict"],
        postgresql_where=sa.text(OUTCOME_TYPES),
        sqlite_where=sa.text(OUTCOME_TYPES),
    )


def downgrade() -> None:
    op.drop_index("ix_events_message_outcome", table_name="events")
    op.drop_index("ix_events_touches", table_name="events")
    op.drop_index("ix_events_human_at", table_name="events")
