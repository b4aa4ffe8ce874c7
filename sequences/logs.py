"""One logging setup for every process: text or JSON lines, ids from context, secrets masked.

Why the standard library and not structlog: every line we care about already goes through
`logging` (our modules, Dramatiq, gunicorn, aiosmtpd, SQLAlchemy), structlog is not a dependency,
and a 40-line JSON formatter on the stdlib handler covers all of them with one code path. Ids
(request, enrollment, message, prospect) come from a contextvar that `bound(...)` sets around a
request, an actor or an inbound message, so call sites keep their plain `log.info(...)`.

Nothing happens at import: each entry point (the CLI, gunicorn's logger class, the worker
command) calls `configure(process)` once. Every formatted line, JSON or text, passes `mask`:
email addresses become `j***@example.com`, URL passwords, bearer tokens and API keys `***`, and
so does every value given to `register_secret` (the settings' keys, decrypted mailbox passwords).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO

from .config import ConfigError, Settings

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")

_NONE: Mapping[str, Any] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "followup_log_context", default=_NONE
)
_secrets: set[str] = set()
_lock = threading.Lock()
_process = "followup"
_format = "text"

_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]*):[^@/\s]+@", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[^\s\"',]+", re.IGNORECASE)
_API_KEY = re.compile(r"\b(fu_[0-9a-f]{12}_)[A-Za-z0-9_-]+")
_EMAIL = re.compile(
    r"(?<![\w.%+-])([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
)


def register_secret(value: str | None) -> None:
    """Never log `value` (too short a value would mask ordinary words, so those are skipped)."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def register_stored_secret(plain: str) -> None:
    """A decrypted secret column: a URL's password (mailbox SMTP/IMAP), or the whole value."""
    from urllib.parse import unquote, urlsplit

    try:
        password = urlsplit(plain).password if "://" in plain else None
    except ValueError:
        password = None
    if password:
        register_secret(password)
        register_secret(unquote(password))
    else:
        register_secret(plain)


def register_settings(settings: Settings) -> None:
    """The settings' secrets: signing and encryption keys, the metrics token, the SMTP password."""
    for value in (*settings.secret_keys, *settings.encryption_keys):
        register_secret(value)
    register_secret(settings.metrics_token)
    register_secret(settings.smtp.password)


def mask(text: str) -> str:
    """The text with secrets and email addresses masked."""
    if _secrets:
        for secret in sorted(_secrets, key=len, reverse=True):  # longest first: no partial leaks
            if secret in text:
                text = text.replace(secret, "***")
    text = _URL_PASSWORD.sub(r"\1:***@", text)
    text = _BEARER.sub(r"\1***", text)
    text = _API_KEY.sub(r"\1***", text)
    return _EMAIL.sub(r"\1***@\2", text)


def bind(**ids: Any) -> contextvars.Token[Mapping[str, Any]]:
    """Add ids to every line logged from this context until `reset(token)`."""
    return _context.set({**_context.get(), **{k: v for k, v in ids.items() if v is not None}})


def reset(token: contextvars.Token[Mapping[str, Any]]) -> None:
    _context.reset(token)


@contextmanager
def bound(**ids: Any) -> Iterator[None]:
    """`with bound(enrollment_id=5): ...`: those ids on every line logged inside."""
    token = bind(**ids)
    try:
        yield
    finally:
        _context.reset(token)


def context() -> dict[str, Any]:
    """The ids bound in this context."""
    return dict(_context.get())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, process, pid, msg, the bound ids, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "process": _process,
            "pid": record.process,
            "msg": mask(record.getMessage()),
        }
        for key, value in _context.get().items():
            line[key] = mask(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exc"] = mask(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exc"] = mask(record.exc_text)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`2026-12-07 11:02:03,123 INFO sequences.scheduler [enrollment_id=5] the message`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = _context.get()
        if ids:
            head, _, rest = text.partition(f" {record.name} ")
            tags = " ".join(f"{k}={v}" for k, v in ids.items())
            text = f"{head} {record.name} [{tags}] {rest}"
        return mask(text)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the sys.stderr of the moment (Dramatiq's workers and test runners replace it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def read_format(env: Mapping[str, str], default_level: str = "info") -> tuple[str, int]:
    """FOLLOWUP_LOG_FORMAT and FOLLOWUP_LOG_LEVEL; a bad value is a ConfigError naming it."""
    fmt = (env.get("FOLLOWUP_LOG_FORMAT") or "text").strip().lower()
    if fmt not in FORMATS:
        raise ConfigError(f"FOLLOWUP_LOG_FORMAT: expected one of text, json, got {fmt!r}")
    level = (env.get("FOLLOWUP_LOG_LEVEL") or default_level).strip().lower()
    if level not in LEVELS:
        raise ConfigError(f"FOLLOWUP_LOG_LEVEL: expected one of {', '.join(LEVELS)}, got {level!r}")
    return fmt, getattr(logging, level.upper())


def handler(env: Mapping[str, str] | None = None) -> logging.Handler:
    """A stderr handler with the configured formatter (gunicorn's loggers get one too)."""
    fmt, _ = read_format(os.environ if env is None else env)
    made = _StderrHandler()
    made.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    made.set_name("followup")
    return made


def configure(
    process: str, env: Mapping[str, str] | None = None, default_level: str = "info"
) -> None:
    """Send every logger's lines to stderr in the configured format; safe to call again.

    `default_level` applies when FOLLOWUP_LOG_LEVEL is unset: one-shot commands pass "warning",
    so their output stays what they print.
    """
    global _process, _format
    env = os.environ if env is None else env
    _format, level = read_format(env, default_level)
    _process = process
    for name in ("FOLLOWUP_SECRET_KEY", "FOLLOWUP_ENCRYPTION_KEY", "FOLLOWUP_METRICS_TOKEN"):
        for value in (env.get(name) or "").split(","):
            register_secret(value.strip())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "followup"]:
        root.removeHandler(old)  # ours from an earlier call; other handlers (pytest's) stay
    root.addHandler(handler(env))
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is a line in the same format
    # Libraries that say too much at INFO: one line per SQL statement or Redis command.
    for noisy in ("sqlalchemy.engine", "urllib3", "mail.log", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def say(text: str) -> None:
    """A service's status line (listening on..., ticking every...): plain on stderr, or, with
    FOLLOWUP_LOG_FORMAT=json, a JSON line like the rest, so a log shipper reads every line."""
    if _format == "json":
        logging.getLogger("followup").info("%s", text)
    else:
        print(mask(text), file=sys.stderr, flush=True)


def adopt(*loggers: logging.Logger) -> None:
    """Give loggers that do not propagate (gunicorn's) the configured handler instead of theirs."""
    for logger in loggers:
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler())
