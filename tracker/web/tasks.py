"""Today's and overdue calls and tasks; completing one logs the outcome and advances the sequence."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from sequences.errors import ValidationError
from sequences.leads import pending_for
from sequences.models import Prospect, Task
from sequences.tasks import CALL_OUTCOMES, TaskClosed, complete, skip
from sequences.workspace import effective_zone, local_day_bounds

from ..api import access
from ..db import db
from .helpers import now, protect, user

bp = Blueprint("tasks", __name__)
protect(bp)


@bp.get("/tasks")
def index() -> str:
    u = user()
    # "Today" is the user's calendar day in their own zone (the team's when they chose none).
    day = local_day_bounds(now(), effective_zone(u))
    start, end = day.start, day.end
    query = (
        select(Task, Prospect)
        .join(Prospect, Prospect.id == Task.prospect_id)
        .where(Prospect.team_id == u.team_id, Task.status == "open", Task.due_at < end)
        .order_by(Task.due_at, Task.id)
        .limit(500)
    )
    everyone = u.is_manager and request.args.get("all") == "1"
    if not everyone:
        query = query.where(Task.owner_id == u.id)
    rows = [(task, prospect) for task, prospect in db().execute(query)]
    return render_template(
        "tasks.html",
        overdue=[r for r in rows if r[0].due_at < start],
        today=[r for r in rows if r[0].due_at >= start],
        outcomes=CALL_OUTCOMES,
        everyone=everyone,
        day=day.day,
        pending=pending_for(db(), u.id),
    )


def _task(task_id: int) -> Task:
    return access.task(task_id, access.CHANGE, lock=True)


@bp.post("/tasks/<int:task_id>/<any(complete, skip):action>")
def finish(task_id: int, action: str) -> WerkzeugResponse:
    task = _task(task_id)
    notes = request.form.get("notes", "")
    try:
        if action == "complete":
            complete(db(), task, now(), request.form.get("outcome") or None, notes)
        else:
            skip(db(), task, now(), notes)
    except (ValidationError, TaskClosed) as exc:
        db().rollback()
        flash(getattr(exc, "message", str(exc)), "error")
        return redirect(url_for("tasks.index"))
    db().commit()
    flash("Done: the sequence moves on." if action == "complete" else "Skipped.", "ok")
    return redirect(url_for("tasks.index"))
