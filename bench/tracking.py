"""Pixel and click throughput and latency: the real app under gunicorn vs bare WSGI and bare Flask.

Three apps are served: the real one, a bare WSGI callable (no framework: the honest bar, since
the tracked routes answer in front of Flask) and a bare Flask app; all three are served by the same gunicorn command (gthread, same workers and threads) on
loopback, one after the other in the same run, on SQLite and on PostgreSQL. The load generator
is this script: an asyncio HTTP/1.1 keep-alive client (no third-party code), one request in
flight per connection. Two measurements per endpoint:

- saturation: C connections back to back, each taking the next of N requests from one queue
  -> requests/s (the ratio to each bare side); the servers run at once and are measured in alternation,
  round after round (median shown). Each measurement starts with the spool empty, and its CPU
  is read after the hits it made are written, so the tracked side pays for its own drain;
- latency at a fixed offered rate (the same for both apps: half the slower one's saturation
  rate, measured after the saturation backlog is written), C connections, each request timed
  from its scheduled start (queueing included).

Afterwards it waits for the spool to drain and checks events recorded == requests answered.

    .venv/bin/python bench/tracking.py                 # both databases
    .venv/bin/python bench/tracking.py --db sqlite --requests 10000 --concurrency 200
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask, Response  # noqa: E402

from bench import procstat  # noqa: E402
from bench.scratch import scratch_database  # noqa: E402
from sequences.tracking import Spool, destinations  # noqa: E402

SECRET = "bench-secret-key-0123456789abcdef"
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Safari/605.1.15"
)
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
NO_STORE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0, private",
    "Pragma": "no-cache",
    "Expires": "0",
}


def bare_app() -> Flask:
    """The baseline: the same GIF and the same redirect, no token check, nothing recorded."""
    app = Flask("bare")

    @app.get("/o/<token>.gif")
    def pixel(token: str) -> Response:
        return Response(GIF, mimetype="image/gif", headers=NO_STORE)

    @app.get("/c/<token>/<blob>")
    def click(token: str, blob: str) -> Response:
        # The same Location as the tracked click: the URL the link carries, read unverified.
        # (A constant one was cheaper for werkzeug alone: urlsplit caches 128 URLs, and the
        # bench's links carry 200.)
        raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        location = raw[destinations.MAC_BYTES :].decode()
        return Response(status=302, headers={"Location": location, **NO_STORE})

    return app


_PIXEL_HEADERS = [
    ("Content-Type", "image/gif"),
    ("Content-Length", str(len(GIF))),
    *NO_STORE.items(),
]


def bare_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The honest baseline: the same GIF and the same 302 with no framework at all.

    Plain WSGI, as a hand-written endpoint under the same gunicorn would be; the tracked app's
    fast path (tracker.hits) is measured against this, not against Flask's dispatch.
    """
    path: str = environ.get("PATH_INFO", "")
    if path.startswith("/o/") and path.endswith(".gif"):
        start_response("200 OK", _PIXEL_HEADERS)
        return [GIF]
    if path.startswith("/c/"):
        blob = path.rsplit("/", 1)[-1]
        raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        location = raw[destinations.MAC_BYTES :].decode()
        start_response(
            "302 Found", [("Location", location), ("Content-Length", "0"), *NO_STORE.items()]
        )
        return [b""]
    start_response("404 Not Found", [("Content-Length", "0")])
    return [b""]


# -- load generator ------------------------------------------------------------------------


@dataclass
class Result:
    requests: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] * 1000


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
) -> tuple[int, bool]:
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {BROWSER}\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, close


async def _load(
    port: int, paths: list[str], total: int, concurrency: int, rate: float | None
) -> Result:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter() + 0.2

    # One shared queue of request numbers, not a fixed share per connection: gunicorn hands
    # connections to its workers unevenly (whichever accepts first), and with fixed shares a
    # run lasted as long as the most loaded worker's connections, so a round's rate measured
    # the luck of that split (the same server read 0.68x and 1.32x of bare in two rounds). A
    # free connection takes the next request, as wrk and hey do.
    numbers = iter(range(total))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in numbers:
            scheduled = start + i / rate if rate else time.perf_counter()
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                status, close = await _request(reader, writer, paths[i % len(paths)])
            except (OSError, asyncio.IncompleteReadError):
                status, close = 0, True  # reset or refused (reported as status 0), reconnect
            latencies.append(time.perf_counter() - scheduled)
            statuses[status] = statuses.get(status, 0) + 1
            if close:
                writer.close()
                for _ in range(50):
                    try:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                        break
                    except OSError:
                        await asyncio.sleep(0.1)
        writer.close()

    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    t0 = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return Result(total, time.perf_counter() - t0, latencies, statuses)


def load(
    port: int, paths: list[str], total: int, concurrency: int, rate: float | None = None
) -> Result:
    return asyncio.run(_load(port, paths, total, concurrency, rate))


# -- CPU accounting ------------------------------------------------------------------------


def settle(spool: Spool, limit: float = 300) -> float:
    """Wait until every spooled hit is written (or `limit` seconds); return how long it took."""
    start = time.monotonic()
    while spool.pending_bytes() and time.monotonic() - start < limit:
        time.sleep(0.05)
    return time.monotonic() - start


def _is_drainer(pid: int) -> bool:
    try:
        return b"spool" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class Cpu:
    """CPU seconds used so far by each part of the run, read from /proc (Linux)."""

    def __init__(self, servers: dict[str, int], server_pids: Any) -> None:
        self.servers = servers  # name -> gunicorn master pid (= its process group)
        self.server_pids = server_pids  # () -> the database server's processes for this run

    def snapshot(self) -> dict[str, float]:
        groups = {pgid: name for name, pgid in self.servers.items()}
        out = {f"{name} {part}": 0.0 for name in self.servers for part in ("web", "drain")}
        out["database"] = 0.0
        for proc in procstat.processes():
            if proc.group not in groups:
                continue
            part = "drain" if _is_drainer(proc.pid) else "web"
            out[f"{groups[proc.group]} {part}"] += proc.cpu
        out["database"] = sum(procstat.cpu(pid) for pid in self.server_pids())
        out["client"] = time.process_time()
        return out

    @staticmethod
    def per_request(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
        return {k: (after[k] - before[k]) * 1000 / n for k in after}

    @staticmethod
    def show(usage: dict[str, float]) -> str:
        parts = [f"{k} {v:.2f}" for k, v in usage.items() if v >= 0.005]
        return ", ".join(parts) + f" (all {sum(usage.values()):.2f})"


# -- servers and data ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(
    target: str, env: dict[str, str], workers: int, threads: int
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = [
        str(Path(sys.executable).with_name("gunicorn")),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
        "--config",  # as `followup web`: the spool drainer runs as a process beside the workers
        "python:tracker.gunicorn_conf",
        target,
    ]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"gunicorn {target} did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def database(kind: str, directory: Path) -> tuple[str, Any, Any]:
    """A fresh, migrated database, a function that drops it, and one that lists its server's
    processes (PostgreSQL backends; none for SQLite, which runs inside the app)."""
    from contextlib import ExitStack

    from sqlalchemy import create_engine, text

    from sequences.migrate import upgrade

    if kind == "sqlite":
        url = f"sqlite:///{directory / 'bench.db'}"
        upgrade(url)
        return url, lambda: None, lambda: []
    admin_url = os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    scratch = ExitStack()
    url = scratch.enter_context(scratch_database(admin_url))
    name = url.rsplit("/", 1)[1]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")  # to list the backends
    scratch.callback(admin.dispose)
    try:
        upgrade(url)
    except BaseException:
        scratch.close()
        raise

    def backends() -> list[int]:
        with admin.connect() as conn:
            rows = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
            return [int(pid) for (pid,) in rows]

    return url, scratch.close, backends


def settings_env(url: str, directory: Path) -> dict[str, str]:
    """The app's settings for a bench run on `url` with its instance under `directory`."""
    return {
        "FOLLOWUP_DATABASE_URL": url,
        "FOLLOWUP_SECRET_KEY": SECRET,
        "FOLLOWUP_INSTANCE_PATH": str(directory / "instance"),
        "FOLLOWUP_BASE_URL": "http://127.0.0.1",
    }


def seed(env: dict[str, str], messages: int) -> tuple[list[str], list[str]]:
    """Sent messages with two links each; returns pixel paths and (visible) click paths."""
    import html
    import re
    from datetime import timedelta
    from urllib.parse import urlsplit

    from sequences import aftermath, runtime
    from sequences.config import load_settings
    from sequences.models import Link, Message, MessageStatus, Prospect
    from sequences.sending import compose, new_message_id, urls_for
    from sequences.tracking import new_token_id
    from sequences.workspace import default_team

    aftermath.wire()  # as every entry point does, before its first event
    rt = runtime.build(load_settings(env))
    pixels: list[str] = []
    clicks: list[str] = []
    sent_at = rt.clock.now() - timedelta(days=1)
    with rt.sessions.begin() as session:
        team = default_team(session)
        for n in range(messages):
            prospect = Prospect(team_id=team.id, email=f"p{n}@bench.example", fields={})
            session.add(prospect)
            session.flush()
            token_id = new_token_id()
            out = compose(
                subject_template="Hi",
                html_template=(
                    f'<p><a href="https://example.com/pricing?p={n}">pricing</a> '
                    f'<a href="https://example.com/demo?p={n}">demo</a></p>'
                ),
                text_template=None,
                prospect=prospect,
                sender={"name": "Bench", "email": "bench@example.com", "signature": ""},
                token_id=token_id,
                urls=urls_for(rt),
            )
            message = Message(
                token_id=token_id,
                prospect_id=prospect.id,
                message_id=new_message_id("bench.example"),
                to_email=prospect.email,
                status=MessageStatus.SENT,
                sent_at=sent_at,
            )
            session.add(message)
            session.flush()
            session.add_all(
                Link(message_id=message.id, position=p, url=u, hidden=h) for p, u, h in out.links
            )
            found = [
                urlsplit(html.unescape(u)).path
                for u in re.findall(r'(?:href|src)="(http://[^"]+)"', out.html)
            ]
            pixels += [p for p in found if p.startswith("/o/")]
            clicks += [p for p in found if p.startswith("/c/")][:1]  # one link: no scanner burst
    rt.dispose()
    return pixels, clicks


def in_process(env: dict[str, str], directory: Path, pixels: list[str], clicks: list[str]) -> None:
    """CPU per request inside one process, no server: what each app itself costs.

    The tracked app answers the pixel and the signed click in front of Flask's dispatch
    (tracker.hits.HitFront); the same requests through its Flask routes are shown too, so the
    part of the gap to bare that is the front and the part that is the tracking are both seen.
    Hits go to a spool of their own that nothing drains (they are not counted as answered).
    """
    import io

    from sequences import aftermath, runtime
    from sequences.config import load_settings
    from tracker import create_app

    settings = load_settings({**env, "FOLLOWUP_INSTANCE_PATH": str(directory / "in-process")})
    aftermath.wire()  # as every entry point does, before its first event
    rt = runtime.build(settings)
    # No drainer here (it would write these hits, in this process's CPU time).
    config = {"RUNTIME": rt, "TRACKING_DRAIN_INLINE": False, "TRACKING_DRAIN_THREAD": False}
    tracked = create_app(config)
    front: Any = tracked.wsgi_app
    apps = {
        "bare WSGI": bare_wsgi,
        "bare Flask": bare_app().wsgi_app,
        "tracked": front,
        "tracked via Flask": front.inner,
    }

    def one(app: Any, path: str) -> None:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_USER_AGENT": BROWSER,
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        body = app(environ, lambda status, headers, exc_info=None: None)
        b"".join(body)
        getattr(body, "close", lambda: None)()

    for label, paths in (("pixel", pixels), ("click", clicks)):
        costs: dict[str, float] = {}
        for name, app in apps.items():
            for path in paths[:500]:
                one(app, path)  # warm: caches, first-use imports
            # The least of 3 passes: on a shared machine the others' load only ever adds.
            passes = []
            for _ in range(3):
                started = time.process_time()
                for i in range(5000):
                    one(app, paths[i % len(paths)])
                passes.append((time.process_time() - started) / 5)
            costs[name] = min(passes)
        figures = ", ".join(f"{name} {ms:.4f}" for name, ms in costs.items())
        ratio = costs["tracked"] / costs["bare WSGI"]
        print(
            f"  in process, CPU ms per {label} request: {figures} (tracked {ratio:.1f}x bare WSGI)"
        )
    rt.dispose()


def analyze(url: str) -> None:
    """Table statistics now, as autovacuum gathers them within a minute of the first writes:
    so every round runs with the query plans a database in service has, not just the later
    ones (the scratch database starts empty, with no statistics)."""
    from sqlalchemy import text

    from sequences.db import null_pool_engine

    engine = null_pool_engine(url)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    engine.dispose()


def count_events(env: dict[str, str]) -> dict[str, int]:
    from sqlalchemy import func, or_, select

    from sequences import aftermath, runtime
    from sequences.config import load_settings
    from sequences.models import Event

    aftermath.wire()  # as every entry point does, before its first event
    rt = runtime.build(load_settings(env))
    with rt.sessions() as session:
        rows = session.execute(
            select(Event.type, func.count())
            .where(
                Event.hit_id.is_not(None),
                or_(Event.reason.is_(None), Event.reason != "inferred"),  # one per raw hit
            )
            .group_by(Event.type)
        ).all()
    rt.dispose()
    return {str(t): int(n) for t, n in rows}


# -- the run -------------------------------------------------------------------------------


def line(label: str, r: Result, base: Result | None = None, against: str = "bare") -> str:
    ratio = f"  {r.rps / base.rps:5.2f}x {against}" if base else ""
    codes = ",".join(f"{k}:{v}" for k, v in sorted(r.statuses.items()))
    return (
        f"  {label:<38} {r.rps:8.0f} req/s  p50 {r.pct(0.5):7.1f} ms  p99 {r.pct(0.99):7.1f} ms"
        f"{ratio}  [{codes}]"
    )


def run(kind: str, args: argparse.Namespace) -> bool:
    directory = Path(tempfile.mkdtemp(prefix=f"followup-bench-{kind}-"))
    url, drop, backends = database(kind, directory)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")},
        **settings_env(url, directory),
        "PYTHONPATH": str(ROOT),
    }
    ok = True
    try:
        pixels, clicks = seed(env, args.messages)
        n, c = args.requests, args.concurrency
        print(
            f"\n{kind}: {n} requests per measurement, {c} connections, "
            f"gunicorn gthread {args.workers}x{args.threads}"
        )
        in_process(env, directory, pixels, clicks)
        if args.in_process:
            return True
        # Both servers up at once, measured in alternation round after round, so a change in
        # the machine's background load hits both alike; the median round is reported.
        # The bare server is started the same way (so a drainer runs beside it too) but with
        # an instance of its own: its drainer has nothing to write, and the tracked server's
        # hits are written by the tracked server's drainer alone, on the tracked side's bill.
        bare_env = {**env, "FOLLOWUP_INSTANCE_PATH": str(directory / "bare-instance")}
        wsgi_env = {**env, "FOLLOWUP_INSTANCE_PATH": str(directory / "wsgi-instance")}
        wsgi, wsgi_port = serve("bench.tracking:bare_wsgi", wsgi_env, args.workers, args.threads)
        bare, bare_port = serve("bench.tracking:bare_app()", bare_env, args.workers, args.threads)
        real, real_port = serve("tracker:create_app()", env, args.workers, args.threads)
        ports = {"wsgi": wsgi_port, "bare": bare_port, "real": real_port}
        cpu = Cpu({"wsgi": wsgi.pid, "bare": bare.pid, "tracked": real.pid}, backends)
        answered_opens = answered_clicks = 0
        spool = Spool(directory / "instance" / "spool")
        lags: list[float] = []
        rounds: dict[str, list[dict[str, Result]]] = {"pixel": [], "click": [], "paced": []}
        usage: dict[str, list[dict[str, float]]] = defaultdict(list)
        try:
            warm = min(n, 2000)
            load(wsgi_port, pixels, warm, c)
            load(bare_port, pixels, warm, c)
            answered_opens += load(real_port, pixels, warm, c).statuses.get(200, 0)
            while spool.pending_bytes():
                time.sleep(0.1)
            analyze(url)
            start_cpu, start_events = cpu.snapshot(), sum(count_events(env).values())
            rate = args.rate or 0.0
            for number in range(args.rounds):
                for name, paths in (("pixel", pixels), ("click", clicks)):
                    order = list(ports.items())
                    # The order turns each round, so no side always runs after another's
                    # spool write or always first on a cold machine.
                    shift = number % len(order)
                    done: dict[str, Result] = {}
                    for who, port in order[shift:] + order[:shift]:
                        # Each measurement starts with nothing waiting, and the hits it made
                        # are written before its CPU is read: the tracked side's drain is on
                        # its own bill, never slowing the bare run that follows it.
                        settle(spool)
                        before = cpu.snapshot()
                        done[who] = load(port, paths, n, c)
                        settle(spool)
                        usage[f"{name} {who}"].append(Cpu.per_request(before, cpu.snapshot(), n))
                    rounds[name].append(done)
                    for who in ports:
                        last = usage[f"{name} {who}"][-1]
                        print(f"    CPU ms per request, {name} {who}: {Cpu.show(last)}")
                    if name == "pixel":
                        answered_opens += done["real"].statuses.get(200, 0)
                    else:
                        answered_clicks += done["real"].statuses.get(302, 0)
                if not rate:  # a rate all sustain: half the slowest one's saturation rate
                    rate = statistics.median(
                        min(r.rps for r in d.values()) for d in rounds["pixel"]
                    )
                    rate *= 0.5
                # Latency at a steady rate, not while the saturation runs' backlog is written.
                lags.append(settle(spool))
                paced = {who: load(port, pixels, n, c, rate) for who, port in ports.items()}
                answered_opens += paced["real"].statuses.get(200, 0)
                rounds["paced"].append(paced)
                px, ck = rounds["pixel"][-1], rounds["click"][-1]
                print(
                    f"  round {number + 1}: pixel {px['real'].rps / px['wsgi'].rps:.2f}x WSGI"
                    f" {px['real'].rps / px['bare'].rps:.2f}x Flask;"
                    f"  click {ck['real'].rps / ck['wsgi'].rps:.2f}x WSGI"
                    f" {ck['real'].rps / ck['bare'].rps:.2f}x Flask;"
                    f"  at {rate:.0f}/s p99 WSGI {paced['wsgi'].pct(0.99):.1f} ms"
                    f" Flask {paced['bare'].pct(0.99):.1f} ms"
                    f" tracked {paced['real'].pct(0.99):.1f} ms"
                    f" (the saturation backlog was written in {lags[-1]:.1f}s)"
                )
            finished = time.monotonic()
            deadline = finished + 300
            while True:
                counts = count_events(env)
                complete = (
                    counts.get("click", 0) >= answered_clicks
                    and counts.get("open", 0) >= answered_opens
                )
                if complete or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            lag = time.monotonic() - finished
            end_cpu, end_events = cpu.snapshot(), sum(counts.values())
        finally:
            stop(real)
            stop(bare)
            stop(wsgi)

        def median(measured: list[dict[str, Result]], base: str) -> dict[str, Result]:
            ordered = sorted(measured, key=lambda d: d["real"].rps / d[base].rps)
            return ordered[len(ordered) // 2]

        for label in ("pixel", "click"):
            for base, title in (("wsgi", "bare WSGI"), ("bare", "bare Flask")):
                mid = median(rounds[label], base)
                print(line(f"{title} {label} (saturation)", mid[base]))
                print(line(f"tracked {label} (saturation)", mid["real"], mid[base], title))
        # At a fixed rate all answer everything; what differs is the tail: each side's round
        # with the median p99.
        mids: dict[str, Result] = {}
        for who in ports:
            side = sorted((d[who] for d in rounds["paced"]), key=lambda r: r.pct(0.99))
            mids[who] = side[len(side) // 2]
        print(line(f"bare WSGI pixel @ {rate:.0f}/s (median p99)", mids["wsgi"]))
        print(line(f"bare Flask pixel @ {rate:.0f}/s (median p99)", mids["bare"]))
        print(
            line(
                f"tracked pixel @ {rate:.0f}/s (median p99)",
                mids["real"],
                mids["wsgi"],
                "bare WSGI",
            )
        )
        p99s = [d["real"].pct(0.99) for d in rounds["paced"]]
        print(
            f"  tracked pixel p99 < 20 ms at {rate:.0f}/s in {sum(p < 20 for p in p99s)}"
            f" of {len(p99s)} rounds"
        )
        for key, samples in usage.items():
            median_usage = {k: statistics.median(u[k] for u in samples) for k in samples[0]}
            print(f"  CPU ms per request, {key} (median of rounds): {Cpu.show(median_usage)}")
        recorded_opens = counts.get("open", 0)
        recorded_clicks = counts.get("click", 0)
        print(
            f"  events: opens {recorded_opens} recorded / {answered_opens} answered;"
            f" clicks {recorded_clicks} / {answered_clicks}"
        )
        written = max(1, end_events - start_events)
        drain_ms = (end_cpu["tracked drain"] - start_cpu["tracked drain"]) * 1000 / written
        db_ms = (end_cpu["database"] - start_cpu["database"]) * 1000 / written
        print(
            f"  CPU per event written ({written}): drain {drain_ms:.3f} ms,"
            f" database server {db_ms:.3f} ms, together {drain_ms + db_ms:.3f} ms"
        )
        ok = recorded_opens == answered_opens and recorded_clicks == answered_clicks
        print(
            f"  recorded == answered: {'yes' if ok else 'NO'};"
            f" the last written {lag:.1f}s after the load ended"
        )
    finally:
        drop()
        shutil.rmtree(directory, ignore_errors=True)
    return ok


def main() -> None:
    # SIGTERM unwinds like Ctrl-C, so servers are stopped and the scratch database dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rate", type=float, default=None, help="offered rate for the latency run")
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds, each side in turn (median shown)"
    )
    parser.add_argument(
        "--in-process", action="store_true", help="only the in-process CPU figures (no servers)"
    )
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = [run(kind, args) for kind in kinds]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
