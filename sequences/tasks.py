"""Calls and manual tasks: complete or skip one (the sequence moves on), or log a call by hand."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from .enrollment import advance, record
from .errors import ValidationError
from .models import Enrollment, Event, Task

CALL_OUTCOMES = ("connected", "voicemail", "no_answer", "wrong_number")
MAX_NOTES = 10_000


class TaskClosed(ValueError):
    """The task was already completed or skipped."""


def clean_outcome(outcome: str | None, *, required: bool) -> str | None:
    if not outcome:
        if required:
            raise ValidationError(
                f"outcome: one of {', '.join(CALL_OUTCOMES)} is required", field="outcome"
            )
        return None
    if outcome not in CALL_OUTCOMES:
        raise ValidationError(f"outcome: one of {', '.join(CALL_OUTCOMES)}", field="outcome")
    return outcome


def clean_notes(notes: str | None) -> str:
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES:
        raise ValidationError(f"notes: at most {MAX_NOTES} characters", field="notes")
    return notes


def _finish(
    session: Session, task: Task, status: str, now: datetime, outcome: str | None, notes: str
) -> Event:
    if task.status != "open":
        raise TaskClosed(f"task {task.id} is already {task.status}")
    task.status = status
    task.outcome = outcome
    task.completed_at = now
    if status == "done" and task.type == "call":
        event = log_call(
            session, task.prospect_id, now, outcome, notes, task.enrollment_id, task_id=task.id
        )
    else:
        event = record(
            session,
            "task_done" if status == "done" else "task_skipped",
            now,
            prospect_id=task.prospect_id,
            enrollment_id=task.enrollment_id,
            task_id=task.id,
            title=task.title,
            notes=notes,
        )
    # The sequence waited for this task: now it moves on to its next step.
    if task.enrollment_id is not None and task.step_position is not None:
        enrollment = session.get(Enrollment, task.enrollment_id, with_for_update=True)
        if enrollment is not None:
            advance(session, enrollment, task.step_position, now)
    return event


def complete(
    session: Session, task: Task, now: datetime, outcome: str | None = None, notes: str = ""
) -> Event:
    """Complete a task; a call needs its outcome. Advances the enrollment it belongs to."""
    outcome = clean_outcome(outcome, required=task.type == "call")
    return _finish(session, task, "done", now, outcome, clean_notes(notes))


def skip(session: Session, task: Task, now: datetime, notes: str = "") -> Event:
    """Skip a task; the sequence moves on all the same."""
    return _finish(session, task, "skipped", now, None, clean_notes(notes))


def log_call(
    session: Session,
    prospect_id: int,
    now: datetime,
    outcome: str | None,
    notes: str,
    enrollment_id: int | None = None,
    *,
    task_id: int | None = None,
    user_id: int | None = None,
) -> Event:
    """A call on the timeline (a touch in the manager's report), with its outcome and notes."""
    outcome = clean_outcome(outcome, required=True)
    return record(
        session,
        "call",
        now,
        prospect_id=prospect_id,
        enrollment_id=enrollment_id,
        task_id=task_id,
        user_id=user_id,
        outcome=outcome,
        notes=clean_notes(notes),
    )
