"""Finds due steps in the database and hands them to the broker; safe to run as several copies."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .db import session_scope
from .metrics import observe_tick
from .models import Enrollment, EnrollmentStatus
from .runtime import Runtime

log = logging.getLogger(__name__)

Enqueue = Callable[[int, int], None]
EnqueueBatch = Callable[[list[tuple[int, int]]], None]

# A short list of due steps is still split into this many batches, so that several worker
# threads share it (a worker runs 2 processes x 4 threads by default).
SPREAD = 8


def claim_due(
    session: Session, now: datetime, *, limit: int = 500, requeue_after: timedelta
) -> list[tuple[int, int]]:
    """Mark up to `limit` due enrollments as handed off and return (enrollment, step) pairs.

    An enrollment handed off more than `requeue_after` ago and still due is handed off again:
    the broker may have lost the message (Redis restarted), and sending is idempotent. Rows
    locked by another scheduler are skipped on PostgreSQL (SKIP LOCKED); SQLite serialises
    writers, which gives the same result.
    """
    rows = session.execute(
        select(Enrollment.id, Enrollment.current_step)
        .where(
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Enrollment.next_due_at <= now,
            or_(Enrollment.enqueued_at.is_(None), Enrollment.enqueued_at < now - requeue_after),
        )
        .order_by(Enrollment.next_due_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Enrollment)
    ).all()
    if rows:
        session.execute(
            update(Enrollment)
            .where(Enrollment.id.in_([r.id for r in rows]))
            .values(enqueued_at=now),
            execution_options={"synchronize_session": False},
        )
    return [(r.id, r.current_step) for r in rows]


def resume_paused(session: Session, now: datetime) -> int:
    """Paused-until-a-date enrollments (auto-replies) whose date has passed become active."""
    from .enrollment import resume

    count = 0
    for enrollment in session.scalars(
        select(Enrollment)
        .where(Enrollment.status == EnrollmentStatus.PAUSED, Enrollment.paused_until <= now)
        .limit(500)
        .with_for_update(skip_locked=True)
    ):
        resume(session, enrollment, now)
        count += 1
    return count


def _claim_now(rt: Runtime, limit: int) -> list[tuple[int, int]]:
    now = rt.clock.now()
    requeue_after = timedelta(seconds=rt.settings.send_lease_seconds)
    with session_scope(rt.sessions) as session:
        resume_paused(session, now)
        return claim_due(session, now, limit=limit, requeue_after=requeue_after)


def tick(rt: Runtime, enqueue: Enqueue, *, limit: int = 500) -> int:
    """One pass: claim what is due, commit, then enqueue each step. Returns how many."""
    due = _claim_now(rt, limit)
    # Enqueued only after the commit: a crash here loses nothing, the rows are re-found later.
    for enrollment_id, position in due:
        enqueue(enrollment_id, position)
    return len(due)


def batches(due: list[tuple[int, int]], size: int) -> list[list[tuple[int, int]]]:
    """Split due steps into batches of at most `size` and of about equal length, as many as a
    multiple of SPREAD (or one step each when fewer): the worker threads then get the same
    share of a burst and finish it together, instead of a few threads sending the last,
    partial round of full batches while the others wait."""
    if not due:
        return []
    rounds = -(-len(due) // (SPREAD * max(1, size)))  # batches per thread
    count = min(len(due), SPREAD * rounds)
    per, longer = divmod(len(due), count)  # the first `longer` batches take one step more
    out = []
    start = 0
    for index in range(count):
        end = start + per + (index < longer)
        out.append(due[start:end])
        start = end
    return out


def tick_batches(rt: Runtime, enqueue: EnqueueBatch, *, limit: int = 500) -> int:
    """Like `tick`, but enqueue the due steps in batches of up to `send_batch` (one broker
    message each: a worker claims, renders and records a batch together)."""
    started = time.monotonic()
    due = _claim_now(rt, limit)
    for batch in batches(due, rt.settings.send_batch):
        enqueue(batch)
    observe_tick(time.monotonic() - started)
    return len(due)


# Other periodic jobs (webhook deliveries, daily digests) run after each tick: a hook takes the
# runtime and returns how much it handed off. sequences.actors registers them with their actors.
Hook = Callable[[Runtime], int]


def lead_rules(rt: Runtime) -> int:
    """Acceptance deadlines, speed-to-lead steps and touch counts that are due (sequences/leads)."""
    from .leads import sla_tick

    with session_scope(rt.sessions) as session:
        counts = sla_tick(session, rt.clock.now(), limit=500)
    return counts["checked"]


def status_triggers(rt: Runtime) -> int:
    """Status rules whose firing is due, or whose worker died holding it (sequences/leads)."""
    from .leads import fire_due

    return fire_due(rt.sessions, rt.clock.now())


hooks: list[Hook] = [lead_rules, status_triggers]


def run_hooks(rt: Runtime) -> int:
    """Run every registered hook; one that fails is logged and does not stop the others."""
    count = 0
    for hook in list(hooks):
        try:
            count += hook(rt)
        except Exception:
            log.exception("scheduler hook %s failed; retrying", getattr(hook, "__name__", hook))
    return count


def run_forever(
    rt: Runtime, enqueue: EnqueueBatch, stop: threading.Event, interval: float = 1.0
) -> None:
    """Tick until `stop` is set; a database outage is logged and retried, never fatal."""
    while not stop.is_set():
        try:
            count = tick_batches(rt, enqueue)
        except Exception:
            log.exception("scheduler tick failed; retrying")
            count = 0
        count += run_hooks(rt)
        if count == 0:
            stop.wait(interval)
