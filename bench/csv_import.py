"""CSV enroll of 10,000 rows against a bare INSERT of the same rows, in the same run.

    .venv/bin/python bench/csv_import.py                      # 10,000 rows, SQLite and PostgreSQL
    .venv/bin/python bench/csv_import.py --rows 500 --db sqlite
    .venv/bin/python bench/csv_import.py --profile            # pyinstrument, if installed

The import is what `followup enroll` does (sequences/workspace/csvimport.py): read the file,
create each prospect, check the enrollment (every step rendered for the prospect, its state and
recent touches) and enroll, in one transaction committed at the end. The baseline writes the
same prospects and enrollments with two SQLAlchemy Core executemany INSERTs and nothing else:
no checks, no rendering. Each side runs in its own team of one fresh database (a PostgreSQL
scratch database, dropped at the end, or a SQLite file), the baseline first; the ratio is
import time / baseline time.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bench.scratch import scratch_database  # noqa: E402
from sequences.db import make_engine, make_sessionmaker  # noqa: E402
from sequences.definitions import create_sequence  # noqa: E402
from sequences.migrate import upgrade  # noqa: E402
from sequences.models import Enrollment, Prospect, Sequence, Team  # noqa: E402
from sequences.workspace import import_csv, read_table  # noqa: E402

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Three emails a rep would write: fields with fallbacks, a custom field, a threaded reply.
STEPS: list[dict[str, Any]] = [
    {
        "type": "email",
        "delay": "PT0S",
        "subject": "A question for {{ company | default('your team') }}",
        "body_html": "<p>Hi {{ first_name | default('there') }},</p>"
        "<p>You said you need {{ fields.need | default('a hand') }}.</p>",
    },
    {
        "type": "email",
        "delay": "P2D",
        "subject": "Following up, {{ first_name | default('there') }}",
        "body_html": "<p>Did you see my note about {{ company | default('your team') }}?</p>",
    },
    {
        "type": "email",
        "delay": "P5D",
        "subject": "Last one",
        "body_html": "<p>Closing the loop, {{ first_name | default('there') }}.</p>",
    },
]


def csv_bytes(rows: int, domain: str) -> bytes:
    lines = ["email,first_name,company,need"]
    lines += [f"p{i}@{domain},P{i},Company {i % 97},speed" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _team_and_sequence(sessions: Any, name: str) -> tuple[int, int]:
    with sessions.begin() as s:
        team = Team(name=name)
        s.add(team)
        s.flush()
        sequence = create_sequence(s, team.id, None, {"name": name, "steps": STEPS}, NOW)
        return team.id, sequence.id


def baseline(sessions: Any, rows: int) -> tuple[float, float]:
    """The same prospects and enrollments, two executemany INSERTs, one transaction."""
    team_id, sequence_id = _team_and_sequence(sessions, "Baseline")
    table = read_table(csv_bytes(rows, "baseline.example"))
    started, cpu = time.perf_counter(), time.process_time()
    with sessions.begin() as s:
        ids = s.scalars(
            insert(Prospect).returning(Prospect.id, sort_by_parameter_order=True),
            [
                {
                    "team_id": team_id,
                    "email": cells[0],
                    "first_name": cells[1],
                    "company": cells[2],
                    "fields": {"need": cells[3]},
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for _, cells in table.rows
            ],
        ).all()
        s.execute(
            insert(Enrollment),
            [
                {
                    "prospect_id": prospect_id,
                    "sequence_id": sequence_id,
                    "status": "active",
                    "current_step": 0,
                    "next_due_at": NOW,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for prospect_id in ids
            ],
        )
    return time.perf_counter() - started, time.process_time() - cpu


def imported(sessions: Any, rows: int, profile: bool) -> tuple[float, float, list[str]]:
    """`followup enroll` of the same rows: (seconds, CPU seconds, the report's lines)."""
    _, sequence_id = _team_and_sequence(sessions, "Import")
    raw = csv_bytes(rows, "import.example")
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    started, cpu = time.perf_counter(), time.process_time()
    with sessions.begin() as s:
        sequence = s.get(Sequence, sequence_id)
        assert sequence is not None
        report = import_csv(s, read_table(raw), sequence, NOW + timedelta(seconds=1))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False), file=sys.stderr)
    return elapsed, cpu, report.lines()


def run(kind: str, url: str, rows: int, profile: bool) -> tuple[float, float, float, float]:
    """(baseline s, baseline CPU s, import s, import CPU s) on a fresh database at `url`."""
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        base, base_cpu = baseline(sessions, rows)
        took, took_cpu, lines = imported(sessions, rows, profile)
    finally:
        engine.dispose()
    expected = f"created {rows}, updated 0, enrolled {rows}, skipped 0 of {rows} rows"
    if not lines or not lines[0].startswith(expected):
        raise SystemExit(f"{kind}: unexpected report {lines}")
    return base, base_cpu, took, took_cpu


def main() -> None:
    from sequences import aftermath

    aftermath.wire()  # as every entry point does, before its first event
    # SIGTERM unwinds like Ctrl-C, so the scratch database is dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--profile", action="store_true", help="pyinstrument of the import")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    print(
        f"{'database':10} {'rows':>6} {'baseline s':>11} {'import s':>9} {'ms/row':>7} "
        f"{'ratio':>7} {'CPU: baseline s':>16} {'import s':>9} {'ms/row':>7} {'ratio':>7}"
    )
    for kind in kinds:
        if kind == "sqlite":
            with tempfile.TemporaryDirectory() as directory:
                got = run(kind, f"sqlite:///{directory}/bench.db", args.rows, args.profile)
        else:
            with scratch_database(ADMIN_URL, prefix="followup_bench_csv") as url:
                got = run(kind, url, args.rows, args.profile)
        base, base_cpu, took, took_cpu = got
        print(
            f"{kind:10} {args.rows:6} {base:11.2f} {took:9.2f} "
            f"{took * 1000 / args.rows:7.2f} {took / base:6.1f}x {base_cpu:16.2f} "
            f"{took_cpu:9.2f} {took_cpu * 1000 / args.rows:7.2f} {took_cpu / base_cpu:6.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
