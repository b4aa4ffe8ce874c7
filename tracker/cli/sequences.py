"""`followup sequence import/export/list` and `followup enroll`: sequences and enrollment from files."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from sequences.config import ConfigError, load_settings

PLAYBOOK = Path(__file__).resolve().parents[2] / "sequences" / "data" / "playbook.yaml"


@contextmanager
def _session() -> Iterator[Session]:
    """A session on FOLLOWUP_DATABASE_URL for one command, committed if the command succeeds."""
    from sequences.db import make_sessionmaker, null_pool_engine

    try:
        url = load_settings().database_url
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    engine = null_pool_engine(url)
    session = make_sessionmaker(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        engine.dispose()


def _owner(session: Session, email: str | None) -> tuple[int, int | None]:
    """(team id, owner id): the named user's, or the default team with no owner."""
    from sequences.models import User
    from sequences.workspace import default_team

    if email is None:
        return default_team(session).id, None
    user = session.scalar(select(User).where(User.email == email.strip()))
    if user is None:
        raise click.ClickException(f"no user with email {email}")
    return user.team_id, user.id


@click.group()
def sequence() -> None:
    """Sequences: import from YAML/JSON, export, list."""


@sequence.command("import")
@click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False
)
@click.option("--playbook", is_flag=True, help="Import the bundled standard playbook.")
@click.option("--owner", "owner_email", help="The user who owns it (default: no owner).")
def sequence_import(file: Path | None, playbook: bool, owner_email: str | None) -> None:
    """Create a sequence from a YAML or JSON FILE (or the bundled playbook)."""
    from sequences.clock import SystemClock
    from sequences.definitions import create_sequence, load_definition
    from sequences.errors import ValidationError

    if (file is None) == (not playbook):
        raise click.UsageError("give a FILE or --playbook (one of them)")
    path = PLAYBOOK if playbook else file
    assert path is not None
    with _session() as session:
        team_id, owner_id = _owner(session, owner_email)
        try:
            data = load_definition(path.read_text(encoding="utf-8"), path.name)
            # A playbook may carry the team's status triggers beside its sequence.
            rules = data.pop("status_rules", None) if isinstance(data, dict) else None
            created = create_sequence(session, team_id, owner_id, data, SystemClock().now())
            saved = _status_rules(session, team_id, owner_id, rules)
        except ValidationError as exc:
            lines = [f"error: {exc.message}"]
            for problem in exc.details[1:]:
                line = f" (line {problem['line']})" if "line" in problem else ""
                lines.append(f"       {problem['field']}: {problem['message']}{line}")
            raise click.ClickException("\n".join(lines)) from None
        click.echo(f"imported sequence {created.id}: {created.name} ({len(created.steps)} steps)")
        if saved:
            click.echo(f"imported {saved} status rule(s): followup leads status-rules list")


def _status_rules(session: Session, team_id: int, owner_id: int | None, rules: object) -> int:
    """Save a playbook's `status_rules` (a list of rules as POST /leads/status-rules takes)."""
    from sequences.clock import SystemClock
    from sequences.errors import ValidationError
    from sequences.leads import save_rule

    if rules is None:
        return 0
    if not isinstance(rules, list):
        raise ValidationError("status_rules: a list of rules", field="status_rules")
    for rule in rules:
        save_rule(session, team_id, rule, SystemClock().now(), by_user_id=owner_id)
    return len(rules)


@sequence.command("export")
@click.argument("sequence_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
def sequence_export(sequence_id: int, fmt: str) -> None:
    """Print a sequence as YAML or JSON (what `sequence import` reads back)."""
    from sequences.definitions import export_definition
    from sequences.models import Sequence

    with _session() as session:
        found = session.get(Sequence, sequence_id)
        if found is None:
            raise click.ClickException(f"no sequence {sequence_id}")
        click.echo(export_definition(found, fmt), nl=False)


@sequence.command("list")
@click.option(
    "--all", "show_all", is_flag=True, help="Also the status triggers' one-step email sequences."
)
def sequence_list(show_all: bool) -> None:
    """List sequences (not the status triggers' hidden ones, as on the pages and the API)."""
    from sequences.models import Sequence

    query = select(Sequence).order_by(Sequence.id)
    if not show_all:
        query = query.where(Sequence.hidden.is_(False))
    with _session() as session:
        for found in session.scalars(query):
            hidden = "  [status trigger]" if found.hidden else ""
            click.echo(f"{found.id:6}  {found.name}  ({len(found.steps)} steps){hidden}")


@sequence.command("show")
@click.argument("sequence_id", type=int)
def sequence_show(sequence_id: int) -> None:
    """Print a sequence's steps, when each comes due and when its emails go out, in words."""
    from sequences.models import Sequence
    from sequences.schedule_words import sequence_window_text, step_delay_text

    with _session() as session:
        found = session.get(Sequence, sequence_id)
        if found is None:
            raise click.ClickException(f"no sequence {sequence_id}")
        click.echo(f"{found.name}: emails go out {sequence_window_text(found)}")
        for number, step in enumerate(found.steps, start=1):
            title = f": {step.subject}" if step.subject else ""
            click.echo(f"  step {number} ({step.type}{title}): {step_delay_text(found, step)}")


@click.command()
@click.option("--sequence", "sequence_id", type=int, required=True, help="The sequence's id.")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--owner", "owner_email", help="Owner of new prospects (default: the sequence's).")
@click.option(
    "--force",
    is_flag=True,
    help="Enroll even if recently in touch (replied, converted, active in a sequence).",
)
@click.option("--dry-run", is_flag=True, help="Say what would happen; change nothing.")
@click.option("--strict", is_flag=True, help="Exit 1 if any row was skipped.")
def enroll(
    sequence_id: int,
    csv_file: Path,
    owner_email: str | None,
    force: bool,
    dry_run: bool,
    strict: bool,
) -> None:
    """Create or update prospects from a CSV (an email column, others optional) and enroll them.

    Each row is checked first: every step is rendered for the prospect, and a suppressed or
    recently contacted address is refused with the reason (the latter enrolled with --force).
    UTF-8 (with or without a BOM), UTF-16 and Windows-1252 files, separated by commas,
    semicolons or tabs, are read; the first row of an address wins over later ones."""
    from sequences.clock import SystemClock
    from sequences.errors import ValidationError
    from sequences.leads import trigger_email
    from sequences.models import Sequence
    from sequences.workspace import import_csv, read_table

    with _session() as session:
        found = session.get(Sequence, sequence_id)
        if found is None:
            raise click.ClickException(f"no sequence {sequence_id}")
        trigger = trigger_email(session, found)
        if trigger is not None:  # the rule enrolls prospects when they enter its status
            raise click.ClickException(trigger.words())
        try:
            table = read_table(csv_file.read_bytes())
        except ValidationError as exc:
            raise click.ClickException(f"{csv_file.name}: {exc}") from None
        owner_id = _owner(session, owner_email)[1] if owner_email else found.owner_id
        # The bar is on stderr and finished before the report is printed, so the two never mix.
        with click.progressbar(
            length=len(table.rows), label="importing", file=sys.stderr, show_pos=True
        ) as bar:
            report = import_csv(
                session,
                table,
                found,
                SystemClock().now(),
                owner_id=owner_id,
                force=force,
                dry_run=dry_run,
                on_row=lambda: bar.update(1),
            )
        if dry_run:
            session.rollback()  # a dry run creates, updates and enrolls nobody
    for line in report.lines():
        click.echo(line)
    if strict and report.skipped:
        raise click.ClickException(f"--strict: {len(report.skipped)} rows skipped")
