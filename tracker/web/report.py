"""The manager's report: follow-up discipline and the lead process per rep over a chosen period,
as a page and a CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

from flask import Blueprint, Response, render_template, request

from sequences.leads import LeadReport, RepLeads, lead_report
from sequences.workspace import RepReport, period_bounds, rep_report

from ..db import db
from .helpers import now, protect, user, zone

bp = Blueprint("report", __name__)
protect(bp)

DEFAULT_DAYS = 30
PATHS_SHOWN = 10  # the chart's paths; the CSV has them all
MAX_DAYS = 366


def period() -> tuple[date, date, str | None]:
    """The [start, end] days asked for (inclusive), the last 30 days by default."""
    today = now().astimezone(zone()).date()  # the manager's today, in their own zone
    error = None
    try:
        end = date.fromisoformat(request.args.get("end") or today.isoformat())
        start = date.fromisoformat(
            request.args.get("start") or (end - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        )
    except ValueError:
        end, start = today, today - timedelta(days=DEFAULT_DAYS - 1)
        error = "Dates must look like 2026-01-31; showing the last 30 days."
    earliest, latest = date(2000, 1, 1), date(2100, 12, 31)
    if not (earliest <= start <= latest and earliest <= end <= latest):
        end, start = today, today - timedelta(days=DEFAULT_DAYS - 1)
        error = "Dates must lie between 2000 and 2100; showing the last 30 days."
    if start > end:
        start, end = end, start
    if (end - start).days >= MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS - 1)
        error = f"At most {MAX_DAYS} days at once."
    return start, end, error


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period's days from midnight to midnight in the manager's zone (DST days included)."""
    return period_bounds(start, end, zone())


def _rows(start: date, end: date) -> list[RepReport]:
    return rep_report(db(), user().team_id, *_bounds(start, end))


def _leads(start: date, end: date) -> LeadReport:
    return lead_report(db(), user().team_id, *_bounds(start, end), now())


@bp.get("/report")  # managers only (access.RULES)
def index() -> str:
    start, end, error = period()
    reps = _rows(start, end)
    most = max((r.touches_per_prospect for r in reps), default=0.0)
    leads = _leads(start, end)
    # The speed-to-lead chart: reps who had a lead in the period, scaled to the slowest p90.
    speed = [r for r in leads.reps if r.assigned]
    slowest = max((r.p90_minutes or 0.0 for r in speed), default=0.0)
    paths = leads.status_paths[:PATHS_SHOWN]
    return render_template(
        "report.html",
        reps=reps,
        start=start,
        end=end,
        error=error,
        most=max(most, 1.0),
        leads=leads,
        speed=speed,
        slowest=max(slowest, 1.0),
        pool_age=leads.pool_age_hours(now()),
        paths=paths,
        most_paths=max((p.converted for p in paths), default=1),
        rep_paths=[(r, p) for r in leads.reps for p in r.status_paths],
    )


def _cell(value: object) -> object:
    """Text a spreadsheet would run as a formula is quoted (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _paths_csv(start: date, end: date) -> str:
    """Conversions by status path: one row for the team and one per rep for each path."""
    leads = _leads(start, end)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["period_start", "period_end", "rep", "path", "converted", "entered", "conversion_rate"]
    )
    for rep_name, figures in [
        ("(team)", leads.status_paths),
        *((r.name, r.status_paths) for r in leads.reps),
    ]:
        for f in figures:
            path = " > ".join(f.path)
            row = [start, end, rep_name, path, f.converted, f.entered, round(f.rate, 4)]
            writer.writerow([_cell(v) for v in row])
    return out.getvalue()


@bp.get("/report.csv")  # managers only
def export() -> Response:
    start, end, _error = period()
    if request.args.get("table") == "status_paths":
        return Response(
            _paths_csv(start, end),
            mimetype="text/csv",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="followup-status-paths-{start}-{end}.csv"'
                )
            },
        )
    reps = _rows(start, end)
    leads = _leads(start, end)
    by_user = {r.user_id: r for r in leads.reps}
    age = leads.pool_age_hours(now())
    pool = {
        "pool_size": leads.pool_size,
        "pool_oldest_age_hours": None if age is None else round(age, 1),
        "pool_waiting_over_24h": leads.pool_over_day,
    }
    out = io.StringIO()
    columns = list(RepReport(0, "").row())
    # One row per rep: the discipline figures, then the lead figures (prefixed lead_), then the
    # team's pool (the same on every row, as the period is).
    lead_columns = [f"lead_{k}" for k in RepLeads(0, "").row() if k != "rep"]
    writer = csv.DictWriter(
        out, fieldnames=["period_start", "period_end", *columns, *lead_columns, *pool]
    )
    writer.writeheader()
    for rep in reps:
        row = {k: _cell(v) for k, v in rep.row().items()}
        lead = by_user.get(rep.user_id, RepLeads(rep.user_id, rep.name)).row()
        lead_row = {f"lead_{k}": v for k, v in lead.items() if k != "rep"}
        writer.writerow({"period_start": start, "period_end": end, **row, **lead_row, **pool})
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="followup-report-{start}-{end}.csv"'
        },
    )
