"""tracking history: index events by (message, type, time) so the writer reads a message's
latest hits without visiting all of them

Revision ID: 0007_tracking_history
Revises: 0001

The spool writer classifies each hit with the latest opens and clicks of its message. With
an index on (message_id, type) only, PostgreSQL fetched every event the message ever had and
filtered them by time: the cost of a batch grew with each message's whole history. The same
index with `at` at the end still serves every query on (message_id) and (message_id, type),
and gives a message's latest hits of a type by a short backward index scan. It replaces the
old index, so writing an event updates as many indexes as before.
"""

from __future__ import annotations

from alembic import op

revision = "0007_tracking_history"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_message_type_at", ["message_id", "type", "at"])
        batch_op.drop_index("ix_events_message_type")


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_message_type", ["message_id", "type"])
        batch_op.drop_index("ix_events_message_type_at")
