"""People's time zones: checking a zone name, setting a user's or a team's, and the one in effect."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy.orm import Session

from ..errors import ValidationError
from ..models import Team, User

UTC_NAME = "UTC"
EXAMPLE = "Europe/Berlin"


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every IANA zone this machine knows, sorted (the /settings page offers them)."""
    return tuple(sorted(available_timezones() | {UTC_NAME}))


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(zone_names())


@lru_cache(maxsize=1)
def _by_lower() -> dict[str, str]:
    return {name.lower(): name for name in zone_names()}


def clean_zone(value: object, field: str = "timezone") -> str:
    """An IANA zone name as given, or a ValidationError naming the field and the fix."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            f"{field}: an IANA time zone name is required, such as {EXAMPLE}", field=field
        )
    name = value.strip()
    if name in _known():
        return name
    hint = _by_lower().get(name.lower())
    fix = f"did you mean {hint}?" if hint else f"use an IANA name such as {EXAMPLE} or {UTC_NAME}"
    shown = name if len(name) <= 64 else name[:61] + "..."
    raise ValidationError(f"{field}: unknown time zone {shown!r}; {fix}", field=field)


def _load(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None  # a name stored before this machine's tzdata lost it: fall back


def effective_zone(user: User) -> ZoneInfo:
    """The user's zone, else their team's, else UTC."""
    return _load(user.timezone) or _load(user.team.timezone) or ZoneInfo(UTC_NAME)


def set_user_zone(session: Session, user: User, value: object) -> User:
    """Set the user's zone; None or "" follows the team's again. Refused: nothing changed."""
    user.timezone = None if value is None or value == "" else clean_zone(value)
    session.flush()
    return user


def set_team_zone(session: Session, team: Team, value: object) -> Team:
    """Set the team's zone, the one its users without their own follow."""
    team.timezone = clean_zone(value)
    session.flush()
    return team
