"""Teams of one install: create and list them, put users in them, move a user between them.

Every object belongs to exactly one team, through its team_id or its owner's. A user belongs to
one team; moving one is refused while they own anything in their current team (prospects,
sequences, mailboxes, webhooks, open tasks), since those would stay behind in a team they no
longer see, or be heard by webhooks of another team. Admins (`User.is_admin`) run the install:
they create teams and move users; they see a team's data only as a member of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..errors import Conflict, NotFound, ValidationError
from ..models import Mailbox, Prospect, Sequence, Task, Team, User, Webhook
from .zones import clean_zone, effective_zone

DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _clean_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("name: a team needs a name", field="name")
    cleaned = " ".join(name.split())
    if len(cleaned) > 200:
        raise ValidationError("name: at most 200 characters", field="name")
    return cleaned


def clean_domain(domain: object, field: str = "inbound_domain") -> str | None:
    """A mail domain (lower case), or None for none."""
    if domain is None or domain == "":
        return None
    if not isinstance(domain, str) or not DOMAIN.match(domain.strip().lower()):
        raise ValidationError(f"{field}: not a mail domain (like replies.acme.com)", field=field)
    return domain.strip().lower()


def team_named(session: Session, name: str) -> Team | None:
    """The team of that name, compared without case (two teams never differ only by case)."""
    return session.scalar(select(Team).where(func.lower(Team.name) == name.strip().lower()))


def create_team(
    session: Session, name: object, inbound_domain: object = None, timezone: object = None
) -> Team:
    cleaned = _clean_name(name)
    zone = "UTC" if timezone is None else clean_zone(timezone)
    if team_named(session, cleaned) is not None:
        raise Conflict(f"a team named {cleaned} exists")
    domain = _free_domain(session, inbound_domain)
    team = Team(name=cleaned, inbound_domain=domain, timezone=zone)
    session.add(team)
    session.flush()
    return team


def _free_domain(session: Session, inbound_domain: object, team: Team | None = None) -> str | None:
    """The cleaned domain, unless another team already receives mail at it."""
    domain = clean_domain(inbound_domain)
    if domain is not None:
        taken = session.scalar(
            select(Team.name).where(
                Team.inbound_domain == domain, Team.id != (team.id if team else -1)
            )
        )
        if taken is not None:
            raise Conflict(f"inbound_domain: {domain} already receives mail for team {taken}")
    return domain


def update_team(session: Session, team: Team, changes: dict[str, object]) -> Team:
    """Rename a team, change its inbound domain ("" or None clears it) or its time zone (the
    one its users without their own follow); all or nothing."""
    unknown = set(changes) - {"name", "inbound_domain", "timezone"}
    if unknown:
        field = sorted(unknown)[0]
        raise ValidationError(
            f"{field}: unknown field (name, inbound_domain, timezone)", field=field
        )
    zone = team.timezone if "timezone" not in changes else clean_zone(changes["timezone"])
    name = team.name
    if "name" in changes:
        name = _clean_name(changes["name"])
        other = team_named(session, name)
        if other is not None and other.id != team.id:
            raise Conflict(f"a team named {name} exists")
    domain = team.inbound_domain
    if "inbound_domain" in changes:
        domain = _free_domain(session, changes["inbound_domain"], team)
    team.name, team.inbound_domain, team.timezone = name, domain, zone
    session.flush()
    return team


def find_team(session: Session, name_or_id: str | int) -> Team:
    """A team by id or by name; NotFound names what to do."""
    team = None
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        team = session.get(Team, int(name_or_id))
    if team is None and isinstance(name_or_id, str):
        team = team_named(session, name_or_id)
    if team is None:
        raise NotFound(f"no team {name_or_id}; `followup team list` shows them")
    return team


@dataclass(frozen=True)
class TeamRow:
    team: Team
    users: int
    managers: int


def list_teams(session: Session) -> list[TeamRow]:
    counts = {
        team_id: (users, managers or 0)
        for team_id, users, managers in session.execute(
            select(
                User.team_id,
                func.count(User.id),
                func.sum(case((User.is_manager, 1), else_=0)),
            ).group_by(User.team_id)
        )
    }
    return [
        TeamRow(team, *counts.get(team.id, (0, 0)))
        for team in session.scalars(select(Team).order_by(Team.id))
    ]


def team_json(row: TeamRow) -> dict[str, Any]:
    return {
        "id": row.team.id,
        "name": row.team.name,
        "inbound_domain": row.team.inbound_domain,
        "timezone": row.team.timezone,
        "users": row.users,
        "managers": int(row.managers),
        "created_at": row.team.created_at.isoformat(),
    }


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "team_id": user.team_id,
        "manager": user.is_manager,
        "admin": user.is_admin,
        # Their own zone (None: the team's) and the one in effect for "today" and reports.
        "timezone": user.timezone,
        "effective_timezone": effective_zone(user).key,
        "created_at": user.created_at.isoformat(),
    }


def _owned(session: Session, user: User) -> list[str]:
    """What the user owns in their team, in words ("3 prospects", "1 webhook")."""
    checks = (
        ("prospect", select(func.count(Prospect.id)).where(Prospect.owner_id == user.id)),
        ("sequence", select(func.count(Sequence.id)).where(Sequence.owner_id == user.id)),
        ("mailbox", select(func.count(Mailbox.id)).where(Mailbox.owner_id == user.id)),
        ("webhook", select(func.count(Webhook.id)).where(Webhook.user_id == user.id)),
        (
            "open task",
            select(func.count(Task.id)).where(Task.owner_id == user.id, Task.status == "open"),
        ),
    )
    owned = []
    for noun, query in checks:
        count = session.scalar(query) or 0
        if count:
            plural = "mailboxes" if noun == "mailbox" and count > 1 else noun + "s" * (count > 1)
            owned.append(f"{count} {plural}")
    return owned


def move_user(session: Session, user: User, team: Team, *, manager: bool | None = None) -> User:
    """Put `user` in `team`; refused, with nothing changed, when they cannot be moved."""
    if user.team_id == team.id:
        raise Conflict(f"{user.email} is already in team {team.name}")
    owned = _owned(session, user)
    if owned:
        raise Conflict(
            f"{user.email} owns {', '.join(owned)} in team {user.team.name}; reassign or "
            "delete them first (they would stay behind in a team the user no longer sees)"
        )
    user.team_id = team.id
    if manager is not None:
        user.is_manager = manager
    session.flush()
    session.expire(user, ["team"])
    return user
