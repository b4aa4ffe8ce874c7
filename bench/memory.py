"""Peak and steady memory (RSS) of every process kind, beside a bare baseline, over three rounds.

    .venv/bin/python bench/memory.py [--requests 10000] [--messages 2000] [--replies 500] [--csv-rows 10000]

Needs PostgreSQL and Redis on 127.0.0.1 (production mode, as docker-compose runs it). Each
process kind is started as its real command and given the same work three times in a row:

- web: `tracker:create_app()` under the `followup web` gunicorn command (2 workers x 4 threads,
  the spool drainer beside them) answering pixel and click hits; baseline: a bare Flask app
  (bench/tracking.py's, the same GIF and 302) under the same command and the same load;
- send: `followup worker` (Dramatiq, 2 processes x 4 threads) sending due steps that
  `followup scheduler` enqueues, into a `followup sink`; baseline: an idle Dramatiq worker on
  the same broker module (bench/memory_idle.py);
- inbound: `followup inbound` receiving replies over SMTP;
- CSV enroll: `followup enroll` of a 10,000-row file (one process; its peak from wait4).

It prints each process's peak (VmHWM), its RSS after each round, and the growth in the last round
(round 1 includes the first imports and caches): a leak shows as growth that goes on with
`--rounds 10`.
The target is each process under 150 MB and no growth across the rounds.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import signal
import smtplib
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import procstat  # noqa: E402
from bench import tracking as tb  # noqa: E402
from bench.send import _count, _start_sink, _stop, _wait  # noqa: E402
from bench.send_cpu import seed as seed_sends  # noqa: E402
from sequences.tracking import Spool  # noqa: E402

BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TARGET_MB = 150.0
WORKER_SHAPE = ("--processes", "2", "--threads", "4")


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in kB (empty if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class Kind:
    """One process kind of one side: the processes it is, and its RSS after each round."""

    name: str
    side: str  # "followup" or "baseline"
    pids: list[int] = field(default_factory=list)
    rounds: list[float] = field(default_factory=list)  # MB, the largest process of the kind
    peak: float = 0.0  # MB, the largest VmHWM of the kind

    def read(self) -> None:
        figures = [status_kb(pid) for pid in self.pids]
        figures = [f for f in figures if f]
        if not figures:
            return
        self.rounds.append(max(f["VmRSS"] for f in figures) / 1024)
        self.peak = max(self.peak, max(f["VmHWM"] for f in figures) / 1024)


def children(group: int, leader: int) -> tuple[list[int], list[int]]:
    """A server's process group split into (workers, spool drainers), the master left out."""
    workers: list[int] = []
    drainers: list[int] = []
    for proc in procstat.processes():
        if proc.group != group or proc.pid == leader:
            continue
        (drainers if "spool" in cmdline(proc.pid) else workers).append(proc.pid)
    return workers, drainers


def _env(url: str, directory: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env.update(tb.settings_env(url, directory))
    env.update(
        FOLLOWUP_REDIS_URL=REDIS_URL,
        FOLLOWUP_REDIS_NAMESPACE=f"followup-bench-{uuid.uuid4().hex[:8]}",
        FOLLOWUP_MAIL_DOMAIN="bench.example",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def web(url: str, directory: Path, args: argparse.Namespace) -> list[Kind]:
    env = _env(url, directory)
    pixels, clicks = tb.seed(env, 200)
    bare_env = {**env, "FOLLOWUP_INSTANCE_PATH": str(directory / "bare-instance")}
    bare, bare_port = tb.serve("bench.tracking:bare_app()", bare_env, 2, 4)
    real, real_port = tb.serve("tracker:create_app()", env, 2, 4)
    spool = Spool(directory / "instance" / "spool")
    kinds: list[Kind] = []
    try:
        real_workers, drainers = children(real.pid, real.pid)
        bare_workers, _ = children(bare.pid, bare.pid)
        kinds = [
            Kind("web worker", "followup", real_workers),
            Kind("spool drainer", "followup", drainers),
            Kind("web worker", "baseline", bare_workers),
        ]
        for number in range(args.rounds):
            for port in (real_port, bare_port):
                tb.load(port, pixels, args.requests, 100)
                tb.load(port, clicks, args.requests, 100)
            tb.settle(spool)
            for kind in kinds:
                kind.read()
            print(f"  web round {number + 1}: " + _now(kinds), flush=True)
    finally:
        tb.stop(real)
        tb.stop(bare)
    return kinds


def send(url: str, directory: Path, args: argparse.Namespace) -> list[Kind]:
    from sequences.sending import free_port

    sink_port = free_port()
    env = _env(url, directory, FOLLOWUP_SMTP_URL=f"smtp://127.0.0.1:{sink_port}?timeout=30")
    mail = directory / "sink"
    sink = _start_sink(sink_port, mail, env, directory / "sink.log")
    log = directory / "worker.log"
    idle_log = directory / "idle.log"
    spawn = {"env": env, "start_new_session": True, "stderr": subprocess.STDOUT}
    worker = subprocess.Popen(
        [str(BIN / "followup"), "worker", *WORKER_SHAPE],
        stdout=log.open("ab"),
        **spawn,  # type: ignore[call-overload]
    )
    idle = subprocess.Popen(
        [str(BIN / "dramatiq"), "sequences.broker", "bench.memory_idle", *WORKER_SHAPE],
        stdout=idle_log.open("ab"),
        cwd=ROOT,
        **spawn,  # type: ignore[call-overload]
    )
    scheduler = subprocess.Popen(
        [str(BIN / "followup"), "scheduler", "--interval", "0.2"],
        stdout=(directory / "scheduler.log").open("ab"),
        **spawn,  # type: ignore[call-overload]
    )
    kinds: list[Kind] = []
    try:
        for path in (log, idle_log):
            _wait(
                lambda p=path: p.read_text(errors="replace").count("ready for action") >= 2,
                60,
                "workers",
            )
        kinds = [
            Kind("send worker", "followup", children(worker.pid, worker.pid)[0]),
            Kind("scheduler", "followup", [scheduler.pid]),
            Kind("send worker", "baseline", children(idle.pid, idle.pid)[0]),
        ]
        for number in range(args.rounds):
            seed_sends(url, args.messages)
            want = args.messages * (number + 1)
            _wait(lambda w=want: _count(mail) >= w, 900, "sent messages", interval=0.5)
            for kind in kinds:
                kind.read()
            print(f"  send round {number + 1}: " + _now(kinds), flush=True)
    finally:
        for proc in (scheduler, idle, worker, sink):
            _stop(proc)
    return kinds


def inbound(url: str, directory: Path, args: argparse.Namespace) -> list[Kind]:
    from sqlalchemy import create_engine, text

    from sequences.sending import free_port

    port = free_port()
    env = _env(url, directory)
    server = subprocess.Popen(
        [str(BIN / "followup"), "inbound", "--port", str(port)],
        env=env,
        stdout=(directory / "inbound.log").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    engine = create_engine(url)

    def stored() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM inbound_messages")).scalar_one())

    kinds = [Kind("inbound", "followup", [server.pid])]
    try:
        _wait(lambda: _listening(port), 30, "the inbound server")
        for number in range(args.rounds):
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                for i in range(args.replies):
                    msg = EmailMessage()
                    msg["From"] = f"Prospect {i} <p{i}@prospect.example>"
                    msg["To"] = "reply@bench.example"
                    msg["Subject"] = "Re: quick question"
                    msg["Message-ID"] = f"<{uuid.uuid4().hex}@prospect.example>"
                    msg.set_content("Yes, let's talk on Tuesday.\n\n> the original\n")
                    smtp.send_message(msg)
            want = args.replies * (number + 1)
            _wait(lambda w=want: stored() >= w, 300, "stored replies", interval=0.2)
            kinds[0].read()
            print(f"  inbound round {number + 1}: " + _now(kinds), flush=True)
    finally:
        _stop(server)
        engine.dispose()
    return kinds


def enroll_csv(url: str, directory: Path, args: argparse.Namespace) -> list[Kind]:
    from sqlalchemy import create_engine, text

    seed_sends(url, 0)  # a team and a one-step sequence, nobody in it yet
    engine = create_engine(url)
    with engine.connect() as conn:
        sequence_id = conn.execute(text("SELECT max(id) FROM sequences")).scalar_one()
    engine.dispose()
    path = directory / "prospects.csv"
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["email", "first_name", "company", "need"])
        for i in range(args.csv_rows):
            out.writerow([f"lead{i}@prospect.example", f"Lead {i}", "Initech", "onboarding"])
    kind = Kind("csv enroll", "followup")
    env = _env(url, directory)
    for number in range(args.rounds):  # the same file again: an idempotent re-import
        proc = subprocess.Popen(
            [str(BIN / "followup"), "enroll", str(path), "--sequence", str(sequence_id)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(directory / "enroll.log").open("ab"),
        )
        _, code, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(code)
        mb = usage.ru_maxrss / 1024  # kB on Linux
        kind.rounds.append(mb)
        kind.peak = max(kind.peak, mb)
        print(f"  csv enroll round {number + 1}: peak {mb:.1f} MB, exit {proc.returncode}")
    return [kind]


def _listening(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _now(kinds: list[Kind]) -> str:
    return ", ".join(f"{k.name} ({k.side}) {k.rounds[-1]:.1f} MB" for k in kinds if k.rounds)


def report(kinds: list[Kind]) -> bool:
    print(
        "\n| process | side | peak RSS | after each round | last round's growth | under 150 MB |"
        "\n| --- | --- | --- | --- | --- | --- |"
    )
    ok = True
    baseline = {k.name: k for k in kinds if k.side == "baseline"}
    for k in kinds:
        if not k.rounds:
            continue
        growth = k.rounds[-1] - k.rounds[-2] if len(k.rounds) >= 3 else 0.0
        under = k.peak < TARGET_MB
        ok = ok and (under or k.side == "baseline")
        beside = ""
        if k.side == "followup" and k.name in baseline:
            beside = f" ({k.peak / baseline[k.name].peak:.2f}x baseline)"
        print(
            f"| {k.name} | {k.side} | {k.peak:.1f} MB{beside} | "
            + " / ".join(f"{r:.1f}" for r in k.rounds)
            + f" | {growth:+.1f} MB | {'yes' if under else 'NO'} |"
        )
    return ok


def main() -> None:
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10000, help="per kind of hit per round")
    parser.add_argument("--messages", type=int, default=2000, help="sends per round")
    parser.add_argument("--replies", type=int, default=500, help="inbound replies per round")
    parser.add_argument("--csv-rows", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3, help="the same work, this many times")
    parser.add_argument("--only", choices=["web", "send", "inbound", "csv"], action="append")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MB")
    scenarios = {"web": web, "send": send, "inbound": inbound, "csv": enroll_csv}
    kinds: list[Kind] = []
    for name, scenario in scenarios.items():
        if args.only and name not in args.only:
            continue
        directory = Path(tempfile.mkdtemp(prefix=f"followup-mem-{name}-"))
        url, drop, _ = tb.database("postgresql", directory)
        try:
            kinds += scenario(url, directory, args)
        finally:
            drop()
    sys.exit(0 if report(kinds) else 1)


if __name__ == "__main__":
    main()
