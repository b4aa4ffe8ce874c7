"""one line: merge the six branches that grew off 0001 into a single head

Revision ID: 0008_one_line
Revises: 0002_tracking, 0003_sequences, 0004_inbound, 0005_workspace, 0006_webhooks,
0007_tracking_history

Each capability added its tables in a branch of its own off the initial schema, so the history
had six heads and `upgrade heads` applied them in an order Alembic chose. From here the
migrations form one line: every new revision follows the single head, and
tests/test_migrations.py fails if a second head appears. No schema change.
"""

from __future__ import annotations

revision = "0008_one_line"
down_revision = (
    "0002_tracking",
    "0003_sequences",
    "0004_inbound",
    "0005_workspace",
    "0006_webhooks",
    "0007_tracking_history",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
