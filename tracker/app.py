"""The application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from sequences import aftermath, runtime
from sequences.config import load_settings

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. `config` may carry RUNTIME (tests, `followup run`) and Flask settings."""
    config = dict(config or {})
    aftermath.wire()  # what follows every event this process records (webhooks, lead statuses)
    rt = config.pop("RUNTIME", None)
    if rt is None:
        rt = runtime.build(load_settings())
        runtime.install(rt)
    app = Flask(__name__, template_folder=str(TEMPLATES / "pages"), static_folder=None)
    app.config.update(
        SECRET_KEY=rt.settings.secret_key,
        MAX_CONTENT_LENGTH=rt.settings.inbound_max_bytes + 1024 * 1024,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=rt.settings.base_url.startswith("https://"),
    )
    app.config.update(config)
    app.extensions["followup"] = rt
    if rt.settings.trusted_proxies:
        # The last N X-Forwarded-For entries were written by our own proxies; the one before
        # them is the client (what the sign-in and API key throttles count). Earlier entries,
        # which the client may have written itself, are never read.
        n = rt.settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]

    from . import db, errors, headers, health, hits, leadform, metrics, requestid, web
    from .api import access, blueprints

    requestid.init_app(app)  # X-Request-Id, and the id on every log line of the request
    db.init_app(app)
    errors.init_app(app)
    access.init_app(app)  # who may call each route, and see which object
    headers.init_app(app)  # CSP, framing, sniffing, referrer, HSTS on every answer
    for blueprint in (
        hits.bp,  # pixel, clicks, documents, unsubscribe (no login)
        health.bp,
        metrics.bp,  # GET /metrics, behind FOLLOWUP_METRICS_TOKEN
        leadform.bp,  # POST /forms/leads/<key>: a website's form into the lead pool
        *blueprints(),
    ):
        app.register_blueprint(blueprint)
    web.init_app(app)  # the rep's workspace pages
    return app
