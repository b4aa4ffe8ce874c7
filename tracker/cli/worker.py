"""`followup worker`'s process: Dramatiq's own CLI, after Followup's logging setup.

Started as `python -m tracker.cli.worker --skip-logging sequences.broker sequences.actors ...`:
Dramatiq's parent process logs through our handler (JSON lines when asked), and its worker
processes, forked from it, inherit that handler instead of Dramatiq's text format.
"""

from __future__ import annotations

import shutil
import sys

from sequences.config import Settings


def worker_metrics_env(settings: Settings) -> dict[str, str]:
    """The variables Dramatiq's Prometheus middleware reads at import (dramatiq_prom_*).

    The broker adds the middleware only when they are set (sequences/broker.py). The directory
    holds prometheus_client's multiprocess files of every worker process; it is emptied at each
    start, so no dead process's gauges linger (counters restart from zero, as Prometheus expects).
    """
    if settings.worker_metrics is None or settings.worker_metrics_dir is None:
        return {}
    host, port = settings.worker_metrics
    directory = settings.worker_metrics_dir
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    return {
        # Set here, not left to Dramatiq's middleware (which sets it when imported): whatever
        # imports prometheus_client first decides the mode, and `-m tracker.cli.worker` loads the
        # engine (and so prometheus_client) before the broker module.
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "dramatiq_prom_host": host,
        "dramatiq_prom_port": str(port),
        "dramatiq_prom_db": str(directory),
    }


def main() -> None:
    from dramatiq.cli import main as dramatiq_main

    from sequences import logs

    logs.configure("worker")
    sys.exit(dramatiq_main())  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
