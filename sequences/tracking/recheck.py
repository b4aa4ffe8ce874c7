"""Stored opens and clicks judged again by today's rules: what would change, and applying it.

`plan` replays every stored open, click and document view of the messages hit since `since`,
oldest first, through the same `classify_in_context` the writer runs (so a burst, a click
seconds after a machine open or a repeat is judged as it would be today), and lists the events
whose verdict or reason changes. Engagement follows: a person's click on a message with no
human open (images blocked, or only Apple's proxy or a scanner opened it) infers the open, as
the writer does, and an open inferred from a click that is now a machine's goes with it.
`apply` writes each change on its event (`data.rechecked` keeps what it was) and records it
as a `verdict_changed` timeline event: never a silent rewrite. Counts, the hot list and the
digest read verdicts, so they follow at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..enrollment import record
from ..models import Event, Link, Message
from .events import HISTORY_PER_MESSAGE, _inferred_row, _Message, inferred_hit_id
from .verdicts import HUMAN, INFERRED, MACHINE, SCANNER, Hit, Prior, Rules, classify_in_context
from .verdicts import rules as default_rules

TYPES = ("open", "click", "document_viewed")
CHUNK = 500  # messages replayed per query


@dataclass
class Change:
    """One stored open or click (or an open to infer) whose verdict today's rules read differently."""

    event_id: int | None  # None: an inferred open to add
    message_id: int
    prospect_id: int | None
    enrollment_id: int | None
    kind: str
    at: datetime
    old: str | None  # verdict, None for an open to add
    old_reason: str | None
    new: str
    new_reason: str | None
    why: str
    from_hit: str | None = None  # the click an added open is inferred from

    @property
    def transition(self) -> str:
        old = self.old or "none"
        return f"{self.kind} {old} -> {self.new}"

    def describe(self) -> str:
        what = f"event #{self.event_id}" if self.event_id is not None else "new inferred open"
        reason = f"{self.new_reason or 'person'}: {self.why}" if self.why else self.new_reason
        return (
            f"{what} of message #{self.message_id} {self.at:%Y-%m-%d %H:%M}: "
            f"{self.transition} ({reason or 'person'})"
        )


@dataclass
class _State:
    """An event as the replay judges it."""

    event: Event | None
    kind: str
    at: datetime
    verdict: str
    reason: str | None
    why: str
    hit_id: str | None = None
    inferred_from: str | None = None  # for inferred opens: the hit they come from
    prior: Prior | None = field(default=None, repr=False)


def plan(session: Session, since: datetime, r: Rules | None = None) -> list[Change]:
    """Every stored open and click since `since` whose verdict would change, and the opens to infer."""
    r = r or default_rules()
    ids = list(
        session.scalars(
            select(Event.message_id)
            .where(Event.at >= since, Event.type.in_(TYPES), Event.message_id.is_not(None))
            .distinct()
        )
    )
    changes: list[Change] = []
    for start in range(0, len(ids), CHUNK):
        chunk = sorted(i for i in ids[start : start + CHUNK] if i is not None)
        for message, links, stored in _messages(session, chunk):
            changes += _replay(message, links, stored, since, r)
    return changes


def _messages(
    session: Session, ids: list[int]
) -> Iterator[tuple[_Message, dict[int, Link], list[Event]]]:
    messages = {
        m.id: _Message(m.id, m.prospect_id, m.enrollment_id, m.sent_at)
        for m in session.scalars(select(Message).where(Message.id.in_(ids)))
    }
    links: dict[int, dict[int, Link]] = {i: {} for i in ids}
    for link in session.scalars(select(Link).where(Link.message_id.in_(ids))):
        links[link.message_id][link.position] = link
    stored: dict[int, list[Event]] = {i: [] for i in ids}
    for event in session.scalars(
        select(Event)
        .where(Event.message_id.in_(ids), Event.type.in_(TYPES))
        .order_by(Event.at, Event.id)
    ):
        stored[event.message_id or 0].append(event)
    for message_id, message in messages.items():
        yield message, links[message_id], stored[message_id]


def _replay(
    message: _Message, links: dict[int, Link], stored: list[Event], since: datetime, r: Rules
) -> list[Change]:
    visible = sum(
        1
        for link in links.values()
        if not link.hidden and link.url.startswith(("http://", "https://"))
    )
    inferred = {
        (e.data or {}).get("hit"): e
        for e in stored
        if e.reason == INFERRED and e.user_agent is None and (e.data or {}).get("hit")
    }
    history: list[Prior] = []
    states: list[_State] = []
    opened = False  # a person's open so far, as judged today
    for event in stored:
        data = event.data or {}
        if event.reason == INFERRED and event.user_agent is None:
            if not data.get("hit"):  # inferred from a reply: a person read it, whatever the rules
                history.append(Prior("open", event.at, event.verdict))
                opened = opened or event.verdict == HUMAN
            continue  # inferred from a click: the replay infers it afresh below
        state = _judge(event, message, links, history, visible, r)
        states.append(state)
        if state.verdict == HUMAN and event.type == "open":
            opened = True
        elif state.verdict == HUMAN and not opened:
            # A person's click with no human open before it: the open is inferred from it.
            open_ = _State(None, "open", event.at, HUMAN, INFERRED, "", inferred_from=event.hit_id)
            open_.prior = Prior("open", event.at, HUMAN, ref=open_)
            history.append(open_.prior)
            states.append(open_)
            opened = True
    changes = [
        change
        for state in states
        if state.at >= since
        for change in [_change(state, message, inferred)]
        if change is not None
    ]
    # An open stored as inferred from a click that is now a machine's goes with the click.
    clicks: dict[Any, _State] = {s.hit_id: s for s in states if s.event is not None and s.hit_id}
    for hit_id, event in inferred.items():
        click = clicks.get(hit_id)
        if click is None or click.verdict == HUMAN or event.verdict != HUMAN or event.at < since:
            continue
        gone = _State(
            event, "open", event.at, MACHINE, click.reason, "inferred from a machine's click"
        )
        if (change := _diff(gone, event, message)) is not None:
            changes.append(change)
    return changes


def _judge(
    event: Event,
    message: _Message,
    links: dict[int, Link],
    history: list[Prior],
    visible: int,
    r: Rules,
) -> _State:
    data = event.data or {}
    kind = "open" if event.type == "open" else "click"
    link = links.get(data["link"]) if isinstance(data.get("link"), int) else None
    position = data.get("link") if event.type == "click" else None
    hit = Hit(
        kind,
        "HEAD" if data.get("why") == "HEAD request" else "GET",  # the method is not stored
        event.user_agent or "",
        event.ip,
        event.at - message.sent_at if message.sent_at else None,
        hidden_link=bool(link and link.hidden) if kind == "click" else False,
    )
    del history[:-HISTORY_PER_MESSAGE]  # what the writer reads, no more
    judged = classify_in_context(hit, event.at, position, history, visible, r)
    verdict = judged.verdict
    state = _State(event, event.type, event.at, verdict.verdict, verdict.reason, verdict.why)
    state.hit_id = event.hit_id
    relabelled = {ref.hit_id for ref in judged.relabel}
    for ref in judged.relabel:  # earlier clicks of a scanner's burst
        _machine(ref, verdict.why)
    for prior in history:  # and the opens inferred from them
        ref = prior.ref
        if isinstance(ref, _State) and ref.inferred_from in relabelled:
            _machine(ref, "inferred from a scanner's click")
    state.prior = Prior(
        event.type,
        event.at,
        verdict.verdict,
        position=position,
        ip=event.ip,
        hidden=hit.hidden_link,
        repeat=judged.repeat,
        ref=state,
    )
    history.append(state.prior)
    return state


def _machine(state: _State, why: str) -> None:
    state.verdict, state.reason, state.why = MACHINE, SCANNER, why
    if state.prior is not None:
        state.prior.verdict = MACHINE


def _change(state: _State, message: _Message, inferred: dict[Any, Event]) -> Change | None:
    event = state.event
    if event is None and state.inferred_from is not None:
        event = inferred.pop(state.inferred_from, None)  # the open stored from that click
        if event is None and state.verdict != HUMAN:
            return None  # a scanner's click: nothing to infer, nothing stored
    return _diff(state, event, message)


def _diff(state: _State, event: Event | None, message: _Message) -> Change | None:
    if event is not None and (event.verdict, event.reason) == (state.verdict, state.reason):
        return None
    return Change(
        event_id=event.id if event is not None else None,
        message_id=message.id,
        prospect_id=message.prospect_id,
        enrollment_id=message.enrollment_id,
        kind=state.kind,
        at=state.at,
        old=event.verdict if event is not None else None,
        old_reason=event.reason if event is not None else None,
        new=state.verdict,
        new_reason=state.reason,
        why=state.why or ("a person's click, images blocked" if state.inferred_from else ""),
        from_hit=state.inferred_from,
    )


def apply(session: Session, changes: list[Change], now: datetime) -> list[str]:
    """Write each change on its event and record it on the timeline; what was done, per change."""
    done: list[str] = []
    for change in changes:
        if change.event_id is None:
            if not _add_inferred(session, change):
                continue
        else:
            row = session.get(Event, change.event_id, with_for_update=True)
            if row is None or (row.verdict, row.reason) != (change.old, change.old_reason):
                continue  # changed meanwhile: the next recheck sees it afresh
            row.verdict, row.reason = change.new, change.new_reason
            row.data = {
                **(row.data or {}),
                "why": change.why,
                "rechecked": {
                    "at": now.isoformat(),
                    "verdict": change.old,
                    "reason": change.old_reason,
                },
            }
        effect = _effect(change)
        record(
            session,
            "verdict_changed",
            now,
            prospect_id=change.prospect_id,
            enrollment_id=change.enrollment_id,
            message_id=change.message_id,
            reason=change.why or change.new_reason or "a person",
            effect=effect,
            extra={
                "from": change.old or "none",
                "to": change.new,
                "kind": change.kind,
                "event_id": change.event_id,
                "event_at": change.at.isoformat(),
            },
        )
        done.append(f"{change.describe()}: {effect}")
    return done


def _add_inferred(session: Session, change: Change) -> bool:
    hit_id = inferred_hit_id(change.from_hit) if change.from_hit else None
    if hit_id is not None and session.scalar(select(Event.id).where(Event.hit_id == hit_id)):
        return False  # added meanwhile
    message = _Message(change.message_id, change.prospect_id, change.enrollment_id, None)
    row = _inferred_row(message, change.at, "click", change.from_hit)
    session.add(Event(**row))
    session.flush()
    change.event_id = session.scalar(select(Event.id).where(Event.hit_id == hit_id))
    return True


def _effect(change: Change) -> str:
    noun = "document view" if change.kind == "document_viewed" else change.kind
    if change.old is None:
        return "open inferred from the person's click: the message counts as opened"
    if change.new == HUMAN:
        return f"now counted as the person's {noun}"
    return f"no longer counted as the person's {noun}"
