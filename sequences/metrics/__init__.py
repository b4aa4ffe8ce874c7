"""Prometheus metrics: counts read from the database at scrape time, and a few in-process timers."""

from .collector import DatabaseCollector
from .exposition import scrape_registry
from .instruments import count_request, count_takeover, observe_smtp, observe_tick

__all__ = [
    "DatabaseCollector",
    "count_request",
    "count_takeover",
    "observe_smtp",
    "observe_tick",
    "scrape_registry",
]
