"""The `followup` command, one module per command group.

- `main`: the group itself, `run`, `web`, `worker`, `scheduler`, `sink`, users and keys;
- `embedded`: what `followup run` starts in one process (web, worker, scheduler, sink, inbound);
- `sequences`: `sequence` and `enroll`; `inbound`: `inbound` and `imap-poll`;
- `digest`: `digest send|preview`; `spool`: `spool drain|status`.
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
