"""GET /healthz: is the database reachable, and the broker?"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from .db import rt

bp = Blueprint("health", __name__)


def _broker_status(redis_url: str | None) -> str:
    if not redis_url:
        return "in-process"
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


@bp.get("/healthz")
def healthz() -> Response:
    runtime = rt()
    checks: dict[str, str] = {}
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not healthy", and we say which
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        checks["broker"] = _broker_status(runtime.settings.redis_url)
    except Exception as exc:
        checks["broker"] = f"error: {type(exc).__name__}"
    healthy = all(v in ("ok", "in-process") for v in checks.values())
    response = jsonify({"status": "ok" if healthy else "unavailable", **checks})
    response.status_code = 200 if healthy else 503
    return response
