"""`followup verdicts recheck`: stored inbound mail, opens and clicks judged again by today's rules, on confirmation.

It lists what would change first; only `--yes` or a "y" at the prompt applies it, and every
applied change is a `verdict_changed` event on the prospect's timeline (never a silent rewrite).
"""

from __future__ import annotations

import random
import re
import sys
from collections import Counter
from datetime import timedelta
from typing import Any

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


SAMPLE = 10  # tracking changes shown one by one; the rest are counted


@verdicts.command()
@click.option(
    "--since", "since_text", default="30d", show_default=True, help="How far back: 12h, 30d, 2w."
)
@click.option("--yes", is_flag=True, help="Apply without asking.")
def recheck(since_text: str, yes: bool) -> None:
    """Show which stored verdicts (inbound mail, opens and clicks) today's rules read differently, then apply them."""
    from sequences import inbound, runtime, tracking
    from sequences.db import session_scope

    since = parse_since(since_text)
    try:
        rt = runtime.build(load_settings())
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    try:
        now = rt.clock.now()
        with rt.sessions() as session:
            mail = inbound.plan_recheck(session, now - since, rt.settings.secret_keys)
            hits = tracking.plan_recheck(session, now - since)
        if not mail and not hits:
            click.echo(f"No stored verdict since {since_text} ago would change.")
            return
        if mail:
            click.echo(f"Inbound mail: {len(mail)} verdict(s) would change:")
            for change in mail:
                click.echo(f"  {change.describe()}")
        if hits:
            _show_tracking(hits)
        if not yes and not click.confirm("Apply these changes?", default=False):
            click.echo("Nothing changed.")
            return
        with session_scope(rt.sessions) as session:
            done = inbound.apply_recheck(session, mail, now)
            applied = tracking.apply_recheck(session, hits, now)
        click.echo(
            f"Applied {len(done) + len(applied)} change(s), each recorded on the prospect's timeline:"
        )
        for line in done:
            click.echo(f"  {line}")
        for line in applied[:SAMPLE]:
            click.echo(f"  {line}")
        if len(applied) > SAMPLE:
            click.echo(f"  ... and {len(applied) - SAMPLE} more opens and clicks")
    finally:
        rt.dispose()


def _show_tracking(hits: list[Any]) -> None:
    """Counts per kind of change, then a sample: a rule change can touch thousands of hits."""
    click.echo(f"Opens and clicks: {len(hits)} verdict(s) would change:")
    for transition, count in Counter(c.transition for c in hits).most_common():
        click.echo(f"  {count:6d}  {transition}")
    shown = hits if len(hits) <= SAMPLE else random.Random(0).sample(hits, SAMPLE)
    click.echo("  for example:" if len(hits) > SAMPLE else "  each:")
    for change in sorted(shown, key=lambda c: (c.at, c.event_id or 0)):
        click.echo(f"    {change.describe()}")
