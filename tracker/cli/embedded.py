"""`followup run`: the web app, a Dramatiq worker, the scheduler and an SMTP sink in one process."""

from __future__ import annotations

import logging
import secrets
import signal
import sys
import threading
from functools import partial
from pathlib import Path

import click
from sqlalchemy import select
from werkzeug.serving import make_server

from sequences import runtime
from sequences.config import Settings

log = logging.getLogger(__name__)


def _first_user(rt: runtime.Runtime) -> tuple[str, str] | None:
    """On an empty database, create a first manager; return its password and an API key."""
    from sequences.db import session_scope
    from sequences.models import User
    from sequences.workspace import create_api_key, create_user

    with session_scope(rt.sessions) as session:
        if session.scalar(select(User.id).limit(1)) is not None:
            return None
        password = secrets.token_urlsafe(12)
        user = create_user(
            session, "admin@example.com", name="Admin", password=password, manager=True
        )
        user.is_admin = True  # the install's admin too: it can create the second team
        return password, create_api_key(session, user, rt.clock.now(), "created by followup run")


def _command_name() -> str:
    """How to call `followup` from here: .venv/bin/followup after `make run`."""
    script = Path(sys.argv[0])
    try:
        return str(script.resolve().relative_to(Path.cwd()))
    except ValueError:
        return "followup"


def run_all(
    settings: Settings, host: str, port: int, *, sink: bool = True, inbound_port: int = 2525
) -> None:
    import dramatiq

    from sequences.migrate import upgrade
    from sequences.scheduler import run_forever
    from sequences.sending import start_sink, was_delivered

    from ..app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if inbound_port and settings.inbound_tls_cert and settings.inbound_tls_key:
        from sequences.inbound import load_tls_context

        # A bad certificate/key pair stops us here, in one line, before any thread starts.
        load_tls_context(settings.inbound_tls_cert, settings.inbound_tls_key)
    upgrade(settings.database_url)
    rt = runtime.build(settings)
    runtime.install(rt)

    controller = None
    if sink:
        controller = start_sink(settings.sink_dir, settings.smtp.host, settings.smtp.port)
        # The sink is ours, so it can tell whether a message reached it after a crash mid-send.
        rt.extras["delivery_probe"] = partial(was_delivered, settings.sink_dir)

    from sequences.actors import enqueue_steps
    from sequences.broker import broker

    worker = dramatiq.Worker(broker, worker_threads=2)
    worker.start()
    stop = threading.Event()
    scheduler = threading.Thread(target=run_forever, args=(rt, enqueue_steps, stop), daemon=True)
    scheduler.start()
    inbound = None
    if inbound_port:
        from sequences.inbound import run_forever as poll_forever
        from sequences.inbound import start_inbound

        # Replies and bounces: by SMTP here, and from any mailbox with an IMAP URL.
        inbound = start_inbound(rt, "127.0.0.1", inbound_port)
        if inbound.tls_context is not None:
            reload = inbound.reload_tls
            signal.signal(signal.SIGHUP, lambda *_: reload())
        threading.Thread(target=poll_forever, args=(rt, stop), daemon=True).start()

    app = create_app({"RUNTIME": rt})
    server = make_server(host, port, app, threaded=True)
    first = _first_user(rt)
    cli = _command_name()

    click.echo("")
    click.echo(f"  Followup is running: http://{host}:{port}/")
    click.echo(f"  Database:   {settings.database_url}")
    if controller is not None:
        click.echo(
            f"  Mail sink:  smtp://{settings.smtp.host}:{settings.smtp.port}, captured mail in {settings.sink_dir}"
        )
        click.echo(f"              list it with: {cli} sink list")
    else:
        click.echo(f"  Mail goes to smtp://{settings.smtp.host}:{settings.smtp.port}")
    if inbound is not None:
        click.echo(f"  Inbound:    smtp://127.0.0.1:{inbound_port} takes replies and bounces")
    if first:
        password, key = first
        click.echo(f"  First user: admin@example.com (manager, admin), password {password}")
        click.echo("  API key, shown once:")
        click.echo(f"              {key}")
    else:
        click.echo(f"  API key:    {cli} api-key create --user <email>")
    click.echo("  Stop with Ctrl-C.")
    click.echo("")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        worker.stop()
        if inbound is not None:
            inbound.stop()
        if controller is not None:
            controller.stop()
        rt.dispose()
