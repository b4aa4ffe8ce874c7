"""mailbox sending limits shared by all workers; index for a mailbox's recent sends

Revision ID: 0003_sequences
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sequences.models

revision = "0003_sequences"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hour_start", sequences.models.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("hour_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("day_start", sequences.models.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("day_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("last_send_at", sequences.models.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("warmup_per_day", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("bounce_pause_rate", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("paused_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_mailbox_created", ["mailbox_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_mailbox_created")
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        for name in (
            "paused_reason",
            "bounce_pause_rate",
            "warmup_per_day",
            "last_send_at",
            "day_count",
            "day_start",
            "hour_count",
            "hour_start",
        ):
            batch_op.drop_column(name)
