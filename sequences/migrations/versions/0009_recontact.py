"""recontact: the team's re-contact interval, in days (enrollment checks, issue 16)

Revision ID: 0009_recontact
Revises: 0008_one_line

A prospect who replied, converted or booked a meeting within this many days is refused a new
enrollment (409) unless the request forces it. Existing teams get the default of 30 days.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_recontact"
down_revision = "0008_one_line"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.add_column(
            sa.Column("recontact_days", sa.Integer(), nullable=False, server_default="30")
        )


def downgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.drop_column("recontact_days")
