"""The rep's web workspace: server-rendered pages behind a login, one blueprint per page family."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, send_from_directory

STATIC = Path(__file__).resolve().parent / "static"


def init_app(app: Flask) -> None:
    """Register the workspace's blueprints, template helpers and static files."""
    from . import auth, helpers, hotlist, leads, prospects, report, sequences_ui, tasks

    assets = Blueprint("assets", __name__, static_folder=str(STATIC), static_url_path="/static")

    @assets.get("/favicon.ico")
    def favicon() -> Response:
        # Pages link the SVG; this answers browsers (and JSON pages) that ask by the old name.
        return send_from_directory(STATIC, "favicon.svg", mimetype="image/svg+xml", max_age=86400)

    app.register_blueprint(assets)
    helpers.init_app(app)
    for module in (auth, hotlist, prospects, tasks, sequences_ui, report, leads):
        app.register_blueprint(module.bp)
