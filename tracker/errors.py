"""Error answers: JSON under /api, plain pages elsewhere, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def json_error(status: int, message: str, field: str | None = None, **extra: object) -> Response:
    body: dict[str, object] = {"error": {"message": message}}
    if field:
        body["error"]["field"] = field  # type: ignore[index]
    body["error"].update(extra)  # type: ignore[attr-defined]
    response = jsonify(body)
    response.status_code = status
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | tuple[str, int]:
        code = exc.code or 500
        if _wants_json():
            return json_error(code, exc.description or exc.name)
        return render_template("error.html", code=code, name=exc.name), code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response | tuple[str, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return json_error(500, "internal error; it has been logged")
        return render_template("error.html", code=500, name="Something went wrong"), 500
