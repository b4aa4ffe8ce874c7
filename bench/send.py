"""Benchmark: send throughput of the whole pipeline against a plain smtplib loop, same sink, same run.

    .venv/bin/python bench/send.py [--messages 2000] [--processes 2] [--threads 4] [--dkim]

With --dkim the pipeline DKIM-signs every message (a fresh 2048-bit key for bench.example), and
the signing cost per email is also measured on its own: building the same messages with and
without signing, in this process, and the ratio printed. Compare a run with and without --dkim
for the pipeline's ratio with signing on and off.

Needs PostgreSQL and Redis on 127.0.0.1 (as in the tests). Both sides send into the same kind of
local aiosmtpd sink (`followup sink`, its own process, storing .eml files):
- baseline: one smtplib connection sending pre-built messages in a loop;
- pipeline: N due enrollments in a fresh PostgreSQL database; this process ticks the scheduler
  (claim with SKIP LOCKED, enqueue batches to Redis) and `followup worker` with 2 processes
  claims each batch of steps in the database, renders them, rewrites links, marks each one
  "sending" right before its DATA over a reused SMTP connection, and records them. The clock
  runs from the first tick to the last message stored by the sink (the time in its file name,
  so the polling interval does not count).
The baseline is measured before and after the pipeline, each time after a CHECKPOINT and a sync
(so neither pays for the other side's disk writes); the ratio uses their mean. CPU per email
is read from /proc for the workers, the sink, PostgreSQL, Redis and the whole machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import smtplib
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import procstat  # noqa: E402
from bench.scratch import scratch_database  # noqa: E402

# The one-step sequence and prospects both send benchmarks use (bench/send_cpu.py keeps them:
# it must import nothing from the tree it is not measuring).
from bench.send_cpu import BODY, SUBJECT, seed  # noqa: E402

BIN = Path(sys.executable).parent
ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def _count(directory: Path) -> int:
    if not directory.exists():
        return 0
    return sum(1 for e in os.scandir(directory) if e.name.endswith(".eml"))


def _last_stored(directory: Path) -> float:
    """When the sink stored its latest message (its file names start with time.time_ns())."""
    return (
        max(int(e.name.split("-", 1)[0]) for e in os.scandir(directory) if e.name.endswith(".eml"))
        / 1e9
    )


def _wait(condition: object, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(interval)


def _cpu(session_id: int | None = None, command: str | None = None) -> float:
    """CPU seconds used so far by the live processes of a session, or of a command name."""
    return sum(p.cpu for p in procstat.processes() if p.session == session_id or p.name == command)


def _pipeline_cpu(worker: int, sink: int) -> dict[str, float]:
    """CPU seconds so far of each part of the pipeline (this process ticks the scheduler)."""
    return {
        "workers": _cpu(worker),
        "sink": _cpu(sink),
        "postgres": _cpu(command="postgres"),
        "redis": _cpu(command="redis-server"),
        "scheduler": time.process_time(),
    }


def _start_sink(
    port: int, directory: Path, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    import socket

    proc = subprocess.Popen(
        [str(BIN / "followup"), "sink", "--port", str(port), "--dir", str(directory)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    _wait(listening, 30, "the sink")
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _baseline(n: int, env: dict[str, str], tmp: Path, tag: str) -> float:
    """Plain smtplib: pre-built messages of the same shape over one connection."""
    from sequences.sending import (
        OutgoingEmail,
        TrackingUrls,
        build,
        compose,
        free_port,
        new_message_id,
    )
    from sequences.tracking import new_token_id

    class P:
        first_name = "Zo\u00eb"
        last_name = None
        company = "Initech"
        email = "zoe@prospect.example"
        phone = None
        timezone = None
        fields = {"need": "faster onboarding"}

    urls = TrackingUrls(
        "http://127.0.0.1:8000", ("bench-secret-0123456789abcdef",), "bench.example"
    )
    messages = []
    for i in range(n):
        token = new_token_id()
        composed = compose(
            subject_template=SUBJECT,
            html_template=BODY,
            text_template=None,
            prospect=P(),
            sender={
                "name": "Rita",
                "email": "rita@bench.example",
                "signature": "Rita",
                "first_name": "Rita",
            },
            token_id=token,
            urls=urls,
        )
        payload = build(
            OutgoingEmail(
                from_email="rita@bench.example",
                from_name="Rita",
                to_email=f"p{i}@prospect.example",
                to_name="Zo\u00eb",
                subject=composed.subject,
                html=composed.html,
                text=composed.text,
                message_id=new_message_id("bench.example"),
                date=datetime.now(UTC),
            )
        )
        messages.append((f"p{i}@prospect.example", payload))
    port = free_port()
    directory = tmp / f"sink-{tag}"
    sink = _start_sink(port, directory, env, tmp / f"sink-{tag}.log")
    try:
        sink_before, own_before = _cpu(sink.pid), time.process_time()
        machine_before = procstat.machine_cpu()["busy"]
        started = time.time()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as conn:
            for to, payload in messages:
                conn.sendmail("bounce@bench.example", [to], payload)
        _wait(lambda: _count(directory) >= n, 120, "baseline messages")
        elapsed = _last_stored(directory) - started
        sink_cpu, own_cpu = _cpu(sink.pid) - sink_before, time.process_time() - own_before
        machine_cpu = procstat.machine_cpu()["busy"] - machine_before
    finally:
        _stop(sink)
    print(
        f"  (baseline CPU ms per email: sink {sink_cpu * 1000 / n:.2f}, "
        f"client {own_cpu * 1000 / n:.2f}, machine busy {machine_cpu * 1000 / n:.2f})",
        flush=True,
    )
    return n / elapsed


def _signing_cost(key: Path, n: int = 500) -> None:
    """ms per email to build a message, unsigned and signed with a 2048-bit key."""
    from sequences.config import DkimKey
    from sequences.sending import DkimSigner, OutgoingEmail, build, new_message_id

    signer = DkimSigner([DkimKey("bench.example", "bench", key.read_bytes())])
    mail = OutgoingEmail(
        from_email="sales@bench.example",
        from_name="Rita",
        to_email="zoe@prospect.example",
        to_name="Zo\u00eb",
        subject="Zo\u00eb, faster onboarding?",
        html="<p>" + "You need faster onboarding: pricing. " * 20 + "</p>",
        text="You need faster onboarding. " * 20,
        message_id=new_message_id("bench.example"),
        date=datetime.now(UTC),
        list_unsubscribe_url="http://127.0.0.1:8000/u/x",
    )
    started = time.process_time()
    for _ in range(n):
        build(mail)
    plain = (time.process_time() - started) / n
    started = time.process_time()
    for _ in range(n):
        signer.sign(build(mail))
    signed = (time.process_time() - started) / n
    print(
        f"DKIM: build {plain * 1000:.3f} ms, build + sign {signed * 1000:.3f} ms of CPU per email "
        f"(signing {(signed - plain) * 1000:.3f} ms; unsigned / signed = {plain / signed:.2f}x)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--dkim", action="store_true", help="DKIM-sign in the pipeline")
    args = parser.parse_args()
    n = args.messages

    from sqlalchemy import create_engine, text

    from sequences.migrate import upgrade
    from sequences.sending import free_port

    namespace = f"followup-bench-{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")  # for CHECKPOINT
    worker: subprocess.Popen[bytes] | None = None
    sink: subprocess.Popen[bytes] | None = None
    with scratch_database(ADMIN_URL) as url, TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sink_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
        env.update(
            FOLLOWUP_DATABASE_URL=url,
            FOLLOWUP_REDIS_URL=REDIS_URL,
            FOLLOWUP_REDIS_NAMESPACE=namespace,
            FOLLOWUP_SMTP_URL=f"smtp://127.0.0.1:{sink_port}?timeout=30",
            FOLLOWUP_SECRET_KEY="bench-secret-0123456789abcdef",
            FOLLOWUP_BASE_URL="http://127.0.0.1:8000",
            FOLLOWUP_MAIL_DOMAIN="bench.example",
            FOLLOWUP_INSTANCE_PATH=str(tmp / "instance"),
            PYTHONUNBUFFERED="1",
        )
        if args.dkim:
            from sequences.sending import generate_key

            key = tmp / "dkim.pem"
            key.write_bytes(generate_key())
            env["FOLLOWUP_DKIM_KEYS"] = f"bench.example:bench:{key}"
            _signing_cost(key)
        try:
            # The database is set up first and flushed to disk, so its writes (CREATE DATABASE
            # copies a template; the seed) do not slow the first baseline down.
            upgrade(url)
            seed(url, n)
            with admin.connect() as conn:
                conn.execute(text("CHECKPOINT"))
            os.sync()
            before = _baseline(n, env, tmp, "before")
            print(f"baseline (smtplib, one connection): {before:8.1f} msg/s", flush=True)

            # This process ticks the scheduler with the same broker the workers read.
            os.environ.update({k: v for k, v in env.items() if k.startswith("FOLLOWUP_")})
            from sequences import aftermath, runtime
            from sequences.actors import enqueue_steps
            from sequences.scheduler import tick_batches

            directory = tmp / "sink-pipeline"
            sink = _start_sink(sink_port, directory, env, tmp / "sink-pipeline.log")
            worker_log = tmp / "worker.log"
            worker = subprocess.Popen(
                [
                    str(BIN / "followup"),
                    "worker",
                    "--processes",
                    str(args.processes),
                    "--threads",
                    str(args.threads),
                ],
                env=env,
                stdout=worker_log.open("ab"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            _wait(
                lambda: (
                    worker_log.read_text(errors="replace").count("ready for action")
                    >= args.processes
                ),
                60,
                "the workers",
            )
            aftermath.wire()  # as every entry point does, before its first event
            rt = runtime.get()
            cpu_before = _pipeline_cpu(worker.pid, sink.pid)
            machine_before = procstat.machine_cpu()
            everyone_before = {(p.pid, p.name): p.cpu for p in procstat.processes()}
            started = time.time()
            enqueued = 0
            while enqueued < n:
                enqueued += tick_batches(rt, enqueue_steps, limit=500)
            # Poll gently: counting thousands of files often would take CPU from the pipeline.
            # The clock stops at the last message's arrival (from the sink's file names), not
            # at the poll that noticed it.
            _wait(lambda: _count(directory) >= n, 600, "pipeline messages", interval=0.5)
            elapsed = _last_stored(directory) - started
            pipeline = n / elapsed
            machine = procstat.machine_cpu()
            everyone = {(p.pid, p.name): p.cpu for p in procstat.processes()}
            cpu = _pipeline_cpu(worker.pid, sink.pid)
            cpu = {k: v - cpu_before[k] for k, v in cpu.items()}
            for key in ("busy", "interrupts", "stolen"):
                cpu[f"machine {key}"] = machine[key] - machine_before[key]
            ours = {worker.pid, sink.pid, os.getpid()}
            others: dict[str, float] = {}
            for (pid, command), seconds in everyone.items():
                with contextlib.suppress(OSError):
                    if command in ("postgres", "redis-server") or os.getsid(pid) in ours:
                        continue
                    spent = seconds - everyone_before.get((pid, command), 0)
                    others[command] = others.get(command, 0) + spent
            print(
                f"pipeline ({args.processes} worker processes x {args.threads} threads): "
                f"{pipeline:8.1f} msg/s",
                flush=True,
            )
            print(
                "CPU ms per email: "
                + ", ".join(f"{k} {v * 1000 / n:.2f}" for k, v in cpu.items())
                + f" (load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
            busiest = sorted(others.items(), key=lambda item: -item[1])[:4]
            print(
                "  other processes meanwhile, CPU ms per email: "
                + ", ".join(f"{command} {seconds * 1000 / n:.2f}" for command, seconds in busiest),
                flush=True,
            )
            _stop(worker)
            worker = None
            errors = worker_log.read_text(errors="replace").count("Traceback")
            if errors:
                print(f"worker log: {errors} tracebacks (kept in /tmp/bench-send-worker.log)")
                (Path("/tmp") / "bench-send-worker.log").write_text(worker_log.read_text())
            _stop(sink)
            sink = None
            rt.dispose()

            with admin.connect() as conn:
                conn.execute(text("CHECKPOINT"))
            os.sync()
            after = _baseline(n, env, tmp, "after")
            print(f"baseline again:                      {after:8.1f} msg/s", flush=True)
            base = (before + after) / 2
            ratio = pipeline / base
            print(
                f"\npipeline{' (DKIM-signed)' if args.dkim else ''} / baseline = {ratio:.2f}x "
                f"({n} messages; target >= 0.5x: "
                f"{'met' if ratio >= 0.5 else 'NOT met'})"
            )
        finally:
            for proc in (worker, sink):
                if proc is not None:
                    _stop(proc)
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(f"{namespace}*"))
            if keys:
                client.delete(*keys)
            client.close()
            admin.dispose()


if __name__ == "__main__":
    main()
