"""In-process histograms for what the database does not record (SMTP latency, scheduler ticks)."""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_metrics: dict[str, Any] = {}


def _histogram(name: str, doc: str) -> Any:
    # Created on first use, not at import: prometheus_client picks multiprocess mode
    # (PROMETHEUS_MULTIPROC_DIR) when a metric is made, and Dramatiq sets it after boot.
    found = _metrics.get(name)
    if found is None:
        with _lock:
            found = _metrics.get(name)
            if found is None:
                from prometheus_client import Histogram

                found = _metrics[name] = Histogram(name, doc)
    return found


def observe_smtp(seconds: float) -> None:
    """One SMTP transaction (MAIL FROM to the end of DATA) took this long."""
    _histogram("followup_smtp_seconds", "Time of one SMTP transaction.").observe(seconds)


def observe_tick(seconds: float) -> None:
    """One scheduler tick (claim and enqueue) took this long."""
    _histogram("followup_scheduler_tick_seconds", "Time of one scheduler tick.").observe(seconds)


def count_takeover(status: str) -> None:
    """A worker took over a message whose claim's lease had expired (its worker vanished)."""
    found = _metrics.get("followup_lease_takeovers")
    if found is None:
        with _lock:
            found = _metrics.get("followup_lease_takeovers")
            if found is None:
                from prometheus_client import Counter

                found = _metrics["followup_lease_takeovers"] = Counter(
                    "followup_lease_takeovers", "Expired send claims taken over.", ["status"]
                )
    found.labels(status).inc()


def count_request(route: str) -> None:
    """The web answered one request; `route` is "pixel", "click" or "app" (everything Flask
    answers). Counted in the web process itself, so it shows what reached the server even when
    the spool or the database has not caught up."""
    found = _metrics.get("followup_http_requests")
    if found is None:
        with _lock:
            found = _metrics.get("followup_http_requests")
            if found is None:
                from prometheus_client import Counter

                found = _metrics["followup_http_requests"] = Counter(
                    "followup_http_requests", "Requests the web answered.", ["route"]
                )
    found.labels(route).inc()
