"""In-process CPU per email of the send path: `run_batch` on one thread, real PostgreSQL and SMTP.

    PYTHONPATH=. .venv/bin/python bench/send_cpu.py [--messages 1000] [--batch 20] [--profile]
    PYTHONPATH=. .venv/bin/python bench/send_cpu.py --compare /path/to/other/tree --rounds 3

Seeds `--warmup` + `--messages` due enrollments (the same one-step sequence and prospects as
bench/send.py) in a fresh PostgreSQL database, claims them with the scheduler, and runs the
batches one after another on this thread against a `followup sink` in its own process (so
its CPU is not counted here). The figure is `time.process_time()` spent in `run_batch` per
email after the warm-up batches: the worker's own CPU for a send, far less sensitive to what
else runs on the machine than a throughput. `--stub` replaces SMTP with a stub that only
calls the "sending" hook (no smtplib at all).

With `--compare TREE` the script runs itself in subprocesses, alternating between TREE and this
tree (PYTHONPATH set to each) for `--rounds` rounds, and prints each tree's figures side by
side: the fair way to compare two versions of the code on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# bench/send.py uses these and `seed` too (imported from here: this script must run whichever
# tree PYTHONPATH names, so it imports nothing from bench/ itself).
SUBJECT = "A question for {{ company | default('you') }}"
BODY = (
    "<p>Hi {{ first_name | default('there') }},</p><p>You said you need {{ fields.need }}. "
    '<a href="https://example.com/pricing?plan=pro">See pricing</a> or '
    '<a href="https://example.com/case-study">read how Initech did it</a>.</p>'
    "<p>{{ sender.signature }}</p>" + "<p>Some more words about the offer.</p>" * 20
)


def _scratch_database(prefix: str) -> Any:
    """bench/scratch.py's throwaway database, the file beside this one loaded by its path:
    with --compare, PYTHONPATH names another tree, whose bench/ may differ (it imports only
    SQLAlchemy, so nothing of the measured tree)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_bench_scratch", Path(__file__).with_name("scratch.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.scratch_database(ADMIN_URL, prefix=prefix)


def seed(url: str, n: int) -> None:
    """`n` prospects enrolled in a fresh one-step email sequence, all due now."""
    from sequences.clock import SystemClock
    from sequences.db import make_engine, make_sessionmaker
    from sequences.definitions import create_sequence
    from sequences.enrollment import enroll
    from sequences.models import Prospect, Team

    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as s:
        team = Team(name="Bench")
        s.add(team)
        s.flush()
        now = SystemClock().now()
        steps = [{"type": "email", "delay": "PT0S", "subject": SUBJECT, "body_html": BODY}]
        sequence = create_sequence(s, team.id, None, {"name": "Bench", "steps": steps}, now)
        prospects = [
            Prospect(
                team_id=team.id,
                email=f"p{i}@prospect.example",
                first_name="Zo\u00eb",
                company="Initech",
                fields={"need": "faster onboarding"},
            )
            for i in range(n)
        ]
        s.add_all(prospects)
        s.flush()
        for prospect in prospects:
            enroll(s, prospect, sequence, now)
    engine.dispose()


class _StubTransport:
    """SMTP replaced by nothing: only the "sending" hook runs, as it would before DATA."""

    def send(self, payload: bytes, envelope_from: str, recipient: str, before_data: Any) -> None:
        if before_data is not None:
            before_data()

    def close(self) -> None:
        pass


def _start_sink(port: int, directory: Path, log: Path) -> subprocess.Popen[bytes]:
    import socket

    code = (
        "import sys, threading; from pathlib import Path; from sequences.sending import start_sink; "
        f"start_sink(Path({str(directory)!r}), '127.0.0.1', {port}); threading.Event().wait()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the sink did not start") from None
            time.sleep(0.05)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """One run in this process; returns the figures."""
    from sqlalchemy import func, select

    from sequences import aftermath, runtime
    from sequences.config import load_settings
    from sequences.migrate import upgrade
    from sequences.models import Message
    from sequences.scheduler import batches, tick
    from sequences.sending import free_port, run_batch

    sink = None
    rt = None
    with _scratch_database("followup_sendcpu") as url:
        try:
            with TemporaryDirectory() as tmp_name:
                tmp = Path(tmp_name)
                port = free_port()
                env = {
                    "FOLLOWUP_DATABASE_URL": url,
                    "FOLLOWUP_SMTP_URL": f"smtp://127.0.0.1:{port}?timeout=30",
                    "FOLLOWUP_SECRET_KEY": "bench-secret-0123456789abcdef",
                    "FOLLOWUP_BASE_URL": "http://127.0.0.1:8000",
                    "FOLLOWUP_MAIL_DOMAIN": "bench.example",
                    "FOLLOWUP_INSTANCE_PATH": str(tmp / "instance"),
                    "FOLLOWUP_SEND_BATCH": str(args.batch),
                }
                upgrade(url)
                total = args.warmup + args.messages
                seed(url, total)
                aftermath.wire()  # as every entry point does, before its first event
                rt = runtime.build(load_settings(env))
                if args.stub:
                    rt.transport = _StubTransport()  # type: ignore[assignment]
                else:
                    sink = _start_sink(port, tmp / "sink", tmp / "sink.log")
                due: list[tuple[int, int]] = []
                while tick(rt, lambda e, p: due.append((e, p)), limit=1000):
                    pass
                assert len(due) == total, (len(due), total)
                warm, timed = due[: args.warmup], due[args.warmup :]
                for batch in batches(warm, args.batch):
                    run_batch(rt, batch)
                profiler = None
                if args.profile:
                    import cProfile

                    profiler = cProfile.Profile(time.process_time)  # CPU, not waiting
                cpu = wall = 0.0
                outcomes: list[str] = []
                work = [timed[i : i + args.batch] for i in range(0, len(timed), args.batch)]
                if args.threads > 1:
                    # Like a worker process's threads: the same batches taken from a shared queue.
                    import queue
                    import threading

                    todo: queue.Queue[list[tuple[int, int]]] = queue.Queue()
                    for batch in work:
                        todo.put(batch)

                    def drain() -> None:
                        while True:
                            try:
                                batch = todo.get_nowait()
                            except queue.Empty:
                                return
                            outcomes.extend(run_batch(rt, batch))

                    threads = [threading.Thread(target=drain) for _ in range(args.threads)]
                    c0, w0 = time.process_time(), time.perf_counter()
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join()
                    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
                    work = []
                for batch in work:
                    c0, w0 = time.process_time(), time.perf_counter()
                    if profiler is not None:
                        profiler.enable()
                    outcomes += run_batch(rt, batch)
                    if profiler is not None:
                        profiler.disable()
                    cpu += time.process_time() - c0
                    wall += time.perf_counter() - w0
                sent = outcomes.count("sent")
                with rt.engine.connect() as conn:
                    stored = conn.scalar(
                        select(func.count()).select_from(Message).where(Message.status == "sent")
                    )
                if sent != len(timed) or stored != total:
                    raise SystemExit(f"not all sent: {sent} of {len(timed)}, {stored} stored")
                if profiler is not None:
                    import pstats

                    pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(
                        "sequences|smtplib|psycopg/(connection|cursor)", args.profile
                    )
                    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(
                        args.profile
                    )
                return {
                    "tree": str(Path(sys.modules["sequences"].__file__ or "").parent.parent),
                    "messages": len(timed),
                    "batch": args.batch,
                    "threads": args.threads,
                    "cpu_ms": cpu * 1000 / len(timed),
                    "wall_ms": wall * 1000 / len(timed),
                }
        finally:
            if rt is not None:
                rt.dispose()
            if sink is not None:
                sink.terminate()
                sink.wait(10)


def compare(args: argparse.Namespace) -> None:
    """Alternate runs of the other tree and this one, each in its own process."""
    trees = [str(Path(args.compare).resolve()), str(ROOT)]
    figures: dict[str, list[dict[str, Any]]] = {tree: [] for tree in trees}
    passthrough = [
        f"--messages={args.messages}",
        f"--warmup={args.warmup}",
        f"--batch={args.batch}",
        f"--threads={args.threads}",
        *(["--stub"] if args.stub else []),
        "--json",
    ]
    for round_ in range(args.rounds):
        for tree in trees if round_ % 2 == 0 else trees[::-1]:
            env = {**os.environ, "PYTHONPATH": tree}
            out = subprocess.run(
                [sys.executable, __file__, *passthrough],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            figures[tree].append(result)
            print(
                f"round {round_ + 1} {tree}: CPU {result['cpu_ms']:.3f} ms/email, "
                f"wall {result['wall_ms']:.3f} ms/email",
                flush=True,
            )
    for tree in trees:
        cpu = [r["cpu_ms"] for r in figures[tree]]
        print(
            f"{tree}: CPU ms per email median {statistics.median(cpu):.3f} "
            f"(min {min(cpu):.3f}, max {max(cpu):.3f}; {args.messages} emails, "
            f"batches of {args.batch}, {args.threads} thread(s){', stub SMTP' if args.stub else ''})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="run the batches on N threads")
    parser.add_argument("--stub", action="store_true", help="no SMTP: a stub transport")
    parser.add_argument("--profile", type=int, default=0, help="print the top N of a profile")
    parser.add_argument("--compare", help="another source tree to alternate with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.compare:
        compare(args)
        return
    result = measure(args)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['tree']}: CPU {result['cpu_ms']:.3f} ms per email, wall "
            f"{result['wall_ms']:.3f} ms ({result['messages']} emails, batches of {args.batch}, "
            f"{args.threads} thread(s))"
        )


if __name__ == "__main__":
    main()
