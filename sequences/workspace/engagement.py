"""Hot-list ranking: who engaged recently as a person, weighted by how recent it was."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..models import Event, Prospect
from . import opens as open_words

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
    # Of the opens, those inferred from a click or a reply, by what proved them (hot_list).
    inferred: dict[str, int] = field(default_factory=dict)

    @property
    def opens_words(self) -> str:
        """'3 opens (1 inferred from a click)'."""
        return open_words.opens_phrase(self.opens, self.inferred)


# Recency bands (upper edges, hours ago). A signal's recency factor is the half-life decay at
# its band's midpoint: exact enough to rank people, and the database can sum it per band.
BAND_EDGES_HOURS = (1, 3, 6, 12, 24, 48, 72)


def band_factors(half_life: timedelta = HALF_LIFE) -> list[float]:
    factors = []
    low = 0
    for high in BAND_EDGES_HOURS:
        middle = (low + high) / 2 * 3600
        factors.append(math.pow(0.5, middle / half_life.total_seconds()))
        low = high
    return factors


def weight(signal: Signal, now: datetime, half_life: timedelta = HALF_LIFE) -> float:
    """The signal's weight: its type's, times its recency band's factor (0 past the last band)."""
    hours = max((now - signal.at).total_seconds(), 0.0) / 3600
    for edge, factor in zip(BAND_EDGES_HOURS, band_factors(half_life), strict=True):
        if hours < edge:
            return WEIGHTS.get(signal.type, 1.0) * factor
    return 0.0


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
    return _ordered(heats.values(), limit)


def _ordered(heats: Iterable[Heat], limit: int | None) -> list[Heat]:
    ordered = sorted(
        heats,
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


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite may hand back an aggregate's text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def recent_heat(
    session: Session, team_id: int, owner_id: int | None, now: datetime, limit: int | None = None
) -> list[Heat]:
    """rank(recent_signals(...)) computed by the database: it scores, orders and cuts, so a
    manager's whole team comes back as `limit` rows, read from the ix_events_human_at index."""
    factor = case(
        *[
            (Event.at > now - timedelta(hours=edge), f)
            for edge, f in zip(BAND_EDGES_HOURS, band_factors(), strict=True)
        ],
        else_=0.0,
    )
    type_weight = case(
        *[(Event.type == t, w) for t, w in WEIGHTS.items()],
        else_=1.0,
    )
    score = func.sum(type_weight * factor)
    last = func.max(Event.at)

    def count_of(kind: str) -> Any:
        return func.sum(case((Event.type == kind, 1), else_=0))

    def last_of(kind: str) -> Any:
        return func.max(case((Event.type == kind, Event.at), else_=None))

    query = (
        select(
            Event.prospect_id,
            score,
            count_of("open"),
            count_of("click"),
            *[last_of(kind) for kind in SIGNAL_TYPES],
            func.count(),
        )
        .join(Prospect, Prospect.id == Event.prospect_id)
        .where(
            Event.verdict == "human",
            Event.at >= now - WINDOW,
            Event.type.in_(SIGNAL_TYPES),
            *_visible(team_id, owner_id),  # type: ignore[arg-type]
        )
        .group_by(Event.prospect_id)
        .order_by(score.desc(), last.desc(), Event.prospect_id)
    )
    if limit is not None:
        query = query.limit(limit)
    heats = []
    for prospect_id, total, opens, clicks, *lasts, count in session.execute(query):
        heat = Heat(prospect_id, float(total or 0.0), int(opens), int(clicks))
        heat.views = int(count) - heat.opens - heat.clicks
        for kind, at in zip(SIGNAL_TYPES, lasts, strict=True):
            if at is not None and (heat.last_at is None or _aware(at) > heat.last_at):
                heat.last_at, heat.last_type = _aware(at), kind
        heats.append(heat)
    return heats


def hot_list(
    session: Session, team_id: int, owner_id: int | None, now: datetime, limit: int = 50
) -> list[tuple[Prospect, Heat]]:
    """The hot list: prospects with their heat, hottest first."""
    heats = recent_heat(session, team_id, owner_id, now, limit=limit)
    if not heats:
        return []
    ids = [h.prospect_id for h in heats]
    prospects = {p.id: p for p in session.scalars(select(Prospect).where(Prospect.id.in_(ids)))}
    # The few opens no pixel recorded, read for the listed prospects only (their data says what
    # proved them), so the ranking above still reads the index alone.
    by_id = {h.prospect_id: h for h in heats}
    for prospect_id, type_, reason, data in session.execute(
        select(Event.prospect_id, Event.type, Event.reason, Event.data).where(
            Event.prospect_id.in_(ids),
            Event.type == "open",
            Event.verdict == "human",
            Event.reason == open_words.INFERRED,
            Event.at >= now - WINDOW,
        )
    ):
        via = open_words.inferred_from(type_, reason, data)
        heat = by_id.get(prospect_id) if prospect_id is not None else None
        if via is not None and heat is not None:
            heat.inferred[via] = heat.inferred.get(via, 0) + 1
    return [(prospects[h.prospect_id], h) for h in heats if h.prospect_id in prospects]


def version(
    session: Session, team_id: int, owner_id: int | None, now: datetime, window: timedelta = WINDOW
) -> str:
    """Changes when a new human signal arrives: the cheap check behind live updates (count and
    newest time of the recent signals, both read from the index alone)."""
    count, newest = session.execute(
        select(func.count(), func.max(Event.at))
        .join(Prospect, Prospect.id == Event.prospect_id)
        .where(
            Event.verdict == "human",
            Event.at >= now - window,
            Event.type.in_(SIGNAL_TYPES),
            *_visible(team_id, owner_id),  # type: ignore[arg-type]
        )
    ).one()
    stamp = int(_aware(newest).timestamp() * 1000) if newest is not None else 0
    # The hour bucket lets decayed scores reorder the list now and then even without new signals.
    return f"{count}-{stamp}-{int(now.timestamp()) // 3600}"
