"""`followup secrets`: make an encryption key, check the stored secrets open, rotate them."""

from __future__ import annotations

import click
from sqlalchemy import Engine

from sequences.config import ConfigError
from sequences.db import null_pool_engine
from sequences.vault import NoEncryptionKey, Vault, rotate_all, vault_for
from sequences.vault import check as check_all
from sequences.vault import generate_key as make_key

from .common import clean_errors as _clean_errors
from .common import fail as _fail
from .common import settings as _settings


@click.group()
def secrets() -> None:
    """Secrets at rest (mailbox passwords, webhook signing secrets) under FOLLOWUP_ENCRYPTION_KEY."""


@secrets.command("generate-key")
def generate_key() -> None:
    """Print a new Fernet key for FOLLOWUP_ENCRYPTION_KEY (nothing is stored)."""
    click.echo(make_key())


def _engine_and_vault() -> tuple[Engine, Vault | None]:
    settings = _settings()
    try:
        vault = vault_for(settings)
    except ConfigError as exc:
        _fail(exc)
    return null_pool_engine(settings.database_url), vault


@secrets.command("check")
@_clean_errors
def check() -> None:
    """Check that every stored secret decrypts with the configured key(s)."""
    engine, vault = _engine_and_vault()
    try:
        with engine.connect() as conn:
            count = check_all(conn, vault)
    finally:
        engine.dispose()
    click.echo(f"{count} stored secret(s) decrypt with FOLLOWUP_ENCRYPTION_KEY")


@secrets.command("rotate")
@_clean_errors
def rotate() -> None:
    """Re-encrypt every stored secret under the first key of FOLLOWUP_ENCRYPTION_KEY.

    Put the new key first and keep the old one after it, run this, then remove the old one.
    """
    engine, vault = _engine_and_vault()
    try:
        if vault is None:
            raise NoEncryptionKey("FOLLOWUP_ENCRYPTION_KEY: not set; there is no key to rotate to")
        count = rotate_all(engine, vault)
    finally:
        engine.dispose()
    click.echo(
        f"re-encrypted {count} secret(s) under the first key of FOLLOWUP_ENCRYPTION_KEY; "
        "the other keys can now be removed"
    )
