"""/api/v1/teams and /api/v1/users: the install's admins create teams, add and move users."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import select

from sequences.errors import NotFound, ValidationError
from sequences.models import Team, User
from sequences.workspace import (
    TeamRow,
    clean_zone,
    create_team,
    create_user,
    list_teams,
    move_user,
    team_json,
    update_team,
    user_json,
)

from ..db import db
from ..errors import json_error, request_json
from . import access
from .pagination import paginate

bp = access.guard(Blueprint("api_teams", __name__, url_prefix="/api/v1"))


@bp.before_request
def admins_only() -> Response | None:
    """Every route here is the install's business: admins only (403 for anyone else)."""
    user: User | None = g.get("user")
    if user is not None and not user.is_admin:
        return json_error(403, "only an admin of this install can manage teams and users")
    return None


def _team(team_id: object, field: str = "team_id") -> Team:
    if not isinstance(team_id, int) or isinstance(team_id, bool):
        raise ValidationError(f"{field}: a team id (GET /teams lists them)", field=field)
    team = db().get(Team, team_id)
    if team is None:  # a reference to no object: 404, as an unknown id in the path
        raise NotFound(f"{field}: no team {team_id} (GET /teams lists them)")
    return team


def _flag(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if name in data and not isinstance(value, bool):  # null too: leave it out instead
        raise ValidationError(f"{name}: true or false", field=name)
    return value


@bp.get("/teams")
def teams_list() -> Response:
    rows = list_teams(db())
    return jsonify({"items": [team_json(r) for r in rows], "next_cursor": None})


@bp.post("/teams")
def teams_create() -> tuple[Response, int]:
    data = request_json()
    unknown = set(data) - {"name", "inbound_domain", "timezone"}
    if unknown:
        raise ValidationError(f"{sorted(unknown)[0]}: unknown field", field=sorted(unknown)[0])
    team = create_team(db(), data.get("name"), data.get("inbound_domain"), data.get("timezone"))
    db().commit()
    return jsonify(team_json(TeamRow(team, 0, 0))), 201


@bp.get("/teams/<int:team_id>")
def teams_get(team_id: int) -> Response:
    for row in list_teams(db()):
        if row.team.id == team_id:
            return jsonify(team_json(row))
    raise NotFound("no such team")


@bp.patch("/teams/<int:team_id>")
def teams_update(team_id: int) -> Response:
    """Rename a team, set its inbound domain (mail to any address there is the team's) or its
    time zone (the one its users without their own follow)."""
    team = db().get(Team, team_id)
    if team is None:
        raise NotFound("no such team")
    update_team(db(), team, request_json())
    db().commit()
    return teams_get(team_id)


@bp.get("/users")
def users_list() -> Response:
    """Every user of the install, oldest first; `?team_id=` narrows to one team."""
    query = select(User)
    raw = request.args.get("team_id")
    if raw is not None:
        if not raw.isascii() or not raw.isdigit() or not 0 < int(raw[:10]) < 2**31:
            raise ValidationError("team_id: a team id", field="team_id")
        query = query.where(User.team_id == int(raw))
    return jsonify(paginate(db(), query, User.id, user_json))


@bp.post("/users")
def users_create() -> tuple[Response, int]:
    data = request_json()
    allowed = {"email", "name", "password", "team_id", "manager", "admin", "timezone"}
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError(f"{sorted(unknown)[0]}: unknown field", field=sorted(unknown)[0])
    email, name, password = data.get("email"), data.get("name", ""), data.get("password")
    if not isinstance(email, str):
        raise ValidationError("email: required", field="email")
    if not isinstance(name, str) or len(name) > 200:
        raise ValidationError("name: text of at most 200 characters", field="name")
    if "password" in data and (not isinstance(password, str) or not 8 <= len(password) <= 200):
        raise ValidationError("password: 8 to 200 characters", field="password")
    team = _team(data.get("team_id"))
    zone = data.get("timezone")
    zone = None if zone is None or zone == "" else clean_zone(zone)  # checked before any write
    user = create_user(
        db(), email, name=name, password=password, manager=bool(_flag(data, "manager")), team=team
    )
    user.is_admin = bool(_flag(data, "admin"))
    user.timezone = zone
    db().commit()
    return jsonify(user_json(user)), 201


@bp.post("/users/<int:user_id>/move")
def users_move(user_id: int) -> Response:
    """Move a user to another team; refused (409, nothing changed) while they own anything."""
    data = request_json()
    unknown = set(data) - {"team_id", "manager"}
    if unknown:
        raise ValidationError(f"{sorted(unknown)[0]}: unknown field", field=sorted(unknown)[0])
    user = db().get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    team = _team(data.get("team_id"))
    move_user(db(), user, team, manager=_flag(data, "manager"))
    db().commit()
    return jsonify(user_json(user))
