"""Benchmark: assigning 10,000 new leads across 20 reps, and one SLA tick among 1,000,000 leads.

    .venv/bin/python bench/leads.py [--leads 1000000] [--assign 10000] [--reps 20] [--repeats 5]

On a fresh PostgreSQL database (rows built with INSERT ... SELECT FROM generate_series):

1. `--assign` pooled leads of one team are assigned by the rules in one batch, as a bulk import
   does (sequences.leads.assign_prospects: the team's lock, the weighted round-robin, one
   hand-over row and one timeline event per lead). Prints the time, leads per second and the
   fairness: the most and the fewest leads a rep got (max - min).
2. One scheduler SLA tick (sequences.leads.sla_tick, limit 1,000) finds the 1,000 due checks:
   accepted leads with no touch past the team's warning time, so each gets its warning. It
   runs first with only those 1,000 leads (the baseline), then again once `--leads` leads in
   total exist (the rest watched later, or not watched at all), all in the same team (the
   worst case: the tick takes the team's lock and reads its reps once). Every tick is rolled
   back so each repeat finds the same 1,000. Prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.scratch import scratch_database
from sequences.db import make_engine, make_sessionmaker
from sequences.leads import assign_prospects, sla_tick
from sequences.leads.sla import due_leads
from sequences.migrate import upgrade
from sequences.models import Lead, LeadTeamSettings, Team
from sequences.workspace.accounts import create_user

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DUE = 1_000


def _prospects(session: Session, team_id: int, first: int, count: int, now: datetime) -> None:
    session.execute(
        text(
            "INSERT INTO prospects (id, team_id, email, fields, status, created_at, updated_at) "
            "SELECT g, :team, 'p' || g || '@c' || g || '.bench.example', '{}', 'active', :n, :n "
            "FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) g"
        ),
        {"team": team_id, "n": now, "first": first, "last": first + count - 1},
    )


def _leads(
    session: Session,
    team_id: int,
    first: int,
    count: int,
    now: datetime,
    *,
    state: str,
    owners: list[int],
    due: str,
) -> None:
    """Leads for prospects [first, first + count): `due` is SQL for due_at over g."""
    session.execute(
        text(
            "INSERT INTO leads (prospect_id, team_id, state, owner_id, source, company_key, "
            "pooled_at, assigned_at, sla_stage, due_at, previous_owners, version, created_at) "
            "SELECT g, :team, :state, "
            + (
                "(ARRAY[" + ",".join(map(str, owners)) + "])[1 + g % " + str(len(owners)) + "]"
                if owners
                else "NULL"
            )
            + ", 'csv', '@c' || g || '.bench.example', :pooled, "
            + ("NULL" if state == "pool" else ":assigned")
            + f", 0, {due}, '[]', 0, :n "
            + "FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) g"
        ),
        {
            "team": team_id,
            "state": state,
            "pooled": now - timedelta(hours=3),
            "assigned": now - timedelta(hours=2),
            "n": now,
            "first": first,
            "last": first + count - 1,
        },
    )


def _analyze(session: Session) -> None:
    for table in ("prospects", "leads"):
        session.execute(text(f"ANALYZE {table}"))


def _tick_ms(sessions: sessionmaker[Session], now: datetime) -> float:
    session = sessions()
    try:
        started = time.perf_counter()
        counts = sla_tick(session, now, limit=DUE)
        session.flush()
        elapsed = (time.perf_counter() - started) * 1000
        assert counts.get("checked") == DUE and counts.get("warn") == DUE, counts
        return elapsed
    finally:
        session.rollback()
        session.close()


def _find_ms(sessions: sessionmaker[Session], now: datetime) -> float:
    """The tick's first query alone: the due checks, read from the partial index ix_leads_due."""
    with sessions() as session:
        started = time.perf_counter()
        found = due_leads(session, now, DUE)
        elapsed = (time.perf_counter() - started) * 1000
        assert len(found) == DUE, len(found)
        return elapsed


def _ticks(sessions: sessionmaker[Session], now: datetime, repeats: int) -> tuple[float, float]:
    """(median ms of the whole tick, median ms of finding the due checks)."""
    _tick_ms(sessions, now)  # warm the cache and the plan
    ticks = [_tick_ms(sessions, now) for _ in range(repeats)]
    finds = [_find_ms(sessions, now) for _ in range(repeats)]
    return statistics.median(ticks), statistics.median(finds)


def _say(count: int, tick: float, find: float, repeats: int, extra: str = "") -> None:
    print(
        f"tick among {count:>9,} leads: {tick:7.1f} ms (1,000 due checks found in {find:.1f} ms, "
        f"each then warned: an event and a task); median of {repeats}{extra}",
        flush=True,
    )


def main() -> None:
    from sequences import aftermath

    aftermath.wire()  # as every entry point does, before its first event
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000, help="leads in all for the tick")
    parser.add_argument("--assign", type=int, default=10_000, help="pooled leads to assign")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    with scratch_database(ADMIN_URL) as url:
        upgrade(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        now = datetime.now(UTC).replace(microsecond=0)
        with sessions.begin() as s:
            assign_team, tick_team = Team(name="Assign"), Team(name="Tick")
            s.add_all([assign_team, tick_team])
            s.flush()
            for i in range(args.reps):
                create_user(s, f"rep{i}@bench.example", name=f"Rep {i}", team=assign_team)
            watchers = [
                create_user(s, f"tick{i}@bench.example", name=f"Tick {i}", team=tick_team).id
                for i in range(args.reps)
            ]
            create_user(s, "boss@bench.example", manager=True, team=tick_team)
            s.add(LeadTeamSettings(team_id=assign_team.id, routes={}))
            s.add(LeadTeamSettings(team_id=tick_team.id, routes={}, warn_after_minutes=60))
            assign_id, tick_id = assign_team.id, tick_team.id

        # 1. Assignment.
        with sessions.begin() as s:
            _prospects(s, assign_id, 1, args.assign, now)
            _leads(s, assign_id, 1, args.assign, now, state="pool", owners=[], due="NULL")
            _analyze(s)
        with sessions() as s:
            ids = list(s.scalars(select(Lead.prospect_id).where(Lead.team_id == assign_id)))
            started = time.perf_counter()
            pairs = assign_prospects(s, assign_id, ids, now)
            s.commit()
            assign_s = time.perf_counter() - started
        per_rep = Counter(owner for _, owner in pairs)
        spread = max(per_rep.values()) - min(per_rep.values())
        print(
            f"assign: {len(pairs):,} leads to {len(per_rep)} reps in {assign_s:.2f} s "
            f"({len(pairs) / assign_s:,.0f} leads/s); per rep min {min(per_rep.values())}, "
            f"max {max(per_rep.values())}, fairness max-min = {spread}",
            flush=True,
        )

        # 2. The SLA tick: the baseline with the 1,000 due leads only, then among --leads.
        first = args.assign + 1
        started = time.perf_counter()
        with sessions.begin() as s:
            _prospects(s, tick_id, first, DUE, now)
            _leads(
                s,
                tick_id,
                first,
                DUE,
                now,
                state="accepted",
                owners=watchers,
                due="CAST(:n AS timestamptz) - interval '1 minute' * (1 + g % 60)",
            )
            _analyze(s)
        base, base_find = _ticks(sessions, now, args.repeats)
        _say(DUE, base, base_find, args.repeats)
        rest = max(args.leads - DUE, 0)
        start_at = first + DUE
        chunk = 250_000
        for offset in range(0, rest, chunk):
            count = min(chunk, rest - offset)
            with sessions.begin() as s:
                _prospects(s, tick_id, start_at + offset, count, now)
                # Half watched later (a step due in hours), half not watched (touched, engaged).
                _leads(
                    s,
                    tick_id,
                    start_at + offset,
                    count,
                    now,
                    state="accepted",
                    owners=watchers,
                    due="CASE WHEN g % 2 = 0 THEN CAST(:n AS timestamptz) + interval '1 minute' * (60 + g % 5000) END",
                )
        with sessions.begin() as s:
            _analyze(s)
        load_s = time.perf_counter() - started
        big, big_find = _ticks(sessions, now, args.repeats)
        total = DUE + rest
        _say(total, big, big_find, args.repeats, f"; built in {load_s:.1f} s")
        print(
            f"ratio {total:,} / {DUE:,} leads: tick {big / base:.2f}x, "
            f"finding {big_find / base_find:.2f}x"
        )
        print(
            f"target: a tick under 200 ms -> {'met' if big < 200 else 'NOT met'} ({big:.1f} ms; "
            f"finding the due checks {big_find:.1f} ms)"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
