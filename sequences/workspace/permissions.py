"""Who may see and change which object: the rules, as pure functions of a user and an object.

The model (docs/security.md):
- another team's objects do not exist for a user (HIDDEN: the web layer answers 404, never 403,
  so ids tell nothing);
- prospects, and what hangs from them (enrollments, tasks, the timeline), belong to their
  owner: the owner and the team's managers see and change them; a prospect with no owner is the
  team's pool, open to every rep of the team; another rep's prospect is HIDDEN;
- sequences are the team's playbooks: every member reads them and enrolls their own prospects;
  only their owner and the team's managers change them (FORBIDDEN for other reps: 403);
- webhooks belong to the user who registered them (and the team's managers); API keys to their
  user alone; documents and inbound mail to the team (mail that matched nobody to no team).
"""

from __future__ import annotations

import enum

from sqlalchemy import ColumnElement, or_

from ..models import (
    ApiKey,
    Document,
    Enrollment,
    InboundMessage,
    Prospect,
    Sequence,
    Task,
    User,
    Webhook,
)

READ = "read"
CHANGE = "change"


class Access(enum.StrEnum):
    ALLOWED = "allowed"
    FORBIDDEN = "forbidden"  # the user sees it but may not do this to it
    HIDDEN = "hidden"  # for this user, it does not exist


def _allowed(condition: bool, otherwise: Access = Access.HIDDEN) -> Access:
    return Access.ALLOWED if condition else otherwise


def prospect_access(user: User, prospect: Prospect, action: str = READ) -> Access:
    """The owner, the team's managers, and for an unowned prospect every rep of the team."""
    if prospect.team_id != user.team_id:
        return Access.HIDDEN
    return _allowed(user.is_manager or prospect.owner_id in (None, user.id))


def prospect_filter(user: User) -> ColumnElement[bool]:
    """The prospects `user` may see, as a WHERE clause (the same rule as `prospect_access`)."""
    team = Prospect.team_id == user.team_id
    if user.is_manager:
        return team
    return team & or_(Prospect.owner_id == user.id, Prospect.owner_id.is_(None))


def sequence_access(user: User, sequence: Sequence, action: str = READ) -> Access:
    """The team reads; the owner and the team's managers change."""
    if sequence.team_id != user.team_id:
        return Access.HIDDEN
    if action == READ:
        return Access.ALLOWED
    return _allowed(user.is_manager or sequence.owner_id == user.id, Access.FORBIDDEN)


def may_change_sequence(user: User, sequence: Sequence) -> bool:
    return sequence_access(user, sequence, CHANGE) == Access.ALLOWED


def enrollment_access(
    user: User, enrollment: Enrollment, prospect: Prospect | None, action: str = READ
) -> Access:
    """An enrollment is its prospect's: whoever may work the prospect may pause or stop it."""
    if prospect is None or prospect.id != enrollment.prospect_id:
        return Access.HIDDEN
    return prospect_access(user, prospect, action)


def task_access(user: User, task: Task, prospect: Prospect | None, action: str = READ) -> Access:
    """The task's owner and the team's managers; a task nobody owns follows its prospect."""
    if prospect is None or prospect.id != task.prospect_id or prospect.team_id != user.team_id:
        return Access.HIDDEN
    if user.is_manager or task.owner_id == user.id:
        return Access.ALLOWED
    if task.owner_id is None:
        return prospect_access(user, prospect, action)
    return Access.HIDDEN


def webhook_access(user: User, webhook: Webhook, action: str = READ) -> Access:
    if webhook.team_id != user.team_id:
        return Access.HIDDEN
    return _allowed(user.is_manager or webhook.user_id == user.id)


def webhook_filter(user: User) -> ColumnElement[bool]:
    team = Webhook.team_id == user.team_id
    return team if user.is_manager else team & (Webhook.user_id == user.id)


def document_access(user: User, document: Document, action: str = READ) -> Access:
    return _allowed(document.team_id == user.team_id)


def inbound_access(user: User, row: InboundMessage, action: str = READ) -> Access:
    """A team's mail is the team's; mail that matched no team is the install's admins' alone
    (it may be another team's prospect writing: never shown to every user)."""
    if row.team_id is None:
        return _allowed(user.is_admin)
    return _allowed(row.team_id == user.team_id)


def inbound_filter(user: User) -> ColumnElement[bool]:
    mine = InboundMessage.team_id == user.team_id
    if user.is_admin:
        return or_(mine, InboundMessage.team_id.is_(None))
    return mine


def key_access(user: User, key: ApiKey, action: str = READ) -> Access:
    """An API key is its user's alone: not even a manager revokes another's key here."""
    return _allowed(key.user_id == user.id)
