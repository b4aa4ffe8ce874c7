"""The manager's view of the lead process: the pool, leads per rep, speed to lead, hand-overs.

The maths (`percentile`, `first_touch_delays`) is pure and tested without a database; `lead_report`
feeds it from a few grouped queries. Time to first touch is measured per hand-over, from the
lead_assignments history and the touch events (emails sent, calls logged), so a lead that
changed hands counts for each rep who held it, with the touches made while they held it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Event, Lead, LeadAssignment, LeadState, Prospect, ProspectStatus, User
from .assignment import REASONS
from .sla import TOUCH_TYPES

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
    return LeadReport(
        pool_size=int(size or 0),
        pool_oldest_at=oldest,
        pool_over_day=int(over_day or 0),
        reps=list(reps.values()),
        reassignments=dict(sorted(reasons.items())),
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
        "reps": [{"user_id": r.user_id, **r.row()} for r in report.reps],
        "reassignments": report.reassignments,
    }
