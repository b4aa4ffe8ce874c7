"""/api/v1/login-failures: failed sign-ins and refused API keys, for the team's managers."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import select

from sequences.models import LoginFailure
from sequences.workspace import failure_json, failures_filter

from ..db import db
from ..errors import json_error
from . import access
from .pagination import paginate

bp = access.guard(Blueprint("api_login_failures", __name__, url_prefix="/api/v1"))


@bp.get("/login-failures")
def login_failures_list() -> Response:
    """Newest first: the team's accounts; for an admin also names that matched no account."""
    caller = access.user()
    if not (caller.is_manager or caller.is_admin):
        return json_error(403, "only managers can see failed sign-ins")
    query = select(LoginFailure).where(failures_filter(caller))
    return jsonify(paginate(db(), query, LoginFailure.id, failure_json, newest_first=True))
