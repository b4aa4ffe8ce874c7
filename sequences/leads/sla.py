"""The speed-to-lead clock and re-assignment, run by the scheduler on the database.

Each watched lead has `due_at`: when the scheduler must next look at it (its acceptance
deadline, its next SLA step, or its next touch count). The tick reads due leads from the
partial index ix_leads_due, so its cost grows with what is due, not with the number of leads.
A scheduler acts on a lead only after locking it with its `version` unchanged since it read
it (and moves the version when it writes the lead), and takes the team's lock first (the lock
assignments take), so several schedulers never act twice. The claim is one SELECT ... FOR
UPDATE for all of a team's due leads that also reads the columns the rules need (no ORM
objects but for the leads handed over), and what the tick writes for the leads it keeps
(their SLA columns and version, warnings, alerts and tasks) one statement per table
(bench/leads.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Table,
    any_,
    bindparam,
    func,
    select,
    tuple_,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from ..enrollment import record
from ..models import Event, Lead, LeadState, LeadTeamSettings, Prospect, Task, User
from ..sending import insert_rows, update_rows
from ..webhooks import subscribed
from .acceptance import expire
from .assignment import Rotation, reassign
from .deadlines import STAGES, next_check, stage_minutes

LEADS = cast(Table, Lead.__table__)
EVENTS = cast(Table, Event.__table__)
TASKS = cast(Table, Task.__table__)

TOUCH_TYPES = ("sent", "call")  # a real touch: an email sent, a call logged
HUMAN_SIGNALS = ("open", "click", "document_viewed")  # count only with verdict "human"


@dataclass(frozen=True)
class Seen:
    """One event of the lead's timeline, as the SLA rules read it."""

    type: str
    at: datetime
    verdict: str | None = None


@dataclass
class Decision:
    first_touch_at: datetime | None
    touches: int
    engaged: bool
    actions: list[str] = field(default_factory=list)  # warn, alert, sla_breach, no_engagement
    stage: int = 0


def decide(
    assigned_at: datetime,
    first_touch_at: datetime | None,
    stage: int,
    settings: LeadTeamSettings,
    events: Iterable[Seen],
    now: datetime,
) -> Decision:
    """What the rules say about an accepted lead now, from the events since its assignment.

    Touches are emails sent and calls logged; engagement is a human open, click or document
    view, or a reply. Machine opens (scanners, privacy proxies) count for nothing.
    """
    since = [e for e in events if e.at >= assigned_at and e.at <= now]
    touches = sorted(e.at for e in since if e.type in TOUCH_TYPES)
    engaged = any(
        e.type == "reply" or (e.type in HUMAN_SIGNALS and e.verdict == "human") for e in since
    )
    first = first_touch_at or (touches[0] if touches else None)
    decision = Decision(first, len(touches), engaged, stage=stage)
    if first is None:
        for number, name in enumerate(STAGES, start=1):
            minutes = stage_minutes(settings, name)
            if minutes is None or stage >= number:
                continue
            if now >= assigned_at + timedelta(minutes=minutes):
                decision.stage = number
                decision.actions.append(("warn", "alert", "sla_breach")[number - 1])
        return decision
    if settings.max_touches and not engaged and len(touches) >= settings.max_touches:
        decision.actions.append("no_engagement")
    return decision


def _among(session: Session, column: Any, ids: list[int]) -> ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL one array parameter, not one per id: a statement of a
    thousand placeholders costs the driver more to parse than the server to run."""
    if session.get_bind().dialect.name == "postgresql":
        among: ColumnElement[bool] = column == any_(bindparam(None, ids, type_=ARRAY(Integer)))
    else:
        among = column.in_(ids)
    return among


def _events(session: Session, prospect_ids: list[int]) -> dict[int, list[Seen]]:
    out: dict[int, list[Seen]] = {pid: [] for pid in prospect_ids}
    # One array parameter on PostgreSQL, whatever the count; placeholders on SQLite.
    size = len(prospect_ids) if session.get_bind().dialect.name == "postgresql" else 500
    for start in range(0, len(prospect_ids), max(size, 1)):
        chunk = prospect_ids[start : start + size]
        for pid, type_, at, verdict in session.execute(
            select(Event.prospect_id, Event.type, Event.at, Event.verdict).where(
                _among(session, Event.prospect_id, chunk),
                Event.type.in_((*TOUCH_TYPES, "reply", *HUMAN_SIGNALS)),
            )
        ):
            if pid is not None:
                out[pid].append(Seen(type_, at, verdict))
    return out


@dataclass
class Writes:
    """What a tick writes for the leads it keeps (no hand-over): one statement per table."""

    events: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    leads: list[dict[str, Any]] = field(default_factory=list)

    def flush(self, session: Session) -> None:
        conn = session.connection()
        update_rows(conn, LEADS, "prospect_id", self.leads)
        insert_rows(conn, EVENTS, self.events)
        insert_rows(conn, TASKS, self.tasks)
        self.events, self.tasks, self.leads = [], [], []


@dataclass(frozen=True)
class Watched:
    """The columns of a due lead (and its prospect's address) that the rules read: most due
    leads are only warned, and reading these columns costs a fraction of loading a `Lead` and
    a `Prospect` object each (the ORM objects are loaded for the leads handed over only)."""

    prospect_id: int
    email: str
    state: str
    owner_id: int | None
    assigned_at: datetime | None
    accept_by: datetime | None
    first_touch_at: datetime | None
    sla_stage: int
    version: int  # as locked: the tick's UPDATE writes version + 1 (claim)


def _objects(
    session: Session, prospect_ids: list[int]
) -> tuple[dict[int, Lead], dict[int, Prospect]]:
    """The ORM objects of the leads the tick hands over (the hand-over writes through them)."""
    if not prospect_ids:
        return {}, {}
    leads = {
        lead.prospect_id: lead
        for lead in session.scalars(
            select(Lead)
            .where(_among(session, Lead.prospect_id, prospect_ids))
            .execution_options(populate_existing=True)
        )
    }
    prospects = {
        p.id: p
        for p in session.scalars(select(Prospect).where(_among(session, Prospect.id, prospect_ids)))
    }
    return leads, prospects


def _note(
    session: Session,
    writes: Writes | None,
    type_: str,
    prospect_id: int,
    user_id: int | None,
    owners: list[int],
    title: str,
    now: datetime,
) -> None:
    """A warning or an alert: its event, and a task for each of `owners`.

    Through record() and the ORM when the lead is handed over in this tick (its timeline keeps
    its order) or a webhook wants the event (its outbox row hangs on the ORM event); otherwise
    as rows for the tick's bulk inserts: the same rows.
    """
    if writes is None or subscribed(session, type_):
        record(session, type_, now, prospect_id=prospect_id, user_id=user_id)
        for owner_id in owners:
            session.add(
                Task(
                    prospect_id=prospect_id, owner_id=owner_id, type="task", title=title, due_at=now
                )
            )
        return
    writes.events.append(
        {
            "type": type_,
            "at": now,
            "prospect_id": prospect_id,
            "enrollment_id": None,
            "message_id": None,
            "data": {"user_id": user_id},
        }
    )
    writes.tasks.extend(
        {"prospect_id": prospect_id, "owner_id": o, "type": "task", "title": title, "due_at": now}
        for o in owners
    )


def _keep(
    writes: Writes,
    lead: Watched,
    *,
    due_at: datetime | None,
    first_touch_at: datetime | None = None,
    sla_stage: int | None = None,
) -> None:
    """The lead stays with its rep: its new SLA columns, for the bulk UPDATE."""
    writes.leads.append(
        {
            "prospect_id": lead.prospect_id,
            "first_touch_at": first_touch_at or lead.first_touch_at,
            "sla_stage": lead.sla_stage if sla_stage is None else sla_stage,
            "due_at": due_at,
            "version": lead.version + 1,  # the claim's compare-and-set
        }
    )


class Managers:
    """The team's managers, read once per tick (an alert notifies each of them)."""

    def __init__(self, session: Session, team_id: int) -> None:
        self.session, self.team_id = session, team_id
        self._ids: list[int] | None = None

    def __call__(self) -> list[int]:
        if self._ids is None:
            self._ids = list(
                self.session.scalars(
                    select(User.id).where(User.team_id == self.team_id, User.is_manager.is_(True))
                )
            )
        return self._ids


def _decision(
    lead: Watched, events: list[Seen], settings: LeadTeamSettings, now: datetime
) -> Decision | None:
    """What the rules say about an accepted lead (None for a lead in another state)."""
    if lead.state != LeadState.ACCEPTED or lead.assigned_at is None:
        return None
    return decide(lead.assigned_at, lead.first_touch_at, lead.sla_stage, settings, events, now)


def _hands_over(lead: Watched, decision: Decision | None, now: datetime) -> bool:
    """Whether the tick takes the lead from its rep (no answer by the deadline, no touch in
    time, or N touches without engagement)."""
    if lead.state == LeadState.PENDING:
        return lead.accept_by is not None and lead.accept_by <= now
    return decision is not None and bool({"sla_breach", "no_engagement"} & set(decision.actions))


def _act(
    session: Session,
    rotation: Any,
    lead: Watched,
    decision: Decision | None,
    held: Lead | None,
    prospect: Prospect | None,
    now: datetime,
    writes: Writes,
    managers: Managers,
) -> list[str]:
    """Act on one due lead; `held` and `prospect` are its ORM objects when it is handed over."""
    settings: LeadTeamSettings = rotation.settings
    if lead.state == LeadState.PENDING:
        if held is not None and prospect is not None:  # no answer by the deadline
            expire(session, rotation, held, prospect, now)
            return ["not_accepted"]
        _keep(writes, lead, due_at=lead.accept_by)
        return []
    if decision is None:
        _keep(writes, lead, due_at=None)
        return []
    handing = held is not None and prospect is not None
    if held is not None:  # the hand-over writes the lead through the ORM: these columns too
        held.first_touch_at = decision.first_touch_at
        held.sla_stage = decision.stage
    bulk = None if handing else writes
    owner = None
    if lead.owner_id is not None:
        owner = rotation.users.get(lead.owner_id) or session.get(User, lead.owner_id)
    who = owner.name or owner.email if owner else "nobody"
    for action in decision.actions:
        if action == "warn" and owner is not None:
            title = f"First touch overdue: {lead.email}"
            _note(
                session,
                bulk,
                "lead_sla_warning",
                lead.prospect_id,
                owner.id,
                [owner.id],
                title,
                now,
            )
        elif action == "alert":
            title = f"{who} has not touched the lead {lead.email}"
            _note(
                session,
                bulk,
                "lead_sla_alert",
                lead.prospect_id,
                lead.owner_id,
                managers(),
                title,
                now,
            )
    if held is not None and prospect is not None:
        reason = "sla_breach" if "sla_breach" in decision.actions else "no_engagement"
        detail = (
            f"no touch within {settings.reassign_after_minutes} minutes"
            if reason == "sla_breach"
            else f"{decision.touches} touches without human engagement"
        )
        reassign(
            session,
            rotation,
            held,
            prospect,
            reason,
            now,
            detail=detail,
            to_pool=settings.reassign_to == "pool",
        )
        return decision.actions
    if decision.engaged and decision.first_touch_at is not None:
        due = None  # a person answered: nothing more to watch
    else:
        due = next_check(
            lead.state, lead.assigned_at, decision.first_touch_at, decision.stage, settings, now
        )
    _keep(
        writes,
        lead,
        due_at=due,
        first_touch_at=decision.first_touch_at,
        sla_stage=decision.stage,
    )
    return decision.actions


def _expire_loaded(session: Session, prospect_ids: list[int]) -> None:
    """Leads the session already holds, which the bulk UPDATE changed behind its back (the new
    SLA columns and version), are read again from the database on next use."""
    for pid in prospect_ids:
        lead = session.identity_map.get(identity_key(Lead, pid))
        if lead is not None:
            session.expire(lead)


def due_leads(session: Session, now: datetime, limit: int) -> list[tuple[int, int, int]]:
    """(prospect id, team id, version) of up to `limit` leads whose check is due (the index)."""
    return [
        (pid, team, version)
        for pid, team, version in session.execute(
            select(Lead.prospect_id, Lead.team_id, Lead.version)
            .where(Lead.due_at.is_not(None), Lead.due_at <= now)
            .order_by(Lead.due_at)
            .limit(limit)
        )
    ]


def claim(session: Session, due: list[tuple[int, int]], now: datetime) -> list[Watched]:
    """Lock each due lead whose version is still the one read (SELECT ... FOR UPDATE) and read
    what the rules need; returns those leads in `due`'s order (a lead another tick acted on
    first, or no longer due, is not among them).

    The compare-and-set's write, version + 1, is the tick's own UPDATE of each lead (its new
    SLA columns, or the hand-over): the row lock holds off any other writer until then, and
    one UPDATE per lead instead of two halves what the tick writes into the leads' indexes.
    """
    found: list[Watched] = []
    pairs = tuple_(Lead.prospect_id, Lead.version)
    postgres = session.get_bind().dialect.name == "postgresql"
    size = len(due) if postgres else 500  # SQLite: two placeholders per lead
    for start in range(0, len(due), max(size, 1)):
        chunk = due[start : start + size]
        if postgres:  # two array parameters
            ids, versions = ([row[n] for row in chunk] for n in (0, 1))
            among = pairs.in_(
                select(
                    func.unnest(bindparam(None, ids, type_=ARRAY(Integer))),
                    func.unnest(bindparam(None, versions, type_=ARRAY(Integer))),
                )
            )
        else:
            among = pairs.in_(chunk)
        rows = session.execute(
            select(
                Lead.prospect_id,
                Prospect.email,
                Lead.state,
                Lead.owner_id,
                Lead.assigned_at,
                Lead.accept_by,
                Lead.first_touch_at,
                Lead.sla_stage,
                Lead.version,
            )
            .join(Prospect, Prospect.id == Lead.prospect_id)
            .where(among, Lead.due_at <= now)
            .with_for_update(of=Lead)
        )
        found.extend(Watched(*row) for row in rows)
    order = {pid: n for n, (pid, _) in enumerate(due)}
    return sorted(found, key=lambda lead: order[lead.prospect_id])  # the database's order


def sla_tick(session: Session, now: datetime, *, limit: int = 1000) -> dict[str, int]:
    """One pass over the due leads; returns how many of each action were taken."""
    return act_on(session, due_leads(session, now, limit), now)


def act_on(session: Session, due: list[tuple[int, int, int]], now: datetime) -> dict[str, int]:
    """Act on the leads found due (prospect id, team id, version as read), each at most once
    across schedulers: a lead whose version moved since it was read is skipped."""

    counts: dict[str, int] = {"checked": 0}
    by_team: dict[int, list[tuple[int, int]]] = {}
    for pid, team, version in due:
        by_team.setdefault(team, []).append((pid, version))
    for team_id in sorted(by_team):
        rotation = Rotation(session, team_id, now)  # the team's lock, always before lead rows
        claimed = claim(session, by_team[team_id], now)
        if not claimed:
            continue
        watched = {lead.prospect_id: lead for lead in claimed}
        order = list(watched)
        events = _events(session, order)
        settings = rotation.settings
        decisions = {pid: _decision(watched[pid], events[pid], settings, now) for pid in order}
        handing = [pid for pid in order if _hands_over(watched[pid], decisions[pid], now)]
        held, prospects = _objects(session, handing)
        writes, managers = Writes(), Managers(session, team_id)
        for pid in order:
            counts["checked"] += 1
            acted = _act(
                session,
                rotation,
                watched[pid],
                decisions[pid],
                held.get(pid),
                prospects.get(pid),
                now,
                writes,
                managers,
            )
            for action in acted:
                counts[action] = counts.get(action, 0) + 1
        kept = [row["prospect_id"] for row in writes.leads]
        writes.flush(session)
        _expire_loaded(session, kept)
        rotation.finish()
    return counts
