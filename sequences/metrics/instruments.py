"""In-process histograms for what the database does not record (SMTP latency, scheduler ticks)."""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_metrics: dict[str, Any] = {}


def _metric(kind: str, name: str, doc: str, labels: tuple[str, ...] = ()) -> Any:
    # Created on first use, not at import: prometheus_client picks multiprocess mode
    # (PROMETHEUS_MULTIPROC_DIR) when a metric is made, and Dramatiq sets it after boot.
    found = _metrics.get(name)
    if found is None:
        with _lock:
            found = _metrics.get(name)
            if found is None:
                import prometheus_client

                found = _metrics[name] = getattr(prometheus_client, kind)(name, doc, labels)
    return found


def _histogram(name: str, doc: str) -> Any:
    return _metric("Histogram", name, doc)


def observe_smtp(seconds: float) -> None:
    """One SMTP transaction (MAIL FROM to the end of DATA) took this long."""
    _histogram("followup_smtp_seconds", "Time of one SMTP transaction.").observe(seconds)


def observe_tick(seconds: float) -> None:
    """One scheduler tick (claim and enqueue) took this long."""
    _histogram("followup_scheduler_tick_seconds", "Time of one scheduler tick.").observe(seconds)


def count_takeover(status: str) -> None:
    """A worker took over a message whose claim's lease had expired (its worker vanished)."""
    _metric(
        "Counter", "followup_lease_takeovers", "Expired send claims taken over.", ("status",)
    ).labels(status).inc()


# The per-route request counters, looked up once: `labels()` takes a lock and builds a key on
# every call, a good part of what counting cost the pixel. (A cached child stays right across a
# fork: in multiprocess mode each value notices a new pid and opens its own file.)
_requests: dict[str, Any] = {}


def count_request(route: str) -> None:
    """The web answered one request; `route` is "pixel", "click" or "app" (everything Flask
    answers). Counted in the web process itself, so it shows what reached the server even when
    the spool or the database has not caught up."""
    child = _requests.get(route)
    if child is None:
        counter = _metric(
            "Counter", "followup_http_requests", "Requests the web answered.", ("route",)
        )
        child = _requests[route] = counter.labels(route)
    child.inc()
