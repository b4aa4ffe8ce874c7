"""Team lead rules, rep settings, and new leads landing in the team's pool (API, CSV, web form)."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..enrollment import company_domain, record
from ..errors import NotFound, ValidationError
from ..models import Lead, LeadAssignment, LeadRep, LeadState, LeadTeamSettings, Prospect, User

SOURCES = ("api", "csv", "form", "manual")
# The web form's hidden field: people never see it, so a value in it means a bot filled it.
HONEYPOT = "website"
MINUTE_FIELDS = (
    "accept_within_minutes",
    "warn_after_minutes",
    "alert_after_minutes",
    "reassign_after_minutes",
    "touch_check_minutes",
)
REQUIRED_MINUTES = ("accept_within_minutes", "touch_check_minutes")


# Team rules


def settings_for(session: Session, team_id: int, *, lock: bool = False) -> LeadTeamSettings:
    """The team's lead rules (created with defaults on first use); `lock` takes the row lock
    every assignment of the team queues on (SELECT ... FOR UPDATE; SQLite's writers are
    serialised by BEGIN IMMEDIATE already)."""
    query = select(LeadTeamSettings).where(LeadTeamSettings.team_id == team_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            session.add(LeadTeamSettings(team_id=team_id, routes={}))
    except IntegrityError:
        pass  # another process created it meanwhile
    row = session.scalar(query.with_for_update() if lock else query)
    assert row is not None
    return row


def _int_or_none(data: Mapping[str, Any], name: str, *, minimum: int = 1) -> int | None:
    value = data[name]
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= 10**7:
        raise ValidationError(f"{name}: a whole number from {minimum} to 10000000", field=name)
    return value


def clean_settings(data: Any, team_user_ids: set[int]) -> dict[str, Any]:
    """Validate a partial update of the team's lead rules; errors name the field."""
    if not isinstance(data, dict):
        raise ValidationError("body must be a JSON object")
    allowed = {
        "auto_assign",
        "acceptance_required",
        "max_touches",
        "reassign_to",
        "on_reassign",
        "route_field",
        "routes",
        "form_enabled",
        *MINUTE_FIELDS,
    }
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(f"{unknown[0]}: unknown field", field=unknown[0])
    out: dict[str, Any] = {}
    for name in ("auto_assign", "acceptance_required", "form_enabled"):
        if name in data:
            if not isinstance(data[name], bool):
                raise ValidationError(f"{name}: true or false", field=name)
            out[name] = data[name]
    for name in (*MINUTE_FIELDS, "max_touches"):
        if name in data:
            if data[name] is None and name in REQUIRED_MINUTES:
                raise ValidationError(f"{name}: a whole number of at least 1", field=name)
            out[name] = _int_or_none(data, name)
    if "reassign_to" in data:
        if data["reassign_to"] not in ("next_rep", "pool"):
            raise ValidationError("reassign_to: next_rep or pool", field="reassign_to")
        out["reassign_to"] = data["reassign_to"]
    if "on_reassign" in data:
        if data["on_reassign"] not in ("stop", "hand_over"):
            raise ValidationError("on_reassign: stop or hand_over", field="on_reassign")
        out["on_reassign"] = data["on_reassign"]
    if "route_field" in data:
        value = data["route_field"]
        if value is not None and (not isinstance(value, str) or not 0 < len(value.strip()) <= 100):
            raise ValidationError(
                "route_field: a prospect field name such as territory", field="route_field"
            )
        out["route_field"] = value.strip() if value else None
    if "routes" in data:
        routes = data["routes"]
        if not isinstance(routes, dict):
            raise ValidationError(
                'routes: an object of field value -> user ids, e.g. {"EMEA": [3, 4]}',
                field="routes",
            )
        clean: dict[str, list[int]] = {}
        for key, ids in routes.items():
            if not isinstance(ids, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in ids
            ):
                raise ValidationError(f"routes.{key}: a list of user ids", field="routes")
            strangers = sorted(set(ids) - team_user_ids)
            if strangers:  # as an id no object has: not found (404)
                raise NotFound(f"routes.{key}: user {strangers[0]} is not a user of your team")
            clean[str(key).strip().lower()] = ids
        out["routes"] = clean
    return out


def update_settings(session: Session, team_id: int, data: Any, now: datetime) -> LeadTeamSettings:
    team_users = set(session.scalars(select(User.id).where(User.team_id == team_id)))
    values = clean_settings(data, team_users)
    row = settings_for(session, team_id, lock=True)
    form_enabled = values.pop("form_enabled", None)
    if form_enabled is True and row.form_key is None:
        row.form_key = secrets.token_urlsafe(24)
    elif form_enabled is False:
        row.form_key = None
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = now
    session.flush()
    return row


def settings_json(row: LeadTeamSettings) -> dict[str, Any]:
    return {
        "auto_assign": row.auto_assign,
        "acceptance_required": row.acceptance_required,
        "accept_within_minutes": row.accept_within_minutes,
        "warn_after_minutes": row.warn_after_minutes,
        "alert_after_minutes": row.alert_after_minutes,
        "reassign_after_minutes": row.reassign_after_minutes,
        "max_touches": row.max_touches,
        "touch_check_minutes": row.touch_check_minutes,
        "reassign_to": row.reassign_to,
        "on_reassign": row.on_reassign,
        "route_field": row.route_field,
        "routes": row.routes or {},
        "form_key": row.form_key,
    }


# Reps


def rep_row(session: Session, user: User) -> LeadRep:
    row = session.get(LeadRep, user.id)
    if row is None:
        row = LeadRep(user_id=user.id, team_id=user.team_id, active=not user.is_manager)
        session.add(row)
        session.flush()
    return row


def rep_rows(session: Session, users: list[User]) -> dict[int, LeadRep]:
    """rep_row for many users: one read of the rows that exist and one flush for the rest."""
    found = {
        r.user_id: r
        for r in session.scalars(select(LeadRep).where(LeadRep.user_id.in_([u.id for u in users])))
    }
    made = [
        LeadRep(user_id=u.id, team_id=u.team_id, active=not u.is_manager)
        for u in users
        if u.id not in found
    ]
    if made:
        session.add_all(made)
        session.flush()
    return {**found, **{r.user_id: r for r in made}}


def _date_or_none(data: Mapping[str, Any], name: str) -> date | None:
    value = data[name]
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationError(f"{name}: a date such as 2026-08-01, or null", field=name)


def clean_rep(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError("body must be a JSON object")
    allowed = {"active", "away_from", "away_until", "max_open", "max_daily", "weight"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(f"{unknown[0]}: unknown field", field=unknown[0])
    out: dict[str, Any] = {}
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise ValidationError("active: true or false", field="active")
        out["active"] = data["active"]
    for name in ("away_from", "away_until"):
        if name in data:
            out[name] = _date_or_none(data, name)
    for name in ("max_open", "max_daily"):
        if name in data:
            out[name] = _int_or_none(data, name, minimum=0)
    if "weight" in data:
        weight = _int_or_none(data, "weight")
        if weight is None or weight > 100:
            raise ValidationError("weight: a whole number from 1 to 100", field="weight")
        out["weight"] = weight
    return out


def update_rep(session: Session, user: User, data: Any) -> LeadRep:
    values = clean_rep(data)
    settings_for(session, user.team_id, lock=True)  # the rotation reads reps under this lock
    row = rep_row(session, user)
    for name, value in values.items():
        setattr(row, name, value)
    start = row.away_from
    if start is not None and row.away_until is not None and row.away_until < start:
        raise ValidationError("away_until: before away_from", field="away_until")
    session.flush()
    return row


def rep_json(row: LeadRep, user: User | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "user_id": row.user_id,
        "active": row.active,
        "away_from": row.away_from.isoformat() if row.away_from else None,
        "away_until": row.away_until.isoformat() if row.away_until else None,
        "max_open": row.max_open,
        "max_daily": row.max_daily,
        "weight": row.weight,
    }
    if user is not None:
        out.update(email=user.email, name=user.name)
    return out


# Leads


def company_key(prospect: Prospect) -> str | None:
    """The company a lead belongs to: its address's domain (not a freemail one), else its name."""
    domain = company_domain(prospect.email)
    if domain:
        return f"@{domain}"
    name = (prospect.company or "").strip().lower()
    return name[:200] or None


def ensure_lead(
    session: Session, prospect: Prospect, now: datetime, source: str = "manual"
) -> tuple[Lead, bool]:
    """The prospect's lead row, created if absent (in the pool, or owned by its owner)."""
    lead = session.get(Lead, prospect.id)
    if lead is not None:
        return lead, False
    lead = Lead(
        prospect_id=prospect.id,
        team_id=prospect.team_id,
        state=LeadState.POOL if prospect.owner_id is None else LeadState.ACCEPTED,
        owner_id=prospect.owner_id,
        source=source,
        company_key=company_key(prospect),
        pooled_at=now,
        assigned_at=now if prospect.owner_id is not None else None,
        previous_owners=[],
        created_at=now,
    )
    session.add(lead)
    session.flush()
    return lead, True


def into_pool(session: Session, prospect: Prospect, now: datetime, source: str) -> Lead | None:
    """A new prospect without an owner enters the pool; one with an owner is left alone."""
    if prospect.owner_id is not None:
        return None
    lead, created = ensure_lead(session, prospect, now, source)
    if created:
        record(session, "lead_pooled", now, prospect_id=prospect.id, source=source)
    return lead if lead.state == LeadState.POOL else None


def lead_json(lead: Lead, prospect: Prospect | None = None) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    out: dict[str, Any] = {
        "prospect_id": lead.prospect_id,
        "state": lead.state,
        "owner_id": lead.owner_id,
        "source": lead.source,
        "pooled_at": iso(lead.pooled_at),
        "assigned_at": iso(lead.assigned_at),
        "accept_by": iso(lead.accept_by),
        "accepted_at": iso(lead.accepted_at),
        "first_touch_at": iso(lead.first_touch_at),
        "time_to_first_touch_seconds": (
            int((lead.first_touch_at - lead.assigned_at).total_seconds())
            if lead.first_touch_at and lead.assigned_at
            else None
        ),
        "previous_owners": list(lead.previous_owners or []),
    }
    if prospect is not None:
        out["email"] = prospect.email
        out["company"] = prospect.company
        out["first_name"] = prospect.first_name
        out["last_name"] = prospect.last_name
    return out


PoolCursor = tuple[datetime, int]  # the last row's (pooled_at, prospect_id)


def pool_cursor(lead: Lead) -> str:
    """An opaque cursor after this lead in the pool's order (oldest first, then by id)."""
    raw = f"{lead.pooled_at.isoformat()}~{lead.prospect_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_pool_cursor(value: str) -> PoolCursor:
    """A cursor back into (pooled_at, prospect_id), or a 422 saying where to get one."""
    problem = ValidationError("cursor: use next_cursor from the previous page", field="cursor")
    if not value or len(value) > 100 or not value.isascii():
        raise problem
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        at, _, prospect_id = raw.partition("~")
        pooled_at = datetime.fromisoformat(at)
        if not prospect_id.isdigit() or len(prospect_id) > 10:
            raise problem
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise problem from None
    return pooled_at, int(prospect_id)


def pool_size(session: Session, team_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(Lead.team_id == team_id, Lead.state == LeadState.POOL)
        )
        or 0
    )


def pool_leads(
    session: Session,
    team_id: int,
    *,
    limit: int = 100,
    after: int | None = None,
    cursor: PoolCursor | None = None,
) -> list[tuple[Lead, Prospect]]:
    """The team's pool, oldest first (ties by prospect id): a keyset on (pooled_at,
    prospect_id), so pages neither skip nor repeat a lead while others join or leave the pool.
    `after` (a prospect id, the old cursor) starts after that lead in the same order."""
    anchor = session.get(Lead, after) if cursor is None and after is not None else None
    if anchor is not None and anchor.team_id == team_id:
        cursor = (anchor.pooled_at, anchor.prospect_id)
    query = (
        select(Lead, Prospect)
        .join(Prospect, Prospect.id == Lead.prospect_id)
        .where(Lead.team_id == team_id, Lead.state == LeadState.POOL)
        .order_by(Lead.pooled_at, Lead.prospect_id)
        .limit(limit)
    )
    if cursor is not None:
        at, prospect_id = cursor
        query = query.where(
            or_(Lead.pooled_at > at, and_(Lead.pooled_at == at, Lead.prospect_id > prospect_id))
        )
    elif after is not None:  # an id no longer known: after it by id, as before
        query = query.where(Lead.prospect_id > after)
    return [(lead, prospect) for lead, prospect in session.execute(query)]


def pending_for(session: Session, user_id: int, limit: int = 50) -> list[tuple[Lead, Prospect]]:
    """A rep's leads waiting for them to accept or reject, the nearest deadline first."""
    query = (
        select(Lead, Prospect)
        .join(Prospect, Prospect.id == Lead.prospect_id)
        .where(Lead.owner_id == user_id, Lead.state == LeadState.PENDING)
        .order_by(Lead.accept_by, Lead.prospect_id)
        .limit(limit)
    )
    return [(lead, prospect) for lead, prospect in session.execute(query)]


def lead_history(session: Session, prospect_id: int) -> list[dict[str, Any]]:
    """Every hand-over of the lead, oldest first, with its reason."""
    rows = session.scalars(
        select(LeadAssignment)
        .where(LeadAssignment.prospect_id == prospect_id)
        .order_by(LeadAssignment.at, LeadAssignment.id)
    )
    return [
        {
            "at": row.at.isoformat(),
            "from_user_id": row.from_user_id,
            "to_user_id": row.to_user_id,
            "reason": row.reason,
            "detail": row.detail,
            "by_user_id": row.by_user_id,
        }
        for row in rows
    ]
