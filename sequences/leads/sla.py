"""The speed-to-lead clock and re-assignment, run by the scheduler on the database.

Each watched lead has `due_at`: when the scheduler must next look at it (its acceptance
deadline, its next SLA step, or its next touch count). The tick reads due leads from the
partial index ix_leads_due, so its cost grows with what is due, not with the number of leads.
A scheduler acts on a lead only after moving its `version` by compare-and-set, and takes the
team's lock first (the lock assignments take), so several schedulers never act twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..enrollment import record
from ..models import Event, Lead, LeadState, LeadTeamSettings, Prospect, Task, User

TOUCH_TYPES = ("sent", "call")  # a real touch: an email sent, a call logged
HUMAN_SIGNALS = ("open", "click", "document_viewed")  # count only with verdict "human"
STAGES = ("warn_after_minutes", "alert_after_minutes", "reassign_after_minutes")


def _minutes(settings: LeadTeamSettings, name: str) -> int | None:
    value = getattr(settings, name)
    return int(value) if value else None


def next_due(lead: Lead, settings: LeadTeamSettings, now: datetime) -> datetime | None:
    """When the scheduler must next look at an accepted lead (None: nothing left to watch)."""
    if lead.state != LeadState.ACCEPTED or lead.assigned_at is None:
        return None
    if lead.first_touch_at is None:
        for stage, name in enumerate(STAGES, start=1):
            minutes = _minutes(settings, name)
            if minutes is not None and lead.sla_stage < stage:
                return max(lead.assigned_at + timedelta(minutes=minutes), now)
    if settings.max_touches:
        return now + timedelta(minutes=max(1, settings.touch_check_minutes))
    return None


@dataclass(frozen=True)
class Seen:
    """One event of the lead's timeline, as the SLA rules read it."""

    type: str
    at: datetime
    verdict: str | None = None


@dataclass
class Decision:
    first_touch_at: datetime | None
    touches: int
    engaged: bool
    actions: list[str] = field(default_factory=list)  # warn, alert, sla_breach, no_engagement
    stage: int = 0


def decide(
    assigned_at: datetime,
    first_touch_at: datetime | None,
    stage: int,
    settings: LeadTeamSettings,
    events: Iterable[Seen],
    now: datetime,
) -> Decision:
    """What the rules say about an accepted lead now, from the events since its assignment.

    Touches are emails sent and calls logged; engagement is a human open, click or document
    view, or a reply. Machine opens (scanners, privacy proxies) count for nothing.
    """
    since = [e for e in events if e.at >= assigned_at and e.at <= now]
    touches = sorted(e.at for e in since if e.type in TOUCH_TYPES)
    engaged = any(
        e.type == "reply" or (e.type in HUMAN_SIGNALS and e.verdict == "human") for e in since
    )
    first = first_touch_at or (touches[0] if touches else None)
    decision = Decision(first, len(touches), engaged, stage=stage)
    if first is None:
        for number, name in enumerate(STAGES, start=1):
            minutes = _minutes(settings, name)
            if minutes is None or stage >= number:
                continue
            if now >= assigned_at + timedelta(minutes=minutes):
                decision.stage = number
                decision.actions.append(("warn", "alert", "sla_breach")[number - 1])
        return decision
    if settings.max_touches and not engaged and len(touches) >= settings.max_touches:
        decision.actions.append("no_engagement")
    return decision


def _events(session: Session, prospect_ids: list[int]) -> dict[int, list[Seen]]:
    out: dict[int, list[Seen]] = {pid: [] for pid in prospect_ids}
    for start in range(0, len(prospect_ids), 500):
        chunk = prospect_ids[start : start + 500]
        for pid, type_, at, verdict in session.execute(
            select(Event.prospect_id, Event.type, Event.at, Event.verdict).where(
                Event.prospect_id.in_(chunk),
                Event.type.in_((*TOUCH_TYPES, "reply", *HUMAN_SIGNALS)),
            )
        ):
            if pid is not None:
                out[pid].append(Seen(type_, at, verdict))
    return out


def _notify(
    session: Session, prospect: Prospect, user_ids: list[int], title: str, now: datetime
) -> None:
    for user_id in user_ids:
        session.add(
            Task(prospect_id=prospect.id, owner_id=user_id, type="task", title=title, due_at=now)
        )


def _act(
    session: Session,
    rotation: Any,
    lead: Lead,
    prospect: Prospect,
    events: list[Seen],
    now: datetime,
) -> list[str]:
    from .acceptance import expire
    from .assignment import reassign

    settings: LeadTeamSettings = rotation.settings
    if lead.state == LeadState.PENDING:
        if lead.accept_by is not None and lead.accept_by <= now:
            expire(session, rotation, lead, prospect, now)
            return ["not_accepted"]
        lead.due_at = lead.accept_by
        return []
    if lead.state != LeadState.ACCEPTED or lead.assigned_at is None:
        lead.due_at = None
        return []
    decision = decide(lead.assigned_at, lead.first_touch_at, lead.sla_stage, settings, events, now)
    lead.first_touch_at = decision.first_touch_at
    lead.sla_stage = decision.stage
    owner = session.get(User, lead.owner_id) if lead.owner_id else None
    who = owner.name or owner.email if owner else "nobody"
    for action in decision.actions:
        if action == "warn" and owner is not None:
            record(session, "lead_sla_warning", now, prospect_id=prospect.id, user_id=owner.id)
            _notify(session, prospect, [owner.id], f"First touch overdue: {prospect.email}", now)
        elif action == "alert":
            managers = list(
                session.scalars(
                    select(User.id).where(User.team_id == lead.team_id, User.is_manager.is_(True))
                )
            )
            record(session, "lead_sla_alert", now, prospect_id=prospect.id, user_id=lead.owner_id)
            _notify(
                session, prospect, managers, f"{who} has not touched the lead {prospect.email}", now
            )
    if "sla_breach" in decision.actions or "no_engagement" in decision.actions:
        reason = "sla_breach" if "sla_breach" in decision.actions else "no_engagement"
        detail = (
            f"no touch within {settings.reassign_after_minutes} minutes"
            if reason == "sla_breach"
            else f"{decision.touches} touches without human engagement"
        )
        reassign(
            session,
            rotation,
            lead,
            prospect,
            reason,
            now,
            detail=detail,
            to_pool=settings.reassign_to == "pool",
        )
        return decision.actions
    if decision.engaged and decision.first_touch_at is not None:
        lead.due_at = None  # a person answered: nothing more to watch
    else:
        lead.due_at = next_due(lead, settings, now)
    return decision.actions


def due_leads(session: Session, now: datetime, limit: int) -> list[tuple[int, int, int]]:
    """(prospect id, team id, version) of up to `limit` leads whose check is due (the index)."""
    return [
        (pid, team, version)
        for pid, team, version in session.execute(
            select(Lead.prospect_id, Lead.team_id, Lead.version)
            .where(Lead.due_at.is_not(None), Lead.due_at <= now)
            .order_by(Lead.due_at)
            .limit(limit)
        )
    ]


def sla_tick(session: Session, now: datetime, *, limit: int = 1000) -> dict[str, int]:
    """One pass over the due leads; returns how many of each action were taken."""
    from .assignment import Rotation

    due = due_leads(session, now, limit)
    counts: dict[str, int] = {"checked": 0}
    by_team: dict[int, list[tuple[int, int]]] = {}
    for pid, team, version in due:
        by_team.setdefault(team, []).append((pid, version))
    for team_id in sorted(by_team):
        rotation = Rotation(session, team_id, now)  # the team's lock, always before lead rows
        claimed = []
        for pid, version in by_team[team_id]:
            moved = session.execute(
                update(Lead)
                .where(Lead.prospect_id == pid, Lead.version == version, Lead.due_at <= now)
                .values(version=version + 1),
                execution_options={"synchronize_session": False},
            )
            if moved.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(pid)
        if not claimed:
            continue
        leads = {
            lead.prospect_id: lead
            for lead in session.scalars(
                select(Lead)
                .where(Lead.prospect_id.in_(claimed))
                .execution_options(populate_existing=True)
            )
        }
        prospects = {
            p.id: p for p in session.scalars(select(Prospect).where(Prospect.id.in_(claimed)))
        }
        events = _events(session, claimed)
        for pid in claimed:
            counts["checked"] += 1
            for action in _act(session, rotation, leads[pid], prospects[pid], events[pid], now):
                counts[action] = counts.get(action, 0) + 1
        rotation.finish()
    return counts
