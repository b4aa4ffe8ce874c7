"""gunicorn hooks for `followup web`: the tracking spool is drained by a process of its own.

Why: writing hits to the database is the expensive part of tracking. In a thread of each worker
it competes with answering pixels for the same interpreter; in a separate process at a lower
CPU priority it uses what the workers leave, catches up when they are idle, and the pixel and
click answer first. Hits wait safely on disk meanwhile (sequences/tracking/spool.py).
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from typing import Any

from gunicorn import glogging

# Read by the workers (forked after this module is imported): no drainer thread of their own.
os.environ["FOLLOWUP_SPOOL_DRAIN"] = "external"

# Seconds between drain passes: a hit is in the database within about this long, and under
# load each pass writes this many seconds of hits in one batch.
DRAIN_INTERVAL = 1.0

_drainer: subprocess.Popen[bytes] | None = None
_metrics: subprocess.Popen[bytes] | None = None

# The access line names the request id the app echoed, so it joins the app's own lines.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s'


class Logger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's error and access lines in Followup's format, masked (sequences/logs.py)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        from sequences import logs

        logs.configure("web")
        logs.adopt(self.error_log, self.access_log)


logger_class = Logger


def when_ready(server: Any) -> None:
    """Start `followup spool drain --forever` beside the master (and with it), and the admin
    metrics listener when FOLLOWUP_METRICS_BIND asks for one (tracker/metrics_admin.py)."""
    global _drainer, _metrics
    # The interpreter that runs gunicorn, so no PATH or console script is assumed.
    argv = [sys.executable, "-m", "tracker.cli", "spool", "drain", "--forever", "--nice", "10"]
    argv += ["--interval", str(DRAIN_INTERVAL)]
    _drainer = subprocess.Popen([*argv, "--parent", str(os.getpid())])
    server.log.info("spool drainer started (pid %s)", _drainer.pid)
    if os.environ.get("FOLLOWUP_METRICS_BIND", "off").strip().lower() != "off":
        argv = [sys.executable, "-m", "tracker.metrics_admin", "--parent", str(os.getpid())]
        _metrics = subprocess.Popen(argv)
        server.log.info("metrics listener started (pid %s)", _metrics.pid)


def post_worker_init(worker: Any) -> None:
    """Freeze what the worker holds once the app is loaded (modules, the app, its caches): the
    collector's full passes then skip those objects, so under load they cost a pass over what
    requests allocate, not over the whole app. (After the fork, and after the app is imported:
    gunicorn loads it in each worker, so post_fork would freeze only the master's objects.)"""
    gc.freeze()


def on_exit(server: Any) -> None:
    for child in (_drainer, _metrics):
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()


def child_exit(server: Any, worker: Any) -> None:
    """In prometheus_client's multiprocess mode, drop a dead worker's live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
