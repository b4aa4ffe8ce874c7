"""Two SLA ticks racing on the same due leads: the bulk compare-and-set lets each act once."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from sequences.clock import FrozenClock
from sequences.leads import import_leads, sla_tick, update_settings
from sequences.leads.sla import act_on, due_leads
from sequences.models import Event, Lead, Task
from sequences.runtime import Runtime
from tests.test_leads_pool import _csv, _team


def test_two_ticks_that_read_the_same_due_leads_act_once_on_each(
    session: Session, rt: Runtime
) -> None:
    clock: FrozenClock = rt.clock  # type: ignore[assignment]
    team, _reps, _ = _team(session, reps=3)
    update_settings(session, team.id, {"warn_after_minutes": 30}, clock.now())
    import_leads(session, team.id, _csv(60), clock.now())
    session.commit()
    now = clock.advance(minutes=31)
    # The second scheduler reads the due leads, then the first claims and acts on part of
    # them and commits before the second gets to its compare-and-set.
    with rt.sessions() as other:
        stale = due_leads(other, now, 1000)
        other.commit()
        assert len(stale) == 60
        first = sla_tick(session, now, limit=25)
        session.commit()
        second = act_on(other, stale, now)
        other.commit()
        late = act_on(other, stale, now)  # the same stale read once more: nothing left
        other.commit()
    assert first == {"checked": 25, "warn": 25}
    assert second == {"checked": 35, "warn": 35}
    assert late == {"checked": 0}
    session.expire_all()
    warned = Counter(
        session.scalars(select(Event.prospect_id).where(Event.type == "lead_sla_warning"))
    )
    tasks = Counter(
        session.scalars(select(Task.prospect_id).where(Task.title.like("First touch overdue%")))
    )
    assert len(warned) == 60 and set(warned.values()) == {1}
    assert tasks == warned
    stages = set(session.scalars(select(Lead.sla_stage).where(Lead.team_id == team.id)))
    assert stages == {1}
    assert sla_tick(session, now) == {"checked": 0}  # each lead's next check is later
