"""Sign in with email and password, sign out, and the settings page that manages API keys."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from sequences.models import ApiKey, User
from sequences.workspace import check_password, create_api_key, revoke_api_key

from ..api import access
from ..db import db
from .helpers import csrf_token, now, password_version, protect, safe_next, user

bp = Blueprint("auth", __name__)
protect(bp)

# Checked when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY = User(password_hash="scrypt:32768:8:1$AAAAAAAAAAAAAAAA$" + "0" * 128)
# Password guessing: after this many failures for one email within the window, that email is
# refused for the rest of the window. Kept per app in memory (gunicorn workers each count),
# which bounds guessing without a table; the user's API keys are unaffected.
MAX_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=15)


class Failures:
    """Failed sign-ins per email, in one process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[datetime]] = {}

    def recent(self, email: str, at: datetime) -> int:
        with self.lock:
            kept = [t for t in self.times.get(email, []) if at - t < FAILURE_WINDOW]
            if kept:
                self.times[email] = kept
            else:
                self.times.pop(email, None)
            if len(self.times) > 10_000:  # bounded memory whatever is thrown at it
                self.times.clear()
            return len(kept)

    def add(self, email: str, at: datetime) -> None:
        with self.lock:
            self.times.setdefault(email, []).append(at)


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    state.app.extensions["followup.login_failures"] = Failures()


def _failures() -> Failures:
    failures: Failures = current_app.extensions["followup.login_failures"]
    return failures


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | tuple[str, int] | WerkzeugResponse:
    target = safe_next(request.values.get("next"), url_for("hotlist.index"))
    if request.method == "GET":
        return render_template("login.html", next=target, error=None, email="")
    email = request.form.get("email", "").strip()[:320]
    password = request.form.get("password", "")[:1000]
    at = now()
    if _failures().recent(email.lower(), at) >= MAX_FAILURES:
        error = "Too many failed attempts for this email; try again in 15 minutes."
        return render_template("login.html", next=target, error=error, email=email), 429
    found = db().scalar(select(User).where(User.email == email)) if email else None
    ok = check_password(found or _DUMMY, password) and found is not None
    if not ok or found is None:
        _failures().add(email.lower(), at)
        return render_template(
            "login.html", next=target, error="Wrong email or password.", email=email
        ), 401
    # A fresh session on sign-in: no fixation, and a new CSRF token.
    session.clear()
    session["uid"] = found.id
    session["pwv"] = password_version(found)
    session.permanent = True
    csrf_token()
    return redirect(target)


@bp.post("/logout")
def logout() -> WerkzeugResponse:
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/settings")
def settings() -> str:
    return _settings_page(None)


def _settings_page(new_key: str | None) -> str:
    keys = db().scalars(
        select(ApiKey).where(ApiKey.user_id == user().id).order_by(ApiKey.created_at.desc())
    )
    return render_template("settings.html", keys=list(keys), new_key=new_key)


@bp.post("/settings/keys")
def key_create() -> str:
    name = request.form.get("name", "").strip()[:200]
    key = create_api_key(db(), user(), now(), name=name)
    db().commit()
    # Shown once, in this response only: it is never stored in the clear.
    return _settings_page(key)


@bp.post("/settings/keys/<int:key_id>/revoke")
def key_revoke(key_id: int) -> WerkzeugResponse:
    row = access.api_key(key_id, access.CHANGE)
    revoke_api_key(db(), row, now())
    db().commit()
    return redirect(url_for("auth.settings"))
