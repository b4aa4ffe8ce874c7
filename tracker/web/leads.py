"""The lead pages: the pool (managers assign one or in bulk), a rep's accept and reject forms.

Who may open each route is access.RULES' (the pool and assigning: managers); who may answer a
lead is the domain's (`sequences.leads.answerable`), as in the API.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from sequences.errors import Conflict, NotFound, ValidationError
from sequences.leads import (
    accept,
    answerable,
    assign_manual,
    assign_prospects,
    clean_reason,
    parse_pool_cursor,
    pool_cursor,
    pool_leads,
    pool_size,
    reject,
)
from sequences.models import User

from ..db import db
from .helpers import now, protect, row_id, safe_next, user

bp = Blueprint("leads_ui", __name__)
protect(bp)

POOL_PAGE = 200
MAX_BULK = 1000
BY_RULES = "rules"


def _reps(team_id: int) -> list[User]:
    return list(
        db().scalars(
            select(User)
            .where(User.team_id == team_id, User.is_manager.is_(False))
            .order_by(User.name, User.id)
        )
    )


@bp.get("/leads/pool")  # managers only (access.RULES)
def pool() -> str:
    """The pool, POOL_PAGE leads at a time, oldest first; `cursor` is the next page's start."""
    u = user()
    raw = request.args.get("cursor", "")
    error = None
    cursor = None
    if raw:
        try:
            cursor = parse_pool_cursor(raw)
        except ValidationError:
            error = "That page link is not valid any more; showing the first page."
    rows = pool_leads(db(), u.team_id, limit=POOL_PAGE + 1, cursor=cursor)
    more = len(rows) > POOL_PAGE
    rows = rows[:POOL_PAGE]
    return render_template(
        "leads_pool.html",
        rows=rows,
        reps=_reps(u.team_id),
        by_rules=BY_RULES,
        total=pool_size(db(), u.team_id),
        next_cursor=pool_cursor(rows[-1][0]) if more else None,
        paged=cursor is not None,
        error=error,
    )


@bp.post("/leads/assign")  # managers only
def assign() -> WerkzeugResponse:
    """One lead (a row's form) or the ticked ones (the bulk form) to a rep, or by the rules."""
    u = user()
    back = redirect(url_for("leads_ui.pool"))
    raw = request.form.getlist("prospect_id")
    ids = [row_id(value) for value in raw]
    if not raw or len(raw) > MAX_BULK or None in ids:
        flash(f"Tick between 1 and {MAX_BULK} leads to assign.", "error")
        return back
    prospect_ids = [i for i in ids if i is not None]
    target = request.form.get("user_id", "")
    try:
        if target == BY_RULES:
            pairs = assign_prospects(db(), u.team_id, prospect_ids, now())
        else:
            to = row_id(target)
            if to is None:
                raise ValidationError("Choose a rep, or assign by the rules.", field="user_id")
            pairs = assign_manual(db(), u.team_id, prospect_ids, to, now(), by=u)
    except (ValidationError, NotFound) as exc:
        db().rollback()
        flash(getattr(exc, "message", str(exc)), "error")
        return back
    db().commit()
    given = sum(1 for _, owner in pairs if owner is not None)
    flash(
        f"Assigned {given} of {len(prospect_ids)} lead{'s' if len(prospect_ids) != 1 else ''}.",
        "ok",
    )
    return back


def _back() -> WerkzeugResponse:
    return redirect(safe_next(request.form.get("next"), url_for("hotlist.index")))


def _answerable(prospect_id: int) -> None:
    """Refuse who may not answer before reading the answer: another team's or a vanished lead
    404, someone else's 403 (a manager cannot answer for the rep)."""
    try:
        answerable(db(), user(), prospect_id)
    except NotFound:
        abort(404)
    except PermissionError as exc:
        abort(403, description=str(exc))


@bp.post("/leads/<int:prospect_id>/accept")  # the domain decides who may (answerable)
def accept_lead(prospect_id: int) -> WerkzeugResponse:
    try:
        _answerable(prospect_id)
        accept(db(), user(), prospect_id, now())
    except Conflict as exc:
        db().rollback()
        flash(str(exc), "error")
        return _back()
    db().commit()
    flash("Accepted: the lead is yours, and its sequences start.", "ok")
    return _back()


@bp.post("/leads/<int:prospect_id>/reject")
def reject_lead(prospect_id: int) -> WerkzeugResponse:
    try:
        _answerable(prospect_id)
        reason = clean_reason({"reason": request.form.get("reason", "")})
        reject(db(), user(), prospect_id, reason, now())
    except (ValidationError, Conflict) as exc:
        db().rollback()
        flash(str(exc), "error")
        return _back()
    db().commit()
    flash("Rejected: the lead goes to the next rep.", "ok")
    return _back()
