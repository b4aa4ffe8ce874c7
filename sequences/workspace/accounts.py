"""Teams, users and API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import Conflict, ValidationError
from ..models import ApiKey, Team, User
from ..sending import is_valid_email

KEY_PREFIX = "fu_"


def default_team(session: Session) -> Team:
    """The one team of a single-team install (created on first use)."""
    team = session.scalar(select(Team).order_by(Team.id).limit(1))
    if team is None:
        team = Team(name="Sales")
        session.add(team)
        session.flush()
    return team


def create_user(
    session: Session,
    email: str,
    *,
    name: str = "",
    password: str | None = None,
    manager: bool = False,
    team: Team | None = None,
) -> User:
    email = email.strip()
    if not is_valid_email(email):
        raise ValidationError("email: not a valid email address", field="email")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with email {email} exists")
    team = team or default_team(session)
    user = User(
        team_id=team.id,
        email=email,
        name=name,
        password_hash=generate_password_hash(password) if password else None,
        is_manager=manager,
    )
    session.add(user)
    session.flush()
    return user


def check_password(user: User, password: str) -> bool:
    return bool(user.password_hash) and check_password_hash(user.password_hash or "", password)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, user: User, now: datetime, name: str = "") -> str:
    """Create a key and return it; only its hash is stored, so it is shown this once."""
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    session.add(
        ApiKey(user_id=user.id, prefix=prefix, key_hash=_digest(key), name=name, created_at=now)
    )
    session.flush()
    return key


def user_for_key(session: Session, key: str) -> User | None:
    """The user owning an unrevoked key, or None. Constant-time on the secret part."""
    if not key.startswith(KEY_PREFIX) or key.count("_") < 2:
        return None
    prefix = key[len(KEY_PREFIX) :].split("_", 1)[0]
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _digest(key)):
        return None
    return row.user


def revoke_api_key(session: Session, key: ApiKey, now: datetime) -> None:
    """Stop a key from working; the row stays so its use can still be audited."""
    if key.revoked_at is None:
        key.revoked_at = now
        session.flush()
