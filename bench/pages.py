"""Workspace page times with 10,000 prospects and 1,000,000 events in PostgreSQL.

Seeds a fresh database (executemany for the rows the ORM defines, COPY for the million events),
then times each page through the real app (Flask's test client, in-process, so only the app and
the database are measured) signed in as a rep and as a manager. GET /healthz (one SELECT 1) is
timed in the same run as the baseline, and each page is reported as a ratio to it.

    .venv/bin/python bench/pages.py                       # 10k prospects, 1M events
    .venv/bin/python bench/pages.py --prospects 2000 --events 100000 --runs 10
    .venv/bin/python bench/pages.py --keep                 # leave the database for EXPLAIN
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, select, text  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from bench.scratch import scratch_database  # noqa: E402
from sequences import aftermath, runtime  # noqa: E402
from sequences.clock import FrozenClock  # noqa: E402
from sequences.config import load_settings  # noqa: E402
from sequences.migrate import upgrade  # noqa: E402
from sequences.models import (  # noqa: E402
    Enrollment,
    Message,
    Prospect,
    Sequence,
    Step,
    Task,
    Team,
    User,
)
from sequences.tracking import new_token_id  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
PASSWORD = "bench-password"
REPS = 10
SEQUENCES = 10
DAYS = 90
HUMAN_UA = "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15"


def naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def seed(url: str, prospects: int, events: int, rng: random.Random) -> dict[str, Any]:
    """Rows through Core executemany (ORM defaults apply), the events through COPY."""
    engine = create_engine(url)
    cheap = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    with engine.begin() as conn:
        team_id = conn.execute(insert(Team).returning(Team.id), {"name": "Sales"}).scalar_one()
        user_rows = [
            {
                "team_id": team_id,
                "email": f"rep{i}@bench.example",
                "name": f"Rep {i}",
                "password_hash": cheap,
                "is_manager": False,
                "signature": "",
            }
            for i in range(REPS)
        ]
        user_rows.append(
            {
                "team_id": team_id,
                "email": "boss@bench.example",
                "name": "Boss",
                "password_hash": cheap,
                "is_manager": True,
                "signature": "",
            }
        )
        conn.execute(insert(User), user_rows)
        users = conn.execute(select(User.id).order_by(User.id)).scalars().all()
        reps = users[:REPS]
        sequence_ids = []
        for s in range(SEQUENCES):
            sid = conn.execute(
                insert(Sequence).returning(Sequence.id),
                {
                    "team_id": team_id,
                    "owner_id": reps[s % REPS],
                    "name": f"Sequence {s}",
                    "timezone": "UTC",
                    "settings": {},
                },
            ).scalar_one()
            sequence_ids.append(sid)
            conn.execute(
                insert(Step),
                [
                    {
                        "sequence_id": sid,
                        "position": 0,
                        "type": "email",
                        "delay": "PT0S",
                        "subject": "Hello",
                        "body_html": "<p>Hi</p>",
                        "options": {},
                    },
                    {
                        "sequence_id": sid,
                        "position": 1,
                        "type": "call",
                        "delay": "P7D",
                        "subject": "Qualify",
                        "body_html": None,
                        "options": {},
                    },
                    {
                        "sequence_id": sid,
                        "position": 2,
                        "type": "email",
                        "delay": "P3D",
                        "subject": "Offer",
                        "body_html": "<p>Offer</p>",
                        "options": {},
                    },
                ],
            )
        created = [NOW - timedelta(days=rng.uniform(0, DAYS)) for _ in range(prospects)]
        conn.execute(
            insert(Prospect),
            [
                {
                    "team_id": team_id,
                    "owner_id": reps[i % REPS],
                    "email": f"p{i}@lead.example",
                    "first_name": f"First{i}",
                    "last_name": f"Last{i}",
                    "company": f"Company {i % 700}",
                    "phone": f"+1 555 {i:05d}",
                    "fields": {},
                    "status": "active",
                    "created_at": created[i],
                    "updated_at": created[i],
                }
                for i in range(prospects)
            ],
        )
        prospect_ids = conn.execute(select(Prospect.id).order_by(Prospect.id)).scalars().all()
        conn.execute(
            insert(Enrollment),
            [
                {
                    "prospect_id": pid,
                    "sequence_id": sequence_ids[i % SEQUENCES],
                    "status": "active",
                    "current_step": 1,
                    "created_at": created[i],
                    "updated_at": created[i],
                    "needs_review": False,
                }
                for i, pid in enumerate(prospect_ids)
            ],
        )
        enrollments = conn.execute(
            select(Enrollment.id, Enrollment.prospect_id).order_by(Enrollment.id)
        ).all()
        message_rows = []
        for i, (eid, pid) in enumerate(enrollments):
            for position in (0, 2):
                sent = created[i] + timedelta(days=position * 5)
                if sent > NOW:
                    continue
                message_rows.append(
                    {
                        "token_id": new_token_id(),
                        "direction": "out",
                        "prospect_id": pid,
                        "enrollment_id": eid,
                        "step_position": position,
                        "message_id": f"<{uuid.uuid4().hex}@bench.example>",
                        "subject": "Hello",
                        "to_email": f"p{i}@lead.example",
                        "status": "sent",
                        "variant": "A" if i % 2 else "B",
                        "attempts": 1,
                        "created_at": sent,
                        "sent_at": sent,
                    }
                )
        conn.execute(insert(Message), message_rows)
        messages = conn.execute(
            select(Message.id, Message.prospect_id, Message.enrollment_id, Message.sent_at)
        ).all()
        conn.execute(
            insert(Task),
            [
                {
                    "enrollment_id": eid,
                    "step_position": 1,
                    "prospect_id": pid,
                    "owner_id": reps[i % REPS],
                    "type": "call",
                    "title": "Qualify",
                    "due_at": NOW - timedelta(days=rng.uniform(-1, 3)),
                    "status": "open",
                }
                for i, (eid, pid) in enumerate(enrollments[: prospects // 5])
            ],
        )

    # The million events: a 'sent' per message, then opens (half by machines), clicks, calls,
    # replies, spread from each send to now.
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        columns = (
            "prospect_id, enrollment_id, message_id, type, at, verdict, reason, user_agent, data"
        )
        with cursor.copy(f"COPY events ({columns}) FROM STDIN") as copy:
            written = 0
            # The column is a naive UTC timestamp (UTCDateTime); COPY bypasses the ORM.
            sends: list[tuple[int, Any, Any, datetime]] = [
                (mid, pid, eid, naive(sent_at)) for mid, pid, eid, sent_at in messages if sent_at
            ]
            for mid, pid, eid, sent_at in sends:
                copy.write_row(
                    (pid, eid, mid, "sent", sent_at, None, None, None, '{"subject": "Hello"}')
                )
                written += 1
            per_message = max((events - written) // max(len(sends), 1), 1)
            now = naive(NOW)
            row: tuple[Any, ...]
            for mid, pid, eid, sent_at in sends:
                span = max((now - sent_at).total_seconds(), 60.0)
                for _ in range(per_message):
                    at = sent_at + timedelta(seconds=span * rng.random() ** 3)
                    roll = rng.random()
                    if roll < 0.45:
                        row = (
                            pid,
                            eid,
                            mid,
                            "open",
                            at,
                            "machine",
                            "apple_privacy_proxy",
                            "Mozilla/5.0",
                            "{}",
                        )
                    elif roll < 0.85:
                        row = (pid, eid, mid, "open", at, "human", None, HUMAN_UA, "{}")
                    elif roll < 0.97:
                        row = (
                            pid,
                            eid,
                            mid,
                            "click",
                            at,
                            "human",
                            None,
                            HUMAN_UA,
                            '{"url": "https://acme.example/pricing", "link": 0}',
                        )
                    elif roll < 0.99:
                        row = (
                            pid,
                            eid,
                            None,
                            "call",
                            at,
                            None,
                            None,
                            None,
                            '{"outcome": "voicemail", "notes": "left a message"}',
                        )
                    else:
                        row = (
                            pid,
                            eid,
                            mid,
                            "reply",
                            at,
                            None,
                            None,
                            None,
                            '{"subject": "Re: Hello", "text": "Tell me more"}',
                        )
                    copy.write_row(row)
                    written += 1
        raw.commit()
    finally:
        raw.close()
    # Autovacuum does this on its own for insert-heavy tables (PostgreSQL 13+); here it is done
    # at once so the visibility map lets the covering indexes answer without heap visits.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    with engine.begin() as conn:
        counts = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("prospects", "messages", "events", "tasks")
        }
        busiest = conn.execute(
            text(
                "SELECT prospect_id FROM events GROUP BY prospect_id ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar_one()
    engine.dispose()
    return {"counts": counts, "busiest_prospect": busiest, "sequence_id": sequence_ids[0]}


def reuse(url: str) -> dict[str, Any]:
    """What seed() returns, read back from a database it filled earlier."""
    engine = create_engine(url)
    with engine.begin() as conn:
        counts = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("prospects", "messages", "events", "tasks")
        }
        busiest = conn.execute(
            text(
                "SELECT prospect_id FROM events GROUP BY prospect_id ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar_one()
        sequence_id = conn.execute(text("SELECT min(id) FROM sequences")).scalar_one()
    engine.dispose()
    return {"counts": counts, "busiest_prospect": busiest, "sequence_id": sequence_id}


def sign_in(client: Any, email: str) -> None:
    page = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf}
    )
    assert response.status_code == 302, response.status_code


def timed(plan: list[tuple[str, Any, str, dict[str, str] | None]], runs: int) -> dict[str, Any]:
    """Round-robin over the pages, `runs` rounds: a burst of load elsewhere on the machine then
    slows every page (and the baseline) alike instead of whichever page was being timed."""
    samples: dict[str, list[float]] = {label: [] for label, *_ in plan}
    for label, client, path, headers in plan:  # warm-up, and a check that each page answers
        response = client.get(path, headers=headers or {})
        assert response.status_code in (200, 304), (label, response.status_code)
    for _ in range(runs):
        for label, client, path, headers in plan:
            start = time.perf_counter()
            response = client.get(path, headers=headers or {})
            response.get_data()
            samples[label].append((time.perf_counter() - start) * 1000)
    out = {}
    for label, values in samples.items():
        values.sort()
        out[label] = {
            "min_ms": values[0],
            "median_ms": statistics.median(values),
            "p95_ms": values[min(len(values) - 1, int(len(values) * 0.95))],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prospects", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--reuse", metavar="NAME", help="time pages on a database kept earlier")
    args = parser.parse_args()
    rng = random.Random(6)

    with scratch_database(
        ADMIN_URL, prefix="followup_bench_pages", keep=args.keep, reuse=args.reuse
    ) as url:
        upgrade(url)
        started = time.perf_counter()
        seeded = reuse(url) if args.reuse else seed(url, args.prospects, args.events, rng)
        print(f"seeded {seeded['counts']} in {time.perf_counter() - started:.1f} s", flush=True)

        with tempfile.TemporaryDirectory() as instance:
            settings = load_settings(
                {
                    "FOLLOWUP_DATABASE_URL": url,
                    "FOLLOWUP_SECRET_KEY": "bench-secret-key-0123456789abcdef",
                    "FOLLOWUP_INSTANCE_PATH": instance,
                    "FOLLOWUP_BASE_URL": "http://track.bench.example",
                }
            )
            aftermath.wire()  # as every entry point does, before its first event
            rt = runtime.build(settings, FrozenClock(NOW))
            from tracker import create_app

            app = create_app({"RUNTIME": rt, "TESTING": True})
            rep, boss = app.test_client(), app.test_client()
            sign_in(rep, "rep0@bench.example")
            sign_in(boss, "boss@bench.example")
            etag = rep.get("/hot/fragment").headers["ETag"]
            busiest = seeded["busiest_prospect"]
            owner_of_busiest = boss  # the manager can open any prospect
            plan = [
                ("GET /healthz (baseline)", rep, "/healthz", None),
                ("hot list, rep", rep, "/", None),
                ("hot list, manager (whole team)", boss, "/", None),
                ("hot list poll, unchanged (304)", rep, "/hot/fragment", {"If-None-Match": etag}),
                (
                    "prospect page (busiest prospect)",
                    owner_of_busiest,
                    f"/prospects/{busiest}",
                    None,
                ),
                ("prospects search", rep, "/prospects?q=Company%2042", None),
                ("tasks, rep", rep, "/tasks", None),
                ("sequences list", rep, "/sequences", None),
                ("sequence step stats", rep, f"/sequences/{seeded['sequence_id']}", None),
                ("manager report, 30 days", boss, "/report", None),
                ("manager report, 90 days", boss, "/report?start=2025-12-03&end=2026-03-02", None),
                ("manager report CSV, 30 days", boss, "/report.csv", None),
            ]
            load_before = os.getloadavg()[0]
            results = timed(plan, args.runs)
            load_after = os.getloadavg()[0]
            rt.dispose()
        base = results["GET /healthz (baseline)"]
        print(
            f"\nload average {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} cores; "
            f"{args.runs} rounds"
        )
        print(
            f"{'page':36} {'min ms':>7} {'median':>7} {'p95':>7} "
            f"{'min/base':>9} {'median/base':>12}"
        )
        for label, r in results.items():
            print(
                f"{label:36} {r['min_ms']:7.1f} {r['median_ms']:7.1f} {r['p95_ms']:7.1f} "
                f"{r['min_ms'] / base['min_ms']:9.1f} {r['median_ms'] / base['median_ms']:12.1f}"
            )
        print(json.dumps({"counts": seeded["counts"], "runs": args.runs}))


if __name__ == "__main__":
    main()
