"""/api/v1/me: the caller's own account, and the time zone their days and reports are in."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from sequences.errors import ValidationError
from sequences.workspace import set_user_zone, user_json

from ..db import db
from ..errors import request_json
from . import access

bp = access.guard(Blueprint("api_me", __name__, url_prefix="/api/v1"))

CHANGEABLE = ("timezone",)


@bp.get("/me")
def me_get() -> Response:
    return jsonify(user_json(access.user()))


@bp.patch("/me")
def me_update() -> Response:
    """Set the caller's time zone (null follows the team's); a bad name changes nothing."""
    data = request_json()
    unknown = sorted(set(data) - set(CHANGEABLE))
    if unknown:
        raise ValidationError(
            f"{unknown[0]}: unknown field (only {', '.join(CHANGEABLE)} can be changed here)",
            field=unknown[0],
        )
    user = access.user()
    if "timezone" in data:
        set_user_zone(db(), user, data["timezone"])
    db().commit()
    return jsonify(user_json(user))
