"""The workspace in the JSON API: hot list, logging a call, per-step statistics, manager report."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sequences.enrollment import InvalidTransition
from sequences.errors import ValidationError
from sequences.leads import lead_json, pending_for, status_filter
from sequences.tasks import log_call
from sequences.workspace import (
    effective_zone,
    hot_list,
    needs_attention,
    period_bounds,
    prospect_json,
    rep_report,
    resume_mailbox,
    step_stats,
)

from ..db import db, rt
from ..errors import json_error, request_json
from . import access

bp = access.guard(Blueprint("api_workspace", __name__, url_prefix="/api/v1"))

MAX_REPORT_DAYS = 366


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@bp.get("/hotlist")
def hotlist() -> Response:
    """Prospects ranked by recent human engagement (a rep's own; a manager's whole team)."""
    user = access.user()
    rows = hot_list(db(), user.team_id, None if user.is_manager else user.id, rt().clock.now())
    lead_status = status_filter(db(), user.team_id, request.args.get("status"))
    if lead_status is not None:
        rows = [(p, heat) for p, heat in rows if p.lead_status == lead_status]
    return jsonify(
        {
            "items": [
                {
                    "prospect": prospect_json(prospect),
                    "score": round(heat.score, 4),
                    "opens": heat.opens,
                    "inferred_opens": sum(heat.inferred.values()),
                    "inferred_opens_from": heat.inferred,
                    "opens_label": heat.opens_words,
                    "clicks": heat.clicks,
                    "document_views": heat.views,
                    "last_at": _iso(heat.last_at),
                    "last_type": heat.last_type,
                }
                for prospect, heat in rows
            ],
            # Leads waiting for the caller's answer come first (sequences/leads).
            "pending_leads": [
                lead_json(lead, prospect) for lead, prospect in pending_for(db(), user.id)
            ],
        }
    )


@bp.get("/attention")
def attention() -> Response:
    """Enrollments stopped or held by a failure, in a rep's words, with the fix and actions."""
    items = needs_attention(db(), access.user())
    return jsonify({"items": [item.to_json() for item in items]})


@bp.post("/enrollments/<int:enrollment_id>/resume-mailbox")
def attention_resume_mailbox(enrollment_id: int) -> Response | tuple[Response, int]:
    """The `resume_mailbox` action of a Needs attention item: resume the paused mailbox the
    enrollment's sequence sends from (its owner or a manager; else 403)."""
    enrollment = access.enrollment(enrollment_id, access.CHANGE)
    try:
        mailbox = resume_mailbox(db(), enrollment, access.user(), rt().clock.now())
    except InvalidTransition as exc:
        db().rollback()
        return json_error(409, str(exc), "mailbox")
    db().commit()
    return jsonify({"mailbox_id": mailbox.id, "from_email": mailbox.from_email, "paused": False})


@bp.post("/prospects/<int:prospect_id>/calls")
def calls_create(prospect_id: int) -> tuple[Response, int]:
    """Log a call with its outcome and notes on the prospect's timeline."""
    prospect = access.prospect(prospect_id, access.CHANGE)
    data = request_json()
    notes = data.get("notes", "")
    if not isinstance(notes, str):
        raise ValidationError("notes: must be a string", field="notes")
    outcome = data.get("outcome")
    if not isinstance(outcome, str):
        raise ValidationError("outcome: required, e.g. connected or voicemail", field="outcome")
    event = log_call(db(), prospect.id, rt().clock.now(), outcome, notes, user_id=access.user().id)
    db().commit()
    return jsonify(
        {"id": event.id, "type": event.type, "at": event.at.isoformat(), **event.data}
    ), 201


@bp.get("/sequences/<int:sequence_id>/stats")
def sequence_stats(sequence_id: int) -> Response:
    """Per step and A/B variant: sent, delivered, human opens, clicks, replies, bounces, unsubscribes."""
    sequence = access.sequence(sequence_id)
    items = []
    for s in step_stats(db(), sequence.id):
        items.append(
            {
                "position": s.position,
                "variant": s.variant,
                "sent": s.sent,
                "delivered": s.delivered,
                "opened": s.opened,
                "clicked": s.clicked,
                "replied": s.replied,
                "bounced": s.bounced,
                "unsubscribed": s.unsubscribed,
                "machine_opened": s.machine_opened,
                "inferred_opened": s.inferred_opened,
                "open_rate": round(s.rate(s.opened), 4),
                "click_rate": round(s.rate(s.clicked), 4),
                "reply_rate": round(s.rate(s.replied), 4),
            }
        )
    return jsonify({"sequence_id": sequence.id, "items": items})


def _day(name: str, default: date) -> date:
    raw = request.args.get(name)
    if raw is None:  # `?start=` (empty) is not a date: a 422, as the document says
        return default
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(f"{name}: a date such as 2026-01-31", field=name) from None
    if not date(2000, 1, 1) <= value <= date(2100, 12, 31):
        raise ValidationError(f"{name}: between 2000 and 2100", field=name)
    return value


def report_period() -> tuple[date, date, datetime, datetime]:
    """A report's ?start=&end= days (inclusive; the last 30 by default), and [begin, finish)."""
    # Days are the caller's, midnight to midnight in their own zone (23 or 25 hours on DST days).
    zone = effective_zone(access.user())
    today = rt().clock.now().astimezone(zone).date()
    end = _day("end", today)
    start = _day("start", end - timedelta(days=29))
    if start > end:
        raise ValidationError("start: must not be after end", field="start")
    if (end - start).days >= MAX_REPORT_DAYS:
        raise ValidationError(f"start: at most {MAX_REPORT_DAYS} days at once", field="start")
    begin, finish = period_bounds(start, end, zone)
    return start, end, begin, finish


@bp.get("/report")
def report() -> Response:
    """Follow-up discipline per rep over [start, end] (days, inclusive; the last 30 by default)."""
    user = access.user()  # a manager (access.RULES)
    start, end, begin, finish = report_period()
    items: list[dict[str, Any]] = [
        {"user_id": r.user_id, **r.row()} for r in rep_report(db(), user.team_id, begin, finish)
    ]
    zone = effective_zone(user).key  # the days run midnight to midnight there
    return jsonify(
        {"start": start.isoformat(), "end": end.isoformat(), "timezone": zone, "items": items}
    )
