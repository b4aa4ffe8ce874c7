"""Which rules name a status, and the firings a status change queues: the rules' part that
a status change itself runs.

Apart from `triggers` (the rules and running their firings) because a change of status
queues firings in its own transaction, while a firing's action may change a status: so the
statuses read this, and the triggers read both.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Event, RuleFiring, StatusRule

PENDING, RUNNING, DONE = "pending", "running", "done"


def statuses_in_rules(session: Session, team_id: int) -> set[str]:
    rows = session.execute(
        select(StatusRule.status, StatusRule.set_status).where(StatusRule.team_id == team_id)
    ).all()
    return {s for row in rows for s in row if s}


def queue_firings(session: Session, team_id: int, status: str, event: Event, now: datetime) -> int:
    """One pending firing per active rule for the status entered, committed with the change."""
    rule_ids = session.scalars(
        select(StatusRule.id).where(
            StatusRule.team_id == team_id, StatusRule.status == status, StatusRule.active
        )
    ).all()
    for rule_id in rule_ids:
        session.add(
            RuleFiring(
                rule_id=rule_id,
                event_id=event.id,
                prospect_id=event.prospect_id,
                state=PENDING,
                due_at=now,
                created_at=now,
            )
        )
    session.flush()
    return len(rule_ids)
