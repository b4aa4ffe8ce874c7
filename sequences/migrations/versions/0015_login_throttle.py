"""login throttle: shared failure counters, failed sign-in records

Revision ID: 0015_login_throttle
Revises: 0014_inbound_teams
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sequences.models

revision = "0015_login_throttle"
down_revision = "0014_inbound_teams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "throttle_counters",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_at", sequences.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttle_counters")),
    )
    op.create_index(
        op.f("ix_throttle_counters_last_at"), "throttle_counters", ["last_at"], unique=False
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sequences.models.UTCDateTime(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=320), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_login_failures_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(
        "ix_login_failures_team_id_id", "login_failures", ["team_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_login_failures_team_id_id", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index(op.f("ix_throttle_counters_last_at"), table_name="throttle_counters")
    op.drop_table("throttle_counters")
