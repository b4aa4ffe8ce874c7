"""lead statuses: prospects.lead_status, the team's status list, status rules and their firings

Revision ID: 0013_lead_status
Revises: 0012_lead_pool
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sequences.models

revision = "0013_lead_status"
down_revision = "0012_lead_pool"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prospects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lead_status", sa.String(length=30), server_default="new", nullable=False)
        )
        batch_op.create_index(
            "ix_prospects_team_lead_status", ["team_id", "lead_status"], unique=False
        )
    with op.batch_alter_table("sequences", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hidden", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
    op.create_table(
        "lead_status_lists",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("statuses", sa.JSON(), nullable=False),
        sa.Column("on_reply", sa.String(length=30), nullable=True),
        sa.Column("updated_at", sequences.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_lead_status_lists_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_lead_status_lists")),
    )
    op.create_table(
        "status_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("sequence_id", sa.Integer(), nullable=True),
        sa.Column("set_status", sa.String(length=30), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sequences.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_status_rules_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["sequence_id"], ["sequences.id"], name=op.f("fk_status_rules_sequence_id_sequences")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_status_rules_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_rules")),
    )
    with op.batch_alter_table("status_rules", schema=None) as batch_op:
        batch_op.create_index("ix_status_rules_team_status", ["team_id", "status"], unique=False)
    op.create_table(
        "rule_firings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("prospect_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("due_at", sequences.models.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", sequences.models.UTCDateTime(), nullable=False),
        sa.Column("done_at", sequences.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_rule_firings_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["prospect_id"], ["prospects.id"], name=op.f("fk_rule_firings_prospect_id_prospects")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["status_rules.id"],
            name=op.f("fk_rule_firings_rule_id_status_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_firings")),
        sa.UniqueConstraint("rule_id", "event_id", name="uq_rule_firings_rule_event"),
    )
    with op.batch_alter_table("rule_firings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rule_firings_due",
            ["due_at"],
            unique=False,
            postgresql_where=sa.text("state IN ('pending', 'running')"),
            sqlite_where=sa.text("state IN ('pending', 'running')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("rule_firings", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_rule_firings_due",
            postgresql_where=sa.text("state IN ('pending', 'running')"),
            sqlite_where=sa.text("state IN ('pending', 'running')"),
        )
    op.drop_table("rule_firings")
    with op.batch_alter_table("status_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_status_rules_team_status")
    op.drop_table("status_rules")
    op.drop_table("lead_status_lists")
    with op.batch_alter_table("sequences", schema=None) as batch_op:
        batch_op.drop_column("hidden")
    with op.batch_alter_table("prospects", schema=None) as batch_op:
        batch_op.drop_index("ix_prospects_team_lead_status")
        batch_op.drop_column("lead_status")
