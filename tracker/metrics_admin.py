"""The web's Prometheus text on an admin listener of its own (FOLLOWUP_METRICS_BIND).

Why a process: gunicorn cannot tell which of its listening sockets a request came in on, so the
app's workers cannot serve one path on one port only. `followup web` has gunicorn's master start
this small process beside it (like the spool drainer, tracker/gunicorn_conf.py); it reads every
worker's multiprocess files (counters summed) and the database counts at each scrape, and exits
with the master. Started as `python -m tracker.metrics_admin --parent <master pid>`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from sequences import logs, runtime
from sequences.config import ConfigError, load_settings
from sequences.metrics import scrape_registry


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tracker.metrics_admin")
    parser.add_argument("--parent", type=int, default=0, help="Exit when this process is gone.")
    args = parser.parse_args(argv)
    logs.configure("metrics")
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    if settings.metrics_bind is None:
        print("error: FOLLOWUP_METRICS_BIND: not set, nothing to serve", file=sys.stderr)
        sys.exit(2)
    from prometheus_client import start_http_server

    rt = runtime.build(settings)
    registry = scrape_registry(rt.sessions, settings.instance_path / "spool", rt.clock.now)
    host, port = settings.metrics_bind
    server, _ = start_http_server(port, host, registry)
    logs.say(f"metrics: http://{host}:{port}/metrics (admin listener, no token)")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        while not stop.is_set():
            if args.parent and os.getppid() != args.parent:
                break  # gunicorn's master is gone: so are we
            stop.wait(1.0)
    finally:
        server.shutdown()
        rt.dispose()


if __name__ == "__main__":
    main()
