"""Error answers: JSON under /api, plain pages elsewhere, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import DataError, IntegrityError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.routing import IntegerConverter

from sequences.errors import Conflict, NotFound, ValidationError

from . import inputs

log = logging.getLogger(__name__)


def json_error(status: int, message: str, field: str | None = None, **extra: object) -> Response:
    # "field" is always there (null when no one field is at fault): clients need not probe.
    body: dict[str, object] = {"error": {"message": message, "field": field or None}}
    body["error"].update(extra)  # type: ignore[attr-defined]
    response = jsonify(body)
    response.status_code = status
    return response


def request_json() -> dict[str, Any]:
    """The request's body as a JSON object, or a 422 naming the body (for every API blueprint).

    The body was read and checked by the input layer (tracker/inputs.py) before the view ran.
    """
    data = inputs.body()
    if not isinstance(data, dict):
        raise ValidationError(
            "body must be a JSON object (Content-Type: application/json)", field="body"
        )
    return data


def optional_json() -> dict[str, Any]:
    """For routes whose body is optional: {} without one, else it must be a JSON object."""
    if not inputs.has_body():
        return {}
    return request_json()  # `null` or a list: a 422, as for any body


def _wants_json() -> bool:
    return request.path.startswith("/api/")


class IdConverter(IntegerConverter):
    """`<int:...>` for ids: one too large for the databases (above 2**31 - 1) is a 404 on every
    method, never a 500 from an integer overflow.

    Werkzeug's own `max=` is not enough: a value over it makes the matcher give up *after*
    it has seen the route's other methods, and that is a 405 for PATCH and DELETE. Raising
    NotFound here ends the matching with a 404 whatever the method.
    """

    MAX_ID = 2**31 - 1

    def to_python(self, value: str) -> int:
        if len(value) > 10 or int(value) > self.MAX_ID:
            raise HTTPNotFound("no such object (the id is out of range)")
        return int(value)


def init_app(app: Flask) -> None:
    # Before any blueprint is registered: rules pick their converters when they are added.
    app.url_map.converters["int"] = IdConverter
    inputs.init_app(app)

    @app.errorhandler(inputs.InputError)
    def refused_input(exc: inputs.InputError) -> Response:
        return json_error(exc.status, exc.message, exc.field)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | tuple[str, int]:
        code = exc.code or 500
        if _wants_json():
            response = json_error(code, exc.description or exc.name)
            # Keep the headers the status needs (Allow on 405, WWW-Authenticate on 401...).
            for name, value in exc.get_headers():
                if name.lower() != "content-type":
                    response.headers[name] = value
            return response
        return render_template("error.html", code=code, name=exc.name), code

    # Domain errors raised outside the API blueprint's own handlers (other blueprints).
    @app.errorhandler(ValidationError)
    def invalid(exc: ValidationError) -> Response | tuple[str, int]:
        if _wants_json():
            extra: dict[str, object] = {"details": exc.details} if exc.details else {}
            return json_error(422, exc.message, exc.field, **extra)
        return render_template("error.html", code=422, name=exc.message), 422

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound) -> Response | tuple[str, int]:
        if _wants_json():
            return json_error(404, str(exc) or "not found")
        return render_template("error.html", code=404, name="Not Found"), 404

    @app.errorhandler(Conflict)
    def conflict(exc: Conflict) -> Response | tuple[str, int]:
        if _wants_json():
            return json_error(409, str(exc))
        return render_template("error.html", code=409, name=str(exc)), 409

    # A write the database refused (a duplicate, a row that vanished meanwhile): the input
    # conflicts with what is stored. Routes check what they can first, with clearer words.
    @app.errorhandler(IntegrityError)
    def refused(exc: IntegrityError) -> Response | tuple[str, int]:
        log.info("integrity error on %s %s: %s", request.method, request.path, exc.orig)
        if _wants_json():
            return json_error(
                409, "conflicts with stored data (a duplicate, or a missing reference)"
            )
        return render_template("error.html", code=409, name="Conflict"), 409

    # A number in a JSON body too big for the database's integer columns.
    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def out_of_range(exc: Exception) -> Response | tuple[str, int]:
        log.info("value out of range on %s %s: %s", request.method, request.path, exc)
        if _wants_json():
            return json_error(422, "a value is out of range (ids and numbers must fit 32 bits)")
        return render_template("error.html", code=422, name="Value out of range"), 422

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response | tuple[str, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return json_error(500, "internal error; it has been logged")
        return render_template("error.html", code=500, name="Something went wrong"), 500
