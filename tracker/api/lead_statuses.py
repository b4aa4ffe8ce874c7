"""/api/v1/leads/statuses and /status-rules, and a prospect's status: changed by hand, one or bulk."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from sequences.errors import ValidationError
from sequences.leads import (
    change_many,
    change_status,
    clean_note,
    delete_rule,
    replace_statuses,
    rule_json,
    save_rule,
    statuses_json,
    team_rules,
)
from sequences.models import Prospect
from sequences.workspace import prospect_json

from ..db import db
from . import access, helpers

bp = access.guard(Blueprint("api_lead_statuses", __name__, url_prefix="/api/v1"), conflicts=True)

MAX_BULK = 1000


def _expected(data: dict[str, Any]) -> str | None:
    value = data.get("expected")
    if value is not None and not isinstance(value, str):
        raise ValidationError(
            "expected: the status you saw (text), to refuse a change made meanwhile",
            field="expected",
        )
    return value


def _only(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(
            f"{unknown[0]}: unknown field; expected one of " + ", ".join(sorted(allowed)),
            field=unknown[0],
        )


@bp.get("/leads/statuses")
def lead_statuses_get() -> Response:
    return jsonify(statuses_json(db(), access.user().team_id))


@bp.put("/leads/statuses")
def lead_statuses_replace() -> Response:
    """A manager replaces the team's ordered list (a status still in use is kept: 422)."""
    out = replace_statuses(db(), access.user().team_id, helpers.body(), helpers.now())
    db().commit()
    return jsonify(out)


@bp.get("/leads/status-rules")
def status_rules_list() -> Response:
    team_id = access.user().team_id
    return jsonify({"items": [rule_json(db(), r) for r in team_rules(db(), team_id)]})


@bp.post("/leads/status-rules")
def status_rules_create() -> tuple[Response, int]:
    user = access.user()
    rule = save_rule(db(), user.team_id, helpers.body(), helpers.now(), by_user_id=user.id)
    db().commit()
    return helpers.created(rule_json(db(), rule))


@bp.get("/leads/status-rules/<int:rule_id>")
def status_rules_get(rule_id: int) -> Response:
    return jsonify(rule_json(db(), access.status_rule(rule_id)))


@bp.put("/leads/status-rules/<int:rule_id>")
def status_rules_update(rule_id: int) -> Response:
    """Replace a rule (the whole rule, as when creating it)."""
    rule = access.status_rule(rule_id, access.CHANGE)
    user = access.user()
    save_rule(db(), user.team_id, helpers.body(), helpers.now(), by_user_id=user.id, rule=rule)
    db().commit()
    return jsonify(rule_json(db(), rule))


@bp.delete("/leads/status-rules/<int:rule_id>")
def status_rules_delete(rule_id: int) -> tuple[str, int]:
    delete_rule(db(), access.status_rule(rule_id, access.CHANGE))
    db().commit()
    return "", 204


def _change_one(prospect_id: int) -> Response:
    prospect = access.prospect(prospect_id, access.CHANGE)
    data = helpers.body()
    _only(data, {"status", "note", "expected"})
    event = change_status(
        db(),
        prospect,
        data.get("status"),
        helpers.now(),
        by_user_id=access.user().id,
        note=clean_note(data.get("note")),
        expected=_expected(data),
    )
    db().commit()
    db().refresh(prospect)
    return jsonify({"changed": event is not None, "prospect": prospect_json(prospect)})


@bp.patch("/prospects/<int:prospect_id>/status")
def prospects_status_patch(prospect_id: int) -> Response:
    return _change_one(prospect_id)


@bp.post("/prospects/<int:prospect_id>/status")
def prospects_status_post(prospect_id: int) -> Response:
    return _change_one(prospect_id)


@bp.post("/prospects/status")
def prospects_status_bulk() -> Response:
    """Bulk: every prospect must be the caller's to change (else 404, nothing changed)."""
    data = helpers.body()
    _only(data, {"prospect_ids", "status", "note"})
    ids = data.get("prospect_ids")
    if (
        not isinstance(ids, list)
        or not 1 <= len(ids) <= MAX_BULK
        or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**31 for i in ids)
    ):
        raise ValidationError(
            f"prospect_ids: a list of 1 to {MAX_BULK} prospect ids", field="prospect_ids"
        )
    prospects: list[Prospect] = [access.prospect(i, access.CHANGE) for i in dict.fromkeys(ids)]
    results = change_many(
        db(),
        prospects,
        data.get("status"),
        helpers.now(),
        by_user_id=access.user().id,
        note=clean_note(data.get("note")),
    )
    db().commit()
    return jsonify({"items": results})
