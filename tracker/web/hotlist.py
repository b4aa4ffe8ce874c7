"""The rep's home page: the hot list, ranked by recent human engagement, updated live by polling."""

from __future__ import annotations

from flask import Blueprint, Response, make_response, render_template, request

from sequences.leads import pending_for
from sequences.tasks import CALL_OUTCOMES
from sequences.workspace import hot_list, needs_attention, version

from ..db import db
from .helpers import now, owner_filter, protect, user

bp = Blueprint("hotlist", __name__)
protect(bp)


def _version() -> str:
    u = user()
    return version(db(), u.team_id, owner_filter(u), now())


@bp.get("/")
def index() -> str:
    u = user()
    rows = hot_list(db(), u.team_id, owner_filter(u), now())
    return render_template(
        "hotlist.html",
        rows=rows,
        version=_version(),
        outcomes=CALL_OUTCOMES,
        pending=pending_for(db(), u.id),  # new leads waiting for this rep's answer, on top
        attention=needs_attention(db(), u),
    )


@bp.get("/hot/fragment")
def fragment() -> Response:
    """The list alone; 304 while no new human signal arrived (a cheap poll every few seconds)."""
    etag = _version()
    if request.headers.get("If-None-Match", "").strip('"') == etag:
        response = make_response("", 304)
    else:
        u = user()
        rows = hot_list(db(), u.team_id, owner_filter(u), now())
        response = make_response(
            render_template("_hotlist_rows.html", rows=rows, outcomes=CALL_OUTCOMES)
        )
    response.headers["ETag"] = f'"{etag}"'
    response.headers["Cache-Control"] = "no-cache, private"
    return response
