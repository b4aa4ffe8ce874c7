"""The JSON API under /api/v1: Bearer API key on every route, JSON errors naming the field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import select

from sequences.definitions import create_sequence, sequence_json, update_sequence
from sequences.enroll_checks import Verdict, checked_enroll
from sequences.enrollment import (
    InvalidTransition,
    mark_prospect,
    pause,
    record,
    resume,
    stop_prospect,
    unenroll,
)
from sequences.errors import Conflict, Forbidden, NotFound, ValidationError
from sequences.models import (
    Enrollment,
    EnrollmentStatus,
    Event,
    Prospect,
    ProspectStatus,
    Sequence,
    User,
)
from sequences.workspace import (
    activity,
    clean_prospect_data,
    create_prospect,
    event_json,
    prospect_json,
    user_for_key,
)

from ..db import db, rt
from ..errors import json_error, optional_json, request_json
from .pagination import paginate

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def authenticate() -> Response | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    user = user_for_key(db(), key.strip()) if scheme.lower() == "bearer" and key else None
    if user is None:
        response = json_error(401, "missing or invalid API key (Authorization: Bearer <key>)")
        response.headers["WWW-Authenticate"] = 'Bearer realm="followup"'
        return response
    g.user = user
    return None


@bp.errorhandler(ValidationError)
def _invalid(exc: ValidationError) -> Response:
    extra: dict[str, object] = {"details": exc.details} if exc.details else {}
    return json_error(422, exc.message, exc.field, **extra)


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound) -> Response:
    return json_error(404, str(exc) or "not found")


@bp.errorhandler(Forbidden)
def _forbidden(exc: Forbidden) -> Response:
    return json_error(403, str(exc))


@bp.errorhandler(Conflict)
def _conflict(exc: Conflict) -> Response:
    return json_error(409, str(exc))


def _body() -> dict[str, Any]:
    return request_json()


def _now() -> datetime:
    return rt().clock.now()


def _user() -> User:
    user: User = g.user
    return user


def _prospect(prospect_id: int) -> Prospect:
    """A prospect this user may see: the team's, and for a rep only their own."""
    user = _user()
    prospect = db().get(Prospect, prospect_id)
    if prospect is None or prospect.team_id != user.team_id:
        raise NotFound("no such prospect")
    if not user.is_manager and prospect.owner_id not in (None, user.id):
        raise NotFound("no such prospect")
    return prospect


def _sequence(sequence_id: int) -> Sequence:
    sequence = db().get(Sequence, sequence_id)
    if sequence is None or sequence.team_id != _user().team_id:
        raise NotFound("no such sequence")
    return sequence


def _enrollment(enrollment_id: int) -> Enrollment:
    enrollment = db().get(Enrollment, enrollment_id)
    if enrollment is None:
        raise NotFound("no such enrollment")
    _prospect(enrollment.prospect_id)
    return enrollment


def enrollment_json(e: Enrollment) -> dict[str, Any]:
    return {
        "id": e.id,
        "prospect_id": e.prospect_id,
        "sequence_id": e.sequence_id,
        "status": e.status,
        "current_step": e.current_step,
        "next_due_at": e.next_due_at.isoformat() if e.next_due_at else None,
        "reason": e.reason,
        "needs_review": e.needs_review,
    }


def _check_owner(owner_id: object) -> None:
    """An owner given in a body must be a user of the caller's team."""
    if owner_id is None or not isinstance(owner_id, int) or isinstance(owner_id, bool):
        return  # absent, or clean_prospect_data's error to give
    owner = db().get(User, owner_id) if 0 < owner_id <= 2**31 - 1 else None
    if owner is None or owner.team_id != _user().team_id:
        raise ValidationError("owner_id: not a user of your team", field="owner_id")


def _created(body: dict[str, Any]) -> tuple[Response, int]:
    return jsonify(body), 201


# Prospects


@bp.post("/prospects")
def prospects_create() -> tuple[Response, int]:
    user = _user()
    data = _body()
    _check_owner(data.get("owner_id"))
    prospect = create_prospect(db(), user.team_id, data, _now(), owner_id=user.id)
    db().commit()
    return _created(prospect_json(prospect))


@bp.get("/prospects")
def prospects_list() -> Response:
    user = _user()
    query = select(Prospect).where(Prospect.team_id == user.team_id)
    if not user.is_manager:
        query = query.where((Prospect.owner_id == user.id) | Prospect.owner_id.is_(None))
    return jsonify(paginate(db(), query, Prospect.id, prospect_json))


@bp.get("/prospects/<int:prospect_id>")
def prospects_get(prospect_id: int) -> Response:
    return jsonify(prospect_json(_prospect(prospect_id)))


@bp.patch("/prospects/<int:prospect_id>")
def prospects_update(prospect_id: int) -> Response:
    prospect = _prospect(prospect_id)
    values = clean_prospect_data(_body(), partial=True)
    _check_owner(values.get("owner_id"))
    for key, value in values.items():
        setattr(prospect, key, value)
    prospect.updated_at = _now()
    db().commit()
    return jsonify(prospect_json(prospect))


@bp.get("/prospects/<int:prospect_id>/activity")
def prospects_activity(prospect_id: int) -> Response:
    return jsonify(activity(db(), _prospect(prospect_id)))


def _stop_for(prospect_id: int, status: str, event_type: str) -> Response:
    prospect = _prospect(prospect_id)
    session = db()
    key = request.headers.get("Idempotency-Key", "").strip()[:200] or None
    if key is not None:
        seen = session.scalar(
            select(Event)
            .where(Event.prospect_id == prospect.id, Event.type == event_type)
            .where(Event.data["idempotency_key"].as_string() == key)
        )
        if seen is not None:
            return jsonify(
                {
                    "prospect_id": prospect.id,
                    "status": prospect.status,
                    "stopped_enrollment_ids": seen.data.get("stopped", []),
                    "replayed": True,
                }
            )
    details = optional_json()
    now = _now()
    stopped = stop_prospect(session, prospect.id, status, now, event_type)
    if status == EnrollmentStatus.CONVERTED:
        mark_prospect(session, prospect.id, ProspectStatus.CONVERTED, now)
    record(
        session,
        event_type,
        now,
        prospect_id=prospect.id,
        stopped=stopped,
        idempotency_key=key,
        details={k: v for k, v in details.items() if isinstance(k, str)},
    )
    session.commit()
    session.refresh(prospect)
    return jsonify(
        {
            "prospect_id": prospect.id,
            "status": prospect.status,
            "stopped_enrollment_ids": stopped,
            "replayed": False,
        }
    )


@bp.post("/prospects/<int:prospect_id>/conversion")
def prospects_conversion(prospect_id: int) -> Response:
    """The prospect converted: every active enrollment stops (status converted)."""
    return _stop_for(prospect_id, EnrollmentStatus.CONVERTED, "conversion")


@bp.post("/prospects/<int:prospect_id>/meetings")
def prospects_meeting(prospect_id: int) -> Response:
    """A meeting was booked: every active enrollment stops (status meeting_booked)."""
    return _stop_for(prospect_id, EnrollmentStatus.MEETING_BOOKED, "meeting_booked")


# Sequences


@bp.post("/sequences")
def sequences_create() -> tuple[Response, int]:
    user = _user()
    sequence = create_sequence(db(), user.team_id, user.id, _body(), _now())
    db().commit()
    return _created(sequence_json(sequence))


@bp.get("/sequences")
def sequences_list() -> Response:
    query = select(Sequence).where(Sequence.team_id == _user().team_id)
    return jsonify(paginate(db(), query, Sequence.id, sequence_json))


@bp.get("/sequences/<int:sequence_id>")
def sequences_get(sequence_id: int) -> Response:
    return jsonify(sequence_json(_sequence(sequence_id)))


@bp.patch("/sequences/<int:sequence_id>")
def sequences_update(sequence_id: int) -> Response:
    sequence = update_sequence(db(), _sequence(sequence_id), _body())
    db().commit()
    return jsonify(sequence_json(sequence))


# Enrollments


def flag(data: dict[str, Any], name: str) -> bool:
    """An optional true/false in a request body (422 naming it otherwise)."""
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise ValidationError(f"{name}: must be true or false", field=name)
    return value


def enrollable(prospect_id: int) -> Prospect:
    """A prospect this user may enroll: 404 when unknown, 403 when it is another rep's."""
    user = _user()
    prospect = db().get(Prospect, prospect_id)
    if prospect is None or prospect.team_id != user.team_id:
        raise NotFound(f"no such prospect: {prospect_id}")
    if not user.is_manager and prospect.owner_id not in (None, user.id):
        raise Forbidden(
            f"prospect {prospect_id} belongs to another rep; only they or a manager can enroll it"
        )
    return prospect


def verdict_error(verdict: Verdict) -> Response:
    """A refused (422) or unforced (409) enrollment, the check's findings in the error."""
    return json_error(verdict.status, verdict.message, "prospect_id", check=verdict.to_json())


@bp.post("/enrollments")
def enrollments_create() -> tuple[Response, int] | Response:
    """Check, then enroll: 422 when a step cannot render or the address is suppressed, 409 when
    recently in touch (unless force), 200 with the check and nothing changed on a dry run."""
    data = _body()
    for name in ("prospect_id", "sequence_id"):
        if not isinstance(data.get(name), int) or isinstance(data.get(name), bool):
            raise ValidationError(f"{name}: required, an id", field=name)
    force, dry_run = flag(data, "force"), flag(data, "dry_run")
    sequence = _sequence(data["sequence_id"])
    prospect = enrollable(data["prospect_id"])
    attempt = checked_enroll(db(), prospect, sequence, _now(), force=force, dry_run=dry_run)
    if dry_run:
        db().rollback()
        return jsonify({"dry_run": True, **attempt.verdict.to_json()})
    if attempt.enrollment is None:
        db().rollback()
        return verdict_error(attempt.verdict)
    db().commit()
    body = enrollment_json(attempt.enrollment)
    body["forced"] = attempt.forced
    body["check"] = attempt.verdict.to_json()
    return _created(body)


def _visible_prospects() -> Any:
    """The ids of prospects this user may see, as a subquery (see `_prospect`)."""
    user = _user()
    query = select(Prospect.id).where(Prospect.team_id == user.team_id)
    if not user.is_manager:
        query = query.where((Prospect.owner_id == user.id) | Prospect.owner_id.is_(None))
    return query


def _id_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10 or int(raw) > 2**31 - 1:
        raise ValidationError(f"{name}: an id", field=name)
    return int(raw)


@bp.get("/enrollments")
def enrollments_list() -> Response:
    """Enrollments of visible prospects, oldest first; filter by prospect, sequence, status."""
    query = select(Enrollment).where(Enrollment.prospect_id.in_(_visible_prospects()))
    for name, column in (
        ("prospect_id", Enrollment.prospect_id),
        ("sequence_id", Enrollment.sequence_id),
    ):
        value = _id_arg(name)
        if value is not None:
            query = query.where(column == value)
    status = request.args.get("status")
    if status:
        if status not in set(EnrollmentStatus):
            raise ValidationError(f"status: one of {', '.join(EnrollmentStatus)}", field="status")
        query = query.where(Enrollment.status == status)
    return jsonify(paginate(db(), query, Enrollment.id, enrollment_json))


@bp.get("/events")
def events_list() -> Response:
    """The event feed of visible prospects, oldest first: poll with the last next_cursor.

    Filter with ?prospect_id= (one prospect's timeline, page by page) and ?type=.
    """
    query = select(Event).where(Event.prospect_id.in_(_visible_prospects()))
    prospect_id = _id_arg("prospect_id")
    if prospect_id is not None:
        query = query.where(Event.prospect_id == prospect_id)
    type_ = request.args.get("type")
    if type_:
        if len(type_) > 30:
            raise ValidationError("type: an event type such as open or click", field="type")
        query = query.where(Event.type == type_)
    return jsonify(paginate(db(), query, Event.id, event_json))


@bp.get("/enrollments/<int:enrollment_id>")
def enrollments_get(enrollment_id: int) -> Response:
    return jsonify(enrollment_json(_enrollment(enrollment_id)))


@bp.post("/enrollments/<int:enrollment_id>/<any(pause, resume, unenroll):action>")
def enrollments_action(enrollment_id: int, action: str) -> Response:
    enrollment = _enrollment(enrollment_id)
    change = {"pause": pause, "resume": resume, "unenroll": unenroll}[action]
    try:
        change(db(), enrollment, _now())
    except InvalidTransition as exc:
        return json_error(409, str(exc), "status")
    db().commit()
    return jsonify(enrollment_json(enrollment))
