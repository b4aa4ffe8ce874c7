"""/api/v1/enrollments: enroll a prospect in a sequence, list and read enrollments, and pause,
resume or unenroll one, or retry or skip the step that failed."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import select

from sequences.enroll_checks import Verdict, checked_enroll
from sequences.enrollment import (
    InvalidTransition,
    pause,
    resume,
    skip_step,
    unenroll,
)
from sequences.errors import ValidationError
from sequences.models import Enrollment, EnrollmentStatus
from sequences.workspace import retry

from ..db import db
from ..errors import json_error
from . import access
from .access import bp
from .helpers import body, created, flag, id_arg, now
from .pagination import paginate


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


def verdict_error(verdict: Verdict) -> Response:
    """A refused (422) or unforced (409) enrollment, the check's findings in the error."""
    return json_error(verdict.status, verdict.message, "prospect_id", check=verdict.to_json())


@bp.post("/enrollments")
def enrollments_create() -> tuple[Response, int] | Response:
    """Check, then enroll: 422 when a step cannot render or the address is suppressed, 409 when
    recently in touch (unless force), 200 with the check and nothing changed on a dry run."""
    data = body()
    for name in ("prospect_id", "sequence_id"):
        if not isinstance(data.get(name), int) or isinstance(data.get(name), bool):
            raise ValidationError(f"{name}: required, an id", field=name)
    force, dry_run = flag(data, "force"), flag(data, "dry_run")
    sequence = access.enrollable_sequence(data["sequence_id"])
    prospect = access.prospect(data["prospect_id"], access.CHANGE)
    attempt = checked_enroll(db(), prospect, sequence, now(), force=force, dry_run=dry_run)
    if dry_run:
        db().rollback()
        return jsonify({"dry_run": True, **attempt.verdict.to_json()})
    if attempt.enrollment is None:
        db().rollback()
        return verdict_error(attempt.verdict)
    db().commit()
    answer = enrollment_json(attempt.enrollment)
    answer["forced"] = attempt.forced
    answer["check"] = attempt.verdict.to_json()
    return created(answer)


@bp.get("/enrollments")
def enrollments_list() -> Response:
    """Enrollments of visible prospects, oldest first; filter by prospect, sequence, status."""
    query = select(Enrollment).where(Enrollment.prospect_id.in_(access.visible_prospects()))
    for name, column in (
        ("prospect_id", Enrollment.prospect_id),
        ("sequence_id", Enrollment.sequence_id),
    ):
        value = id_arg(name)
        if value is not None:
            query = query.where(column == value)
    status = request.args.get("status")
    if status:
        if status not in set(EnrollmentStatus):
            raise ValidationError(f"status: one of {', '.join(EnrollmentStatus)}", field="status")
        query = query.where(Enrollment.status == status)
    return jsonify(paginate(db(), query, Enrollment.id, enrollment_json))


@bp.get("/enrollments/<int:enrollment_id>")
def enrollments_get(enrollment_id: int) -> Response:
    return jsonify(enrollment_json(access.enrollment(enrollment_id)))


@bp.post("/enrollments/<int:enrollment_id>/<any(pause, resume, unenroll, retry, skip):action>")
def enrollments_action(enrollment_id: int, action: str) -> Response:
    enrollment = access.enrollment(enrollment_id, access.CHANGE)
    change = {
        "pause": pause,
        "resume": resume,
        "unenroll": unenroll,
        "retry": retry,
        "skip": skip_step,
    }[action]
    try:
        change(db(), enrollment, now())
    except InvalidTransition as exc:
        return json_error(409, str(exc), "status")
    db().commit()
    return jsonify(enrollment_json(enrollment))
