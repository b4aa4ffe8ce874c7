"""The race that matters: replies recorded while the worker sends; nothing goes out after one.

200 enrollments in a two-step sequence are due at once; the scheduler and a real Dramatiq
worker (StubBroker, worker threads) send while other threads ingest replies from half of the
prospects. The proof is not timing but the database's order: each reply's transaction, before
it commits, lists the messages of that prospect already past the point of no return (SENDING
or SENT: `before_data` commits that state before SMTP DATA, under the enrollment's row lock on
PostgreSQL and the single writer lock on SQLite). Anything the SMTP sink received for the
prospect must be in that list; a message that reached DATA later would be a send after the
reply was recorded.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from typing import Any

import dramatiq
import pytest
from sqlalchemy import select

from sequences import runtime
from sequences.actors import enqueue_step
from sequences.broker import broker
from sequences.clock import FrozenClock
from sequences.inbound.ingest import ingest, receive
from sequences.models import (
    Enrollment,
    EnrollmentStatus,
    Message,
    MessageStatus,
    Prospect,
    Sequence,
    Step,
)
from sequences.scheduler import tick
from sequences.sending.batch import run_step
from sequences.workspace.accounts import default_team

from .conftest import Sink
from .test_inbound import enrollment_of, mail, seed

COUNT = 200


def _seed(rt: runtime.Runtime) -> dict[str, int]:
    now = rt.clock.now()
    with rt.sessions.begin() as s:
        team = default_team(s)
        sequence = Sequence(team_id=team.id, name="Race")
        sequence.steps = [
            Step(position=0, type="email", delay="PT0S", subject="One", body_html="<p>1</p>"),
            Step(position=1, type="email", delay="PT0S", subject="Two", body_html="<p>2</p>"),
        ]
        s.add(sequence)
        s.flush()
        ids = {}
        for n in range(COUNT):
            prospect = Prospect(team_id=team.id, email=f"p{n}@race.example", first_name="P")
            s.add(prospect)
            s.flush()
            s.add(
                Enrollment(
                    prospect_id=prospect.id,
                    sequence_id=sequence.id,
                    status=EnrollmentStatus.ACTIVE,
                    current_step=0,
                    next_due_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
            ids[prospect.email] = prospect.id
        return ids


def test_no_message_is_sent_to_a_prospect_after_their_reply_is_recorded(
    rt: runtime.Runtime, smtp_sink: Sink, stub_worker: Any
) -> None:
    prospects = _seed(rt)
    repliers = random.Random(7).sample(sorted(prospects), COUNT // 2)
    # Message-IDs past the point of no return when each prospect's reply was recorded.
    allowed: dict[str, set[str]] = {}
    errors: list[BaseException] = []

    def reply(email: str) -> None:
        raw = mail("Stop, I'm interested - call me.", sender=email, in_reply_to=None,
                   message_id=f"<reply-{email}>")  # fmt: skip
        with rt.sessions() as session:
            outcome = ingest(session, rt.settings, rt.clock.now(), raw, source="api")
            assert outcome.verdict == "reply", outcome.reason
            allowed[email] = set(
                session.scalars(
                    select(Message.message_id).where(
                        Message.prospect_id == prospects[email],
                        Message.status.in_((MessageStatus.SENDING, MessageStatus.SENT)),
                    )
                )
            )
            session.commit()

    def sent() -> int:
        return len(list(smtp_sink.dir.glob("*.eml"))) if smtp_sink.dir.exists() else 0

    def injector(offset: int) -> None:
        try:
            for n, email in enumerate(repliers[offset::2]):
                # Spread the replies over the whole run: the k-th waits for ~2k deliveries
                # (polling a real condition with a deadline, never a fixed sleep).
                deadline = time.monotonic() + 60
                while sent() < (2 * n + offset) * 2 and time.monotonic() < deadline:
                    time.sleep(0.005)
                reply(email)
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=injector, args=(i,)) for i in range(2)]
    assert tick(rt, enqueue_step, limit=COUNT) == COUNT  # all 200 queued in the broker
    for thread in threads:
        thread.start()
    while True:  # the scheduler's loop: step two comes due as step one is sent
        stub_worker.join("send", fail_fast=True)
        if tick(rt, enqueue_step, limit=COUNT) == 0 and not any(t.is_alive() for t in threads):
            stub_worker.join("send", fail_fast=True)
            if tick(rt, enqueue_step, limit=COUNT) == 0:
                break
    for thread in threads:
        thread.join()
    assert not errors, errors

    delivered: dict[str, set[str]] = defaultdict(set)
    for stored in smtp_sink.messages():
        [to] = stored.envelope_to
        delivered[to].add(str(stored.message["Message-ID"]))
    for email in repliers:
        late = delivered[email] - allowed[email]
        assert not late, f"{email} was sent {late} after their reply was recorded"
    with rt.sessions() as s:
        statuses = {
            pid: status
            for pid, status in s.execute(select(Enrollment.prospect_id, Enrollment.status))
        }
        stuck = s.scalars(
            select(Message).where(
                Message.status.in_((MessageStatus.CLAIMED, MessageStatus.SENDING))
            )
        ).all()
        cancelled = s.scalars(
            select(Message.id).where(Message.status == MessageStatus.CANCELLED)
        ).all()
    assert not stuck
    for email, pid in prospects.items():
        expected = {EnrollmentStatus.REPLIED, EnrollmentStatus.FINISHED}
        assert statuses[pid] in (expected if email in repliers else {EnrollmentStatus.FINISHED})
        if email not in repliers:
            assert len(delivered[email]) == 2
    stopped_early = sum(1 for e in repliers if len(delivered[e]) < 2)
    print(f"race: {stopped_early} of {len(repliers)} replies came before a step went out; "
          f"{len(cancelled)} claimed sends were cancelled before DATA")  # fmt: skip


def test_reply_while_a_step_is_being_rendered_cancels_it_before_data(
    rt: runtime.Runtime, smtp_sink: Sink, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = seed(rt)
    clock.advance(days=3)
    real_send = rt.transport.send

    def reply_then_send(*args: Any, **kwargs: Any) -> Any:
        # The step is claimed and rendered; the reply lands before SMTP DATA.
        assert receive(rt, mail("Yes!"), source="api").verdict == "reply"
        return real_send(*args, **kwargs)

    monkeypatch.setattr(rt.transport, "send", reply_then_send)
    assert run_step(rt, world.enrollment_id, 1).startswith("cancelled")
    assert smtp_sink.messages() == []
    with rt.sessions() as s:
        message = s.scalar(select(Message).where(Message.step_position == 1))
        assert message is not None and message.status == MessageStatus.CANCELLED


def test_reply_after_a_step_was_queued_in_the_broker_stops_it(
    rt: runtime.Runtime, smtp_sink: Sink, clock: FrozenClock
) -> None:
    world = seed(rt)
    clock.advance(days=3)
    broker.flush_all()
    assert tick(rt, enqueue_step) == 1  # waiting in the broker; no worker runs yet
    assert receive(rt, mail("Call me."), source="api").verdict == "reply"
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        broker.join("send", fail_fast=True)
    finally:
        worker.stop()
        broker.flush_all()
    assert smtp_sink.messages() == []
    assert enrollment_of(rt, world).status == "replied"
