"""inbound teams: mail stored without a team is given the team it was sent to, by the same rules

Revision ID: 0014_inbound_teams
Revises: 0013_lead_status

Rows kept before inbound mail was matched to a team by its recipients (sequences/inbound/teams.py)
have no team when no prospect matched, and only the install's admins see them. This reads each
one's envelope recipients, its To/Cc headers and the mailbox it was read from, and calls the very
function ingest calls, without the token rule: a row with a valid token matched its prospect, and
so its team, when it arrived, and reading tokens would load whole `messages` rows, whose columns a
later revision may change. Downgrading leaves the teams assigned (nothing to undo).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import select, update
from sqlalchemy.orm import Session

revision = "0014_inbound_teams"
down_revision = "0013_lead_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from sequences.inbound import recipient_team, stored_addresses
    from sequences.models import InboundMessage

    session = Session(bind=op.get_bind())
    rows = session.execute(
        select(
            InboundMessage.id,
            InboundMessage.recipients,
            InboundMessage.mailbox_id,
            InboundMessage.raw,
        ).where(InboundMessage.team_id.is_(None))
    ).all()
    if not rows:
        return
    for row_id, recipients, mailbox_id, raw in rows:
        team_id, _ = recipient_team(session, (), stored_addresses(recipients, raw), mailbox_id)
        if team_id is not None:
            session.execute(
                update(InboundMessage).where(InboundMessage.id == row_id).values(team_id=team_id)
            )
    session.flush()


def downgrade() -> None:
    pass
