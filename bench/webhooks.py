"""What the webhook outbox costs the event writers (tracking's spool drain, sending, inbound).

Every `record()` looks up the webhooks that want the event and adds their delivery rows in the
same transaction. This times writing events through `record()` in batches (as the spool drain
does), in one run and on one database:

- baseline: the outbox lookup switched off (what writing events cost before webhooks);
- no webhooks: the lookup runs and finds nothing (every install that uses no webhooks);
- 3 webhooks: three subscribers to opens, so each event also writes three delivery rows.

    .venv/bin/python bench/webhooks.py                      # SQLite file in a temp dir
    .venv/bin/python bench/webhooks.py --database postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from sequences import aftermath, runtime, webhooks  # noqa: E402
from sequences.clock import FrozenClock  # noqa: E402
from sequences.config import load_settings  # noqa: E402
from sequences.enrollment import record  # noqa: E402
from sequences.migrate import upgrade  # noqa: E402
from sequences.models import Base, Prospect, Webhook  # noqa: E402
from sequences.workspace import create_user, default_team  # noqa: E402


def write_events(rt: runtime.Runtime, prospect_ids: list[int], count: int, batch: int) -> float:
    """Seconds to record `count` open events, `batch` per transaction."""
    now = rt.clock.now()
    started = time.perf_counter()
    done = 0
    while done < count:
        with rt.sessions.begin() as session:
            for i in range(min(batch, count - done)):
                event = record(
                    session, "open", now, prospect_id=prospect_ids[(done + i) % len(prospect_ids)]
                )
                event.verdict = "human"
        done += batch
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="a database URL (default: a new SQLite file)")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="followup-bench-"))
    url = args.database or f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    env = {
        "FOLLOWUP_DATABASE_URL": url,
        "FOLLOWUP_SECRET_KEY": "bench-secret-key-0123456789",
        "FOLLOWUP_INSTANCE_PATH": str(tmp),
    }
    aftermath.wire()  # as every entry point does, before its first event
    rt = runtime.build(load_settings(env), FrozenClock())
    with rt.engine.begin() as conn:  # a reused database starts empty
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(text(f'DELETE FROM "{table.name}"'))
    with rt.sessions.begin() as s:
        team = default_team(s)
        rep = create_user(s, "bench@example.com", team=team)
        prospects = [
            Prospect(team_id=team.id, owner_id=rep.id, email=f"p{n}@example.com")
            for n in range(200)
        ]
        s.add_all(prospects)
        s.flush()
        prospect_ids = [p.id for p in prospects]
        rep_id, team_id = rep.id, team.id

    real_outbox = webhooks.outbox
    no_lookup: Callable[..., int] = lambda session, event: 0  # noqa: E731

    def baseline() -> float:
        webhooks.outbox = no_lookup  # type: ignore[assignment]
        try:
            return write_events(rt, prospect_ids, args.events, args.batch)
        finally:
            webhooks.outbox = real_outbox  # type: ignore[assignment]

    def lookup_only() -> float:
        return write_events(rt, prospect_ids, args.events, args.batch)

    def three_webhooks() -> float:
        with rt.sessions.begin() as s:
            if not s.scalar(select(func.count()).select_from(Webhook)):
                for n in range(3):
                    s.add(
                        Webhook(
                            team_id=team_id,
                            user_id=rep_id,
                            url=f"http://127.0.0.1:9/{n}",
                            events=["open"],
                            secret="whsec_bench",
                        )
                    )
        return write_events(rt, prospect_ids, args.events, args.batch)

    results: dict[str, list[float]] = {"baseline": [], "no webhooks": [], "3 webhooks": []}
    for _ in range(args.runs):  # interleaved, so drift hits every variant alike
        results["baseline"].append(baseline())
        results["no webhooks"].append(lookup_only())
        results["3 webhooks"].append(three_webhooks())
        with rt.sessions.begin() as s:
            s.execute(text("DELETE FROM webhooks"))
    base = statistics.median(results["baseline"])
    backend = url.split(":", 1)[0]
    print(
        f"{args.events} open events, {args.batch} per transaction, {backend}, median of {args.runs}"
    )
    for name, times in results.items():
        median = statistics.median(times)
        print(
            f"  {name:12} {args.events / median:8.0f} events/s   ratio to baseline {base / median:.2f}"
        )
    rt.dispose()


if __name__ == "__main__":
    main()
