"""`followup digest`: send the daily digest now (for cron, or to try it), or preview one."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sequences.runtime import Runtime


def _runtime() -> Runtime:
    from sequences import runtime
    from sequences.config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    return runtime.build(settings)


@click.group()
def digest() -> None:
    """The daily email digest: yesterday's engaged prospects and today's tasks."""


@digest.command("send")
@click.option("--user", "email", default=None, help="Only this user (by email).")
@click.option("--force", is_flag=True, help="Send even if disabled, empty or already sent today.")
def digest_send(email: str | None, force: bool) -> None:
    """Send today's digest to every opted-in user who has not had it (or to one user)."""
    from sqlalchemy import select

    from sequences.models import User
    from sequences.workspace import due_users, send_digest

    rt = _runtime()
    try:
        with rt.sessions() as session:
            if email is not None:
                user_id = session.scalar(select(User.id).where(User.email == email.strip()))
                if user_id is None:
                    raise click.ClickException(f"no user with email {email}")
                ids = [user_id]
            else:
                ids = due_users(session, rt.clock.now())
        failed = 0
        for user_id in ids:
            try:
                outcome = send_digest(rt, user_id, force=force)
            except Exception as exc:  # one user's SMTP trouble does not stop the others
                outcome, failed = f"failed: {exc}", failed + 1
            click.echo(f"user {user_id}: {outcome}")
        click.echo(f"{len(ids)} user(s) considered, {failed} failed")
        if failed:
            sys.exit(1)
    finally:
        rt.dispose()


@digest.command("preview")
@click.option("--user", "email", required=True, help="The user (by email).")
@click.option("--html", is_flag=True, help="Print the HTML part instead of the text.")
def digest_preview(email: str, html: bool) -> None:
    """Print the digest a user would get now, without sending it."""
    from sqlalchemy import select

    from sequences.models import User
    from sequences.workspace import collect, digest_zone, local_day, render, setting_for

    rt = _runtime()
    try:
        with rt.sessions() as session:
            user = session.scalar(select(User).where(User.email == email.strip()))
            if user is None:
                raise click.ClickException(f"no user with email {email}")
            tz = digest_zone(setting_for(session, user.id), user)
            found = collect(session, user, local_day(rt.clock.now(), tz), tz)
            subject, text, page = render(found, rt.settings.base_url, tz)
        click.echo(f"Subject: {subject}\n")
        click.echo(page if html else text)
    finally:
        rt.dispose()
