"""Who is calling the API, and which objects they may see: the API key, then every lookup.

Every API blueprint is guarded here (`guard`): a Bearer key on every route, and the domain's
errors answered as JSON. Views find the objects of a request through the lookups below, never
with a bare `session.get`, so what a rep may see is decided in one place.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request
from sqlalchemy import Select, select

from sequences.errors import Conflict, NotFound, ValidationError
from sequences.models import Enrollment, Prospect, Sequence, User
from sequences.workspace import user_for_key

from ..db import db
from ..errors import json_error

# The blueprint of prospects, sequences, enrollments and events (its endpoint names,
# `api.prospects_create`..., are those of the routes from before the API was split).
bp = Blueprint("api", __name__, url_prefix="/api/v1")


def authenticate() -> Response | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    found = user_for_key(db(), key.strip()) if scheme.lower() == "bearer" and key else None
    if found is None:
        response = json_error(401, "missing or invalid API key (Authorization: Bearer <key>)")
        response.headers["WWW-Authenticate"] = 'Bearer realm="followup"'
        return response
    g.user = found
    return None


def invalid(exc: ValidationError) -> Response:
    extra: dict[str, object] = {"details": exc.details} if exc.details else {}
    return json_error(422, exc.message, exc.field, **extra)


def not_found(exc: NotFound) -> Response:
    return json_error(404, str(exc) or "not found")


def conflict(exc: Conflict) -> Response:
    return json_error(409, str(exc))


def guard(blueprint: Blueprint, *, conflicts: bool = False) -> Blueprint:
    """Require an API key on every route of `blueprint`; answer domain errors as JSON."""
    blueprint.before_request(authenticate)
    blueprint.register_error_handler(ValidationError, invalid)
    blueprint.register_error_handler(NotFound, not_found)
    if conflicts:
        blueprint.register_error_handler(Conflict, conflict)
    return blueprint


guard(bp, conflicts=True)


def user() -> User:
    """The caller (set by `authenticate`)."""
    found: User = g.user
    return found


def prospect(prospect_id: int) -> Prospect:
    """A prospect this user may see: the team's, and for a rep only their own."""
    caller = user()
    found = db().get(Prospect, prospect_id)
    if found is None or found.team_id != caller.team_id:
        raise NotFound("no such prospect")
    if not caller.is_manager and found.owner_id not in (None, caller.id):
        raise NotFound("no such prospect")
    return found


def sequence(sequence_id: int) -> Sequence:
    found = db().get(Sequence, sequence_id)
    if found is None or found.team_id != user().team_id:
        raise NotFound("no such sequence")
    return found


def enrollment(enrollment_id: int) -> Enrollment:
    found = db().get(Enrollment, enrollment_id)
    if found is None:
        raise NotFound("no such enrollment")
    prospect(found.prospect_id)
    return found


def visible_prospects() -> Select[Any]:
    """The ids of prospects this user may see, as a subquery (see `prospect`)."""
    caller = user()
    query = select(Prospect.id).where(Prospect.team_id == caller.team_id)
    if not caller.is_manager:
        query = query.where((Prospect.owner_id == caller.id) | Prospect.owner_id.is_(None))
    return query


def check_owner(owner_id: object) -> None:
    """An owner given in a body must be a user of the caller's team."""
    if owner_id is None or not isinstance(owner_id, int) or isinstance(owner_id, bool):
        return  # absent, or clean_prospect_data's error to give
    owner = db().get(User, owner_id) if 0 < owner_id <= 2**31 - 1 else None
    if owner is None or owner.team_id != user().team_id:
        raise ValidationError("owner_id: not a user of your team", field="owner_id")
