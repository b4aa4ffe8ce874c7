"""lead pool: leads (pool, pending, accepted, SLA clocks), assignments, reps, team lead rules

Revision ID: 0012_lead_pool
Revises: 0008_one_line
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sequences.models

revision = "0012_lead_pool"
down_revision = "0010_secrets_teams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lead_team_settings",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("auto_assign", sa.Boolean(), nullable=False),
        sa.Column("acceptance_required", sa.Boolean(), nullable=False),
        sa.Column("accept_within_minutes", sa.Integer(), nullable=False),
        sa.Column("warn_after_minutes", sa.Integer(), nullable=True),
        sa.Column("alert_after_minutes", sa.Integer(), nullable=True),
        sa.Column("reassign_after_minutes", sa.Integer(), nullable=True),
        sa.Column("max_touches", sa.Integer(), nullable=True),
        sa.Column("touch_check_minutes", sa.Integer(), nullable=False),
        sa.Column("reassign_to", sa.String(length=10), nullable=False),
        sa.Column("on_reassign", sa.String(length=10), nullable=False),
        sa.Column("route_field", sa.String(length=100), nullable=True),
        sa.Column("routes", sa.JSON(), nullable=False),
        sa.Column("form_key", sa.String(length=64), nullable=True),
        sa.Column("rotation_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", sequences.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_lead_team_settings_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_lead_team_settings")),
        sa.UniqueConstraint("form_key", name=op.f("uq_lead_team_settings_form_key")),
    )
    op.create_table(
        "lead_reps",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("away_from", sa.Date(), nullable=True),
        sa.Column("away_until", sa.Date(), nullable=True),
        sa.Column("max_open", sa.Integer(), nullable=True),
        sa.Column("max_daily", sa.Integer(), nullable=True),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("credit", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("day_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_lead_reps_team_id_teams")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_lead_reps_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_lead_reps")),
    )
    with op.batch_alter_table("lead_reps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_reps_team_id"), ["team_id"], unique=False)

    op.create_table(
        "lead_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prospect_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("from_user_id", sa.Integer(), nullable=True),
        sa.Column("to_user_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column("at", sequences.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["users.id"], name=op.f("fk_lead_assignments_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["from_user_id"], ["users.id"], name=op.f("fk_lead_assignments_from_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["prospect_id"],
            ["prospects.id"],
            name=op.f("fk_lead_assignments_prospect_id_prospects"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_lead_assignments_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["to_user_id"], ["users.id"], name=op.f("fk_lead_assignments_to_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_assignments")),
    )
    with op.batch_alter_table("lead_assignments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lead_assignments_prospect_at", ["prospect_id", "at"], unique=False
        )

    op.create_table(
        "leads",
        sa.Column("prospect_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("company_key", sa.String(length=200), nullable=True),
        sa.Column("pooled_at", sequences.models.UTCDateTime(), nullable=False),
        sa.Column("assigned_at", sequences.models.UTCDateTime(), nullable=True),
        sa.Column("accept_by", sequences.models.UTCDateTime(), nullable=True),
        sa.Column("accepted_at", sequences.models.UTCDateTime(), nullable=True),
        sa.Column("first_touch_at", sequences.models.UTCDateTime(), nullable=True),
        sa.Column("sla_stage", sa.Integer(), nullable=False),
        sa.Column("due_at", sequences.models.UTCDateTime(), nullable=True),
        sa.Column("previous_owners", sa.JSON(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sequences.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_leads_owner_id_users")),
        sa.ForeignKeyConstraint(
            ["prospect_id"], ["prospects.id"], name=op.f("fk_leads_prospect_id_prospects")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_leads_team_id_teams")),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_leads_task_id_tasks")),
        sa.PrimaryKeyConstraint("prospect_id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_leads_due",
            ["due_at"],
            unique=False,
            postgresql_where=sa.text("due_at IS NOT NULL"),
            sqlite_where=sa.text("due_at IS NOT NULL"),
        )
        batch_op.create_index("ix_leads_owner_state", ["owner_id", "state"], unique=False)
        batch_op.create_index("ix_leads_team_company", ["team_id", "company_key"], unique=False)
        batch_op.create_index(
            "ix_leads_team_state", ["team_id", "state", "pooled_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_team_state")
        batch_op.drop_index("ix_leads_team_company")
        batch_op.drop_index("ix_leads_owner_state")
        batch_op.drop_index(
            "ix_leads_due",
            postgresql_where=sa.text("due_at IS NOT NULL"),
            sqlite_where=sa.text("due_at IS NOT NULL"),
        )

    op.drop_table("leads")
    with op.batch_alter_table("lead_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_assignments_prospect_at")

    op.drop_table("lead_assignments")
    with op.batch_alter_table("lead_reps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_reps_team_id"))

    op.drop_table("lead_reps")
    op.drop_table("lead_team_settings")
