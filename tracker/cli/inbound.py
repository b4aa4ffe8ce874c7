"""`followup inbound` (the inbound SMTP server) and `followup imap-poll` (reps' own inboxes)."""

from __future__ import annotations

import signal
import sys
import threading

import click

from sequences import logs
from sequences.config import ConfigError, load_settings


def _runtime() -> object:
    from sequences import runtime

    try:
        rt = runtime.build(load_settings())
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    runtime.install(rt)
    return rt


def _stop_event() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2525, show_default=True, type=int)
@click.option(
    "--domain",
    "domains",
    multiple=True,
    help="Accept mail for this domain (repeatable; default FOLLOWUP_MAIL_DOMAIN).",
)
def inbound(host: str, port: int, domains: tuple[str, ...]) -> None:
    """Receive replies and bounces by SMTP (point an MX or a forwarding rule here)."""
    from sequences.inbound import start_inbound
    from sequences.runtime import Runtime

    from ..ports import Listener, PortUnavailable, describe, unavailable
    from .common import choose_port, given

    listener = Listener("the inbound SMTP server", host, port, "--port", given("port"))
    try:
        port = choose_port(listener).port
    except PortUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    rt = _runtime()
    assert isinstance(rt, Runtime)
    accepted = domains or (rt.settings.mail_domain,)
    try:
        controller = start_inbound(rt, host, port, accepted)
    except OSError as exc:  # taken between the check and the bind
        click.echo(f"error: {unavailable(listener, port, describe(exc))}", err=True)
        sys.exit(2)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        rt.dispose()
        sys.exit(2)
    tls = ""
    if controller.tls_context is not None:
        tls = ", STARTTLS required" if rt.settings.inbound_require_tls else ", STARTTLS offered"

        # A renewed certificate (certbot's deploy hook sends SIGHUP): new connections use it,
        # the listener and the sessions in flight are untouched.
        def reload(*_: object) -> None:
            if controller.reload_tls():
                logs.say("inbound: TLS certificate reloaded for new connections")
            else:
                logs.say("inbound: the new certificate did not load; kept the old")

        signal.signal(signal.SIGHUP, reload)
    logs.say(f"inbound: listening on {host}:{port} for {', '.join(accepted)}{tls}")
    _stop_event().wait()
    controller.stop()
    rt.dispose()


@click.command("imap-poll")
@click.option(
    "--interval", default=60.0, show_default=True, type=float, help="Seconds between passes."
)
@click.option("--once", is_flag=True, help="One pass over every mailbox, then exit.")
@click.option("--mailbox", "mailbox_id", type=int, help="With --url: set a mailbox's IMAP URL.")
@click.option("--url", help="imaps://user:password@host:993/INBOX (?cafile=/path/ca.pem)")
def imap_poll(interval: float, once: bool, mailbox_id: int | None, url: str | None) -> None:
    """Read new mail from every mailbox's IMAP inbox (read-only) and act on replies."""
    from sequences.inbound import parse_imap_url, poll_all, run_forever
    from sequences.models import Mailbox
    from sequences.runtime import Runtime

    rt = _runtime()
    assert isinstance(rt, Runtime)
    if mailbox_id is not None or url is not None:
        if mailbox_id is None or url is None:
            raise click.UsageError("--mailbox and --url go together")
        try:
            parse_imap_url(url)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        with rt.sessions.begin() as session:
            mailbox = session.get(Mailbox, mailbox_id)
            if mailbox is None:
                raise click.ClickException(f"no mailbox with id {mailbox_id}")
            mailbox.imap_url = url  # encrypted at rest (models.EncryptedText)
            mailbox.credentials_changed_at = rt.clock.now()
        click.echo(f"mailbox {mailbox_id}: IMAP polling set")
        return
    if once:
        for box, result in poll_all(rt).items():
            click.echo(f"mailbox {box}: {result}")
        return
    logs.say(f"imap-poll: every {interval}s")
    run_forever(rt, _stop_event(), interval)
    rt.dispose()
