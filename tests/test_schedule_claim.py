"""The scheduler's claim: several copies never hand off the same enrollment; lost hand-offs return."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sequences import runtime
from sequences.clock import FrozenClock
from sequences.models import Enrollment
from sequences.scheduler import SPREAD, batches, claim_due, tick

from .sending_helpers import email, enroll_ids, make_prospect, make_sequence


def test_two_schedulers_at_once_never_claim_the_same_enrollment(rt: runtime.Runtime) -> None:
    sequence = make_sequence(rt, [email()])
    enroll_ids(rt, [make_prospect(rt, f"s{i}@claim.example") for i in range(10)], sequence)
    now = rt.clock.now()
    lease = timedelta(minutes=5)
    first = rt.sessions()
    second = rt.sessions()
    try:
        mine = claim_due(first, now, limit=6, requeue_after=lease)
        if rt.engine.dialect.name == "postgresql":
            # The first transaction still holds its rows: the second skips them (SKIP LOCKED).
            theirs = claim_due(second, now, limit=10, requeue_after=lease)
            first.commit()
        else:
            # SQLite serialises writers: the second waits for the first commit and then sees
            # the stamps, so it takes only what is left.
            first.commit()
            theirs = claim_due(second, now, limit=10, requeue_after=lease)
        second.commit()
    finally:
        first.close()
        second.close()
    assert len(mine) == 6 and len(theirs) == 4
    assert not {e for e, _ in mine} & {e for e, _ in theirs}


def test_a_hand_off_the_broker_lost_is_found_again_after_the_lease(
    rt: runtime.Runtime, clock: FrozenClock
) -> None:
    sequence = make_sequence(rt, [email()])
    [enrolled] = enroll_ids(rt, [make_prospect(rt, "lost@claim.example")], sequence)
    handed: list[tuple[int, int]] = []
    assert tick(rt, lambda e, p: handed.append((e, p))) == 1
    assert tick(rt, lambda e, p: handed.append((e, p))) == 0  # handed off, not again at once
    clock.advance(seconds=rt.settings.send_lease_seconds + 1)
    assert tick(rt, lambda e, p: handed.append((e, p))) == 1  # the message never came: again
    assert handed == [(enrolled, 0), (enrolled, 0)]


def test_the_due_query_uses_the_partial_index(rt: runtime.Runtime) -> None:
    if rt.engine.dialect.name != "postgresql":
        return
    from sqlalchemy import text

    sequence = make_sequence(rt, [email()])
    enroll_ids(rt, [make_prospect(rt, f"i{i}@claim.example") for i in range(3)], sequence)
    with rt.engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                text(
                    "EXPLAIN SELECT id FROM enrollments WHERE status = 'active' "
                    "AND next_due_at <= now() ORDER BY next_due_at LIMIT 500"
                )
            )
        )
    assert "ix_enrollments_due" in plan
    with rt.sessions() as s:
        assert len(list(s.scalars(select(Enrollment.id)))) == 3


@pytest.mark.parametrize("size", [1, 3, 20, 50])
@pytest.mark.parametrize("due", [0, 1, 7, 8, 10, 17, 400, 401, 500, 1000])
def test_batches_share_a_burst_evenly_among_the_worker_threads(due: int, size: int) -> None:
    steps = [(i, 0) for i in range(due)]
    split = batches(steps, size)
    assert [step for batch in split for step in batch] == steps  # every step once, in order
    assert all(0 < len(batch) <= size for batch in split)
    if split:
        assert max(map(len, split)) - min(map(len, split)) <= 1
        assert len(split) == due or len(split) % SPREAD == 0
