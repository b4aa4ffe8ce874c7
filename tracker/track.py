"""Tracking routes: the open pixel, click redirects, one-click unsubscribe. No login."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, redirect, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from sequences.tracking import Request, record_click, record_open, unsubscribe, unsubscribe_target

from .db import db, rt

log = logging.getLogger(__name__)
bp = Blueprint("track", __name__)

# The smallest transparent GIF (43 bytes).
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
NO_STORE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0, private",
    "Pragma": "no-cache",
    "Expires": "0",
}


def _request() -> Request:
    return Request(
        method=request.method,
        ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent", "")[:1000],
    )


def _gif() -> Response:
    return Response(GIF, mimetype="image/gif", headers=NO_STORE)


@bp.route("/o/<token>.gif", methods=["GET", "HEAD"])
def pixel(token: str) -> Response:
    """Always the GIF: the email must render whatever happens behind it."""
    runtime = rt()
    try:
        session = db()
        event = record_open(
            session,
            runtime.settings.secret_keys,
            token,
            _request(),
            runtime.clock.now(),
            truncate=runtime.settings.ip_truncate,
        )
        if event is not None:
            session.commit()
    except Exception:
        log.exception("could not record open")
    return _gif()


@bp.route("/o/<path:anything>", methods=["GET", "HEAD"])
def pixel_fallback(anything: str) -> Response:
    return _gif()


@bp.route("/c/<token>", methods=["GET", "HEAD"])
def click(token: str) -> WerkzeugResponse:
    """302 to the destination stored at send time; nothing from the request picks it."""
    runtime = rt()
    session = db()
    found = record_click(
        session,
        runtime.settings.secret_keys,
        token,
        _request(),
        runtime.clock.now(),
        truncate=runtime.settings.ip_truncate,
    )
    if found is None:
        abort(404)
    session.commit()
    _event, url = found
    response = redirect(url, code=302)
    response.headers.update(NO_STORE)
    return response


@bp.get("/u/<token>")
def unsubscribe_page(token: str) -> str | tuple[str, int]:
    """A GET only shows the page: security scanners follow links and must not unsubscribe."""
    message = unsubscribe_target(db(), rt().settings.secret_keys, token)
    if message is None:
        return render_template("error.html", code=404, name="This link is not valid"), 404
    return render_template("unsubscribe.html", token=token, done=False)


@bp.post("/u/<token>")
def unsubscribe_post(token: str) -> tuple[str, int]:
    """RFC 8058 one-click (List-Unsubscribe=One-Click) and the page's button alike."""
    session = db()
    message = unsubscribe_target(session, rt().settings.secret_keys, token)
    if message is None:
        return render_template("error.html", code=404, name="This link is not valid"), 404
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    unsubscribe(session, message, rt().clock.now(), via="one-click" if one_click else "page")
    session.commit()
    return render_template("unsubscribe.html", token=token, done=True), 200
