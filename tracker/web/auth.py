"""Sign in with email and password, sign out, and the settings page: API keys, time zone."""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from sequences.errors import ValidationError
from sequences.models import ApiKey, User
from sequences.workspace import (
    check_password,
    create_api_key,
    effective_zone,
    recent_failures,
    revoke_api_key,
    set_user_zone,
    zone_names,
)

from .. import throttle
from ..api import access
from ..db import db
from .helpers import csrf_token, now, password_version, protect, safe_next, user

bp = Blueprint("auth", __name__)
protect(bp)

# Checked when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY = User(password_hash="scrypt:32768:8:1$AAAAAAAAAAAAAAAA$" + "0" * 128)


def _refused(target: str, email: str, waiting: timedelta) -> tuple[str, int, dict[str, str]]:
    # The same answer whether the account exists or not: the counters exist for any email.
    error = f"Too many failed attempts from here; try again in {throttle.in_words(waiting)}."
    page = render_template("login.html", next=target, error=error, email=email)
    return page, 429, {"Retry-After": str(throttle.retry_seconds(waiting))}


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | tuple[str, int] | tuple[str, int, dict[str, str]] | WerkzeugResponse:
    target = safe_next(request.values.get("next"), url_for("hotlist.index"))
    if request.method == "GET":
        return render_template("login.html", next=target, error=None, email="")
    email = request.form.get("email", "").strip()[:320]
    password = request.form.get("password", "")[:1000]
    account = email.lower()
    found = db().scalar(select(User).where(User.email == email)) if email else None
    known = throttle.known_device(found)
    # Throttled: refused before the (slow) password check, the same for every account name.
    waiting = throttle.login_wait(account, known)
    if waiting:
        return _refused(target, email, waiting)
    db().commit()  # no database lock held while the password is hashed
    ok = check_password(found or _DUMMY, password) and found is not None
    if not ok or found is None:
        reason = "unknown account" if found is None else "wrong password"
        waiting = throttle.login_failed(account, found, reason, known)
        if waiting:  # parallel guesses took the last free slots first
            return _refused(target, email, waiting)
        return render_template(
            "login.html", next=target, error="Wrong email or password.", email=email
        ), 401
    # Checked again after the password: guesses running beside this one may have used up the
    # client's free attempts, and a right guess past the limit must look like any refusal.
    waiting = throttle.login_wait(account, known)
    if waiting:
        return _refused(target, email, waiting)
    throttle.login_succeeded(account)
    # A fresh session on sign-in: no fixation, and a new CSRF token.
    session.clear()
    session["uid"] = found.id
    session["pwv"] = password_version(found)
    session.permanent = True
    csrf_token()
    response = redirect(target)
    throttle.remember_device(response, found)  # this browser: not held back by others' guesses
    return response


@bp.post("/logout")
def logout() -> WerkzeugResponse:
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/settings")
def settings() -> str:
    return _settings_page(None)


def _settings_page(
    new_key: str | None, zone_error: str | None = None, zone_value: str | None = None
) -> str:
    keys = db().scalars(
        select(ApiKey).where(ApiKey.user_id == user().id).order_by(ApiKey.created_at.desc())
    )
    me = user()
    # Managers (and admins) see their team's failed sign-ins; a rep sees no one else's.
    failures = recent_failures(db(), me) if me.is_manager or me.is_admin else None
    return render_template(
        "settings.html",
        keys=list(keys),
        new_key=new_key,
        failures=failures,
        zone_names=zone_names(),
        zone_error=zone_error,
        zone_value=zone_value,
    )


@bp.post("/settings/timezone")
def timezone_update() -> WerkzeugResponse | tuple[str, int]:
    """Set the user's own time zone; empty follows the team's. A bad name changes nothing."""
    raw = request.form.get("timezone", "")
    try:
        set_user_zone(db(), user(), raw.strip())
    except ValidationError as exc:
        db().rollback()
        return _settings_page(None, zone_error=exc.message, zone_value=raw[:64]), 422
    db().commit()
    flash(f"Time zone saved: {effective_zone(user()).key}.", "ok")
    return redirect(url_for("auth.settings") + "#timezone")


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
