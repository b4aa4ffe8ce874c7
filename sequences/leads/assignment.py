"""Who gets a lead: the company's owner, a routing rule, or a fair weighted round-robin.

Fairness across processes: every assignment of a team runs under the lock of the team's
`lead_team_settings` row (SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers with
BEGIN IMMEDIATE), and the rotation's state (each rep's credit) lives in the database, so two
processes assigning at once take turns on one rotation instead of each running their own.

The rotation is a smooth weighted round-robin (as nginx balances upstreams): at each pick every
eligible rep's credit grows by their weight, the rep with the most credit gets the lead and gives
back the sum of the weights. Equal weights give a plain rotation (1,000 leads to 4 reps: 250
each); a rep away or full is skipped without running up a debt that would flood them on return.

"Today" is the rep's own calendar day (their effective time zone: theirs, else the team's, else
UTC): a rep in Los Angeles away until the 5th is away until midnight of the 5th in Los Angeles,
and their daily cap starts again at their midnight, not at midnight UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..enrollment import LEAD_AWAITING, pause, record, stop_prospect
from ..errors import NotFound, ValidationError
from ..models import (
    Enrollment,
    EnrollmentStatus,
    Lead,
    LeadAssignment,
    LeadRep,
    LeadState,
    LeadTeamSettings,
    Prospect,
    ProspectStatus,
    Task,
    User,
)
from ..workspace import effective_zone
from .deadlines import next_due
from .pool import company_key, ensure_lead, rep_rows, settings_for

AWAITING = LEAD_AWAITING
REASONS = (
    "rule",  # round-robin or a routing rule
    "company",  # the company already has an owner
    "manual",  # a manager chose
    "rejected",  # the previous rep rejected it
    "not_accepted",  # the previous rep did not answer by the deadline
    "sla_breach",  # no first touch in time
    "no_engagement",  # N touches without any human engagement
)


# The pure part


@dataclass
class Candidate:
    """A rep as the rotation sees them."""

    user_id: int
    weight: int = 1
    credit: int = 0
    last_seq: int = 0
    active: bool = True
    away_from: date | None = None
    away_until: date | None = None
    max_open: int | None = None
    max_daily: int | None = None
    open_count: int = 0
    day_count: int = 0
    # The rep's own date now (their time zone), set by Rotation; None: the date passed in.
    local_today: date | None = None

    def away(self, today: date) -> bool:
        if self.away_from is None and self.away_until is None:
            return False
        return (self.away_from or date.min) <= today <= (self.away_until or date.max)

    def available(self, today: date) -> bool:
        """Working today (active, not on vacation), whatever their load. `today` stands in for
        the rep's own date only when the rotation did not set it (the pure tests)."""
        return self.active and not self.away(self.local_today or today)

    def has_room(self) -> bool:
        if self.max_open is not None and self.open_count >= self.max_open:
            return False
        return self.max_daily is None or self.day_count < self.max_daily


def eligible(candidates: Iterable[Candidate], today: date) -> list[Candidate]:
    """Reps the rotation may pick today: active, not away, under their caps."""
    return [c for c in candidates if c.available(today) and c.has_room()]


def choose(
    candidates: Sequence[Candidate], exclude: Iterable[int] = (), seq: int = 0
) -> Candidate | None:
    """One smooth weighted round-robin pick among `candidates` (already eligible), updating
    their credit. Reps in `exclude` (earlier owners of the lead) are picked only when nobody
    else is eligible. Ties go to the rep picked longest ago."""
    order = list(exclude)  # earlier owners, the latest last
    excluded = set(order)
    preferred = [c for c in candidates if c.user_id not in excluded]
    if not preferred and order:  # all had it: anyone but the one it just left
        preferred = [c for c in candidates if c.user_id != order[-1]]
    preferred = preferred or list(candidates)
    if not preferred:
        return None
    total = sum(c.weight for c in preferred)
    for c in preferred:
        c.credit += c.weight
    best = max(preferred, key=lambda c: (c.credit, -c.last_seq, -c.user_id))
    best.credit -= total
    best.last_seq = seq
    return best


# The database part


def _domain_of(session: Session) -> Any:
    """SQL for the domain of Prospect.email on this backend."""
    if session.get_bind().dialect.name == "postgresql":
        return func.lower(func.split_part(Prospect.email, "@", 2))
    return func.lower(func.substr(Prospect.email, func.instr(Prospect.email, "@") + 1))


@dataclass
class Pick:
    user_id: int | None
    reason: str
    detail: str


class Rotation:
    """One team's assignment state for one transaction: takes the team's lock, loads the reps
    once, picks for any number of leads, and writes the rotation back in `finish()`."""

    def __init__(self, session: Session, team_id: int, now: datetime) -> None:
        self.session = session
        self.team_id = team_id
        self.now = now
        # Naive instants from the database are UTC (sequences/models.py stores UTC).
        self.utc_now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
        self.today = self.utc_now.date()  # only a fallback: each rep has their own today
        self.settings: LeadTeamSettings = settings_for(session, team_id, lock=True)
        self.seq = self.settings.rotation_seq
        users = list(session.scalars(select(User).where(User.team_id == team_id)))
        self.users = {u.id: u for u in users}
        rows = {
            r.user_id: r for r in session.scalars(select(LeadRep).where(LeadRep.team_id == team_id))
        }
        missing = [u for u in users if u.id not in rows and not u.is_manager]
        if missing:  # a team's first rotation: its reps' rows in one flush, not two per rep
            rows.update(rep_rows(session, missing))
        self.rows = rows
        # Open leads matter only against a max_open cap: counted for capped reps alone, so a
        # scheduler tick in a team of a million leads does not count them all (bench/leads.py).
        capped = sorted(r.user_id for r in rows.values() if r.max_open is not None)
        open_counts = dict(
            session.execute(
                select(Lead.owner_id, func.count())
                .join(Prospect, Prospect.id == Lead.prospect_id)
                .where(
                    Lead.owner_id.in_(capped),
                    Lead.team_id == team_id,
                    Lead.state.in_((LeadState.PENDING, LeadState.ACCEPTED)),
                    Prospect.status == ProspectStatus.ACTIVE,
                )
                .group_by(Lead.owner_id)
            ).all()
            if capped
            else []
        )
        days = {uid: self._local_today(self.users.get(uid)) for uid in rows}
        self.candidates = {
            r.user_id: Candidate(
                user_id=r.user_id,
                weight=max(1, r.weight),
                credit=r.credit,
                last_seq=r.last_seq,
                active=r.active,
                away_from=r.away_from,
                away_until=r.away_until,
                max_open=r.max_open,
                max_daily=r.max_daily,
                open_count=int(open_counts.get(r.user_id, 0)),
                # The daily cap counts the rep's own day: a new local day starts at zero.
                day_count=r.day_count if r.day == days[r.user_id] else 0,
                local_today=days[r.user_id],
            )
            for r in rows.values()
        }
        self.companies: dict[str, int | None] = {}

    def _local_today(self, user: User | None) -> date:
        if user is None:
            return self.today
        return self.utc_now.astimezone(effective_zone(user)).date()

    def preload(self, prospects: Sequence[Prospect]) -> None:
        """Find the owners of these prospects' companies in a few queries, not one per lead."""
        keys = {k for k in (company_key(p) for p in prospects) if k and k not in self.companies}
        if not keys:
            return
        found: dict[str, int] = {}
        ordered = sorted(keys)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            for key, owner in self.session.execute(
                select(Lead.company_key, Lead.owner_id)
                .where(
                    Lead.team_id == self.team_id,
                    Lead.company_key.in_(chunk),
                    Lead.owner_id.is_not(None),
                )
                .order_by(Lead.assigned_at)
            ):
                if key is not None and owner is not None:
                    found[key] = owner
            domains = [k[1:] for k in chunk if k.startswith("@")]
            names = [k for k in chunk if not k.startswith("@")]
            domain = _domain_of(self.session)
            conditions = []
            if domains:
                conditions.append(domain.in_(domains))
            if names:
                conditions.append(func.lower(Prospect.company).in_(names))
            for email, company, owner in self.session.execute(
                select(Prospect.email, Prospect.company, Prospect.owner_id)
                .where(
                    Prospect.team_id == self.team_id,
                    Prospect.owner_id.is_not(None),
                    or_(*conditions),
                )
                .order_by(Prospect.id)
            ):
                by_domain = "@" + email.rpartition("@")[2].lower()
                by_name = (company or "").strip().lower()
                for key in (by_domain, by_name):
                    if key in keys and key not in found and owner is not None:
                        found[key] = owner
        for key in keys:
            self.companies[key] = found.get(key)

    def _route(self, prospect: Prospect) -> tuple[list[int] | None, str]:
        name = self.settings.route_field
        if not name:
            return None, ""
        value = getattr(prospect, name, None) if name in ("company", "timezone") else None
        if value is None:
            value = (prospect.fields or {}).get(name)
        if value is None or str(value).strip() == "":
            return None, ""
        ids = (self.settings.routes or {}).get(str(value).strip().lower())
        if not ids:
            return None, ""
        return list(ids), f"{name} = {value}"

    def pick(self, prospect: Prospect, exclude: Sequence[int] = ()) -> Pick:
        excluded = list(exclude)
        key = company_key(prospect)
        if key is not None:
            if key not in self.companies:
                self.preload([prospect])
            owner = self.companies.get(key)
            candidate = self.candidates.get(owner) if owner is not None else None
            if candidate is not None and candidate.available(self.today) and owner not in excluded:
                return self._taken(
                    candidate, key, "company", f"the company {key.lstrip('@')} is theirs"
                )
        pool = eligible(self.candidates.values(), self.today)
        routed, detail = self._route(prospect)
        if routed is not None:
            subset = [c for c in pool if c.user_id in routed]
            if subset:
                self.seq += 1
                chosen = choose(subset, excluded, self.seq)
                assert chosen is not None
                return self._taken(chosen, key, "rule", detail)
        self.seq += 1
        chosen = choose(pool, excluded, self.seq)
        if chosen is None:
            self.seq -= 1
            return Pick(None, "rule", "no rep is available (all inactive, away or full)")
        return self._taken(chosen, key, "rule", "round-robin")

    def _taken(self, candidate: Candidate, key: str | None, reason: str, detail: str) -> Pick:
        candidate.open_count += 1
        candidate.day_count += 1
        if key is not None:
            self.companies[key] = candidate.user_id
        return Pick(candidate.user_id, reason, detail)

    def took(self, user_id: int) -> None:
        """Count a hand-over that did not come from `pick` (manual) against the rep's caps."""
        candidate = self.candidates.get(user_id)
        if candidate is not None:
            candidate.open_count += 1
            candidate.day_count += 1

    def finish(self) -> None:
        """Write the rotation back (still under the team's lock)."""
        for user_id, candidate in self.candidates.items():
            row = self.rows[user_id]
            row.credit = candidate.credit
            row.last_seq = candidate.last_seq
            row.day = candidate.local_today or self.today
            row.day_count = candidate.day_count
        self.settings.rotation_seq = self.seq
        self.session.flush()


def _forget_owner(session: Session, prospect_id: int) -> None:
    # The webhook outbox caches owners per transaction; this one just changed.
    owners = session.info.get("followup_prospect_owners")
    if isinstance(owners, dict):
        owners.pop(prospect_id, None)


def _close_task(session: Session, lead: Lead, now: datetime, status: str) -> None:
    if lead.task_id is None:
        return
    task = session.get(Task, lead.task_id)
    if task is not None and task.status == "open":
        task.status = status
        task.completed_at = now
    lead.task_id = None


def hand_over(
    session: Session,
    lead: Lead,
    prospect: Prospect,
    settings: LeadTeamSettings,
    to_user_id: int | None,
    reason: str,
    now: datetime,
    *,
    detail: str = "",
    by_user_id: int | None = None,
) -> LeadAssignment:
    """Give the lead to a rep (or back to the pool), record why, start its clocks."""
    before = lead.owner_id
    if before is not None and before != to_user_id and before not in (lead.previous_owners or []):
        lead.previous_owners = [*(lead.previous_owners or []), before]
    _close_task(session, lead, now, "skipped")
    lead.owner_id = to_user_id
    prospect.owner_id = to_user_id
    lead.version += 1
    lead.sla_stage = 0
    lead.first_touch_at = None
    lead.accepted_at = None
    lead.accept_by = None
    if to_user_id is None:
        lead.state = LeadState.POOL
        lead.pooled_at = now
        lead.assigned_at = None
        lead.due_at = None
    elif settings.acceptance_required:
        lead.state = LeadState.PENDING
        lead.assigned_at = now
        lead.accept_by = now + timedelta(minutes=settings.accept_within_minutes)
        lead.due_at = lead.accept_by
        # Nothing runs for a lead its rep has not accepted (enroll() holds new ones too).
        for enrollment in session.scalars(
            select(Enrollment).where(
                Enrollment.prospect_id == prospect.id,
                Enrollment.status == EnrollmentStatus.ACTIVE,
            )
        ):
            pause(session, enrollment, now, reason=AWAITING)
        task = Task(
            prospect_id=prospect.id,
            owner_id=to_user_id,
            type="task",
            title=f"Accept or reject the new lead {prospect.email}",
            notes=f"Assigned to you ({reason}{': ' + detail if detail else ''}).",
            due_at=lead.accept_by,
        )
        session.add(task)
        session.flush()
        lead.task_id = task.id
    else:
        lead.state = LeadState.ACCEPTED
        lead.assigned_at = now
        lead.due_at = next_due(lead, settings, now)
    session.flush()
    _forget_owner(session, prospect.id)
    row = LeadAssignment(
        prospect_id=prospect.id,
        team_id=lead.team_id,
        from_user_id=before,
        to_user_id=to_user_id,
        reason=reason,
        detail=detail,
        by_user_id=by_user_id,
        at=now,
    )
    session.add(row)
    record(
        session,
        "lead.assigned" if before is None and to_user_id is not None else "lead.reassigned",
        now,
        prospect_id=prospect.id,
        extra={
            "from_user_id": before,
            "to_user_id": to_user_id,
            "reason": reason,
            "detail": detail,
            "by_user_id": by_user_id,
            "state": lead.state,
        },
    )
    return row


def _leads(
    session: Session, team_id: int, prospect_ids: Sequence[int], now: datetime
) -> list[tuple[Lead, Prospect]]:
    out = []
    ids = sorted(set(prospect_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        prospects = list(
            session.scalars(
                select(Prospect)
                .where(Prospect.id.in_(chunk), Prospect.team_id == team_id)
                .order_by(Prospect.id)
            )
        )
        leads = {
            lead.prospect_id: lead
            for lead in session.scalars(select(Lead).where(Lead.prospect_id.in_(chunk)))
        }
        for prospect in prospects:
            lead = leads.get(prospect.id)
            if lead is None:
                lead, _ = ensure_lead(session, prospect, now)
            out.append((lead, prospect))
    return out


def assign_prospects(
    session: Session, team_id: int, prospect_ids: Sequence[int], now: datetime
) -> list[tuple[int, int | None]]:
    """Assign these pool leads by the team's rules, in one fair batch; (prospect, rep) pairs.
    A lead no longer in the pool (another process took it) is left alone."""
    rotation = Rotation(session, team_id, now)
    pairs = [
        (lead, p)
        for lead, p in _leads(session, team_id, prospect_ids, now)
        if lead.state == LeadState.POOL
    ]
    rotation.preload([p for _, p in pairs])
    out: list[tuple[int, int | None]] = []
    for lead, prospect in pairs:
        picked = rotation.pick(prospect, lead.previous_owners or [])
        if picked.user_id is not None:
            hand_over(
                session,
                lead,
                prospect,
                rotation.settings,
                picked.user_id,
                picked.reason,
                now,
                detail=picked.detail,
            )
        out.append((prospect.id, picked.user_id))
    rotation.finish()
    return out


def assign_pool(
    session: Session, team_id: int, now: datetime, *, limit: int = 100
) -> list[tuple[int, int | None]]:
    """Assign up to `limit` of the pool's oldest leads (taken under the team's lock, so two
    processes draining one pool never take the same lead)."""
    settings_for(session, team_id, lock=True)
    ids = list(
        session.scalars(
            select(Lead.prospect_id)
            .where(Lead.team_id == team_id, Lead.state == LeadState.POOL)
            .order_by(Lead.pooled_at, Lead.prospect_id)
            .limit(limit)
        )
    )
    return assign_prospects(session, team_id, ids, now) if ids else []


def team_user(session: Session, team_id: int, user_id: object, name: str = "user_id") -> User:
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not 0 < user_id <= 2**31 - 1:
        raise ValidationError(f"{name}: a user id", field=name)
    user = session.get(User, user_id)
    if user is None or user.team_id != team_id:  # as an unknown id: 404
        raise NotFound(f"{name}: not a user of your team")
    return user


def assign_manual(
    session: Session,
    team_id: int,
    prospect_ids: Sequence[int],
    to_user_id: int | None,
    now: datetime,
    *,
    by: User | None = None,
    note: str = "",
) -> list[tuple[int, int | None]]:
    """Leads to a rep (or back to the pool with None), one or in bulk, by a manager (`by`) or
    the command line (None). The rep must be of the team."""
    if by is not None and (not by.is_manager or by.team_id != team_id):
        raise PermissionError("only a manager assigns leads by hand")
    if to_user_id is not None:
        team_user(session, team_id, to_user_id)
    rotation = Rotation(session, team_id, now)
    pairs = _leads(session, team_id, prospect_ids, now)
    if len(pairs) != len(set(prospect_ids)):
        raise NotFound("no such prospect in your team")
    out: list[tuple[int, int | None]] = []
    for lead, prospect in pairs:
        if lead.owner_id == to_user_id and lead.state != LeadState.POOL:
            out.append((prospect.id, to_user_id))
            continue
        if to_user_id is not None:
            rotation.took(to_user_id)
        hand_over(
            session,
            lead,
            prospect,
            rotation.settings,
            to_user_id,
            "manual",
            now,
            detail=note[:500],
            by_user_id=by.id if by else None,
        )
        out.append((prospect.id, to_user_id))
    rotation.finish()
    return out


def reassign(
    session: Session,
    rotation: Rotation,
    lead: Lead,
    prospect: Prospect,
    reason: str,
    now: datetime,
    *,
    detail: str = "",
    to_pool: bool = False,
    by_user_id: int | None = None,
) -> int | None:
    """Take the lead from its rep: to the next rep by the rules (never the same rep again while
    anyone else is eligible) or to the pool; running sequences stop or carry on (team choice)."""
    settings = rotation.settings
    if settings.on_reassign == "stop":
        stop_prospect(
            session, prospect.id, EnrollmentStatus.UNENROLLED, now, f"lead re-assigned ({reason})"
        )
    exclude = [*(lead.previous_owners or []), *([lead.owner_id] if lead.owner_id else [])]
    target: int | None = None
    text = detail
    if not to_pool:
        picked = rotation.pick(prospect, exclude)
        target = picked.user_id
        text = f"{detail}; {picked.detail}" if detail else picked.detail
    hand_over(
        session, lead, prospect, settings, target, reason, now, detail=text, by_user_id=by_user_id
    )
    return target
