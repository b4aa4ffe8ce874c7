"""`followup run`: the web app, a Dramatiq worker, the scheduler and an SMTP sink in one process."""

from __future__ import annotations

import logging
import secrets
import signal
import sys
import threading
from dataclasses import replace
from functools import partial
from pathlib import Path

import click
from sqlalchemy import select
from werkzeug.serving import make_server

from sequences import logs, runtime
from sequences.config import Settings, demo_sender

from .. import ports

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


def _listeners(
    settings: Settings,
    host: str,
    port: int,
    *,
    sink: bool,
    inbound_port: int,
    port_given: bool,
    inbound_given: bool,
) -> list[ports.Listener]:
    web = ports.Listener("the web app", host, port, "--port", port_given)
    wanted = [web]
    if sink:
        wanted.append(
            ports.Listener(
                "the mail sink",
                settings.smtp.host,
                settings.smtp.port,
                "FOLLOWUP_SMTP_URL",
                "FOLLOWUP_SMTP_URL" in settings.given,
                # Often Mailpit or MailHog: mail can go to it instead of our sink.
                "pass --no-sink to send to the SMTP server already listening there",
            )
        )
    if inbound_port:
        wanted.append(
            ports.Listener(
                "the inbound SMTP server",
                "127.0.0.1",
                inbound_port,
                "--inbound-port",
                inbound_given,
                "pass --inbound-port 0 to run without it",
            )
        )
    return wanted


def banner(
    settings: Settings,
    url: str,
    *,
    sink: bool,
    inbound_port: int | None,
    first: tuple[str, str] | None,
    cli: str,
    notes: list[str],
) -> list[str]:
    """What `followup run` prints once started: the URLs and ports, how to sign in, the API
    key, where mail goes and from which address; nothing else."""
    sender = demo_sender(settings)
    source = (
        f"from the demo address {sender} (set FOLLOWUP_FROM_EMAIL)"
        if sender
        else f"from {settings.default_from_email}"
    )
    smtp = f"smtp://{settings.smtp.host}:{settings.smtp.port}"
    lines = ["", f"  Followup is running: {url}"]
    if first:
        password, key = first
        lines.append(f"  Sign in:    admin@example.com, password {password}")
        lines += ["  API key, shown once:", f"              {key}"]
    else:
        lines.append(f"  API key:    {cli} api-key create --user <email>")
    if sink:
        lines.append(f"  Mail sink:  {smtp} keeps every message, none is delivered;")
        lines.append(f"              mail goes there {source}")
    else:
        lines.append(f"  Mail goes to {smtp}, {source}")
    if inbound_port:
        lines.append(f"  Inbound:    smtp://127.0.0.1:{inbound_port} takes replies and bounces")
    lines += [f"  Note:       {note}" for note in notes]
    return [*lines, "  Stop with Ctrl-C.", ""]


def _not_ready(environ: object, start_response: object) -> list[bytes]:
    raise RuntimeError("the web app is not ready yet")  # never reached: replaced before serving


def _serve_metrics(rt: runtime.Runtime, bind: tuple[str, int]) -> None:
    """FOLLOWUP_METRICS_BIND in one process: prometheus_client's own listener, in a thread."""
    from prometheus_client import start_http_server

    from sequences.metrics import scrape_registry

    host, port = bind
    registry = scrape_registry(rt.sessions, rt.settings.instance_path / "spool", rt.clock.now)
    try:
        start_http_server(port, host, registry)
    except OSError as exc:
        listener = ports.Listener("the metrics listener", host, port, "FOLLOWUP_METRICS_BIND", True)
        raise ports.unavailable(listener, port, ports.describe(exc)) from None
    logs.say(f"metrics: http://{host}:{port}/metrics (admin listener, no token)")


def run_all(
    settings: Settings,
    host: str,
    port: int,
    *,
    sink: bool = True,
    inbound_port: int = 2525,
    port_given: bool = True,
    inbound_given: bool = True,
) -> None:
    """Start everything; a busy port given by the user raises ports.PortUnavailable."""
    import dramatiq

    from sequences.migrate import upgrade
    from sequences.scheduler import run_forever
    from sequences.sending import start_sink, was_delivered

    from ..app import create_app

    chosen = ports.choose_all(
        _listeners(
            settings,
            host,
            port,
            sink=sink,
            inbound_port=inbound_port,
            port_given=port_given,
            inbound_given=inbound_given,
        )
    )
    by_role = {c.listener.role: c for c in chosen}
    port = by_role["the web app"].port
    if by_role["the web app"].moved and "FOLLOWUP_BASE_URL" not in settings.given:
        # Links in mail must reach this server; a base URL the user set (a proxy) is kept.
        settings = replace(settings, base_url=f"http://{host}:{port}")
    if sink:
        smtp_port = by_role["the mail sink"].port
        settings = replace(settings, smtp=replace(settings.smtp, port=smtp_port))
    if inbound_port:
        inbound_port = by_role["the inbound SMTP server"].port
    # Bind the web port and the sink now, before the migrations: what was free a moment ago is
    # ours from here on, and a lost race is the same one line as a busy port.
    try:
        server = make_server(host, port, _not_ready, threaded=True)
    except SystemExit:  # werkzeug has printed why; say it our way too
        raise ports.unavailable(chosen[0].listener, port, "already in use") from None
    controller = None
    if sink:
        try:
            controller = start_sink(settings.sink_dir, settings.smtp.host, settings.smtp.port)
        except OSError as exc:
            server.server_close()
            raise ports.unavailable(
                by_role["the mail sink"].listener, settings.smtp.port, ports.describe(exc)
            ) from None

    if inbound_port and settings.inbound_tls_cert and settings.inbound_tls_key:
        from sequences.inbound import load_tls_context

        # A bad certificate/key pair stops us here, in one line, before any thread starts.
        load_tls_context(settings.inbound_tls_cert, settings.inbound_tls_key)
    upgrade(settings.database_url)
    rt = runtime.build(settings)
    runtime.install(rt)
    if controller is not None:
        # The sink is ours, so it can tell whether a message reached it after a crash mid-send.
        rt.extras["delivery_probe"] = partial(was_delivered, settings.sink_dir)

    if settings.metrics_bind:
        _serve_metrics(rt, settings.metrics_bind)

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
        try:
            inbound = start_inbound(rt, "127.0.0.1", inbound_port)
        except OSError as exc:
            stop.set()
            worker.stop()
            server.server_close()
            if controller is not None:
                controller.stop()
            raise ports.unavailable(
                by_role["the inbound SMTP server"].listener, inbound_port, ports.describe(exc)
            ) from None
        if inbound.tls_context is not None:
            reload = inbound.reload_tls
            signal.signal(signal.SIGHUP, lambda *_: reload())
        threading.Thread(target=poll_forever, args=(rt, stop), daemon=True).start()

    server.app = create_app({"RUNTIME": rt})
    first = _first_user(rt)

    for line in banner(
        settings,
        f"http://{host}:{port}/",
        sink=controller is not None,
        inbound_port=inbound_port if inbound is not None else None,
        first=first,
        cli=_command_name(),
        notes=[c.note() for c in chosen if c.moved],
    ):
        click.echo(line)
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
