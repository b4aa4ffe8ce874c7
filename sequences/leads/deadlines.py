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
    if lead.state != LeadState.ACCEPTED or lead.assigned_at is None:
        return None
    if lead.first_touch_at is None:
        for stage, name in enumerate(STAGES, start=1):
            minutes = stage_minutes(settings, name)
            if minutes is not None and lead.sla_stage < stage:
                return max(lead.assigned_at + timedelta(minutes=minutes), now)
    if settings.max_touches:
        return now + timedelta(minutes=max(1, settings.touch_check_minutes))
    return None
