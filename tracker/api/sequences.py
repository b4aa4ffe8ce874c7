"""/api/v1/sequences: create, list, read and update sequences; bulk enrollment; and the rep's
task list (calls and manual tasks) that sequences create.

The sequence routes keep the endpoint names of the `api` blueprint (`api.sequences_create`...);
bulk enrollment and tasks are `api_sequences.*`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import and_, or_, select

from sequences.definitions import create_sequence, sequence_json, update_sequence
from sequences.enroll_checks import NEEDS_FORCE, REFUSED, WOULD_ENROLL, checked_enroll
from sequences.errors import NotFound, ValidationError
from sequences.leads import trigger_email
from sequences.models import Prospect, Sequence, Task
from sequences.tasks import TaskClosed, complete, skip
from sequences.workspace import effective_zone, local_day_bounds, when_due

from ..db import db
from ..errors import json_error, optional_json
from . import access
from .enrollments import enrollment_json
from .helpers import body, created, flag, now
from .pagination import page_args, paginate

bp = access.guard(Blueprint("api_sequences", __name__, url_prefix="/api/v1"))

MAX_BULK = 1000
OUTCOMES = (WOULD_ENROLL, NEEDS_FORCE, REFUSED)


# Sequences (on the `api` blueprint)


@access.bp.post("/sequences")
def sequences_create() -> tuple[Response, int]:
    user = access.user()
    sequence = create_sequence(db(), user.team_id, user.id, body(), now())
    db().commit()
    return created(sequence_json(sequence))


@access.bp.get("/sequences")
def sequences_list() -> Response:
    query = select(Sequence).where(
        Sequence.team_id == access.user().team_id, Sequence.hidden.is_(False)
    )
    return jsonify(paginate(db(), query, Sequence.id, sequence_json))


@access.bp.get("/sequences/<int:sequence_id>")
def sequences_get(sequence_id: int) -> Response:
    sequence = access.sequence(sequence_id)
    answer = sequence_json(sequence)
    trigger = trigger_email(db(), sequence)
    if trigger is not None:  # readable (an enrollment names it), but the rule's to change
        answer["status_trigger"] = {
            "rule_id": trigger.rule_id,
            "status": trigger.status,
            "note": trigger.words(),
        }
    return jsonify(answer)


@access.bp.patch("/sequences/<int:sequence_id>")
def sequences_update(sequence_id: int) -> Response:
    sequence = update_sequence(db(), access.editable_sequence(sequence_id), body())
    db().commit()
    return jsonify(sequence_json(sequence))


# Bulk enrollment


def _task_json(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "type": task.type,
        "title": task.title,
        "notes": task.notes,
        "status": task.status,
        "outcome": task.outcome,
        "due_at": task.due_at.isoformat(),
        "completed_at": task.completed_at.isoformat() if task.completed_at else None,
        "prospect_id": task.prospect_id,
        "enrollment_id": task.enrollment_id,
        "step_position": task.step_position,
        "owner_id": task.owner_id,
    }


def _ids(value: object, name: str) -> list[int]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**31 for v in value)
    ):
        raise ValidationError(f"{name}: a non-empty list of ids", field=name)
    if len(value) > MAX_BULK:
        raise ValidationError(f"{name}: at most {MAX_BULK} at once", field=name)
    return list(dict.fromkeys(value))  # duplicates once, order kept


@bp.post("/enrollments/bulk")
def enrollments_bulk() -> Response:
    """Enroll many prospects, each checked first: enrolled, or skipped with its reason.

    With dry_run nothing is enrolled and each answer says what would happen. A dry run or a
    force naming an unknown prospect or another rep's (404) changes nothing at all.
    """
    data = body()
    sequence_id = data.get("sequence_id")
    if not isinstance(sequence_id, int) or isinstance(sequence_id, bool):
        raise ValidationError("sequence_id: required, an id", field="sequence_id")
    force, dry_run = flag(data, "force"), flag(data, "dry_run")
    ids = _ids(data.get("prospect_ids"), "prospect_ids")
    sequence = access.enrollable_sequence(sequence_id)
    results: list[dict[str, Any]] = []
    visible = []
    for prospect_id in ids:
        try:
            visible.append(access.prospect(prospect_id, access.CHANGE))
        except NotFound:
            if force or dry_run:
                raise  # an explicit request about a prospect we cannot touch: nothing happens
            results.append(
                {"prospect_id": prospect_id, "status": "skipped", "reason": "no such prospect"}
            )
    at = now()
    for prospect in visible:
        # A list never restarts a live enrollment in this sequence, even with force.
        attempt = checked_enroll(
            db(), prospect, sequence, at, force=force, dry_run=dry_run, restart_live=False
        )
        verdict = attempt.verdict
        entry: dict[str, Any] = {"prospect_id": prospect.id, "check": verdict.to_json()}
        if dry_run:
            entry["status"] = verdict.outcome
        elif attempt.enrollment is not None:
            entry.update(status="enrolled", enrollment=enrollment_json(attempt.enrollment))
        else:
            entry.update(status="skipped", reason=verdict.message)
        results.append(entry)
    if dry_run:
        db().rollback()
        counts = {o: sum(1 for r in results if r["status"] == o) for o in OUTCOMES}
        return jsonify({"dry_run": True, **counts, "results": results})
    db().commit()
    enrolled = sum(1 for r in results if r["status"] == "enrolled")
    return jsonify({"enrolled": enrolled, "skipped": len(results) - enrolled, "results": results})


@bp.get("/tasks")
def tasks_list() -> Response:
    """My tasks (?status=open|done|skipped|all, default open); a manager may ask ?owner=all."""
    user = access.user()
    status = request.args.get("status", "open")
    if status not in ("open", "done", "skipped", "all"):
        raise ValidationError("status: open, done, skipped or all", field="status")
    query = select(Task).join(Prospect, Prospect.id == Task.prospect_id)
    query = query.where(Prospect.team_id == user.team_id)
    owner = request.args.get("owner")
    if owner not in (None, "all"):
        raise ValidationError("owner: all, or leave it out for your own tasks", field="owner")
    if owner == "all":
        if not user.is_manager:
            raise ValidationError("owner=all: only managers see the team's tasks", field="owner")
    else:
        query = query.where(Task.owner_id == user.id)
    if status != "all":
        query = query.where(Task.status == status)
    # "today" and "overdue" are the caller's calendar day in their own zone (GET /me).
    zone, current = effective_zone(user), now()
    day = local_day_bounds(current, zone)
    due = request.args.get("due")
    if due == "overdue":
        query = query.where(Task.due_at < day.start)
    elif due == "today":
        query = query.where(Task.due_at >= day.start, Task.due_at < day.end)
    elif due is not None:
        raise ValidationError("due: today or overdue (in your time zone)", field="due")
    due_before = request.args.get("due_before")
    if due_before is not None:
        try:
            when = datetime.fromisoformat(due_before)
        except ValueError:
            raise ValidationError("due_before: an ISO 8601 time", field="due_before") from None
        if when.tzinfo is None:
            raise ValidationError("due_before: include the time zone", field="due_before")
        query = query.where(Task.due_at <= when)
    # Keyset on (due_at, id), so pages stay in due order; the cursor is the last task's id.
    cursor, limit = page_args()
    if cursor is not None:
        after = db().get(Task, cursor)
        if after is None:  # a well-formed cursor naming no task: as an unknown id
            raise NotFound("cursor: no such task; use next_cursor from the previous page")
        query = query.where(
            or_(Task.due_at > after.due_at, and_(Task.due_at == after.due_at, Task.id > after.id))
        )
    rows = list(db().scalars(query.order_by(Task.due_at, Task.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return jsonify(
        {
            "items": [
                {**_task_json(t), "due": when_due(t.due_at, current, zone)}
                if t.status == "open"
                else {**_task_json(t), "due": None}
                for t in rows
            ],
            "timezone": zone.key,
            "next_cursor": str(rows[-1].id) if more and rows else None,
        }
    )


def _task(task_id: int) -> Task:
    return access.task(task_id, access.CHANGE)


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"{name}: must be a string", field=name)
    return value or ""


@bp.post("/tasks/<int:task_id>/complete")
def tasks_complete(task_id: int) -> Response | tuple[Response, int]:
    """Complete, with outcome and notes (recorded on the timeline); the sequence moves on."""
    return _close(task_id, "complete")


@bp.post("/tasks/<int:task_id>/skip")
def tasks_skip(task_id: int) -> Response | tuple[Response, int]:
    """Skip, with optional notes; the sequence moves on as if it were done."""
    return _close(task_id, "skip")


def _close(task_id: int, action: str) -> Response | tuple[Response, int]:
    task = _task(task_id)
    data = optional_json()
    try:
        if action == "complete":
            outcome = data.get("outcome")
            if outcome is not None and not isinstance(outcome, str):
                raise ValidationError("outcome: must be a string", field="outcome")
            complete(db(), task, now(), outcome, _text(data, "notes"))
        else:
            skip(db(), task, now(), _text(data, "notes"))
    except TaskClosed as exc:
        return json_error(409, str(exc), "status"), 409
    db().commit()
    return jsonify(_task_json(task))
