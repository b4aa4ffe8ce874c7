"""`followup spool status|drain`: the tracking spool (hits kept on disk until the database has them).

Every web process drains the spool by itself; these commands are for operators: to see what is
waiting (after a database outage), or to write it out when no web process will run again here.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading

import click

from sequences import logs, runtime
from sequences.config import ConfigError, load_settings
from sequences.tracking import Drainer, Spool, spool_writer


@click.group()
def spool() -> None:
    """The tracking spool: opens and clicks waiting to be written to the database."""


def _spool() -> tuple[Spool, runtime.Runtime]:
    try:
        settings = load_settings()
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    return Spool(settings.instance_path / "spool"), runtime.build(settings)


@spool.command()
def status() -> None:
    """Show the spool's files and how many bytes wait to be written."""
    hits, rt = _spool()
    files = hits.files()
    click.echo(f"{hits.directory}: {len(files)} file(s), {hits.pending_bytes()} byte(s) waiting")
    rt.dispose()


@spool.command()
@click.option("--forever", is_flag=True, help="Keep draining until stopped (SIGTERM/SIGINT).")
@click.option(
    "--interval", default=0.2, show_default=True, type=float, help="Seconds between passes."
)
@click.option(
    "--nice", "niceness", default=0, show_default=True, type=int, help="Lower our CPU priority."
)
@click.option("--parent", default=0, type=int, help="Exit when this process id is gone.")
def drain(forever: bool, interval: float, niceness: int, parent: int) -> None:
    """Write every waiting hit to the database now (exactly once; safe beside running servers)."""
    hits, rt = _spool()
    if forever:
        _forever(hits, rt, interval, niceness, parent)
        return
    try:
        written = hits.drain(spool_writer(rt.sessions, rt.settings.secret_keys))
    except Exception as exc:
        click.echo(
            f"error: could not write to the database ({type(exc).__name__}); hits kept", err=True
        )
        sys.exit(1)
    finally:
        rt.dispose()
    click.echo(f"drained {written} hit(s); {hits.pending_bytes()} byte(s) still waiting")


def _forever(hits: Spool, rt: runtime.Runtime, interval: float, niceness: int, parent: int) -> None:
    """The drainer beside gunicorn: below the web workers' priority, so answering comes first."""
    if niceness:
        os.nice(niceness)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    drainer = Drainer(hits, spool_writer(rt.sessions, rt.settings.secret_keys))
    logs.say(f"spool: draining {hits.directory} every {interval}s")
    frozen = False
    try:
        while not stop.is_set():
            if parent and os.getppid() != parent:
                break  # gunicorn's master is gone: so are we
            # A pass writes everything waiting, then the drainer sleeps even if there was work:
            # under load, hits gather meanwhile and the next pass writes them in one batch, so
            # what each batch costs (a few queries, a commit) is shared by many hits.
            drainer.drain_once()
            if not frozen:
                # After the first pass has imported and compiled what every pass uses: the
                # collector's full passes then skip it and scan only what a batch allocates.
                gc.freeze()
                frozen = True
            stop.wait(interval)
    finally:
        rt.dispose()
