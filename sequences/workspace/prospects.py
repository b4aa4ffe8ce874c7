"""Creating and updating prospects, with validation of every field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Conflict, ValidationError
from ..models import Prospect
from ..schedule import is_valid_timezone
from ..sending import is_valid_email

TEXT_FIELDS = {"first_name": 200, "last_name": 200, "company": 200, "phone": 50}


def normalise_email(value: object) -> str:
    if not isinstance(value, str) or not is_valid_email(value.strip()):
        raise ValidationError("email: not a valid email address", field="email")
    local, _, domain = value.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


def clean_prospect_data(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Validate API or CSV input into column values; raise ValidationError naming the field."""
    if not isinstance(data, dict):
        raise ValidationError("body must be a JSON object")
    allowed = {"email", "timezone", "fields", "owner_id", *TEXT_FIELDS}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(f"{unknown[0]}: unknown field", field=unknown[0])
    out: dict[str, Any] = {}
    if "email" in data or not partial:
        out["email"] = normalise_email(data.get("email"))
    for name, limit in TEXT_FIELDS.items():
        if name in data:
            value = data[name]
            if value is not None and not isinstance(value, str):
                raise ValidationError(f"{name}: must be a string", field=name)
            if value is not None and ("\n" in value or "\r" in value or len(value) > limit):
                raise ValidationError(f"{name}: one line of at most {limit} characters", field=name)
            out[name] = value.strip() if value else None
    if "timezone" in data and data["timezone"] is not None:
        if not isinstance(data["timezone"], str) or not is_valid_timezone(data["timezone"]):
            raise ValidationError(
                "timezone: not an IANA time zone such as Europe/Paris", field="timezone"
            )
        out["timezone"] = data["timezone"]
    if "fields" in data:
        fields = data["fields"]
        if not isinstance(fields, dict) or not all(isinstance(k, str) for k in fields):
            raise ValidationError("fields: must be an object of named values", field="fields")
        if not all(v is None or isinstance(v, (str, int, float, bool)) for v in fields.values()):
            raise ValidationError(
                "fields: values must be strings, numbers or booleans", field="fields"
            )
        out["fields"] = fields
    if "owner_id" in data:
        if data["owner_id"] is not None and not isinstance(data["owner_id"], int):
            raise ValidationError("owner_id: must be a user id", field="owner_id")
        out["owner_id"] = data["owner_id"]
    return out


def create_prospect(
    session: Session, team_id: int, data: dict[str, Any], now: datetime, owner_id: int | None = None
) -> Prospect:
    values = clean_prospect_data(data)
    existing = session.scalar(
        select(Prospect).where(Prospect.team_id == team_id, Prospect.email == values["email"])
    )
    if existing is not None:
        raise Conflict(f"a prospect with this email exists (id {existing.id})")
    return _add_prospect(session, team_id, values, now, owner_id)


def _add_prospect(
    session: Session,
    team_id: int,
    values: dict[str, Any],
    now: datetime,
    owner_id: int | None,
    flush: bool = True,
) -> Prospect:
    values.setdefault("owner_id", owner_id)
    prospect = Prospect(team_id=team_id, created_at=now, updated_at=now, **values)
    prospect.fields = values.get("fields") or {}
    session.add(prospect)
    if flush:
        session.flush()
    return prospect


# upsert_prospect's `existing` when the caller has not looked the address up.
LOOK_UP: Any = object()


def upsert_prospect(
    session: Session,
    team_id: int,
    data: dict[str, Any],
    now: datetime,
    owner_id: int | None = None,
    *,
    existing: Prospect | None = LOOK_UP,
    flush: bool = True,
) -> tuple[Prospect, bool]:
    """Create the prospect or update the one with this email; returns (prospect, created).

    `existing`: the team's prospect with this email (None: there is none), when the caller
    has looked it up already in this transaction, as a CSV import does for a whole file; then
    `flush=False` leaves a new prospect's INSERT (and its id) to the caller's next flush.
    """
    values = clean_prospect_data(data)
    if existing is LOOK_UP:
        prospect = session.scalar(
            select(Prospect).where(Prospect.team_id == team_id, Prospect.email == values["email"])
        )
        if prospect is None:
            return create_prospect(session, team_id, data, now, owner_id), True
    elif existing is None:
        return _add_prospect(session, team_id, values, now, owner_id, flush), True
    else:
        prospect = existing
    for key, value in values.items():
        if key == "fields":
            prospect.fields = {**(prospect.fields or {}), **value}
        elif value is not None:
            setattr(prospect, key, value)
    prospect.updated_at = now
    return prospect, False


def prospect_json(p: Prospect) -> dict[str, Any]:
    return {
        "id": p.id,
        "email": p.email,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "company": p.company,
        "phone": p.phone,
        "timezone": p.timezone,
        "fields": p.fields or {},
        "status": p.status,
        "lead_status": p.lead_status,
        "owner_id": p.owner_id,
        "created_at": p.created_at.isoformat(),
    }
