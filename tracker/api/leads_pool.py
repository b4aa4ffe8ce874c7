"""/api/v1/leads: the pool, assigning by rules or by hand, accepting and rejecting, the rules."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from sequences.errors import NotFound, ValidationError
from sequences.leads import (
    accept,
    answerable,
    assign_manual,
    assign_pool,
    assign_prospects,
    clean_reason,
    intake,
    lead_history,
    lead_json,
    parse_pool_cursor,
    pending_for,
    pool_cursor,
    pool_leads,
    pool_size,
    reject,
    rep_json,
    rep_row,
    settings_for,
    settings_json,
    update_rep,
    update_settings,
)
from sequences.models import Lead, User
from sequences.workspace import prospect_json

from ..db import db
from ..errors import json_error
from . import access, helpers

bp = access.guard(Blueprint("api_leads_pool", __name__, url_prefix="/api/v1"), conflicts=True)

MAX_BULK = 1000


@bp.errorhandler(PermissionError)
def _forbidden(exc: PermissionError) -> Response:
    return json_error(403, str(exc) or "not allowed")


def _manager() -> User:
    user = access.user()
    if not user.is_manager:
        raise PermissionError("only a manager can do this")
    return user


def _limit() -> int:
    raw = request.args.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise ValidationError("limit: a number from 1 to 500", field="limit")
    return int(raw)


def _ids(data: dict[str, Any]) -> list[int]:
    ids = data.get("prospect_ids")
    if (
        not isinstance(ids, list)
        or not ids
        or len(ids) > MAX_BULK
        or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**31 for i in ids)
    ):
        raise ValidationError(
            f"prospect_ids: a list of 1 to {MAX_BULK} prospect ids", field="prospect_ids"
        )
    return ids


@bp.post("/leads")
def leads_create() -> tuple[Response, int]:
    """A new lead: into the pool, then assigned by the team's rules if auto-assign is on."""
    user = access.user()
    data = helpers.body()
    if "owner_id" in data:
        raise ValidationError(
            "owner_id: a new lead has no owner; the team's rules or POST /leads/assign give it one",
            field="owner_id",
        )
    prospect, _ = intake(db(), user.team_id, data, helpers.now(), source="api")
    db().commit()
    lead = db().get(Lead, prospect.id)
    body = {"prospect": prospect_json(prospect), "lead": lead_json(lead) if lead else None}
    return jsonify(body), 201


@bp.get("/leads/pool")
def leads_pool() -> Response:
    """Oldest first; `cursor` (next_cursor of the previous page) pages on (pooled_at, id)."""
    user = access.user()
    after = request.args.get("after")  # the older cursor, a prospect id: still understood
    if after is not None and (
        not after.isascii() or not after.isdigit() or len(after) > 10 or not 0 < int(after) < 2**31
    ):
        raise ValidationError("after: a prospect id", field="after")
    raw_cursor = request.args.get("cursor")
    cursor = parse_pool_cursor(raw_cursor) if raw_cursor else None
    limit = _limit()
    rows = pool_leads(
        db(), user.team_id, limit=limit + 1, after=int(after) if after else None, cursor=cursor
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [lead_json(lead, prospect) for lead, prospect in rows]
    return jsonify(
        {
            "items": items,
            "next_cursor": pool_cursor(rows[-1][0]) if more else None,
            "next_after": items[-1]["prospect_id"] if more else None,
            "total": pool_size(db(), user.team_id),
        }
    )


@bp.get("/leads/pending")
def leads_pending() -> Response:
    """The caller's leads waiting for an answer, nearest deadline first."""
    rows = pending_for(db(), access.user().id, limit=_limit())
    return jsonify({"items": [lead_json(lead, prospect) for lead, prospect in rows]})


@bp.post("/leads/assign")
def leads_assign() -> Response:
    """A manager assigns: to a rep (`user_id`), back to the pool (`user_id: null`), or by the
    team's rules (no `user_id`) the given leads or the pool's oldest."""
    manager = _manager()
    data = helpers.body()
    unknown = sorted(set(data) - {"prospect_ids", "user_id", "note", "limit"})
    if unknown:
        raise ValidationError(f"{unknown[0]}: unknown field", field=unknown[0])
    limit = data.get("limit", 100)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_BULK:
        raise ValidationError(f"limit: a number from 1 to {MAX_BULK}", field="limit")
    note = data.get("note", "")
    if not isinstance(note, str) or len(note) > 500:
        raise ValidationError("note: a text of at most 500 characters", field="note")
    now = helpers.now()
    if "user_id" in data:
        pairs = assign_manual(
            db(), manager.team_id, _ids(data), data["user_id"], now, by=manager, note=note
        )
    elif "prospect_ids" in data:
        ids = _ids(data)
        known = set(
            db().scalars(
                select(Lead.prospect_id).where(
                    Lead.prospect_id.in_(ids), Lead.team_id == manager.team_id
                )
            )
        )
        if len(known) != len(set(ids)):
            raise NotFound("no such lead in your team")
        pairs = assign_prospects(db(), manager.team_id, ids, now)
    else:
        pairs = assign_pool(db(), manager.team_id, now, limit=limit)
    db().commit()
    return jsonify({"items": [{"prospect_id": p, "user_id": u} for p, u in pairs]})


def _lead(prospect_id: int) -> tuple[Lead, Any]:
    prospect = access.prospect(prospect_id)
    lead = db().get(Lead, prospect.id)
    if lead is None:
        raise NotFound("this prospect is not a lead")
    return lead, prospect


@bp.get("/leads/<int:prospect_id>")
def leads_get(prospect_id: int) -> Response:
    lead, prospect = _lead(prospect_id)
    return jsonify({**lead_json(lead, prospect), "history": lead_history(db(), prospect.id)})


@bp.post("/leads/<int:prospect_id>/accept")
def leads_accept(prospect_id: int) -> Response:
    lead = accept(db(), access.user(), prospect_id, helpers.now())
    db().commit()
    return jsonify(lead_json(lead))


@bp.post("/leads/<int:prospect_id>/reject")
def leads_reject(prospect_id: int) -> Response:
    user = access.user()
    # Who may answer comes before what the answer says: a manager is told 403, not 422.
    answerable(db(), user, prospect_id)
    reason = clean_reason(helpers.body())
    new_owner = reject(db(), user, prospect_id, reason, helpers.now())
    db().commit()
    return jsonify({"prospect_id": prospect_id, "rejected_by": user.id, "new_owner_id": new_owner})


@bp.get("/leads/settings")
def leads_settings_get() -> Response:
    return jsonify(settings_json(settings_for(db(), access.user().team_id)))


@bp.patch("/leads/settings")
def leads_settings_update() -> Response:
    manager = _manager()
    row = update_settings(db(), manager.team_id, helpers.body(), helpers.now())
    db().commit()
    return jsonify(settings_json(row))


@bp.get("/leads/reps")
def leads_reps() -> Response:
    user = access.user()
    users = db().scalars(select(User).where(User.team_id == user.team_id).order_by(User.id))
    items = [rep_json(rep_row(db(), u), u) for u in users]
    db().commit()  # rows created with defaults on first look
    return jsonify({"items": items})


@bp.patch("/leads/reps/<int:user_id>")
def leads_reps_update(user_id: int) -> Response:
    manager = _manager()
    user = db().get(User, user_id)
    if user is None or user.team_id != manager.team_id:
        raise NotFound("no such user in your team")
    row = update_rep(db(), user, helpers.body())
    db().commit()
    return jsonify(rep_json(row, user))
