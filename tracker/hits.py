"""Tracking routes: the open pixel, click redirects, shared documents, one-click unsubscribe. No login.

Opens, clicks and document views are checked (signed token, no database), appended to the
local spool and answered at once. The spool is written to the database in batches within
about a second, with backoff while the database is down, by `followup spool drain
--forever` beside gunicorn under `followup web` (tracker/gunicorn_conf.py), or else by a drainer
thread in each web process, woken by each hit. Either also picks up what a dead or restarted
process left behind. Under TESTING the request drains inline, so tests read at once.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, g, render_template, request
from flask.blueprints import BlueprintSetupState
from flask.sessions import SessionInterface
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response as WerkzeugResponse

from sequences.metrics import count_request
from sequences.runtime import Runtime
from sequences.tracking import (
    Drainer,
    Spool,
    destinations,
    document_for,
    hit_line,
    read_token,
    spool_writer,
    stored_destination,
    unsubscribe,
    unsubscribe_target,
)

from .db import db, rt
from .headers import fixed_headers

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
_GIF_HEADERS = [
    *NO_STORE.items(),
    ("Content-Type", "image/gif"),
    ("Content-Length", str(len(GIF))),
]
_REDIRECT_HEADERS = [
    *NO_STORE.items(),
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Length", "0"),
]
# Tracking URLs are matched as sent: no slash-merging or trailing-slash redirects, so no
# request to a tracking path is ever answered with a redirect we did not store.
EXACT: dict[str, Any] = {"merge_slashes": False, "strict_slashes": False}
# Document types a browser may show inline; anything else is downloaded, never rendered here.
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "text/plain"})


class Tracking:
    """Per-app tracking state: the spool, its drainer, and a small cache of link destinations."""

    def __init__(self, app: Any) -> None:
        runtime = app.extensions["followup"]
        self.spool = Spool(
            runtime.settings.instance_path / "spool",
            fsync=bool(app.config.get("TRACKING_SPOOL_FSYNC", runtime.settings.spool_fsync)),
        )
        # The session factory is looked up at each write, so a runtime's database can be swapped.
        self.drainer = Drainer(
            self.spool,
            spool_writer(lambda: runtime.sessions(), runtime.settings.secret_keys),
        )
        # `followup web` drains from a separate, lower-priority process (FOLLOWUP_SPOOL_DRAIN).
        own_thread = not app.testing and runtime.settings.spool_drain == "thread"
        self.thread = bool(app.config.get("TRACKING_DRAIN_THREAD", own_thread))
        # Tests read the timeline right after a hit, and the test client never closes responses.
        self.inline = bool(app.config.get("TRACKING_DRAIN_INLINE", app.testing))
        self.interval = float(app.config.get("TRACKING_DRAIN_INTERVAL", 0.2))
        self._pid = 0
        self._lock = threading.Lock()
        self.links: dict[tuple[str, int], str] = {}

    def ensure_thread(self) -> None:
        """Start this process's drainer thread (once per process: gunicorn forks workers)."""
        if not self.thread or self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self.drainer.start(self.interval)
                self._pid = os.getpid()

    def remember(self, key: tuple[str, int], url: str) -> None:
        if len(self.links) >= 10_000:
            self.links.clear()  # crude, but bounded; a miss costs one indexed query
        self.links[key] = url


class _NoCookieForHits(SessionInterface):
    """Pixels, clicks and documents never read or set a cookie: skip opening (and verifying) one.

    Flask opens the signed-cookie session on every request; for a 43-byte GIF that is a good
    part of the work. Every other path keeps the app's own session interface.
    """

    def __init__(self, inner: SessionInterface) -> None:
        self.inner = inner

    def open_session(self, app: Any, request: Any) -> Any:
        if request.path.startswith(("/o/", "/c/", "/d/")):
            return self.make_null_session(app)
        return self.inner.open_session(app, request)

    def save_session(self, app: Any, session: Any, response: Any) -> None:
        self.inner.save_session(app, session, response)


def tracking() -> Tracking:
    state: Tracking = current_app.extensions["followup.tracking"]
    return state


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    app: Any = state.app
    tracking_ = app.extensions["followup.tracking"] = Tracking(app)
    app.session_interface = _NoCookieForHits(app.session_interface)
    app.wsgi_app = HitFront(app, app.wsgi_app)
    if tracking_.thread:  # only then is there a thread to start (not under `followup web`)
        app.before_request(_drainer_thread)


def _drainer_thread() -> None:
    tracking().ensure_thread()


def _keep(
    state: Tracking,
    runtime: Runtime,
    kind: str,
    token: str,
    environ: dict[str, Any],
    url: str | None = None,
) -> None:
    """Keep the hit durably on disk; the drainer writes it to the database in a batch."""
    # The line straight from the WSGI environ (as request.method, .remote_addr and .headers
    # read them), without a Request, a dict or json.dumps on the way: the pixel's hot path.
    state.spool.append_line(
        hit_line(
            kind,
            token,
            runtime.clock.now(),
            method=environ.get("REQUEST_METHOD", "GET").upper(),
            ip=environ.get("REMOTE_ADDR"),
            user_agent=environ.get("HTTP_USER_AGENT", ""),
            truncate=runtime.settings.ip_truncate,
            url=url,
        )
    )
    if state.inline:
        state.drainer.drain_once()
    else:
        # The drainer thread writes in batches: one transaction for many hits (group commit).
        state.drainer.kick()


def _spool(kind: str, token: str, response: WerkzeugResponse, url: str | None = None) -> None:
    """`_keep` from a Flask view."""
    state = tracking()
    if state.inline and "db" in g:
        g.db.commit()  # end the request's transaction first (SQLite locks at BEGIN)
    _keep(state, rt(), kind, token, request.environ, url)


def _gif() -> Response:
    return Response(GIF, mimetype="image/gif", headers=NO_STORE)


def _not_found() -> tuple[str, int]:
    """A broken or tampered tracking link: a page that says so (404, never a redirect)."""
    return render_template("broken_link.html"), 404


def _unavailable() -> tuple[str, int, dict[str, str]]:
    page = render_template(
        "error.html", code=503, name="This link will work again in a minute; please retry"
    )
    return page, 503, {"Retry-After": "60", **NO_STORE}


def _open(app: Any, token: str, environ: dict[str, Any]) -> None:
    """Record an open if the token is ours; never raises (the GIF is answered regardless)."""
    state: Tracking = app.extensions["followup.tracking"]
    runtime: Runtime = app.extensions["followup"]
    try:
        state.ensure_thread()
        if read_token(runtime.settings.secret_keys, token, "o") is not None:
            _keep(state, runtime, "open", token, environ)
    except Exception:
        log.exception("could not spool an open")


class HitFront:
    """The pixel and the signed click, answered in front of Flask's dispatch.

    They are most of the requests a tracking server gets (every open, every proxy refetch,
    every scanner), and the cheapest to answer: a cached token check and one line appended
    to the spool. Flask's request machinery (a request and an app context, URL matching,
    the session interface, the hooks) cost more than that work itself. Only a well-formed
    GET or HEAD of `/o/<token>.gif` or `/c/<token>/<blob>` is answered here, exactly as the
    routes below would answer it; everything else (a bad or unsigned click, a click that
    needs the database, documents, unsubscribes, odd methods) goes on to Flask.
    """

    def __init__(self, app: Any, inner: Any) -> None:
        self.app = app
        self.inner = inner
        # The security headers every answer of the app carries (tracker/headers.py), once.
        secure = fixed_headers(app.extensions["followup"].settings.base_url)
        self.gif_headers = [*_GIF_HEADERS, *secure]
        self.redirect_headers = [*_REDIRECT_HEADERS, *secure]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        method = environ.get("REQUEST_METHOD")
        if method == "GET" or method == "HEAD":
            path: str = environ.get("PATH_INFO", "")
            answer: tuple[str, list[tuple[str, str]], bytes] | None = None
            if path.startswith("/o/") and path.endswith(".gif") and "/" not in path[3:-4]:
                answer = self._pixel(path[3:-4], environ)
            elif path.startswith("/c/"):
                token, slash, blob = path[3:].partition("/")
                if slash and "/" not in blob:
                    answer = self._click(token, blob, environ)
            if answer is not None:
                count_request("pixel" if path.startswith("/o/") else "click")
                status, headers, body = answer
                start_response(status, headers)
                return [body] if method == "GET" else []
        count_request("app")
        return self.inner(environ, start_response)

    def _pixel(
        self, token: str, environ: dict[str, Any]
    ) -> tuple[str, list[tuple[str, str]], bytes] | None:
        if not token:
            return None
        _open(self.app, token, environ)
        return "200 OK", self.gif_headers, GIF

    def _click(
        self, token: str, blob: str, environ: dict[str, Any]
    ) -> tuple[str, list[tuple[str, str]], bytes] | None:
        runtime: Runtime = self.app.extensions["followup"]
        keys = runtime.settings.secret_keys
        if not blob or read_token(keys, token, "c") is None:
            return None  # Flask answers the 404 page
        url = destinations.read(keys, token, blob)
        location = _redirectable(url) if url is not None else None
        if location is None:
            return None
        state: Tracking = self.app.extensions["followup.tracking"]
        try:
            state.ensure_thread()
            _keep(state, runtime, "click", token, environ)
        except Exception:
            # The person still gets where they were going; the log says what was not kept.
            log.exception("could not spool a click")
        return "302 FOUND", [("Location", location), *self.redirect_headers], b""


@bp.route("/o/<token>.gif", methods=["GET", "HEAD"], **EXACT)
def pixel(token: str) -> Response:
    """Always the GIF: the email must render whatever happens behind it. (HitFront answers
    it first; this is the same answer for an app served without it.)"""
    _open(current_app, token, request.environ)
    return _gif()


@bp.route("/o/<path:anything>", methods=["GET", "HEAD"], **EXACT)
def pixel_fallback(anything: str) -> Response:
    return _gif()


@functools.lru_cache(maxsize=4096)
def _redirectable(url: str) -> str | None:
    """The URL as a Location header value, if it is an http(s) URL without control characters."""
    if not url.lower().startswith(("http://", "https://")):
        return None
    location = iri_to_uri(url)
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in location):
        return None
    return location


@bp.route("/c/<token>", methods=["GET", "HEAD"], defaults={"blob": None}, **EXACT)
@bp.route("/c/<token>/<blob>", methods=["GET", "HEAD"], **EXACT)
def click(token: str, blob: str | None) -> Any:
    """302 to the destination stored at send time; nothing from the request picks it."""
    keys = rt().settings.secret_keys
    data = read_token(keys, token, "c")
    if data is None:
        return _not_found()
    if blob is not None:
        url = destinations.read(keys, token, blob)  # signed with the token at send time
    else:
        state = tracking()
        url = state.links.get((data.token_id, data.position))
        if url is None:
            try:
                url = stored_destination(db(), data)
            except SQLAlchemyError:
                log.warning("click: database unavailable and destination not cached")
                page, status, headers = _unavailable()
                response = Response(page, status, headers, mimetype="text/html")
                _spool("click", token, response)
                return response
            if url is not None:
                state.remember((data.token_id, data.position), url)
    location = _redirectable(url) if url is not None else None
    if location is None:
        return _not_found()
    response = Response(status=302, headers={"Location": location, **NO_STORE})
    _spool("click", token, response)  # the writer reads the URL from the links table
    return response


@bp.route("/c/<path:anything>", methods=["GET", "HEAD"], **EXACT)
def click_fallback(anything: str) -> Any:
    """A click link with a segment too many (or cut into pieces) is broken too."""
    return _not_found()


@bp.route("/d/<token>", methods=["GET", "HEAD"], **EXACT)
def document(token: str) -> Any:
    """Serve a shared file and record that it was viewed."""
    keys = rt().settings.secret_keys
    if read_token(keys, token, "d") is None:
        return _not_found()
    try:
        found = document_for(db(), keys, token)
        if found is None:
            return _not_found()
        _message, doc = found
        content = doc.content
    except SQLAlchemyError:
        log.warning("document: database unavailable")
        return _unavailable()
    inline = doc.content_type in INLINE_TYPES
    disposition = "inline" if inline else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(doc.name, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        **NO_STORE,
    }
    response = Response(
        content,
        headers=headers,
        mimetype=doc.content_type if inline else "application/octet-stream",
    )
    _spool("document", token, response)
    return response


@bp.get("/u/<token>", **EXACT)
def unsubscribe_page(token: str) -> Any:
    """A GET only shows the page: security scanners follow links and must not unsubscribe."""
    if read_token(rt().settings.secret_keys, token, "u") is None:
        return _not_found()
    return render_template("unsubscribe.html", token=token, done=False)


@bp.post("/u/<token>", **EXACT)
def unsubscribe_post(token: str) -> Any:
    """RFC 8058 one-click (List-Unsubscribe=One-Click) and the page's button alike; no redirect."""
    session = db()
    try:
        message = unsubscribe_target(session, rt().settings.secret_keys, token)
        if message is None:
            return _not_found()
        one_click = request.form.get("List-Unsubscribe") == "One-Click"
        unsubscribe(session, message, rt().clock.now(), via="one-click" if one_click else "page")
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.warning("unsubscribe: database unavailable")
        return _unavailable()
    return render_template("unsubscribe.html", token=token, done=True), 200
