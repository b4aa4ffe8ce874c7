"""The manager's view of the lead process: the pool, leads per rep, speed to lead, hand-overs,
and conversions by status path.

The maths (`percentile`, `first_touch_delays`, `status_path`, `conversion_paths`) is pure and
tested without a database; `lead_report` feeds it from a few grouped queries. Time to first
touch is measured per hand-over, from the lead_assignments history and the touch events (emails
sent, calls logged), so a lead that changed hands counts for each rep who held it, with the
touches made while they held it. Status paths come from the `prospect.status_changed` events.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Event, Lead, LeadAssignment, LeadState, Prospect, ProspectStatus, User
from ..workspace import holder
from .assignment import REASONS
from .sla import TOUCH_TYPES
from .statuses import STATUS_CHANGED

CONVERTED = "converted"

# Hand-overs away from a rep who said no, or did not answer by the deadline.
REJECTIONS = ("rejected", "not_accepted")
_DAY = timedelta(days=1)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th quantile (0..1) by linear interpolation between ranks, as PostgreSQL's
    percentile_cont computes it; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Handover:
    """A lead given to a rep (or to the pool: `to_user_id` None) at a time."""

    prospect_id: int
    to_user_id: int | None
    at: datetime


def first_touch_delays(
    handovers: Iterable[Handover], touches: dict[int, list[datetime]]
) -> list[tuple[Handover, float | None]]:
    """Each hand-over to a rep with the seconds until the lead's first touch while that rep
    held it (None: not touched before it moved on, or not yet). A touch belongs to the
    holding whose window [its hand-over, the next hand-over) contains it."""
    by_lead: dict[int, list[Handover]] = defaultdict(list)
    for handover in handovers:
        by_lead[handover.prospect_id].append(handover)
    out: list[tuple[Handover, float | None]] = []
    for prospect_id, rows in by_lead.items():
        rows.sort(key=lambda h: h.at)
        times = sorted(touches.get(prospect_id, []))
        for i, handover in enumerate(rows):
            if handover.to_user_id is None:
                continue
            until = rows[i + 1].at if i + 1 < len(rows) else None
            first = next(
                (t for t in times if t >= handover.at and (until is None or t < until)), None
            )
            delay = (first - handover.at).total_seconds() if first is not None else None
            out.append((handover, delay))
    return out


@dataclass(frozen=True)
class StatusChange:
    """One `prospect.status_changed` event: the prospect moved from one status to another."""

    prospect_id: int
    at: datetime
    event_id: int
    from_status: str
    to_status: str


def status_path(changes: Iterable[StatusChange]) -> tuple[tuple[str, ...], StatusChange | None]:
    """A prospect's statuses in the order it went through them (from the first change's source),
    up to its first entry into "converted", and that converting change (None: not converted).

    A status entered twice in a row (a change lost to a race, re-sent) counts once; a status
    left and entered again later counts again (new -> contacted -> new -> contacted)."""
    path: list[str] = []
    for change in sorted(changes, key=lambda c: (c.at, c.event_id)):
        if not path:
            path.append(change.from_status)
        if path[-1] != change.to_status:
            path.append(change.to_status)
        if change.to_status == CONVERTED:
            return tuple(path), change
    return tuple(path), None


@dataclass
class PathFigures:
    """Conversions by one status path: `converted` prospects took exactly this path to
    "converted"; `entered` prospects went through its steps before "converted" (the path
    without its last status is how their own path begins), converted or not."""

    path: tuple[str, ...]
    converted: int = 0
    entered: int = 0

    @property
    def rate(self) -> float:
        return self.converted / self.entered if self.entered else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "path": list(self.path),
            "converted": self.converted,
            "entered": self.entered,
            "conversion_rate": round(self.rate, 4),
        }


def conversion_paths(
    paths: Mapping[int, tuple[str, ...]], converted: Iterable[int]
) -> list[PathFigures]:
    """For each path that converted prospects took: how many took it, and of the prospects
    whose path began with its steps before "converted", the share that converted by it.
    Most conversions first."""
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    for prospect_id in converted:
        counts[paths[prospect_id]] += 1
    out = []
    for path, count in counts.items():
        before = path[:-1]
        entered = sum(1 for p in paths.values() if p[: len(before)] == before)
        out.append(PathFigures(path, count, entered))
    out.sort(key=lambda f: (-f.converted, -f.rate, f.path))
    return out


@dataclass
class RepLeads:
    user_id: int
    name: str
    open: int = 0  # owned now, pending or accepted, prospect still active
    accepted: int = 0  # owned now and accepted (or assigned where no acceptance is asked)
    pending: int = 0  # waiting now for the rep's answer
    assigned: int = 0  # hand-overs to the rep in the period
    rejected: int = 0  # rejected in the period, or not answered by the deadline
    converted: int = 0  # owned leads whose prospect converted
    touched: int = 0  # hand-overs in the period touched while the rep held the lead
    untouched: int = 0  # hand-overs in the period with no touch (yet, or before it moved on)
    delays: list[float] = field(default_factory=list, repr=False)  # seconds to first touch
    reassigned: dict[str, int] = field(default_factory=dict)  # reason -> leads taken from them
    # Conversions by status path, credited to the rep who held each prospect when it converted
    # (or, for one that did not, at its last change in the period).
    status_paths: list[PathFigures] = field(default_factory=list, repr=False)

    @property
    def median_minutes(self) -> float | None:
        value = percentile(self.delays, 0.5)
        return None if value is None else value / 60

    @property
    def p90_minutes(self) -> float | None:
        value = percentile(self.delays, 0.9)
        return None if value is None else value / 60

    def row(self) -> dict[str, object]:
        """The figures as one flat row (the CSV export, the API and the table use it)."""

        def minutes(value: float | None) -> float | None:
            return None if value is None else round(value, 1)

        return {
            "rep": self.name,
            "open": self.open,
            "accepted": self.accepted,
            "pending": self.pending,
            "assigned": self.assigned,
            "rejected": self.rejected,
            "converted": self.converted,
            "touched": self.touched,
            "untouched": self.untouched,
            "median_minutes_to_first_touch": minutes(self.median_minutes),
            "p90_minutes_to_first_touch": minutes(self.p90_minutes),
            **{f"reassigned_{reason}": self.reassigned.get(reason, 0) for reason in REASONS},
        }


@dataclass
class LeadReport:
    pool_size: int
    pool_oldest_at: datetime | None
    pool_over_day: int  # leads waiting in the pool for more than 24 hours
    reps: list[RepLeads]
    reassignments: dict[str, int]  # reason -> hand-overs away from a rep in the period
    # Conversions in the period by the status path the prospects took, for the whole team.
    status_paths: list[PathFigures] = field(default_factory=list)
    changed: int = 0  # prospects whose status changed in the period (the paths' population)

    def pool_age_hours(self, now: datetime) -> float | None:
        if self.pool_oldest_at is None:
            return None
        return max((now - self.pool_oldest_at).total_seconds(), 0.0) / 3600


def _chunks(ids: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _speed(
    session: Session, team_id: int, start: datetime, end: datetime, reps: dict[int, RepLeads]
) -> None:
    """Time to first touch for every hand-over to a rep in [start, end)."""
    ids = sorted(
        set(
            session.scalars(
                select(LeadAssignment.prospect_id).where(
                    LeadAssignment.team_id == team_id,
                    LeadAssignment.at >= start,
                    LeadAssignment.at < end,
                    LeadAssignment.to_user_id.is_not(None),
                )
            )
        )
    )
    handovers: list[Handover] = []
    touches: dict[int, list[datetime]] = defaultdict(list)
    for chunk in _chunks(ids):
        # Later hand-overs too: they close the window of the last one in the period.
        for pid, to_user, at in session.execute(
            select(LeadAssignment.prospect_id, LeadAssignment.to_user_id, LeadAssignment.at).where(
                LeadAssignment.prospect_id.in_(chunk), LeadAssignment.at >= start
            )
        ):
            handovers.append(Handover(pid, to_user, at))
        for event_pid, at in session.execute(
            select(Event.prospect_id, Event.at).where(
                Event.prospect_id.in_(chunk), Event.type.in_(TOUCH_TYPES), Event.at >= start
            )
        ):
            if event_pid is not None:
                touches[event_pid].append(at)
    for handover, delay in first_touch_delays(handovers, touches):
        rep = reps.get(handover.to_user_id) if handover.to_user_id is not None else None
        if rep is None or not start <= handover.at < end:
            continue
        rep.assigned += 1
        if delay is None:
            rep.untouched += 1
        else:
            rep.touched += 1
            rep.delays.append(delay)


def _paths(
    session: Session, team_id: int, start: datetime, end: datetime, reps: dict[int, RepLeads]
) -> tuple[list[PathFigures], int]:
    """Conversions by status path: the prospects whose status changed in [start, end), each
    with its whole path up to `end` (earlier changes included), less those that had converted
    before `start`; converted are those whose first entry into "converted" is in the period."""
    ids = sorted(
        {
            pid
            for pid in session.scalars(
                select(Event.prospect_id)
                .join(Prospect, Prospect.id == Event.prospect_id)
                .where(
                    Prospect.team_id == team_id,
                    Event.type == STATUS_CHANGED,
                    Event.at >= start,
                    Event.at < end,
                )
            )
            if pid is not None
        }
    )
    changes: dict[int, list[StatusChange]] = defaultdict(list)
    for chunk in _chunks(ids):
        for event_id, pid, at, data in session.execute(
            select(Event.id, Event.prospect_id, Event.at, Event.data).where(
                Event.prospect_id.in_(chunk), Event.type == STATUS_CHANGED, Event.at < end
            )
        ):
            data = data or {}
            if pid is not None and data.get("from") and data.get("to"):
                changes[pid].append(
                    StatusChange(pid, at, event_id, str(data["from"]), str(data["to"]))
                )
    paths: dict[int, tuple[str, ...]] = {}
    converted: list[int] = []
    deciding: dict[int, int] = {}  # prospect -> the change whose holder is credited
    for pid, rows in changes.items():
        path, conversion = status_path(rows)
        if conversion is not None and conversion.at < start:
            continue  # converted before the period: not this period's figures
        paths[pid] = path
        if conversion is not None:
            converted.append(pid)
            deciding[pid] = conversion.event_id
        else:
            deciding[pid] = max(rows, key=lambda c: (c.at, c.event_id)).event_id
    team = conversion_paths(paths, converted)
    # Per rep: the same figures among the prospects each rep held at the deciding change.
    held: dict[int, int | None] = {}
    event_ids = sorted(deciding.values())
    who = holder()
    for chunk in _chunks(event_ids):
        for pid, user_id in session.execute(
            select(Event.prospect_id, who)
            .join(Prospect, Prospect.id == Event.prospect_id)
            .where(Event.id.in_(chunk))
        ):
            held[pid] = user_id
    for user_id, rep in reps.items():
        mine = {pid: p for pid, p in paths.items() if held.get(pid) == user_id}
        rep.status_paths = conversion_paths(mine, [pid for pid in converted if pid in mine])
    return team, len(paths)


def lead_report(
    session: Session, team_id: int, start: datetime, end: datetime, now: datetime
) -> LeadReport:
    """The team's lead figures: the pool now, each rep's leads now, and [start, end)'s
    hand-overs, rejections and time to first touch."""
    users = list(
        session.scalars(select(User).where(User.team_id == team_id).order_by(User.name, User.id))
    )
    reps = {u.id: RepLeads(u.id, u.name or u.email) for u in users}

    size, oldest = session.execute(
        select(func.count(), func.min(Lead.pooled_at)).where(
            Lead.team_id == team_id, Lead.state == LeadState.POOL
        )
    ).one()
    over_day = session.scalar(
        select(func.count()).where(
            Lead.team_id == team_id,
            Lead.state == LeadState.POOL,
            Lead.pooled_at < now - _DAY,
        )
    )

    for owner_id, state, status, count in session.execute(
        select(Lead.owner_id, Lead.state, Prospect.status, func.count())
        .join(Prospect, Prospect.id == Lead.prospect_id)
        .where(Lead.team_id == team_id, Lead.owner_id.is_not(None))
        .group_by(Lead.owner_id, Lead.state, Prospect.status)
    ):
        rep = reps.get(owner_id) if owner_id is not None else None
        if rep is None:
            continue
        if status == ProspectStatus.CONVERTED:
            rep.converted += count
        if status != ProspectStatus.ACTIVE or state == LeadState.POOL:
            continue
        rep.open += count
        if state == LeadState.PENDING:
            rep.pending += count
        elif state == LeadState.ACCEPTED:
            rep.accepted += count

    in_period = (
        LeadAssignment.team_id == team_id,
        LeadAssignment.at >= start,
        LeadAssignment.at < end,
    )
    reasons: dict[str, int] = {}
    for from_user, reason, count in session.execute(
        select(LeadAssignment.from_user_id, LeadAssignment.reason, func.count())
        .where(*in_period, LeadAssignment.from_user_id.is_not(None))
        .group_by(LeadAssignment.from_user_id, LeadAssignment.reason)
    ):
        reasons[reason] = reasons.get(reason, 0) + count
        if from_user in reps:
            rep = reps[from_user]
            rep.reassigned[reason] = rep.reassigned.get(reason, 0) + count
            if reason in REJECTIONS:
                rep.rejected += count

    _speed(session, team_id, start, end, reps)
    paths, changed = _paths(session, team_id, start, end, reps)
    return LeadReport(
        pool_size=int(size or 0),
        pool_oldest_at=oldest,
        pool_over_day=int(over_day or 0),
        reps=list(reps.values()),
        reassignments=dict(sorted(reasons.items())),
        status_paths=paths,
        changed=changed,
    )


def report_json(report: LeadReport, now: datetime) -> dict[str, object]:
    age = report.pool_age_hours(now)
    return {
        "pool": {
            "size": report.pool_size,
            "oldest_pooled_at": report.pool_oldest_at.isoformat()
            if report.pool_oldest_at
            else None,
            "oldest_age_hours": None if age is None else round(age, 1),
            "waiting_over_24h": report.pool_over_day,
        },
        "reps": [
            {
                "user_id": r.user_id,
                **r.row(),
                "status_paths": [p.to_json() for p in r.status_paths],
            }
            for r in report.reps
        ],
        "reassignments": report.reassignments,
        "status_paths": [p.to_json() for p in report.status_paths],
        "status_changed_prospects": report.changed,
    }
