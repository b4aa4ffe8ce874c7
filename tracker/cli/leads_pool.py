"""`followup leads assign/import/pool/rep/rules`: the lead pool and its assignment rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from .sequences import _session  # one session per command, as the sequence commands do


def _now() -> datetime:
    return datetime.now(UTC)


def _team(session: Session, team_id: int | None) -> int:
    from sequences.models import Team
    from sequences.workspace import default_team

    if team_id is None:
        return default_team(session).id
    if session.get(Team, team_id) is None:
        raise click.ClickException(f"no team {team_id}")
    return team_id


def _user(session: Session, email: str) -> object:
    from sequences.models import User

    user = session.scalar(select(User).where(User.email == email.strip()))
    if user is None:
        raise click.ClickException(f"no user with email {email}")
    return user


@click.group()
def leads() -> None:
    """The lead pool: assign leads by the rules or by hand, import, reps and rules."""


@leads.command("assign")
@click.argument("prospect_ids", nargs=-1, type=int)
@click.option("--to", "to", default=None, help="A rep's email, or 'pool'. Without it: the rules.")
@click.option(
    "--pool", "whole_pool", is_flag=True, help="Assign the pool's oldest leads by the rules."
)
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--batch",
    default=200,
    show_default=True,
    type=click.IntRange(1, 5000),
    help="Leads per transaction.",
)
@click.option(
    "--team", "team_id", default=None, type=int, help="Team id (default: the first team)."
)
@click.option("--note", default="", help="Why (kept in the assignment history).")
def assign(
    prospect_ids: tuple[int, ...],
    to: str | None,
    whole_pool: bool,
    limit: int,
    batch: int,
    team_id: int | None,
    note: str,
) -> None:
    """Assign leads: PROSPECT_IDS to a rep (--to EMAIL) or back to the pool (--to pool), or by
    the team's rules (PROSPECT_IDS, or --pool for the pool's oldest)."""
    from sequences.errors import NotFound, ValidationError
    from sequences.leads import assign_manual, assign_pool, assign_prospects

    if not prospect_ids and not whole_pool:
        raise click.UsageError("give PROSPECT_IDS or --pool")
    if to is not None and not prospect_ids:
        raise click.UsageError("--to needs PROSPECT_IDS")
    counts: dict[str, int] = {}
    done = 0
    try:
        while True:
            with _session() as session:
                team = _team(session, team_id)
                if to is not None:
                    target = None if to == "pool" else _user(session, to).id  # type: ignore[attr-defined]
                    pairs = assign_manual(
                        session, team, list(prospect_ids), target, _now(), note=note
                    )
                elif prospect_ids:
                    pairs = assign_prospects(session, team, list(prospect_ids), _now())
                else:
                    pairs = assign_pool(session, team, _now(), limit=min(batch, limit - done))
                emails = {}
                from sequences.models import User

                for user in session.scalars(select(User).where(User.team_id == team)):
                    emails[user.id] = user.email
            for _, user_id in pairs:
                key = emails.get(user_id, "pool") if user_id is not None else "pool"
                counts[key] = counts.get(key, 0) + 1
            done += len(pairs)
            assigned = sum(1 for _, u in pairs if u is not None)
            if prospect_ids or not pairs or done >= limit or assigned == 0:
                break
    except (ValidationError, NotFound) as exc:
        raise click.ClickException(str(exc)) from None
    for key in sorted(counts):
        click.echo(f"{key}: {counts[key]}")
    click.echo(f"{done} lead(s) handled")


@leads.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--team", "team_id", default=None, type=int)
def import_(path: Path, team_id: int | None) -> None:
    """Put the leads of a CSV file (an email column) into the pool; assigned if auto-assign is on."""
    from sequences.errors import ValidationError
    from sequences.leads import import_leads

    try:
        with _session() as session, path.open(newline="", encoding="utf-8-sig") as lines:
            summary = import_leads(session, _team(session, team_id), lines, _now())
    except ValidationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {summary.created}, updated {summary.updated}, pooled {summary.pooled}")
    for line, email, reason in summary.skipped:
        click.echo(f"line {line} ({email}): {reason}")


@leads.command("pool")
@click.option("--team", "team_id", default=None, type=int)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
def pool(team_id: int | None, limit: int) -> None:
    """The pool's oldest leads."""
    from sequences.leads import pool_leads

    with _session() as session:
        rows = pool_leads(session, _team(session, team_id), limit=limit)
        for lead, prospect in rows:
            click.echo(f"{prospect.id}\t{prospect.email}\tpooled {lead.pooled_at.isoformat()}")
        click.echo(f"{len(rows)} lead(s) in the pool shown")


@leads.command("rep")
@click.argument("email")
@click.option("--active/--inactive", default=None)
@click.option("--away-from", default=None, help="YYYY-MM-DD ('none' to clear).")
@click.option("--away-until", default=None, help="YYYY-MM-DD, inclusive ('none' to clear).")
@click.option("--max-open", default=None, help="Open leads cap ('none' for no cap).")
@click.option("--max-daily", default=None, help="Leads per day cap ('none' for no cap).")
@click.option("--weight", default=None, type=int)
def rep(
    email: str,
    active: bool | None,
    away_from: str | None,
    away_until: str | None,
    max_open: str | None,
    max_daily: str | None,
    weight: int | None,
) -> None:
    """Show or change a rep's place in the rotation."""
    from sequences.errors import ValidationError
    from sequences.leads import rep_json, rep_row, update_rep

    data: dict[str, object] = {}
    if active is not None:
        data["active"] = active
    for name, value in (("away_from", away_from), ("away_until", away_until)):
        if value is not None:
            data[name] = None if value == "none" else value
    for name, value in (("max_open", max_open), ("max_daily", max_daily)):
        if value is not None:
            if value != "none" and not value.isdigit():
                raise click.BadParameter(f"{value!r}: a number or 'none'", param_hint=name)
            data[name] = None if value == "none" else int(value)
    if weight is not None:
        data["weight"] = weight
    try:
        with _session() as session:
            user = _user(session, email)
            row = update_rep(session, user, data) if data else rep_row(session, user)  # type: ignore[arg-type]
            click.echo(json.dumps(rep_json(row), indent=2))
    except ValidationError as exc:
        raise click.ClickException(str(exc)) from None


@leads.command("rules")
@click.option("--team", "team_id", default=None, type=int)
@click.option(
    "--set",
    "pairs",
    multiple=True,
    metavar="NAME=JSON",
    help="e.g. --set max_touches=5 --set acceptance_required=true",
)
def rules(team_id: int | None, pairs: tuple[str, ...]) -> None:
    """Show or change the team's lead rules (acceptance, speed-to-lead, routing)."""
    from sequences.errors import NotFound, ValidationError
    from sequences.leads import settings_for, settings_json, update_settings

    data: dict[str, object] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r}: NAME=VALUE", param_hint="--set")
        try:
            data[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            data[name.strip()] = raw  # a bare word such as pool or next_rep
    try:
        with _session() as session:
            team = _team(session, team_id)
            row = (
                update_settings(session, team, data, _now())
                if data
                else settings_for(session, team)
            )
            click.echo(json.dumps(settings_json(row), indent=2))
    except (ValidationError, NotFound) as exc:
        raise click.ClickException(str(exc)) from None
