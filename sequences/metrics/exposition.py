"""What one scrape serves: this process's (or every worker's) instruments and the database counts."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry
from sqlalchemy.orm import Session

from .collector import DatabaseCollector


def scrape_registry(
    sessions: Callable[[], Session], spool_dir: Path, now: Callable[[], datetime]
) -> CollectorRegistry:
    """A registry for the bearer-token route and the admin listener alike.

    In prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, which `followup web`
    sets for gunicorn) the instruments are read from every worker's files and counters summed;
    otherwise they are this process's own.
    """
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for collector in list(REGISTRY._collector_to_names):
            registry.register(collector)
    registry.register(DatabaseCollector(sessions, spool_dir, now))
    return registry
