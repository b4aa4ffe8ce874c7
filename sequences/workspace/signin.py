"""Throttle counters in the database, shared by every web process, and failed sign-in records.

The counters live in the database rather than in each process (four gunicorn workers would
allow four times the guesses) or in Redis (optional here, and it keeps nothing across a
restart on a default install): it is there in embedded mode and in production alike, and
sign-in failures are rare enough that a row write each costs nothing that matters.

A failure is counted with a compare-and-set on the row's count (`UPDATE ... WHERE failures
= :seen`), so parallel guesses from many processes each take their own slot and the ones
past the limit are refused: the limit holds whatever the number of workers.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import LoginFailure, ThrottleCounter, User
from .throttle import Policy

KEEP_RECORDS = timedelta(days=90)


def scope_key(*parts: str) -> str:
    """A fixed-size key for a scope (`"login", address, email`): no address stored in clear."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def wait(session: Session, policy: Policy, key: str, now: datetime) -> timedelta:
    """How long the scope must wait before its next attempt (zero: it may try now)."""
    row = session.get(ThrottleCounter, key, populate_existing=True)
    return timedelta(0) if row is None else policy.retry_after(row.failures, row.last_at, now)


def _insert_absent(session: Session, key: str) -> None:
    dialect = session.get_bind().dialect.name
    values = {"key": key, "failures": 0, "last_at": None}
    if dialect == "postgresql":
        session.execute(postgresql.insert(ThrottleCounter).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite.insert(ThrottleCounter).values(values).on_conflict_do_nothing())
    elif session.get(ThrottleCounter, key) is None:  # another backend: best effort
        session.add(ThrottleCounter(**values))
        session.flush()


def count_failure(session: Session, policy: Policy, key: str, now: datetime) -> timedelta:
    """Count one failure for the scope unless it must wait; answer that wait (zero: counted).

    Flushes, does not commit: the caller commits at once, so other processes see the count."""
    _insert_absent(session, key)
    for _ in range(50):  # each retry means another process counted first
        row = session.get(ThrottleCounter, key, populate_existing=True)
        if row is None:  # removed meanwhile (a sign-in cleared it)
            _insert_absent(session, key)
            continue
        waiting = policy.retry_after(row.failures, row.last_at, now)
        if waiting > timedelta(0):
            return waiting
        seen = row.failures
        counted = policy.current(seen, row.last_at, now) + 1
        changed = session.execute(
            update(ThrottleCounter)
            .where(ThrottleCounter.key == key, ThrottleCounter.failures == seen)
            .values(failures=counted, last_at=now)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            return timedelta(0)
    return policy.wait_after(policy.free)  # contention past reason: refuse this one


def clear(session: Session, key: str) -> None:
    """Forget the scope's failures (its client signed in)."""
    session.execute(delete(ThrottleCounter).where(ThrottleCounter.key == key))


def record(
    session: Session,
    at: datetime,
    *,
    kind: str,
    account: str,
    address: str,
    reason: str,
    team_id: int | None,
) -> None:
    """Keep a failed attempt for the managers of `team_id` (None: the install's admins)."""
    session.add(
        LoginFailure(
            at=at,
            team_id=team_id,
            kind=kind,
            account=account[:320],
            client_address=address[:64],
            reason=reason,
        )
    )
    # Old records and idle counters go: both stay bounded by what the throttle lets through.
    session.execute(delete(LoginFailure).where(LoginFailure.at < at - KEEP_RECORDS))
    idle = at - timedelta(days=1)  # past every policy's `forget`
    session.execute(delete(ThrottleCounter).where(ThrottleCounter.last_at < idle))


def failures_filter(user: User) -> ColumnElement[bool]:
    """The records `user` may read: their team's (managers); admins also those of no team."""
    mine = LoginFailure.team_id == user.team_id
    return mine | LoginFailure.team_id.is_(None) if user.is_admin else mine


def recent_failures(session: Session, user: User, limit: int = 50) -> list[LoginFailure]:
    query = select(LoginFailure).where(failures_filter(user))
    return list(session.scalars(query.order_by(LoginFailure.id.desc()).limit(limit)))


def failure_json(row: LoginFailure) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "kind": row.kind,
        "account": row.account,
        "client_address": row.client_address,
        "reason": row.reason,
        "team_id": row.team_id,
    }


def key_failure(session: Session, key: str) -> tuple[str, int | None, str]:
    """For a refused API key: what to record (the key's public prefix), whose team, and why.

    The prefix is not secret (the settings page shows it); the secret part is never kept."""
    from ..models import ApiKey
    from .accounts import KEY_PREFIX

    if not key.startswith(KEY_PREFIX) or key.count("_") < 2:
        return "(not a Followup key)", None, "malformed API key"
    prefix = key[len(KEY_PREFIX) :].split("_", 1)[0][:16]
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None:
        return f"{KEY_PREFIX}{prefix}", None, "unknown API key"
    reason = "revoked API key" if row.revoked_at is not None else "wrong API key secret"
    return f"{KEY_PREFIX}{prefix}", row.user.team_id, reason
