"""user time zones: users.timezone, teams.timezone, the digest's zone follows the user's

Revision ID: 0016_user_timezone
Revises: 0015_login_throttle
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_user_timezone"
down_revision = "0015_login_throttle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.add_column(
            sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False)
        )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
    # A digest setting's zone may now be empty, meaning "the user's own zone". Stored names stay:
    # they were chosen (or the UTC default) and the digest keeps coming at the same hour.
    with op.batch_alter_table("digest_settings") as batch:
        batch.alter_column(
            "timezone", existing_type=sa.String(length=64), existing_nullable=False, nullable=True
        )


def downgrade() -> None:
    op.execute("UPDATE digest_settings SET timezone = 'UTC' WHERE timezone IS NULL")
    with op.batch_alter_table("digest_settings") as batch:
        batch.alter_column(
            "timezone", existing_type=sa.String(length=64), existing_nullable=True, nullable=False
        )
    with op.batch_alter_table("users") as batch:
        batch.drop_column("timezone")
    with op.batch_alter_table("teams") as batch:
        batch.drop_column("timezone")
