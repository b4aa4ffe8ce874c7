"""The public web form endpoint: a website's contact form posts new leads into the team's pool."""

from __future__ import annotations

from flask import Blueprint, Response, make_response

from sequences.errors import Conflict, NotFound, ValidationError
from sequences.leads import submit_form

from .db import db, rt

bp = Blueprint("leadform", __name__)

THANKS = "<!doctype html><title>Thank you</title><p>Thank you, we will be in touch shortly.</p>"


def _page(status: int, text: str) -> Response:
    response = make_response(text, status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response


@bp.post("/forms/leads/<form_key>")
def form_post(form_key: str) -> Response:
    """application/x-www-form-urlencoded or multipart; the hidden `website` field is the
    honeypot: a bot that fills it gets the same thanks, and nothing is stored."""
    from flask import request

    if len(form_key) > 64:
        return _page(404, "<p>No such form.</p>")
    try:
        submit_form(db(), form_key, request.form.to_dict(), rt().clock.now())
        db().commit()
    except NotFound:
        db().rollback()
        return _page(404, "<p>No such form.</p>")
    except (ValidationError, Conflict) as exc:
        db().rollback()
        message = exc.message if isinstance(exc, ValidationError) else str(exc)
        return _page(422, f"<p>Please check the form: {_escape(message)}</p>")
    return _page(200, THANKS)


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))
