"""New leads arriving (the API, a CSV, a website form): into the team's pool, then assigned.

Apart from `pool` (team rules, rep settings, the pool itself) because assignment reads those,
while a new lead's arrival runs assignment: this module stands above both.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Conflict, NotFound, ValidationError
from ..models import Lead, LeadTeamSettings, Prospect
from ..workspace import row_to_prospect, upsert_prospect
from .assignment import assign_prospects
from .pool import HONEYPOT, into_pool, settings_for


def _auto_assign(session: Session, team_id: int, leads: list[Lead], now: datetime) -> None:
    if not leads or not settings_for(session, team_id).auto_assign:
        return
    assign_prospects(session, team_id, [lead.prospect_id for lead in leads], now)


def intake(
    session: Session, team_id: int, data: dict[str, Any], now: datetime, source: str = "api"
) -> tuple[Prospect, bool]:
    """A new lead: the prospect is created (or updated) without an owner, lands in the pool,
    and is assigned by the team's rules when auto-assign is on. Returns (prospect, created)."""
    data = {k: v for k, v in data.items() if k != "owner_id"}
    prospect, created = upsert_prospect(session, team_id, data, now, owner_id=None)
    lead = into_pool(session, prospect, now, source)
    _auto_assign(session, team_id, [lead] if lead else [], now)
    return prospect, created


@dataclass
class LeadImport:
    created: int = 0
    updated: int = 0
    pooled: int = 0
    skipped: list[tuple[int, str, str]] = field(default_factory=list)  # (line, email, reason)


def import_leads(
    session: Session, team_id: int, lines: Iterable[str], now: datetime, source: str = "csv"
) -> LeadImport:
    """A CSV of new leads into the pool, then assigned together (one fair batch)."""
    summary = LeadImport()
    reader = csv.DictReader(lines)
    if reader.fieldnames is None or "email" not in {
        h.strip().lower().replace(" ", "_") for h in reader.fieldnames
    }:
        raise ValidationError("the CSV needs a header row with an email column", field="email")
    pooled: list[Lead] = []
    for row in reader:
        data = row_to_prospect(row)
        try:
            with session.begin_nested():
                prospect, created = upsert_prospect(session, team_id, data, now, owner_id=None)
                lead = into_pool(session, prospect, now, source)
        except (ValidationError, Conflict) as exc:
            summary.skipped.append((reader.line_num, str(data.get("email", "")), str(exc)))
            continue
        summary.created += created
        summary.updated += not created
        if lead is not None:
            pooled.append(lead)
    summary.pooled = len(pooled)
    _auto_assign(session, team_id, pooled, now)
    return summary


FORM_FIELDS = ("email", "first_name", "last_name", "company", "phone")


def submit_form(
    session: Session, form_key: str, form: Mapping[str, str], now: datetime
) -> Prospect | None:
    """A website form's POST: None when the honeypot was filled (a bot; nothing is kept).
    Fields other than the known ones become the prospect's custom fields."""
    settings = session.scalar(select(LeadTeamSettings).where(LeadTeamSettings.form_key == form_key))
    if settings is None or not form_key:
        raise NotFound("no such form")
    if (form.get(HONEYPOT) or "").strip():
        return None
    data: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in form.items():
        if key == HONEYPOT or not isinstance(value, str) or not value.strip():
            continue
        if key in FORM_FIELDS:
            data[key] = value.strip()[:200]
        elif len(extra) < 30 and len(key) <= 64:
            extra[key] = value.strip()[:1000]
    if extra:
        data["fields"] = extra
    prospect, _ = intake(session, settings.team_id, data, now, source="form")
    return prospect
