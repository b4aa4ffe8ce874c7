"""What every page needs: the signed-in user, CSRF tokens and time filters.

Who may open which page and see which object is decided before any page runs, by
tracker/api/access.py (the same check as the API's); the lookups here go through it.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, abort, request, session
from sqlalchemy import or_, select

from sequences.config import demo_sender
from sequences.models import Prospect, User
from sequences.workspace import (
    CHANGE,
    READ,
    Access,
    effective_zone,
    local_time,
    prospect_access,
    prospect_filter,
)

from ..api import access
from ..db import db, rt

T = TypeVar("T")
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def current_user() -> User | None:
    """The signed-in user, loaded once per request."""
    return access.session_user()


def password_version(user: User) -> str:
    return access.password_version(user)


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


def protect(bp: Blueprint) -> None:
    """Every state-changing request of `bp` needs a CSRF token matching the session's (who
    may call each route is access.RULES' to say, before this runs)."""

    @bp.before_request
    def _guard() -> None:
        if request.method not in ("GET", "HEAD", "OPTIONS") and not _csrf_ok():
            abort(400, description="The form expired or did not come from this site; reload it.")


def owner_filter(u: User) -> int | None:
    """None for a manager (the whole team), else the rep's own id."""
    return None if u.is_manager else u.id


def can_see(u: User, prospect: Prospect) -> bool:
    """Whether `u` may see and work `prospect` (permissions.prospect_access)."""
    return prospect_access(u, prospect, CHANGE) == Access.ALLOWED


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


def visible_prospect(prospect_id: int, action: str = READ) -> Prospect:
    """A prospect the user may see (or change): 404 for anyone else's, as in the API."""
    return access.prospect(prospect_id, action)


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


def zone() -> ZoneInfo:
    """The signed-in user's time zone (their own, else their team's), UTC for nobody."""
    found = current_user()
    return effective_zone(found) if found is not None else ZoneInfo("UTC")


def when(value: datetime | None) -> str:
    """A time as the signed-in user reads it: '2026-01-05 17:00 PST'."""
    return local_time(value, zone()) if value else ""


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
        return {
            "csrf_token": csrf_token,
            "current_user": current_user,
            "my_zone": zone,
            # The sequence page says so while mail goes out from a demo address (embedded mode).
            "demo_sender": _demo_sender,
        }


def _demo_sender() -> str | None:
    settings = rt().settings
    return None if settings.production else demo_sender(settings)


def search_prospects(
    u: User, q: str, limit: int, *, lead_status: str | None = None
) -> list[Prospect]:
    """The prospects `u` may see whose email, name or company contains `q` (and in the lead
    status asked for), newest first."""
    query = select(Prospect).where(prospect_filter(u))
    if lead_status is not None:
        query = query.where(Prospect.lead_status == lead_status)
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
