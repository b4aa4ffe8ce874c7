"""CPU per event of writing spooled tracking hits: the drain process and the database server.

The throughput bench (bench/tracking.py) runs on a shared 2-core machine where other work moves
the figures by 2x; CPU time spent per event is far steadier. This script seeds the same sent
messages as bench/tracking.py, fills a spool with pixel and click hits (made by the same
`make_hit` as the web app), drains it in batches of a given size (the drain process under load
sees small batches, an idle one large ones) and reports, per event, the CPU milliseconds of
this process (the drainer) and of the PostgreSQL backends that served it (from /proc).

    .venv/bin/python bench/drain.py --db postgresql --hits 20000 --batch 50 200 1000
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import procstat  # noqa: E402
from bench.tracking import (  # noqa: E402
    BROWSER,
    analyze,
    count_events,
    database,
    seed,
    settings_env,
)
from sequences.tracking import Spool  # noqa: E402


def fill(spool: Spool, pixels: list[str], clicks: list[str], hits: int, clicks_every: int) -> None:
    from sequences.clock import SystemClock
    from sequences.tracking import Request, make_hit

    now = SystemClock().now() - timedelta(hours=1)
    req = Request("GET", "203.0.113.9", BROWSER)
    for i in range(hits):
        if clicks_every and i % clicks_every == 0:
            path = clicks[i % len(clicks)]
            token = path.split("/")[2]
            spool.append(make_hit("click", token, req, now + timedelta(milliseconds=i)))
        else:
            token = pixels[i % len(pixels)].split("/")[2].removesuffix(".gif")
            spool.append(make_hit("open", token, req, now + timedelta(milliseconds=i)))
    spool.close()


def run(kind: str, args: argparse.Namespace) -> None:
    from sequences import aftermath, runtime
    from sequences.config import load_settings
    from sequences.tracking import spool_writer

    directory = Path(tempfile.mkdtemp(prefix=f"followup-drain-{kind}-"))
    url, drop, backends = database(kind, directory)
    env = settings_env(url, directory)
    try:
        pixels, clicks = seed(env, args.messages)
        aftermath.wire()  # as every entry point does, before its first event
        rt = runtime.build(load_settings(env))
        write = spool_writer(rt.sessions, rt.settings.secret_keys)
        warm = Spool(directory / "spool-warm")  # a few events, then statistics (analyze)
        fill(warm, pixels, clicks, 2000, args.clicks_every)
        warm.drain(write)
        analyze(url)
        print(f"\n{kind}: {args.hits} hits per pass (1 click in {args.clicks_every})")
        for batch in args.batch:
            spool = Spool(directory / f"spool-{batch}")
            fill(spool, pixels, clicks, args.hits, args.clicks_every)
            with rt.sessions() as s:  # open the pool's connection before counting
                s.connection()
            pids = backends()
            server0 = sum(procstat.cpu(p) for p in pids)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            written = 0
            while True:
                n = spool.drain(write, batch=batch, limit=batch)
                written += n
                if not n:
                    break
            cpu = time.process_time() - cpu0
            wall = time.perf_counter() - wall0
            server = sum(procstat.cpu(p) for p in pids) - server0
            per = 1000 / max(1, written)
            print(
                f"  batch {batch:>5}: {written} hits in {wall:5.2f}s;"
                f" drainer {cpu * per:.3f} ms/hit, database {server * per:.3f} ms/hit,"
                f" together {(cpu + server) * per:.3f} ms/hit"
            )
        counts = count_events(env)
        print(f"  events recorded: {counts}")
        rt.dispose()
    finally:
        drop()
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--hits", type=int, default=20000)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--clicks-every", type=int, default=3)
    parser.add_argument("--batch", type=int, nargs="+", default=[50, 200, 1000])
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    for kind in ["sqlite", "postgresql"] if args.db == "both" else [args.db]:
        run(kind, args)


if __name__ == "__main__":
    main()
