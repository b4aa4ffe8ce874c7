"""`followup dkim keygen` (a signing key and its DNS record) and `followup dkim records`."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click

from sequences.config import ConfigError, load_settings

_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_DOMAIN = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")


def _record_lines(domain: str, selector: str, value: str) -> list[str]:
    """The TXT record as a zone-file line; long values split in 255-byte strings (RFC 4408)."""
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)]
    quoted = " ".join(f'"{chunk}"' for chunk in chunks)
    return [f"{selector}._domainkey.{domain}. IN TXT ( {quoted} )"]


@click.group()
def dkim() -> None:
    """DKIM signing keys for outgoing mail."""


@dkim.command()
@click.option("--domain", required=True, help="The domain of the From addresses it signs.")
@click.option("--selector", required=True, help="A name for this key, e.g. 2026a.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the private key (default <instance>/dkim/<domain>.<selector>.pem).",
)
@click.option("--bits", default=2048, show_default=True, type=click.IntRange(1024, 4096))
def keygen(domain: str, selector: str, out: Path | None, bits: int) -> None:
    """Write a new private key (mode 0600) and print the DNS TXT record to publish."""
    from sequences.sending import generate_key, public_record

    domain = domain.strip().lower().rstrip(".")
    if not _DOMAIN.match(domain):
        raise click.BadParameter(f"not a domain name: {domain!r}", param_hint="--domain")
    if not _SELECTOR.match(selector):
        raise click.BadParameter(
            "letters, digits, dots, dashes and underscores only", param_hint="--selector"
        )
    if out is None:
        try:
            instance = load_settings().instance_path
        except ConfigError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        out = instance / "dkim" / f"{domain}.{selector}.pem"
    if out.exists():
        raise click.ClickException(f"{out} exists; choose another --out or a new --selector")
    pem = generate_key(bits)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 from the start: the key is never readable by others, not even for a moment.
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    click.echo(f"private key written to {out} (mode 0600)")
    click.echo("publish this DNS TXT record, then add the key to FOLLOWUP_DKIM_KEYS:")
    click.echo("")
    for line in _record_lines(domain, selector, public_record(pem)):
        click.echo(line)
    click.echo("")
    click.echo(f"FOLLOWUP_DKIM_KEYS={domain}:{selector}:{out.resolve()}")


@dkim.command()
def records() -> None:
    """Print the DNS TXT record of every configured key (the signing one first per domain)."""
    from sequences.sending import public_record

    try:
        keys = load_settings().dkim_keys
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if not keys:
        click.echo("no DKIM keys configured (FOLLOWUP_DKIM_KEYS); mail is sent unsigned")
        return
    for key in keys:
        role = "signs" if key.signing else "published only (rotation)"
        click.echo(f"; {key.domain} selector {key.selector}: {role}")
        for line in _record_lines(key.domain, key.selector, public_record(key.pem)):
            click.echo(line)
