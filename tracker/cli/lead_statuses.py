"""`followup leads status ...` and `followup leads status-rules ...`: lead statuses and triggers."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import select

from .leads_pool import _now, _team, leads
from .sequences import _session  # one session per command, as the sequence commands do


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@leads.group("status")
def status() -> None:
    """The team's lead statuses, and changing a prospect's status."""


@status.command("list")
@click.option("--team", "team_id", default=None, type=int)
def status_list(team_id: int | None) -> None:
    """Show the team's statuses in their order."""
    from sequences.leads import statuses_json

    with _session() as session:
        click.echo(json.dumps(statuses_json(session, _team(session, team_id)), indent=2))


@status.command("replace")
@click.argument("statuses", nargs=-1, required=True)
@click.option("--on-reply", default=None, help="The status a human reply moves a lead to.")
@click.option("--team", "team_id", default=None, type=int)
def status_replace(statuses: tuple[str, ...], on_reply: str | None, team_id: int | None) -> None:
    """Replace the team's list: followup leads status replace new contacted "not interested" ..."""
    from sequences.errors import Conflict, ValidationError
    from sequences.leads import replace_statuses

    try:
        with _session() as session:
            data = {"statuses": list(statuses), "on_reply": on_reply}
            out = replace_statuses(session, _team(session, team_id), data, _now())
            click.echo(json.dumps(out, indent=2))
    except (ValidationError, Conflict) as exc:
        raise _fail(exc) from None


@status.command("set")
@click.argument("status_name")
@click.argument("emails", nargs=-1, required=True)
@click.option("--note", default="", help="Kept on the timeline with the change.")
@click.option("--team", "team_id", default=None, type=int)
def status_set(status_name: str, emails: tuple[str, ...], note: str, team_id: int | None) -> None:
    """Set the status of the prospects with these EMAILS (their rules fire)."""
    from sequences.errors import Conflict, NotFound, ValidationError
    from sequences.leads import change_many
    from sequences.models import Prospect

    try:
        with _session() as session:
            team = _team(session, team_id)
            found = list(
                session.scalars(
                    select(Prospect).where(Prospect.team_id == team, Prospect.email.in_(emails))
                )
            )
            missing = sorted(set(emails) - {p.email for p in found})
            if missing:
                raise click.ClickException("no prospect with email " + ", ".join(missing))
            for row in change_many(session, found, status_name, _now(), by_user_id=None, note=note):
                click.echo(json.dumps(row))
    except (ValidationError, Conflict, NotFound) as exc:
        raise _fail(exc) from None


@leads.group("status-rules")
def status_rules() -> None:
    """Rules fired once per entry into a status: send an email, enroll, a task, a status."""


@status_rules.command("list")
@click.option("--team", "team_id", default=None, type=int)
def rules_list(team_id: int | None) -> None:
    from sequences.leads import rule_json, team_rules

    with _session() as session:
        for rule in team_rules(session, _team(session, team_id)):
            click.echo(json.dumps(rule_json(session, rule)))


@status_rules.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--team", "team_id", default=None, type=int)
def rules_add(file: Path, team_id: int | None) -> None:
    """Add the rule in a JSON or YAML FILE, e.g. {status: interested, action: send_email, ...}."""
    import yaml

    from sequences.errors import NotFound, ValidationError
    from sequences.leads import rule_json, save_rule

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{file}: not YAML or JSON: {exc}") from None
    try:
        with _session() as session:
            rule = save_rule(session, _team(session, team_id), data, _now(), by_user_id=None)
            click.echo(json.dumps(rule_json(session, rule)))
    except (ValidationError, NotFound) as exc:
        raise _fail(exc) from None


@status_rules.command("remove")
@click.argument("rule_id", type=int)
@click.option("--team", "team_id", default=None, type=int)
def rules_remove(rule_id: int, team_id: int | None) -> None:
    from sequences.errors import NotFound
    from sequences.leads import delete_rule, get_rule

    try:
        with _session() as session:
            delete_rule(session, get_rule(session, _team(session, team_id), rule_id))
            click.echo(f"removed status rule {rule_id}")
    except NotFound as exc:
        raise _fail(exc) from None
