"""When the scheduler must next look at an accepted lead: the SLA's stages and their minutes.

Apart from the tick (`sla`) because assigning and accepting a lead set its first deadline too,
and the tick in turn re-assigns and expires leads: this is the part all three read.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..models import Lead, LeadState, LeadTeamSettings

STAGES = ("warn_after_minutes", "alert_after_minutes", "reassign_after_minutes")


def stage_minutes(settings: LeadTeamSettings, name: str) -> int | None:
    value = getattr(settings, name)
    return int(value) if value else None


def next_due(lead: Lead, settings: LeadTeamSettings, now: datetime) -> datetime | None:
    """When the scheduler must next look at an accepted lead (None: nothing left to watch)."""
    return next_check(
        lead.state, lead.assigned_at, lead.first_touch_at, lead.sla_stage, settings, now
    )


def next_check(
    state: str,
    assigned_at: datetime | None,
    first_touch_at: datetime | None,
    sla_stage: int,
    settings: LeadTeamSettings,
    now: datetime,
) -> datetime | None:
    """next_due from the lead's columns alone: the tick reads columns, not Lead objects."""
    if state != LeadState.ACCEPTED or assigned_at is None:
        return None
    if first_touch_at is None:
        for stage, name in enumerate(STAGES, start=1):
            minutes = stage_minutes(settings, name)
            if minutes is not None and sla_stage < stage:
                return max(assigned_at + timedelta(minutes=minutes), now)
    if settings.max_touches:
        return now + timedelta(minutes=max(1, settings.touch_check_minutes))
    return None
