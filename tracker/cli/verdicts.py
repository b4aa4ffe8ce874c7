"""`followup verdicts recheck`: stored inbound mail read again by today's rules, on confirmation.

It lists what would change first; only `--yes` or a "y" at the prompt applies it, and every
applied change is a `verdict_changed` event on the prospect's timeline (never a silent rewrite).
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta

import click

from sequences.config import ConfigError, load_settings

_SINCE = re.compile(r"^\s*(\d{1,4})\s*([hdw])\s*$", re.I)
UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    """30d, 12h, 2w: how far back to look."""
    found = _SINCE.match(text)
    if not found:
        raise click.BadParameter(f"{text!r}: write a number and h, d or w, for example 30d")
    return timedelta(**{UNITS[found.group(2).lower()]: int(found.group(1))})


@click.group()
def verdicts() -> None:
    """Verdicts on stored mail: re-read them with the current rules."""


@verdicts.command()
@click.option(
    "--since", "since_text", default="30d", show_default=True, help="How far back: 12h, 30d, 2w."
)
@click.option("--yes", is_flag=True, help="Apply without asking.")
def recheck(since_text: str, yes: bool) -> None:
    """Show which stored inbound verdicts today's rules read differently, then apply them."""
    from sequences import runtime
    from sequences.db import session_scope
    from sequences.inbound import apply_recheck, plan_recheck

    since = parse_since(since_text)
    try:
        rt = runtime.build(load_settings())
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    try:
        now = rt.clock.now()
        with rt.sessions() as session:
            changes = plan_recheck(session, now - since)
        if not changes:
            click.echo(f"No stored verdict since {since_text} ago would change.")
            return
        click.echo(f"{len(changes)} verdict(s) would change:")
        for change in changes:
            click.echo(f"  {change.describe()}")
        if not yes and not click.confirm("Apply these changes?", default=False):
            click.echo("Nothing changed.")
            return
        with session_scope(rt.sessions) as session:
            done = apply_recheck(session, changes, now)
        click.echo(f"Applied {len(done)} change(s), each recorded on the prospect's timeline:")
        for line in done:
            click.echo(f"  {line}")
    finally:
        rt.dispose()
