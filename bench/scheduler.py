"""Benchmark: one scheduler tick finding 1,000 due steps among 10k, 100k and 1M enrollments (PostgreSQL).

    .venv/bin/python bench/scheduler.py [--sizes 10000,100000,1000000] [--repeats 7]

Rows are bulk-loaded with COPY into a fresh database. Of each population, 1,000 enrollments are
due now; the rest are active with a step due in the future (half) or finished (half), which is
what a busy installation looks like. A tick is timed as the scheduler runs it: resume paused
enrollments, then claim up to 1,000 due ones with SKIP LOCKED and mark them handed off; the
transaction is rolled back so every repeat finds the same 1,000. Prints the median per size and
its ratio to the 10k baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench.scratch import scratch_database
from sequences.db import make_engine, make_sessionmaker
from sequences.migrate import upgrade
from sequences.scheduler import claim_due, resume_paused

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DUE = 1_000
COLUMNS = "prospect_id, sequence_id, status, current_step, next_due_at, needs_review, created_at, updated_at"


def _load(engine_url: str, start: int, stop: int, now: datetime, prospects: int) -> None:
    """COPY enrollments [start, stop): the first DUE of the whole table are due now."""
    import psycopg

    dsn = engine_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY enrollments ({COLUMNS}) FROM STDIN") as copy:
            for i in range(start, stop):
                if i < DUE:
                    status, due = "active", now - timedelta(minutes=1 + i % 60)
                elif i % 2:
                    status, due = "active", now + timedelta(hours=1 + i % 5000)
                else:
                    status, due = "finished", None
                copy.write_row((1 + i % prospects, 1, status, 0, due, False, now, now))
        cur.execute("ANALYZE enrollments")
        conn.commit()


def _tick_ms(sessions: object, now: datetime) -> float:
    session = sessions()  # type: ignore[operator]
    try:
        started = time.perf_counter()
        resume_paused(session, now)
        claimed = claim_due(session, now, limit=DUE, requeue_after=timedelta(minutes=5))
        session.flush()
        elapsed = (time.perf_counter() - started) * 1000
        assert len(claimed) == DUE, len(claimed)
        return elapsed
    finally:
        session.rollback()
        session.close()


def main() -> None:
    from sequences import aftermath

    aftermath.wire()  # as every entry point does, before its first event
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    with scratch_database(ADMIN_URL) as url:
        upgrade(url)
        engine = make_engine(url)
        now = datetime.now(UTC).replace(microsecond=0)
        prospects = 1_000
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO teams (id, name, created_at) VALUES (1, 'Bench', :n)"), {"n": now}
            )
            conn.execute(
                text(
                    "INSERT INTO sequences (id, team_id, name, timezone, settings, created_at) "
                    "VALUES (1, 1, 'Bench', 'UTC', '{}', :n)"
                ),
                {"n": now},
            )
            conn.execute(
                text(
                    "INSERT INTO prospects (team_id, email, fields, status, created_at, updated_at) "
                    "SELECT 1, 'p' || g || '@bench.example', '{}', 'active', :n, :n "
                    "FROM generate_series(1, :count) g"
                ),
                {"n": now.replace(tzinfo=None), "count": prospects},
            )
        sessions = make_sessionmaker(engine)
        loaded = 0
        results: list[tuple[int, float, float]] = []
        for size in sizes:
            started = time.perf_counter()
            _load(url, loaded, size, now.replace(tzinfo=None), prospects)
            load_s = time.perf_counter() - started
            loaded = size
            _tick_ms(sessions, now)  # warm the cache and the plan
            timings = [_tick_ms(sessions, now) for _ in range(args.repeats)]
            median = statistics.median(timings)
            results.append((size, median, load_s))
            print(
                f"{size:>9,} enrollments: tick {median:7.1f} ms (median of {args.repeats}, "
                f"min {min(timings):.1f}, max {max(timings):.1f}); loaded in {load_s:.1f} s",
                flush=True,
            )
        base = results[0][1]
        print()
        print(f"{'enrollments':>11}  {'tick (ms)':>9}  {'vs ' + format(sizes[0], ','):>10}")
        for size, median, _ in results:
            print(f"{size:>11,}  {median:9.1f}  {median / base:9.2f}x")
        worst = max(m for _, m, _ in results)
        print(
            f"\ntarget: under 200 ms at 1,000,000 -> {'met' if worst < 200 else 'NOT met'} ({worst:.1f} ms)"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
