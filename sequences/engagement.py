"""Hot-list ranking: who engaged recently as a person, weighted by how recent it was."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Event, Prospect

# A click or a document view says more about intent than an open (which a preview pane can fire).
WEIGHTS = {"open": 1.0, "click": 3.0, "document_viewed": 4.0}
# Event types the hot list reads (tracking records /d/<token> views as "document_viewed").
SIGNAL_TYPES = tuple(WEIGHTS)
HALF_LIFE = timedelta(hours=6)
WINDOW = timedelta(hours=72)


@dataclass(frozen=True)
class Signal:
    """One human open, click or document view."""

    prospect_id: int
    type: str
    at: datetime


@dataclass
class Heat:
    """A prospect's recent engagement, scored."""

    prospect_id: int
    score: float = 0.0
    opens: int = 0
    clicks: int = 0
    views: int = 0
    last_at: datetime | None = None
    last_type: str | None = None
    kinds: dict[str, int] = field(default_factory=dict)


def weight(signal: Signal, now: datetime, half_life: timedelta = HALF_LIFE) -> float:
    """The signal's weight, halved every `half_life` of age (future times count as now)."""
    age = max((now - signal.at).total_seconds(), 0.0)
    return WEIGHTS.get(signal.type, 1.0) * math.pow(0.5, age / half_life.total_seconds())


def rank(
    signals: Iterable[Signal],
    now: datetime,
    *,
    half_life: timedelta = HALF_LIFE,
    limit: int | None = None,
) -> list[Heat]:
    """Sum each prospect's weighted signals; hottest first, ties broken by the latest signal."""
    heats: dict[int, Heat] = {}
    for signal in signals:
        heat = heats.get(signal.prospect_id)
        if heat is None:
            heat = heats[signal.prospect_id] = Heat(signal.prospect_id)
        heat.score += weight(signal, now, half_life)
        if signal.type == "open":
            heat.opens += 1
        elif signal.type == "click":
            heat.clicks += 1
        else:
            heat.views += 1
        if heat.last_at is None or signal.at > heat.last_at:
            heat.last_at, heat.last_type = signal.at, signal.type
    ordered = sorted(
        heats.values(),
        key=lambda h: (-h.score, -(h.last_at.timestamp() if h.last_at else 0), h.prospect_id),
    )
    return ordered[:limit] if limit is not None else ordered


def _visible(team_id: int, owner_id: int | None) -> list[object]:
    conditions: list[object] = [Prospect.team_id == team_id]
    if owner_id is not None:
        conditions.append((Prospect.owner_id == owner_id) | Prospect.owner_id.is_(None))
    return conditions


def recent_signals(
    session: Session, team_id: int, owner_id: int | None, now: datetime, window: timedelta = WINDOW
) -> list[Signal]:
    """Human signals of the last `window` for the prospects this user sees (None: the team)."""
    rows = session.execute(
        select(Event.prospect_id, Event.type, Event.at)
        .join(Prospect, Prospect.id == Event.prospect_id)
        .where(
            Event.verdict == "human",
            Event.at >= now - window,
            Event.type.in_(SIGNAL_TYPES),
            *_visible(team_id, owner_id),  # type: ignore[arg-type]
        )
    )
    return [Signal(pid, type_, at) for pid, type_, at in rows if pid is not None]


def hot_list(
    session: Session, team_id: int, owner_id: int | None, now: datetime, limit: int = 50
) -> list[tuple[Prospect, Heat]]:
    """The hot list: prospects with their heat, hottest first."""
    heats = rank(recent_signals(session, team_id, owner_id, now), now, limit=limit)
    if not heats:
        return []
    prospects = {
        p.id: p
        for p in session.scalars(
            select(Prospect).where(Prospect.id.in_([h.prospect_id for h in heats]))
        )
    }
    return [(prospects[h.prospect_id], h) for h in heats if h.prospect_id in prospects]


def version(
    session: Session, team_id: int, owner_id: int | None, now: datetime, window: timedelta = WINDOW
) -> str:
    """Changes when a new human signal arrives: the cheap check behind live updates."""
    newest = session.scalar(
        select(func.max(Event.id))
        .join(Prospect, Prospect.id == Event.prospect_id)
        .where(
            Event.verdict == "human",
            Event.at >= now - window,
            Event.type.in_(SIGNAL_TYPES),
            *_visible(team_id, owner_id),  # type: ignore[arg-type]
        )
    )
    # The hour bucket lets decayed scores reorder the list now and then even without new signals.
    return f"{newest or 0}-{int(now.timestamp()) // 3600}"
