"""`followup spool status|drain`: the tracking spool (hits kept on disk until the database has them).

Every web process drains the spool by itself; these commands are for operators: to see what is
waiting (after a database outage), or to write it out when no web process will run again here.
"""

from __future__ import annotations

import sys

import click

from sequences import runtime
from sequences.config import ConfigError, load_settings
from sequences.spool import Spool
from sequences.tracking import spool_writer


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
def drain() -> None:
    """Write every waiting hit to the database now (exactly once; safe beside running servers)."""
    hits, rt = _spool()
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
