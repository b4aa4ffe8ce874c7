"""GET /metrics: Prometheus text, behind a bearer token; 404 when FOLLOWUP_METRICS_TOKEN is unset."""

from __future__ import annotations

import hmac
import os

from flask import Blueprint, Response, abort, request

from sequences.metrics import DatabaseCollector

from .db import rt

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    runtime = rt()
    token = runtime.settings.metrics_token
    if not token:
        abort(404)  # nothing leaks by default
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response(
            "metrics: a bearer token is required (FOLLOWUP_METRICS_TOKEN)\n",
            401,
            {"WWW-Authenticate": "Bearer", "Content-Type": "text/plain"},
        )
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # every worker
    else:
        for collector in list(REGISTRY._collector_to_names):
            registry.register(collector)
    registry.register(
        DatabaseCollector(
            runtime.sessions, runtime.settings.instance_path / "spool", runtime.clock.now
        )
    )
    return Response(generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST})
