"""Profile one SLA tick (1,000 due checks, each warned) on SQLite or PostgreSQL.

    .venv/bin/python bench/leads_profile.py sqlite        # a scratch SQLite file
    .venv/bin/python bench/leads_profile.py postgresql    # a scratch database (BENCH_POSTGRES_URL)

The same 1,000 due leads as bench/leads.py's baseline (accepted, no touch past the team's
60-minute warning, 20 reps). Prints the median of 5 ticks (each rolled back), the statements
one tick sends (counted by their first words: a statement per lead shows up as 1,000), and the
cProfile of one tick by cumulative and by own time. It answers "what dominates the tick";
bench/leads.py answers "how long among 1,000,000 leads".
"""

from __future__ import annotations

import cProfile
import pstats
import statistics
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, text
from sqlalchemy.orm import Session, sessionmaker

from bench.leads import ADMIN_URL, DUE, _analyze, _leads, _prospects, _tick_ms
from bench.scratch import scratch_database
from sequences.db import make_engine, make_sessionmaker
from sequences.leads import sla_tick
from sequences.migrate import upgrade
from sequences.models import LeadTeamSettings, Team
from sequences.workspace.accounts import create_user


def _sqlite_rows(session: Session, team_id: int, owners: list[int], now: datetime) -> None:
    """bench/leads.py's rows without generate_series."""
    session.execute(
        text(
            "INSERT INTO prospects (id, team_id, email, fields, status, lead_status, created_at, "
            "updated_at) VALUES (:id, :team, :email, '{}', 'active', 'new', :n, :n)"
        ),
        [
            {"id": g, "team": team_id, "email": f"p{g}@c{g}.bench.example", "n": now}
            for g in range(1, DUE + 1)
        ],
    )
    session.execute(
        text(
            "INSERT INTO leads (prospect_id, team_id, state, owner_id, source, company_key, "
            "pooled_at, assigned_at, sla_stage, due_at, previous_owners, version, created_at) "
            "VALUES (:g, :team, 'accepted', :owner, 'csv', :key, :pooled, :assigned, 0, :due, "
            "'[]', 0, :n)"
        ),
        [
            {
                "g": g,
                "team": team_id,
                "owner": owners[g % len(owners)],
                "key": f"@c{g}.bench.example",
                "pooled": now - timedelta(hours=3),
                "assigned": now - timedelta(hours=2),
                "due": now - timedelta(minutes=1 + g % 60),
                "n": now,
            }
            for g in range(1, DUE + 1)
        ],
    )


def _profile(url: str, kind: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*args: Any) -> None:
        words = args[2].split()
        statements.append(" ".join(words[:6]))

    sessions: sessionmaker[Session] = make_sessionmaker(engine)
    now = datetime.now(UTC).replace(microsecond=0)
    with sessions.begin() as s:
        team = Team(name="Tick")
        s.add(team)
        s.flush()
        owners = [
            create_user(s, f"tick{i}@bench.example", name=f"Tick {i}", team=team).id
            for i in range(20)
        ]
        create_user(s, "boss@bench.example", manager=True, team=team)
        s.add(LeadTeamSettings(team_id=team.id, routes={}, warn_after_minutes=60))
        team_id = team.id
    with sessions.begin() as s:
        if kind == "postgresql":
            _prospects(s, team_id, 1, DUE, now)
            due = "CAST(:n AS timestamptz) - interval '1 minute' * (1 + g % 60)"
            _leads(s, team_id, 1, DUE, now, state="accepted", owners=owners, due=due)
            _analyze(s)
        else:
            _sqlite_rows(s, team_id, owners, now)
    _tick_ms(sessions, now)  # warm up
    ticks = [_tick_ms(sessions, now) for _ in range(5)]
    print(f"{kind}: tick {statistics.median(ticks):.1f} ms, median of 5 ({DUE:,} due checks)")
    statements.clear()
    session = sessions()
    profile = cProfile.Profile()
    try:
        profile.enable()
        counts = sla_tick(session, now, limit=DUE)
        session.flush()
        profile.disable()
    finally:
        session.rollback()
        session.close()
    print(f"{counts}; {len(statements)} statements:")
    for statement, n in Counter(statements).most_common(15):
        print(f"  {n:5d}  {statement}")
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)
    engine.dispose()


def main() -> None:
    from sequences import aftermath

    aftermath.wire()  # as every entry point does, before its first event
    kind = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    if kind not in ("sqlite", "postgresql"):
        sys.exit("usage: bench/leads_profile.py sqlite|postgresql")
    if kind == "postgresql":
        with scratch_database(ADMIN_URL) as url:
            _profile(url, kind)
        return
    with tempfile.TemporaryDirectory() as folder:
        _profile(f"sqlite:///{folder}/leads.db", kind)


if __name__ == "__main__":
    main()
