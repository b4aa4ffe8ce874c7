"""The application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from sequences import runtime
from sequences.config import load_settings

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. `config` may carry RUNTIME (tests, `followup run`) and Flask settings."""
    config = dict(config or {})
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

    from . import (
        api,
        api_digest,
        api_documents,
        api_sequences,
        api_webhooks,
        api_workspace,
        db,
        errors,
        health,
        inbound,
        openapi,
        track,
        web,
    )

    db.init_app(app)
    errors.init_app(app)
    for blueprint in (
        track.bp,  # pixel, clicks, documents, unsubscribe (no login)
        health.bp,
        api.bp,  # prospects, sequences, enrollments, activity, events
        api_sequences.bp,  # bulk enrollment, tasks
        api_documents.bp,
        api_workspace.bp,  # hot list, calls, step statistics, report
        inbound.bp,  # POST /api/v1/inbound (raw email webhook), the inbound list
        api_webhooks.bp,
        api_digest.bp,
        openapi.bp,  # /api/v1/openapi.json
    ):
        app.register_blueprint(blueprint)
    web.init_app(app)  # the rep's workspace pages
    return app
