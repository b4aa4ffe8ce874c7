"""What every page needs: the signed-in user, access checks, CSRF tokens and time filters."""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, g, redirect, request, session, url_for
from sqlalchemy import or_, select
from werkzeug.wrappers import Response as WerkzeugResponse

from sequences.models import Prospect, User

from ..db import db, rt

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def current_user() -> User | None:
    """The signed-in user, loaded once per request."""
    if "web_user" not in g:
        user_id = session.get("uid")
        user = db().get(User, user_id) if isinstance(user_id, int) else None
        # A changed password invalidates every older session: the cookie carries its version.
        if user is not None and session.get("pwv") != password_version(user):
            user = None
        g.web_user = user
    found: User | None = g.web_user
    return found


def password_version(user: User) -> str:
    return (user.password_hash or "")[-12:]


def user() -> User:
    """The signed-in user of a page that requires one."""
    found = current_user()
    if found is None:
        abort(401)
    return found


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _csrf_ok() -> bool:
    expected = session.get("csrf")
    given = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    return isinstance(expected, str) and hmac.compare_digest(expected, given)


def protect(bp: Blueprint, *, public: tuple[str, ...] = ()) -> None:
    """Every route of `bp` needs a signed-in user (except `public` endpoints) and every
    state-changing request a CSRF token matching the session's."""

    @bp.before_request
    def _guard() -> WerkzeugResponse | None:
        if request.method not in ("GET", "HEAD", "OPTIONS") and not _csrf_ok():
            abort(400, description="The form expired or did not come from this site; reload it.")
        if request.endpoint in public:
            return None
        if current_user() is None:
            if request.method == "GET":
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            abort(401)
        return None


def manager_only(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not user().is_manager:
            abort(403, description="Only managers can see this page.")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def owner_filter(u: User) -> int | None:
    """None for a manager (the whole team), else the rep's own id."""
    return None if u.is_manager else u.id


def can_see(u: User, prospect: Prospect) -> bool:
    return u.is_manager or prospect.owner_id in (None, u.id)


MAX_ID = 2**31 - 1  # ids beyond a 32-bit integer cannot exist (and PostgreSQL refuses them)


def row_id(raw: object) -> int | None:
    """A form or URL value as a row id, or None when it cannot be one."""
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 10:
        value = int(raw)
    else:
        return None
    return value if 0 < value <= MAX_ID else None


def get_or_404(model: type[T], raw_id: object) -> T:
    found_id = row_id(raw_id)
    found = db().get(model, found_id) if found_id is not None else None
    if found is None:
        abort(404)
    return found


def visible_prospect(prospect_id: int) -> Prospect:
    """A prospect of the user's team: 404 if not, 403 if it belongs to another rep."""
    u = user()
    prospect = get_or_404(Prospect, prospect_id)
    if prospect is None or prospect.team_id != u.team_id:
        abort(404)
    if not can_see(u, prospect):
        abort(403, description="This prospect belongs to another rep.")
    return prospect


def now() -> datetime:
    return rt().clock.now()


def safe_next(target: str | None, default: str) -> str:
    """Only local paths: a login link must not bounce the user to another site."""
    if not target or "\\" in target:  # browsers read a backslash as a slash: "/\\x" is "//x"
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def ago(value: datetime | None) -> str:
    """'12 min ago', '3 h ago', '2 days ago' against the runtime clock."""
    if value is None:
        return "never"
    seconds = (now() - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        text = "just now" if not future else "in under a minute"
        return text
    if seconds < 3600:
        amount = f"{int(seconds // 60)} min"
    elif seconds < 86400:
        amount = f"{int(seconds // 3600)} h"
    else:
        days = int(seconds // 86400)
        amount = f"{days} day{'s' if days != 1 else ''}"
    return f"in {amount}" if future else f"{amount} ago"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def display_name(p: Prospect) -> str:
    name = " ".join(x for x in (p.first_name, p.last_name) if x)
    return name or p.email


def init_app(app: Flask) -> None:
    app.jinja_env.filters["ago"] = ago
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["display_name"] = display_name
    app.jinja_env.filters["pct"] = lambda v: f"{v * 100:.0f}%"

    @app.context_processor
    def _helpers() -> dict[str, Any]:
        return {"csrf_token": csrf_token, "current_user": current_user}


def search_prospects(u: User, q: str, limit: int) -> list[Prospect]:
    """The prospects `u` may see whose email, name or company contains `q`, newest first."""
    query = select(Prospect).where(Prospect.team_id == u.team_id)
    mine = owner_filter(u)
    if mine is not None:
        query = query.where(or_(Prospect.owner_id == mine, Prospect.owner_id.is_(None)))
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(
            or_(
                Prospect.email.ilike(like),
                Prospect.first_name.ilike(like),
                Prospect.last_name.ilike(like),
                Prospect.company.ilike(like),
            )
        )
    return list(db().scalars(query.order_by(Prospect.id.desc()).limit(limit)))
