"""`python -m tracker.cli`: the `followup` command (the gunicorn hook starts the drainer this way)."""

from __future__ import annotations

from .main import main

main()
