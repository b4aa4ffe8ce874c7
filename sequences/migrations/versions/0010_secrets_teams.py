"""secrets and teams: credentials encrypted at rest, teams with unique names, an admin role

Revision ID: 0010_secrets_teams
Revises: 0008_one_line

Mailboxes' SMTP and IMAP URLs (they carry passwords) and webhook signing secrets become
Fernet tokens under FOLLOWUP_ENCRYPTION_KEY (sequences/vault.py): the columns widen to TEXT
(a token is longer than what it hides) and every value stored in clear is encrypted here. The
key is the one configured (FOLLOWUP_ENCRYPTION_KEY, or in embedded mode the instance folder's
key file); it is looked for only when there is something to encrypt.

Teams: names become unique (a duplicate from before gets " (<id>)" appended), a team may have
an inbound domain of its own, and users gain `is_admin`; the earliest manager of an existing
install becomes its admin, so someone can create the second team.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op

if TYPE_CHECKING:
    from sequences.vault import Vault

revision = "0010_secrets_teams"
down_revision = "0009_recontact"
branch_labels = None
depends_on = None


def _vault() -> Vault | None:
    from sequences import vault
    from sequences.config import load_settings

    return vault.current() or vault.vault_for(load_settings())


def upgrade() -> None:
    from sequences import vault

    with op.batch_alter_table("mailboxes") as batch_op:
        batch_op.alter_column(
            "smtp_url", existing_type=sa.String(length=1000), type_=sa.Text(), nullable=True
        )
        batch_op.alter_column(
            "imap_url", existing_type=sa.String(length=1000), type_=sa.Text(), nullable=True
        )
        batch_op.add_column(sa.Column("credentials_changed_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("webhooks") as batch_op:
        batch_op.alter_column(
            "secret", existing_type=sa.String(length=100), type_=sa.Text(), nullable=False
        )
        batch_op.add_column(sa.Column("secret_changed_at", sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE mailboxes SET credentials_changed_at = created_at "
        "WHERE smtp_url IS NOT NULL OR imap_url IS NOT NULL"
    )
    op.execute("UPDATE webhooks SET secret_changed_at = created_at")
    vault.seal_clear(op.get_bind(), _vault)

    bind = op.get_bind()
    seen: set[str] = set()
    for team_id, name in bind.execute(sa.text("SELECT id, name FROM teams ORDER BY id")):
        if name.lower() in seen:
            bind.execute(
                sa.text("UPDATE teams SET name = :n WHERE id = :id"),
                {"n": f"{name} ({team_id})", "id": team_id},
            )
        seen.add(name.lower())
    with op.batch_alter_table("teams") as batch_op:
        batch_op.add_column(sa.Column("inbound_domain", sa.String(length=253), nullable=True))
        batch_op.create_unique_constraint("uq_teams_name", ["name"])
        batch_op.create_unique_constraint("uq_teams_inbound_domain", ["inbound_domain"])
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("is_admin", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
    op.execute(
        "UPDATE users SET is_admin = true WHERE id = "
        "(SELECT MIN(id) FROM users WHERE is_manager = true)"
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("is_admin")
    with op.batch_alter_table("teams") as batch_op:
        batch_op.drop_constraint("uq_teams_inbound_domain", type_="unique")
        batch_op.drop_constraint("uq_teams_name", type_="unique")
        batch_op.drop_column("inbound_domain")
    # The tokens stay encrypted: a downgrade does not write secrets back in clear.
    with op.batch_alter_table("webhooks") as batch_op:
        batch_op.drop_column("secret_changed_at")
    with op.batch_alter_table("mailboxes") as batch_op:
        batch_op.drop_column("credentials_changed_at")
