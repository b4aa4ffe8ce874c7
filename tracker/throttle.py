"""Sign-in and API-key throttling for a request: the client's address, its counters, the 429.

The rules are sequences/workspace/throttle.py (how long to wait) and signin.py (the shared
counters); this module names the scopes of a request and answers a refusal.
"""

from __future__ import annotations

import math
from datetime import timedelta

from flask import request
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.wrappers import Response as WerkzeugResponse

from sequences.models import User
from sequences.workspace import (
    API_KEY_ADDRESS,
    LOGIN_ACCOUNT,
    LOGIN_ADDRESS,
    LOGIN_PAIR,
    Policy,
    clear,
    count_failure,
    key_failure,
    record,
    scope_key,
    wait,
    with_timing,
)

from .db import db, rt


def client_address() -> str:
    """The address the request came from: the peer, or with FOLLOWUP_TRUSTED_PROXIES=N the
    client our N proxies saw (tracker/app.py); never a header the client wrote itself."""
    return request.remote_addr or "unknown"


def _policy(policy: Policy) -> Policy:
    settings = rt().settings
    base = timedelta(seconds=settings.throttle_base_seconds)
    return with_timing(policy, base, timedelta(seconds=settings.throttle_max_seconds))


def _login_scopes(email: str, known: bool) -> list[tuple[Policy, str]]:
    address = client_address()
    scopes = [
        (_policy(LOGIN_PAIR), scope_key("login", address, email)),  # this client, this account
        (_policy(LOGIN_ADDRESS), scope_key("login-address", address)),  # this client, any account
    ]
    if not known:  # a browser the account signed in from before is not held back by others
        scopes.append((_policy(LOGIN_ACCOUNT), scope_key("login-account", email)))
    return scopes


def login_wait(email: str, known: bool) -> timedelta:
    """How long this client must wait before it may try `email` again (zero: now)."""
    now = rt().clock.now()
    return max(wait(db(), policy, key, now) for policy, key in _login_scopes(email, known))


def login_failed(email: str, found: User | None, reason: str, known: bool) -> timedelta:
    """Count and record a failed sign-in; a non-zero wait if its slot was taken meanwhile."""
    now = rt().clock.now()
    scopes = _login_scopes(email, known)
    waits = [count_failure(db(), policy, key, now) for policy, key in scopes]
    team_id = found.team_id if found is not None else None
    address = client_address()
    record(
        db(), now, kind="password", account=email, address=address, reason=reason, team_id=team_id
    )
    db().commit()
    return max(waits)


def login_succeeded(email: str) -> None:
    """This client proved it knows the password: its failures for the account are forgotten."""
    clear(db(), _login_scopes(email, True)[0][1])
    db().commit()


# The known-device cookie: signed with the app's secret, naming the user who signed in here.
DEVICE_COOKIE = "followup_device"
_DEVICE_SALT = "followup-known-device"
DEVICE_MAX_AGE = timedelta(days=365)


def _devices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(list(reversed(rt().settings.secret_keys)), salt=_DEVICE_SALT)


def known_device(found: User | None) -> bool:
    """Whether this browser signed in to `found` before (its cookie names the user)."""
    raw = request.cookies.get(DEVICE_COOKIE, "")
    if found is None or not raw or len(raw) > 500:
        return False
    try:
        user_id = _devices().loads(raw, max_age=int(DEVICE_MAX_AGE.total_seconds()))
    except BadData:
        return False
    return bool(user_id == found.id)


def remember_device(response: WerkzeugResponse, found: User) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        _devices().dumps(found.id),
        max_age=int(DEVICE_MAX_AGE.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=rt().settings.base_url.startswith("https://"),
    )


def _key_scope() -> tuple[Policy, str]:
    return _policy(API_KEY_ADDRESS), scope_key("api-key", client_address())


def key_wait() -> timedelta:
    policy, key = _key_scope()
    return wait(db(), policy, key, rt().clock.now())


def key_failed(key: str) -> timedelta:
    """Count and record a refused API key; a non-zero wait if its slot was taken meanwhile."""
    now = rt().clock.now()
    policy, scope = _key_scope()
    waiting = count_failure(db(), policy, scope, now)
    account, team_id, reason = key_failure(db(), key)
    record(
        db(),
        now,
        kind="api_key",
        account=account,
        address=client_address(),
        reason=reason,
        team_id=team_id,
    )
    db().commit()
    return waiting


def retry_seconds(waiting: timedelta) -> int:
    """Whole seconds for Retry-After (at least 1)."""
    return max(1, math.ceil(waiting.total_seconds()))


def in_words(waiting: timedelta) -> str:
    seconds = retry_seconds(waiting)
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
