"""The idle Dramatiq worker of bench/memory.py: the same broker module, one actor that does nothing.

dramatiq sequences.broker bench.memory_idle --processes 2 --threads 4
"""

from __future__ import annotations

import dramatiq


@dramatiq.actor(queue_name="bench-idle")
def nothing() -> None:
    """Never sent: the worker only has to exist, so its memory is Dramatiq's and Python's."""
