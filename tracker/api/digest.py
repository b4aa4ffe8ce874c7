"""/api/v1/me/digest: the caller's opt-in to the daily digest email, its hour and time zone."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify

from sequences.models import User
from sequences.workspace import setting_for, setting_json, update_setting

from ..db import db
from ..errors import request_json
from . import access

bp = access.guard(Blueprint("api_digest", __name__, url_prefix="/api/v1"))


def _user() -> User:
    user: User = g.user
    return user


@bp.get("/me/digest")
def digest_get() -> Response:
    return jsonify(setting_json(setting_for(db(), _user().id), _user()))


@bp.patch("/me/digest")
def digest_update() -> Response:
    setting = update_setting(db(), _user().id, request_json())
    db().commit()
    return jsonify(setting_json(setting, _user()))
