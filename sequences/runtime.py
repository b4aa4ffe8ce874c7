"""The process-wide wiring (settings, database, clock, SMTP) that entry points set up once."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .clock import Clock, SystemClock
from .config import Settings, load_settings
from .db import make_engine, make_sessionmaker
from .logs import register_settings
from .smtp import DkimSigner, SmtpTransport
from .vault import install as install_vault
from .vault import startup as vault_startup
from .vault import vault_for


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    transport: SmtpTransport
    extras: dict[str, object] = field(default_factory=dict)

    def dispose(self) -> None:
        self.transport.close()
        self.engine.dispose()


_lock = threading.Lock()
_current: Runtime | None = None


def build(settings: Settings | None = None, clock: Clock | None = None) -> Runtime:
    settings = settings or load_settings()
    register_settings(settings)  # its keys and passwords are masked in every log line
    engine = make_engine(settings.database_url)
    # The secret columns read through this vault; a key that cannot open them stops us here.
    vault = vault_for(settings)
    install_vault(vault)
    try:
        vault_startup(engine, vault)
    except BaseException:
        engine.dispose()
        raise
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        clock=clock or SystemClock(),
        transport=SmtpTransport(
            settings.smtp, signer=DkimSigner(settings.dkim_keys) if settings.dkim_keys else None
        ),
    )


def install(runtime: Runtime | None) -> Runtime | None:
    """Make `runtime` the one actors and the scheduler use; return the previous one."""
    global _current
    with _lock:
        previous, _current = _current, runtime
    return previous


def get() -> Runtime:
    """The installed runtime, built from the environment on first use (worker processes)."""
    global _current
    with _lock:
        if _current is None:
            _current = build()
        return _current
