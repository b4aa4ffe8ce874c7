"""GET /metrics: Prometheus text behind a bearer token; 404 when FOLLOWUP_METRICS_TOKEN is unset
or when FOLLOWUP_METRICS_BIND serves it on an admin listener instead (tracker/metrics_admin.py)."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, request

from sequences.metrics import scrape_registry

from .db import rt

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    runtime = rt()
    token = runtime.settings.metrics_token
    if not token or runtime.settings.metrics_bind:
        abort(404)  # nothing leaks by default, nor on the public port beside an admin one
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response(
            "metrics: a bearer token is required (FOLLOWUP_METRICS_TOKEN)\n",
            401,
            {"WWW-Authenticate": "Bearer", "Content-Type": "text/plain"},
        )
    registry = scrape_registry(
        runtime.sessions, runtime.settings.instance_path / "spool", runtime.clock.now
    )
    return Response(generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST})
