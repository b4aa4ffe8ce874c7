"""The `followup` command: run everything, or each part on its own, and manage users and keys."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from sequences import logs
from sequences.config import ConfigError, Settings, check_sender

from ..ports import Listener, choose
from .common import choose_port, given
from .common import clean_errors as _clean_errors
from .common import fail as _fail
from .common import settings as _settings

F = TypeVar("F", bound=Callable[..., Any])

# Commands that run until stopped: they log at INFO unless FOLLOWUP_LOG_LEVEL says otherwise.
SERVICES = frozenset({"run", "web", "worker", "scheduler", "sink", "inbound", "imap-poll", "spool"})


def _sending_settings() -> Settings:
    """The settings of a command that sends or enqueues mail: in production, never from a
    demo address (sequences.config.check_sender), in one line, exit 2."""
    settings = _settings()
    try:
        check_sender(settings)
    except ConfigError as exc:
        _fail(exc)
    return settings


def _check_secrets(settings: Settings) -> None:
    """Before handing over to gunicorn or dramatiq: a key that cannot open the stored secrets
    ends the command here in one line, not in every worker process with a traceback."""
    from sequences.db import null_pool_engine
    from sequences.vault import startup, vault_for

    engine = null_pool_engine(settings.database_url)
    try:
        startup(engine, vault_for(settings))
    finally:
        engine.dispose()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Followup: sales follow-up sequences with honest open and click tracking."""
    # Every command records its events with their webhooks and lead statuses (imported here:
    # `--help` and the light commands need not load the engine).
    from sequences import aftermath

    aftermath.wire()
    try:
        # Every command's process logs one way (FOLLOWUP_LOG_FORMAT); `process` names it.
        command = ctx.invoked_subcommand or "cli"
        logs.configure(command, default_level="info" if command in SERVICES else "warning")
    except ConfigError as exc:
        _fail(exc)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--no-sink",
    is_flag=True,
    help="Do not start the local SMTP sink (mail goes to FOLLOWUP_SMTP_URL).",
)
@click.option(
    "--inbound-port",
    default=2525,
    show_default=True,
    type=int,
    help="Port of the inbound SMTP server for replies and bounces (0: none).",
)
@_clean_errors
def run(host: str, port: int, no_sink: bool, inbound_port: int) -> None:
    """Run everything in one process: web app, worker, scheduler and a local SMTP sink."""
    from .embedded import run_all

    run_all(
        _sending_settings(),
        host,
        port,
        sink=not no_sink,
        inbound_port=inbound_port,
        port_given=given("port"),
        inbound_given=given("inbound_port"),
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers", default=2, show_default=True, type=int, help="gunicorn worker processes."
)
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per worker.")
@_clean_errors
def web(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the web app with gunicorn (production)."""
    settings = _sending_settings()  # fail here, in one line, not in every gunicorn worker
    _check_secrets(settings)
    chosen = choose_port(Listener("the web app", host, port, "--port", given("port")))
    if chosen.moved and "FOLLOWUP_BASE_URL" not in settings.given:
        # Links in mail must reach this server (the workers read the environment).
        os.environ["FOLLOWUP_BASE_URL"] = f"http://{host}:{chosen.port}"
    port = chosen.port
    if settings.metrics_bind:
        _admin_metrics(settings)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    argv = [
        str(gunicorn),
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--access-logfile",
        "-",
        "--forwarded-allow-ips",
        os.environ.get("FOLLOWUP_FORWARDED_ALLOW_IPS", "127.0.0.1"),
        # Hooks that run the tracking spool's drainer as a process beside the workers.
        "--config",
        "python:tracker.gunicorn_conf",
        "tracker:create_app()",
    ]
    os.execv(argv[0], argv)


def _admin_metrics(settings: Settings) -> None:
    """Before gunicorn: the admin port must be free (one line if not), and the workers write
    prometheus_client's multiprocess files where the admin listener sums them."""
    import shutil

    assert settings.metrics_bind is not None
    host, port = settings.metrics_bind
    choose(Listener("the metrics listener", host, port, "FOLLOWUP_METRICS_BIND", True))
    os.environ["FOLLOWUP_METRICS_BIND"] = f"{host}:{port}"  # read by tracker/gunicorn_conf.py
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Ours, so emptied at each start: no dead worker's gauges linger (counters restart
        # from zero, as Prometheus expects after a restart).
        directory = settings.instance_path / "web-metrics"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


@main.command()
@click.option("--processes", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
@click.option(
    "--queues",
    multiple=True,
    help="Only these queues (send, webhooks, digest; repeat the option); default all. Run "
    "webhooks apart so a slow endpoint never holds the threads that send.",
)
@_clean_errors
def worker(processes: int, threads: int, queues: tuple[str, ...]) -> None:
    """Run Dramatiq workers (the standard `dramatiq` CLI on Followup's actors)."""
    settings = _sending_settings()
    if not settings.redis_url:
        click.echo(
            "error: FOLLOWUP_REDIS_URL: a separate worker needs Redis; `followup run` works without",
            err=True,
        )
        sys.exit(2)
    _check_secrets(settings)
    # Dramatiq's own CLI, after our logging setup (tracker/cli/worker.py), with its metrics.
    from .worker import worker_metrics_env  # not at import: `-m tracker.cli.worker` runs it

    os.environ.update(worker_metrics_env(settings))
    argv = [
        sys.executable,
        "-m",
        "tracker.cli.worker",
        "--skip-logging",
        "sequences.broker",
        "sequences.actors",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
    ]
    if queues:
        argv += ["--queues", *queues]
    os.execv(argv[0], argv)


@main.command()
@click.option(
    "--interval", default=1.0, show_default=True, type=float, help="Seconds between idle ticks."
)
@_clean_errors
def scheduler(interval: float) -> None:
    """Find due steps in the database and enqueue them (safe to run as several copies)."""
    from sequences import runtime
    from sequences.scheduler import run_forever

    settings = _sending_settings()
    rt = runtime.build(settings)
    runtime.install(rt)
    from sequences.actors import enqueue_steps

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    logs.say(f"scheduler: ticking every {interval}s")
    if settings.scheduler_metrics:
        from prometheus_client import start_http_server

        # followup_scheduler_tick_seconds lives in this process: served here, no token (bind it
        # to a private address; FOLLOWUP_SCHEDULER_METRICS).
        host, port = settings.scheduler_metrics
        start_http_server(port, host)
        logs.say(f"scheduler: metrics on http://{host}:{port}/metrics")
    run_forever(rt, enqueue_steps, stop, interval)


@main.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=1025, show_default=True, type=int)
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    help="Where to store mail (default FOLLOWUP_SINK_DIR).",
)
@click.pass_context
@_clean_errors
def sink(ctx: click.Context, host: str, port: int, directory: Path | None) -> None:
    """A local SMTP server that stores every message as a .eml file (`sink list` shows them)."""
    ctx.ensure_object(dict)
    ctx.obj["dir"] = directory or _settings().sink_dir
    if ctx.invoked_subcommand is not None:
        return
    from sequences.sending import start_sink

    from ..ports import describe, unavailable

    listener = Listener("the mail sink", host, port, "--port", given("port"))
    port = choose_port(listener).port
    try:
        controller = start_sink(ctx.obj["dir"], host, port)
    except OSError as exc:  # taken between the check and the bind
        raise unavailable(listener, port, describe(exc)) from None
    logs.say(f"sink: listening on {host}:{port}, storing mail in {ctx.obj['dir']}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


@sink.command("list")
@click.pass_context
def sink_list(ctx: click.Context) -> None:
    """List captured messages, oldest first."""
    from sequences.sending import read_messages

    messages = read_messages(ctx.obj["dir"])
    for stored in messages:
        click.echo(f"{stored.path.name}  {', '.join(stored.envelope_to):30}  {stored.subject}")
    click.echo(f"{len(messages)} message(s) in {ctx.obj['dir']}")


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@_clean_errors
def db_upgrade() -> None:
    """Create or migrate the schema of FOLLOWUP_DATABASE_URL."""
    from sequences.migrate import current_revisions, upgrade

    settings = _settings()
    upgrade(settings.database_url)
    click.echo(f"database at revision {', '.join(current_revisions(settings.database_url))}")


@main.group()
def user() -> None:
    """Users (reps and managers)."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option(
    "--password", default=None, help="Omit to create a user who signs in with API keys only."
)
@click.option("--manager", is_flag=True, help="Managers see the whole team.")
@click.option("--team", "team_name", default=None, help="The team's name (default: the first).")
@click.option(
    "--admin", is_flag=True, help="The install's admin: creates teams, moves users (API too)."
)
@click.option(
    "--timezone",
    "zone_name",
    default=None,
    help="Their IANA zone, such as America/Los_Angeles (default: the team's).",
)
@_clean_errors
def user_create(
    email: str,
    name: str,
    password: str | None,
    manager: bool,
    team_name: str | None,
    admin: bool,
    zone_name: str | None,
) -> None:
    """Create a user, in a team."""
    from sequences.errors import Conflict, NotFound, ValidationError
    from sequences.workspace import clean_zone, create_user, find_team

    with _session() as session:
        try:
            zone = clean_zone(zone_name) if zone_name else None  # before anything is written
            team = find_team(session, team_name) if team_name is not None else None
            created = create_user(
                session, email, name=name, password=password, manager=manager, team=team
            )
        except (ValidationError, Conflict, NotFound) as exc:
            raise click.ClickException(str(exc)) from None
        created.is_admin = admin
        created.timezone = zone
        role = "manager" if manager else "rep"
        click.echo(
            f"created {role}{' and admin' if admin else ''} {created.email} "
            f"(id {created.id}) in team {created.team.name}"
        )


@user.command("move")
@click.option("--email", required=True, help="The user's email.")
@click.option("--team", "team_name", required=True, help="The team to move them to.")
@click.option("--manager/--rep", default=None, help="Their role in the new team (default: kept).")
@_clean_errors
def user_move(email: str, team_name: str, manager: bool | None) -> None:
    """Move a user to another team (refused while they own anything in their current one)."""
    from sqlalchemy import select

    from sequences.errors import Conflict, NotFound
    from sequences.models import User
    from sequences.workspace import find_team, move_user

    with _session() as session:
        found = session.scalar(select(User).where(User.email == email.strip()))
        if found is None:
            raise click.ClickException(f"no user with email {email}")
        try:
            team = find_team(session, team_name)
            before = found.team.name
            move_user(session, found, team, manager=manager)
        except (Conflict, NotFound) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"moved {found.email} from team {before} to team {team.name}")


@user.command("update")
@click.option("--email", required=True, help="The user's email.")
@click.option(
    "--timezone",
    "zone_name",
    required=True,
    help="An IANA zone such as Europe/Berlin ('' follows the team's).",
)
@_clean_errors
def user_update(email: str, zone_name: str) -> None:
    """Set a user's time zone: their "today", "overdue", digest day and report periods."""
    from sqlalchemy import select

    from sequences.errors import ValidationError
    from sequences.models import User
    from sequences.workspace import effective_zone, set_user_zone

    with _session() as session:
        found = session.scalar(select(User).where(User.email == email.strip()))
        if found is None:
            raise click.ClickException(f"no user with email {email}")
        try:
            set_user_zone(session, found, zone_name.strip())
        except ValidationError as exc:
            raise click.ClickException(exc.message) from None
        source = "own" if found.timezone else f"team {found.team.name}'s"
        click.echo(f"updated {found.email}: time zone {effective_zone(found).key} ({source})")


@main.group()
def team() -> None:
    """Teams: one install can serve several sales teams, each seeing only its own data."""


@team.command("create")
@click.argument("name")
@click.option(
    "--inbound-domain", default=None, help="Mail to any address at this domain is the team's."
)
@_clean_errors
def team_create(name: str, inbound_domain: str | None) -> None:
    """Create a team."""
    from sequences.errors import Conflict, ValidationError
    from sequences.workspace import create_team

    with _session() as session:
        try:
            made = create_team(session, name, inbound_domain)
        except (ValidationError, Conflict) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"created team {made.name} (id {made.id})")


@team.command("update")
@click.argument("team_name")
@click.option("--name", "new_name", default=None, help="A new name for the team.")
@click.option(
    "--inbound-domain",
    default=None,
    help="Mail to any address at this domain is the team's ('' clears it).",
)
@click.option(
    "--timezone",
    "zone_name",
    default=None,
    help="The IANA zone of its users who chose none, such as Europe/Berlin.",
)
@_clean_errors
def team_update(
    team_name: str, new_name: str | None, inbound_domain: str | None, zone_name: str | None
) -> None:
    """Rename a team, set its inbound domain or its time zone."""
    from sequences.errors import Conflict, NotFound, ValidationError
    from sequences.workspace import find_team, update_team

    changes: dict[str, object] = {}
    if new_name is not None:
        changes["name"] = new_name
    if inbound_domain is not None:
        changes["inbound_domain"] = inbound_domain
    if zone_name is not None:
        changes["timezone"] = zone_name
    with _session() as session:
        try:
            made = update_team(session, find_team(session, team_name), changes)
        except (ValidationError, Conflict, NotFound) as exc:
            raise click.ClickException(str(exc)) from None
        domain = made.inbound_domain or "none"
        click.echo(
            f"updated team {made.name} (id {made.id}): inbound domain {domain}, "
            f"time zone {made.timezone}"
        )


@team.command("list")
@_clean_errors
def team_list() -> None:
    """List the teams with their number of users and managers."""
    from sequences.workspace import list_teams

    with _session() as session:
        rows = list_teams(session)
        for row in rows:
            domain = f"  inbound {row.team.inbound_domain}" if row.team.inbound_domain else ""
            click.echo(
                f"{row.team.id:>4}  {row.team.name:30}  {row.users} user(s), "
                f"{row.managers} manager(s)  {row.team.timezone}{domain}"
            )
        click.echo(f"{len(rows)} team(s)")


@main.group(name="api-key")
def api_key() -> None:
    """API keys."""


@api_key.command("create")
@click.option("--user", "email", required=True, help="The user's email.")
@click.option("--name", default="", help="A label for the key.")
@_clean_errors
def api_key_create(email: str, name: str) -> None:
    """Create an API key; the key is printed alone on the last line."""
    from sqlalchemy import select

    from sequences.clock import SystemClock
    from sequences.models import User
    from sequences.workspace import create_api_key

    with _session() as session:
        found = session.scalar(select(User).where(User.email == email.strip()))
        if found is None:
            raise click.ClickException(f"no user with email {email}")
        key = create_api_key(session, found, SystemClock().now(), name)
        click.echo(f"API key for {found.email} (shown once, store it now):")
        click.echo(key)


class _session:
    """A session on FOLLOWUP_DATABASE_URL for one CLI command, committed at the end."""

    def __enter__(self) -> Any:
        from sequences import vault
        from sequences.db import make_sessionmaker, null_pool_engine

        settings = _settings()
        self.engine = null_pool_engine(settings.database_url)
        # The secret columns encrypt and decrypt through the configured key.
        vault.install(vault.vault_for(settings))
        vault.startup(self.engine, vault.current())
        self.session = make_sessionmaker(self.engine)()
        return self.session

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.session.commit()
        else:
            self.session.rollback()
        self.session.close()
        self.engine.dispose()


from . import sequences as cli_sequences  # noqa: E402  (its commands join the group)

main.add_command(cli_sequences.sequence)
main.add_command(cli_sequences.enroll)
from . import inbound as cli_inbound  # noqa: E402

main.add_command(cli_inbound.inbound)
main.add_command(cli_inbound.imap_poll)
from . import digest as cli_digest  # noqa: E402

main.add_command(cli_digest.digest)
from . import spool as cli_spool  # noqa: E402

main.add_command(cli_spool.spool)
from . import dkim as cli_dkim  # noqa: E402

main.add_command(cli_dkim.dkim)
from . import verdicts as cli_verdicts  # noqa: E402

main.add_command(cli_verdicts.verdicts)
from . import lead_statuses as cli_lead_statuses  # noqa: E402,F401  (adds to `leads`)
from . import leads_pool as cli_leads_pool  # noqa: E402

main.add_command(cli_leads_pool.leads)
from . import vault as cli_vault  # noqa: E402

main.add_command(cli_vault.secrets)

if __name__ == "__main__":
    main()
