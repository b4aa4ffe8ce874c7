"""Secrets at rest: Fernet encryption of the credentials the database holds, keyed apart.

The database keeps IMAP and SMTP passwords (inside mailboxes' URLs) and webhook signing
secrets. They are stored as ``fernet:<token>`` under FOLLOWUP_ENCRYPTION_KEY, a comma-separated
list of Fernet keys: the first encrypts, every one decrypts (cryptography's MultiFernet), so a
new key can be put first while rows written under the old one still read.

The columns that hold secrets use `models.EncryptedText`, which seals on write and opens on
read through the vault installed here by `runtime.build` (and the CLI's sessions), so no code
path can store one in clear by forgetting a call. A value without the prefix is a row written
before encryption existed: it reads as it is, and `seal_clear` (run by the migration and at
start) encrypts it.

Named `vault`, not `secrets`, so it never shadows the standard library's `secrets` module.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from .config import ConfigError, Settings, parse_encryption_keys
from .logs import register_stored_secret

SETTING = "FOLLOWUP_ENCRYPTION_KEY"
PREFIX = "fernet:"
KEY_FILE = "encryption.key"

# Every column that holds a secret: (table, primary key, column, what it is in an operator's words).
SECRET_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("mailboxes", "id", "imap_url", "mailbox {id}'s IMAP URL"),
    ("mailboxes", "id", "smtp_url", "mailbox {id}'s SMTP URL"),
    ("webhooks", "id", "secret", "webhook {id}'s signing secret"),
)


class UndecryptableSecret(ConfigError):
    """A stored secret does not open with any configured key (the key was changed or lost)."""


class NoEncryptionKey(ConfigError):
    """A secret must be written or read, and no key is configured (production without it)."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


@dataclass(frozen=True)
class Vault:
    """Encrypts under the first key, decrypts under any; pure (no database, no globals)."""

    keys: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigError(f"{SETTING}: empty")

    def __repr__(self) -> str:  # never print a key, even in a traceback's locals
        return f"Vault({len(self.keys)} key(s))"

    @property
    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(k) for k in self.keys])

    def encrypt(self, plain: str) -> str:
        return PREFIX + self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        """The clear text of a sealed value; a value without the prefix is returned as it is."""
        if not is_sealed(stored):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise UndecryptableSecret(
                f"{SETTING}: a stored secret does not decrypt with the configured key(s); "
                "set the key it was encrypted with (list the old key after a new one)"
            ) from None

    def rotate(self, stored: str) -> str:
        """The value re-encrypted under the first key (a clear value is encrypted)."""
        return self.encrypt(self.decrypt(stored))


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


_lock = threading.Lock()
_current: Vault | None = None


def install(vault: Vault | None) -> Vault | None:
    """Make `vault` the one the secret columns use; return the previous one."""
    global _current
    with _lock:
        previous, _current = _current, vault
    return previous


def current() -> Vault | None:
    return _current


def _required() -> Vault:
    vault = _current
    if vault is None:
        raise NoEncryptionKey(
            f"{SETTING}: not set, so secrets (mailbox passwords, webhook secrets) cannot be "
            "stored or read; set it (make one with `followup secrets generate-key`)"
        )
    return vault


def seal(plain: str) -> str:
    """What a secret column stores for `plain` (used by models.EncryptedText)."""
    register_stored_secret(plain)  # never logged, from the moment it is stored
    return _required().encrypt(plain)


def unseal(stored: str) -> str:
    """The clear text of what a secret column stores (used by models.EncryptedText)."""
    if not is_sealed(stored):
        return stored
    plain = _required().decrypt(stored)
    register_stored_secret(plain)  # never logged, even inside an error line that quotes it
    return plain


def _key_file(settings: Settings) -> Vault:
    """Embedded mode without a key: one generated once into the instance folder (mode 0600)."""
    path = Path(settings.instance_path) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two processes starting together agree on the one key that won.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(generate_key() + "\n")
    try:
        raw = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"{SETTING}: not set, and {path} cannot be read: {exc.strerror}"
        ) from None
    try:
        return Vault(parse_encryption_keys(raw))
    except ConfigError:
        raise ConfigError(
            f"{SETTING}: not set, and {path} does not hold a Fernet key; "
            "restore it or set FOLLOWUP_ENCRYPTION_KEY"
        ) from None


def vault_for(settings: Settings) -> Vault | None:
    """The configured keys; in embedded mode a key file; in production without a key, None."""
    if settings.encryption_keys:
        return Vault(settings.encryption_keys)
    if settings.production:
        return None
    return _key_file(settings)


def _stored(conn: Connection) -> Iterable[tuple[str, str, str, int, str]]:
    """Every stored secret: (table, key column, column, row id, stored value)."""
    for table, pk, column, _ in SECRET_COLUMNS:
        rows = conn.execute(
            text(f"SELECT {pk}, {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY {pk}")
        )
        for row_id, value in rows:
            yield table, pk, column, int(row_id), str(value)


def _describe(table: str, column: str, row_id: int) -> str:
    for t, _, c, words in SECRET_COLUMNS:
        if (t, c) == (table, column):
            return words.format(id=row_id)
    return f"{table}.{column} of row {row_id}"


def check(conn: Connection, vault: Vault | None) -> int:
    """Refuse to start when stored secrets cannot be read; return how many were checked.

    Every sealed value must decrypt with one of the keys: a wrong key fails here, in one
    line naming the setting, not later as garbage in an IMAP login or a webhook signature.
    """
    count = 0
    for table, _, column, row_id, value in _stored(conn):
        count += 1
        if vault is None:
            raise NoEncryptionKey(
                f"{SETTING}: required in production (FOLLOWUP_PRODUCTION=true) because the "
                "database holds secrets (mailbox passwords, webhook secrets); set the key "
                "they were encrypted with"
            )
        try:
            vault.decrypt(value)
        except UndecryptableSecret:
            raise UndecryptableSecret(
                f"{SETTING}: cannot decrypt {_describe(table, column, row_id)} with the "
                "configured key(s); set the key it was encrypted with (list the old key "
                "after a new one)"
            ) from None
    return count


def reseal(conn: Connection, vault: Vault, *, only_clear: bool) -> int:
    """Encrypt clear values (only_clear) or re-encrypt every value under the first key.

    Each row is updated only if it still holds what was read, so a secret changed meanwhile
    by the app is never overwritten with the old one.
    """
    changed = 0
    for table, pk, column, row_id, value in list(_stored(conn)):
        if only_clear and is_sealed(value):
            continue
        new = vault.rotate(value)
        result = conn.execute(
            text(f"UPDATE {table} SET {column} = :new WHERE {pk} = :id AND {column} = :old"),
            {"new": new, "id": row_id, "old": value},
        )
        changed += result.rowcount
    return changed


def seal_clear(conn: Connection, vault: Vault | Callable[[], Vault | None] | None) -> int:
    """Encrypt every secret still stored in clear (rows from before encryption).

    `vault` may be a function, called only when there is something to encrypt (the migration
    looks for a key only then, so migrating an empty database never needs one).
    """
    clear = [v for *_, v in _stored(conn) if not is_sealed(v)]
    if not clear:
        return 0
    if callable(vault):
        vault = vault()
    if vault is None:
        raise NoEncryptionKey(
            f"{SETTING}: required in production (FOLLOWUP_PRODUCTION=true) to encrypt the "
            "secrets stored in clear; set it (make one with `followup secrets generate-key`)"
        )
    return reseal(conn, vault, only_clear=True)


def startup(engine: Engine, vault: Vault | None) -> None:
    """At start: encrypt what is left in clear, then check every secret opens.

    A database whose schema is not there yet is left to the command that reports it.
    """
    try:
        with engine.begin() as conn:
            seal_clear(conn, vault)
            check(conn, vault)
    except (OperationalError, ProgrammingError):
        return


def rotate_all(engine: Engine, vault: Vault) -> int:
    """`followup secrets rotate`: every secret re-encrypted under the first key."""
    with engine.begin() as conn:
        check(conn, vault)
        return reseal(conn, vault, only_clear=False)
