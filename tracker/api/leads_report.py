"""GET /api/v1/leads/report: the manager's view of the lead process over a period."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from sequences.leads import lead_report, report_json
from sequences.workspace import effective_zone

from ..db import db
from . import access, helpers
from .workspace import report_period

bp = access.guard(Blueprint("api_leads_report", __name__, url_prefix="/api/v1"))


@bp.get("/leads/report")
def leads_report() -> Response:
    """The pool now, each rep's leads now, and the period's hand-overs and speed to lead."""
    user = access.user()  # a manager (access.RULES)
    start, end, begin, finish = report_period()
    now = helpers.now()
    body = report_json(lead_report(db(), user.team_id, begin, finish, now), now)
    zone = effective_zone(user).key  # the period's days run midnight to midnight there
    return jsonify({"start": start.isoformat(), "end": end.isoformat(), "timezone": zone, **body})
