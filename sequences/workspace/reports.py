"""Follow-up discipline per rep and per-step sequence statistics: pure maths over small queries."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Float, and_, case, cast, distinct, exists, func, select
from sqlalchemy.orm import Session, aliased

from ..models import Enrollment, Event, LeadAssignment, Message, MessageStatus, Prospect, User
from .opens import INFERRED

# What counts as a touch, and its channel.
TOUCH_CHANNELS = {"sent": "email", "call": "call"}
MEETING_TYPES = ("meeting_booked",)  # what POST /prospects/{id}/meetings records
OUTCOME_TYPES = ("open", "click", "reply", "bounce", "unsubscribe")  # see models.OUTCOME_TYPES_SQL
STOPPED_STATUSES = ("replied", "converted", "bounced", "unsubscribed")


@dataclass
class RepReport:
    user_id: int
    name: str
    new_leads: int = 0
    prospects_touched: int = 0
    touches: int = 0
    emails: int = 0
    calls: int = 0
    dropped_after_one: int = 0
    reached_five: int = 0
    median_days_between: float | None = None
    replied: int = 0
    meetings: int = 0

    @property
    def touches_per_prospect(self) -> float:
        return self.touches / self.prospects_touched if self.prospects_touched else 0.0

    def share(self, count: int) -> float:
        return count / self.prospects_touched if self.prospects_touched else 0.0

    def row(self) -> dict[str, object]:
        """The figures as one flat row (the CSV export and the table use it)."""
        return {
            "rep": self.name,
            "new_leads": self.new_leads,
            "prospects_touched": self.prospects_touched,
            "touches": self.touches,
            "touches_per_prospect": round(self.touches_per_prospect, 2),
            "dropped_after_one_touch": round(self.share(self.dropped_after_one), 4),
            "reached_five_touches": round(self.share(self.reached_five), 4),
            "median_days_between_touches": (
                None if self.median_days_between is None else round(self.median_days_between, 2)
            ),
            "email_touches": self.emails,
            "call_touches": self.calls,
            "reply_rate": round(self.share(self.replied), 4),
            "meeting_rate": round(self.share(self.meetings), 4),
        }


def holder() -> Any:
    """SQL for the rep who held the event's prospect when the event happened: the receiver of
    its last hand-over at or before the event (None: it was in the pool), else the giver of its
    first hand-over, else its owner now. So touches stay credited to the rep who made them
    when a lead changes hands."""
    before, first = aliased(LeadAssignment), aliased(LeadAssignment)
    last_to = (
        select(before.to_user_id)
        .where(before.prospect_id == Event.prospect_id, before.at <= Event.at)
        .order_by(before.at.desc(), before.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    first_from = (
        select(first.from_user_id)
        .where(first.prospect_id == Event.prospect_id)
        .order_by(first.at, first.id)
        .limit(1)
        .scalar_subquery()
    )
    had_before = exists().where(before.prospect_id == Event.prospect_id, before.at <= Event.at)
    had_any = exists().where(first.prospect_id == Event.prospect_id)
    return case((had_before, last_to), (had_any, first_from), else_=Prospect.owner_id)


def rep_report(session: Session, team_id: int, start: datetime, end: datetime) -> list[RepReport]:
    """Every user of the team with their follow-up figures for [start, end)."""
    users = list(
        session.scalars(select(User).where(User.team_id == team_id).order_by(User.name, User.id))
    )
    reps = {u.id: RepReport(u.id, u.name or u.email) for u in users}

    for owner_id, count in session.execute(
        select(Prospect.owner_id, func.count())
        .where(Prospect.team_id == team_id, Prospect.created_at >= start, Prospect.created_at < end)
        .group_by(Prospect.owner_id)
    ):
        if owner_id in reps:
            reps[owner_id].new_leads = count

    in_period = (Event.at >= start, Event.at < end)
    # Per prospect (touches, calls, days from first to last touch), then per rep, all in SQL:
    # a 90-day report over ten thousand prospects returns one row per rep.
    who = holder()
    # Each touch with the rep who held the prospect then (a lead that changed hands counts
    # for each of its holders, with their own touches).
    touches = (
        select(
            Event.prospect_id.label("prospect_id"),
            who.label("owner_id"),
            Prospect.status.label("status"),
            Event.type.label("type"),
            Event.at.label("at"),
        )
        .join(Prospect, Prospect.id == Event.prospect_id)
        .where(Prospect.team_id == team_id, Event.type.in_(TOUCH_CHANNELS), *in_period)
        .subquery()
    )
    t = touches.c
    per_prospect = (
        select(
            t.owner_id.label("owner_id"),
            t.status.label("status"),
            func.count().label("n"),
            func.sum(case((t.type == "call", 1), else_=0)).label("calls"),
            (_days(session, func.max(t.at)) - _days(session, func.min(t.at))).label("span"),
        )
        .group_by(t.prospect_id, t.owner_id, t.status)
        .subquery()
    )
    n = per_prospect.c.n
    # Dropped: one touch and then nothing, though the prospect never answered or stopped us.
    dropped = and_(n == 1, per_prospect.c.status.not_in(STOPPED_STATUSES))
    # Each prospect's average gap, then the median over prospects: one chatty prospect with
    # fifty touches does not outweigh forty prospects with two.
    gap = cast(per_prospect.c.span, Float) / (n - 1)
    postgres = session.get_bind().dialect.name == "postgresql"
    columns = [
        per_prospect.c.owner_id,
        func.count(),
        func.sum(n),
        func.sum(per_prospect.c.calls),
        func.sum(case((dropped, 1), else_=0)),
        func.sum(case((n >= 5, 1), else_=0)),
    ]
    if postgres:
        columns.append(func.percentile_cont(0.5).within_group(case((n > 1, gap), else_=None)))
    for owner_id, touched, touches, calls, one, five, *median in session.execute(
        select(*columns).group_by(per_prospect.c.owner_id)
    ):
        rep = reps.get(owner_id)
        if rep is None:
            continue
        rep.prospects_touched, rep.touches = touched, int(touches or 0)
        rep.calls = int(calls or 0)
        rep.emails = rep.touches - rep.calls
        rep.dropped_after_one, rep.reached_five = int(one or 0), int(five or 0)
        rep.median_days_between = float(median[0]) if median and median[0] is not None else None
    if not postgres:  # SQLite has no percentile_cont: the gaps come back and Python takes it
        gaps: dict[int | None, list[float]] = defaultdict(list)
        for owner_id, value in session.execute(select(per_prospect.c.owner_id, gap).where(n > 1)):
            gaps[owner_id].append(float(value))
        for owner_id, values in gaps.items():
            if owner_id in reps:
                reps[owner_id].median_days_between = statistics.median(values)

    for column, types in (("replied", ("reply",)), ("meetings", MEETING_TYPES)):
        outcomes = (
            select(Event.prospect_id.label("prospect_id"), who.label("owner_id"))
            .join(Prospect, Prospect.id == Event.prospect_id)
            .where(Prospect.team_id == team_id, Event.type.in_(types), *in_period)
            .subquery()
        )
        for owner_id, count in session.execute(
            select(outcomes.c.owner_id, func.count(distinct(outcomes.c.prospect_id))).group_by(
                outcomes.c.owner_id
            )
        ):
            if owner_id in reps:
                setattr(reps[owner_id], column, count)

    return list(reps.values())


def _days(session: Session, column: Any) -> Any:
    """A timestamp as a number of days, in SQL: spans are computed by the database, so ten
    thousand prospects cost ten thousand floats rather than twenty thousand datetimes."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column) / 86400.0
    return func.julianday(column)


# Per-step statistics


@dataclass
class StepStats:
    position: int
    variant: str | None
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    replied: int = 0
    bounced: int = 0
    unsubscribed: int = 0
    machine_opened: int = 0
    # Of the opened messages, those no pixel showed opened: a click or a reply proved it.
    inferred_opened: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def rate(self, count: int) -> float:
        """A share of the delivered messages (of the sent ones when none was delivered)."""
        base = self.delivered or self.sent
        return count / base if base else 0.0

    @property
    def funnel(self) -> list[tuple[str, int]]:
        return [
            ("Sent", self.sent),
            ("Delivered", self.delivered),
            ("Opened", self.opened),
            ("Clicked", self.clicked),
            ("Replied", self.replied),
        ]


def step_stats(session: Session, sequence_id: int) -> list[StepStats]:
    """Sent, delivered, human opens, clicks, replies, bounces, unsubscribes per step and variant.

    Counts are of messages (an email opened five times counts once), so rates stay below 100%.
    """
    stats: dict[tuple[int, str | None], StepStats] = {}

    def at(position: int, variant: str | None) -> StepStats:
        key = (position, variant)
        if key not in stats:
            stats[key] = StepStats(position, variant)
        return stats[key]

    of_sequence = (
        Message.enrollment_id == Enrollment.id,
        Enrollment.sequence_id == sequence_id,
        Message.direction == "out",
    )
    for position, variant, count in session.execute(
        select(Message.step_position, Message.variant, func.count())
        .join(Enrollment, Enrollment.id == Message.enrollment_id)
        .where(*of_sequence, Message.status == MessageStatus.SENT)
        .group_by(Message.step_position, Message.variant)
    ):
        at(position or 0, variant).sent = count

    # Distinct (message, outcome) first, counted per step after: a hash of small rows, read
    # from the ix_events_message_outcome index alone, instead of sorting every open.
    outcomes = (
        select(Event.message_id, Event.type, Event.verdict)
        .join(Message, Message.id == Event.message_id)
        .join(Enrollment, Enrollment.id == Message.enrollment_id)
        .where(*of_sequence, Event.type.in_(OUTCOME_TYPES))
        .distinct()
        .subquery()
    )
    for position, variant, type_, verdict, count in session.execute(
        select(
            Message.step_position,
            Message.variant,
            outcomes.c.type,
            outcomes.c.verdict,
            func.count(),
        )
        .join(outcomes, outcomes.c.message_id == Message.id)
        .group_by(Message.step_position, Message.variant, outcomes.c.type, outcomes.c.verdict)
    ):
        s = at(position or 0, variant)
        if type_ == "open":
            if verdict == "human":
                s.opened += count
            else:
                s.machine_opened += count
        elif type_ == "click" and verdict == "human":
            s.clicked += count
        elif type_ == "reply":
            s.replied += count
        elif type_ == "bounce":
            s.bounced += count
        elif type_ == "unsubscribe":
            s.unsubscribed += count
    # Messages whose every human open was inferred (none recorded by the pixel).
    inferred_only = (
        select(Event.message_id)
        .join(Message, Message.id == Event.message_id)
        .join(Enrollment, Enrollment.id == Message.enrollment_id)
        .where(*of_sequence, Event.type == "open", Event.verdict == "human")
        .group_by(Event.message_id)
        .having(func.max(case((Event.reason == INFERRED, 0), else_=1)) == 0)
        .subquery()
    )
    for position, variant, count in session.execute(
        select(Message.step_position, Message.variant, func.count())
        .join(inferred_only, inferred_only.c.message_id == Message.id)
        .group_by(Message.step_position, Message.variant)
    ):
        at(position or 0, variant).inferred_opened = count
    for s in stats.values():
        s.delivered = max(s.sent - s.bounced, 0)
    return sorted(stats.values(), key=lambda s: (s.position, s.variant or ""))
