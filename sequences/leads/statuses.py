"""Lead statuses: the team's ordered list, and changes by compare-and-set recorded on the timeline.

A change is one conditional UPDATE (`WHERE lead_status = <the status it was read as>`), so two
changes at once never both win: the second gets a 409 and nothing of it is written. Each change
is a `prospect.status_changed` event (who, when, from, to, note, source) that the webhook outbox
delivers, and it queues the team's rules for the status entered (sequences/leads/triggers.py).

The system changes a status where the meaning is clear: the first email sent moves `new` to
`contacted`; a human reply moves `new` or `contacted` to the team's `on_reply` status (none by
default: a reply may be a "no"); a conversion moves any status to `converted`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from ..enrollment import record
from ..errors import Conflict, ValidationError
from ..models import Event, LeadStatusList, Prospect
from .firings import queue_firings, statuses_in_rules

DEFAULT_STATUSES = (
    "new",
    "contacted",
    "interested",
    "qualified",
    "not interested",
    "converted",
    "lost",
)
STATUS_CHANGED = "prospect.status_changed"
MAX_STATUSES = 30
MAX_NAME = 30
MAX_NOTE = 2000
# The system's own changes: an event type -> (the statuses it moves from, the one it moves to).
# `None` as a source: any status; the reply's target is the team's `on_reply`.
_FIRST_TOUCH = ("sent", ("new",), "contacted")
_CONVERSION = ("conversion", None, "converted")
_REPLY_FROM = ("new", "contacted")
SYSTEM_EVENTS = frozenset({"sent", "reply", "conversion"})


def _row(session: Session, team_id: int) -> LeadStatusList | None:
    return session.get(LeadStatusList, team_id)


def team_statuses(session: Session, team_id: int) -> list[str]:
    """The team's statuses in their order (the defaults until a manager sets a list)."""
    row = _row(session, team_id)
    return list(row.statuses) if row is not None and row.statuses else list(DEFAULT_STATUSES)


def statuses_json(session: Session, team_id: int) -> dict[str, Any]:
    row = _row(session, team_id)
    return {
        "statuses": team_statuses(session, team_id),
        "on_reply": row.on_reply if row is not None else None,
        "defaults": list(DEFAULT_STATUSES),
    }


def clean_status_name(value: object, field: str = "status") -> str:
    """A status name as written (trimmed, lower case), or a 422 naming the field."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f'{field}: a status name (text), e.g. "interested"', field=field)
    name = " ".join(value.split()).lower()
    if len(name) > MAX_NAME:
        raise ValidationError(f"{field}: at most {MAX_NAME} characters", field=field)
    return name


def known_status(session: Session, team_id: int, value: object, field: str = "status") -> str:
    """A status of the team's list, or a 422 naming the field and listing the ones there are.

    A status is a value, not an object referenced by id: a name the team has no status of is
    invalid input (422), like an unknown enum value, not a missing object (404)."""
    name = clean_status_name(value, field)
    statuses = team_statuses(session, team_id)
    if name not in statuses:
        raise ValidationError(
            f'{field}: unknown status "{name}"; the team\'s statuses are: ' + ", ".join(statuses),
            field=field,
        )
    return name


def replace_statuses(session: Session, team_id: int, data: object, now: datetime) -> dict[str, Any]:
    """Replace the team's list (and `on_reply`); a status still in use cannot be dropped."""
    if not isinstance(data, dict) or not isinstance(data.get("statuses"), list):
        raise ValidationError(
            'statuses: a list of status names in their order, e.g. ["new", "contacted"]',
            field="statuses",
        )
    names = [clean_status_name(v, "statuses") for v in data["statuses"]]
    if not 1 <= len(names) <= MAX_STATUSES or len(set(names)) != len(names):
        raise ValidationError(f"statuses: 1 to {MAX_STATUSES} different names", field="statuses")
    on_reply = data.get("on_reply")
    if on_reply is not None:
        on_reply = clean_status_name(on_reply, "on_reply")
        if on_reply not in names:
            raise ValidationError(
                f'on_reply: "{on_reply}" is not in the list; add it or choose one of it',
                field="on_reply",
            )
    dropped = set(team_statuses(session, team_id)) - set(names)
    if dropped:
        in_use = session.scalars(
            select(Prospect.lead_status)
            .where(Prospect.team_id == team_id, Prospect.lead_status.in_(dropped))
            .distinct()
        ).all()
        # Rules name statuses too.
        in_use = sorted({*in_use, *(statuses_in_rules(session, team_id) & dropped)})
        if in_use:
            # A valid list that the team's current data forbids: a conflict with the state (409).
            raise Conflict(
                "statuses: still in use by prospects or rules, so they stay in the list: "
                + ", ".join(in_use)
                + "; move those prospects and change those rules first"
            )
    row = _row(session, team_id)
    if row is None:
        row = LeadStatusList(team_id=team_id)
        session.add(row)
    row.statuses, row.on_reply, row.updated_at = names, on_reply, now
    session.flush()
    return statuses_json(session, team_id)


def clean_note(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_NOTE:
        raise ValidationError(f"note: text of at most {MAX_NOTE} characters", field="note")
    return value.strip()


def change_status(
    session: Session,
    prospect: Prospect,
    to: object,
    now: datetime,
    *,
    by_user_id: int | None,
    note: str = "",
    expected: str | None = None,
    source: str = "manual",
) -> Event | None:
    """Move the prospect to `to` if it is still in the status it was read in (or `expected`).

    Returns the `prospect.status_changed` event, or None when it already is in `to`. Another
    change in between is a Conflict (409) and nothing is written."""
    target = known_status(session, prospect.team_id, to)
    current = expected if expected is not None else prospect.lead_status
    if expected is not None and expected != prospect.lead_status:
        raise Conflict(
            f'the prospect\'s status is "{prospect.lead_status}", not "{expected}"; '
            "reload and try again"
        )
    if target == current:
        return None
    return _move(session, prospect, current, target, now, by_user_id, note, source)


def _move(
    session: Session,
    prospect: Prospect,
    current: str,
    target: str,
    now: datetime,
    by_user_id: int | None,
    note: str,
    source: str,
) -> Event:
    moved = cast(
        CursorResult[Any],
        session.execute(
            update(Prospect)
            .where(Prospect.id == prospect.id, Prospect.lead_status == current)
            .values(lead_status=target, updated_at=now)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if moved != 1:
        session.refresh(prospect, ["lead_status"])
        raise Conflict(
            f'the prospect\'s status changed meanwhile to "{prospect.lead_status}"; '
            "reload and try again"
        )
    session.expire(prospect, ["lead_status", "updated_at"])
    event = record(
        session,
        STATUS_CHANGED,
        now,
        prospect_id=prospect.id,
        extra={
            "from": current,
            "to": target,
            "by_user_id": by_user_id,
            "note": note,
            "source": source,
        },
    )
    session.flush()
    queue_firings(session, prospect.team_id, target, event, now)
    return event


def change_many(
    session: Session,
    prospects: Iterable[Prospect],
    to: object,
    now: datetime,
    *,
    by_user_id: int | None,
    note: str = "",
) -> list[dict[str, Any]]:
    """Bulk: each prospect moved on its own (a conflict on one is reported, not fatal)."""
    results: list[dict[str, Any]] = []
    for prospect in prospects:
        try:
            with session.begin_nested():
                event = change_status(
                    session, prospect, to, now, by_user_id=by_user_id, note=note, source="bulk"
                )
        except Conflict as exc:
            results.append({"prospect_id": prospect.id, "changed": False, "error": str(exc)})
            continue
        results.append({"prospect_id": prospect.id, "changed": event is not None})
    return results


def system_change(session: Session, event_type: str, prospect_id: int, now: datetime) -> None:
    """The status a sent email, a human reply or a conversion implies (`sequences.aftermath`
    calls it for each such event, in its transaction)."""
    row = (
        session.connection()
        .execute(select(Prospect.team_id, Prospect.lead_status).where(Prospect.id == prospect_id))
        .first()
    )
    if row is None:
        return
    statuses = team_statuses(session, row.team_id)
    sources: tuple[str, ...] | None
    if event_type == _FIRST_TOUCH[0]:
        sources, target = _FIRST_TOUCH[1], _FIRST_TOUCH[2]
    elif event_type == _CONVERSION[0]:
        sources, target = _CONVERSION[1], _CONVERSION[2]
    else:
        list_row = _row(session, row.team_id)
        if list_row is None or list_row.on_reply is None:
            return
        sources, target = _REPLY_FROM, list_row.on_reply
    if target not in statuses or row.lead_status == target:
        return
    if sources is not None and row.lead_status not in sources:
        return
    prospect = session.get(Prospect, prospect_id)
    if prospect is None:
        return
    try:
        with session.begin_nested():
            _move(session, prospect, row.lead_status, target, now, None, "", event_type)
    except Conflict:
        return  # someone changed it meanwhile: theirs stands


def first_touches(session: Session, touches: list[tuple[int | None, datetime]]) -> int:
    """Move the `new` prospects among these first-emailed ones to `contacted` (one read when
    none is new, the usual case)."""
    at = {pid: when for pid, when in touches if pid is not None}
    if not at:
        return 0
    new = (
        session.connection()
        .execute(select(Prospect.id).where(Prospect.id.in_(at), Prospect.lead_status == "new"))
        .scalars()
        .all()
    )
    for prospect_id in sorted(new):
        system_change(session, "sent", prospect_id, at[prospect_id])
    return len(new)


def status_filter(session: Session, team_id: int, value: str | None) -> str | None:
    """The `status` query parameter of a list, checked against the team's statuses."""
    if value is None:  # an empty `?status=` is a 422 like any blank name: leave it out
        return None
    return known_status(session, team_id, value)
