"""What every `followup` command shares: settings loaded or one error line, busy ports moved."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn, TypeVar

import click

from sequences import logs
from sequences.config import ConfigError, Settings, load_settings

from ..ports import Chosen, Listener, PortUnavailable, choose

F = TypeVar("F", bound=Callable[..., Any])


def settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def fail(exc: Exception, code: int = 2) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(code)


def clean_errors(func: F) -> F:
    """Configuration errors end the command with one line naming the variable."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            return func(*args, **kwargs)
        except (ConfigError, PortUnavailable) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except (OperationalError, ProgrammingError) as exc:
            reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
            click.echo(
                f"error: database not ready ({reason}); run `followup db upgrade` "
                "and check FOLLOWUP_DATABASE_URL",
                err=True,
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def given(name: str) -> bool:
    """Whether the current command's option `name` was given (flag or environment)."""
    source = click.get_current_context().get_parameter_source(name)
    return source not in (None, click.core.ParameterSource.DEFAULT)


def choose_port(listener: Listener) -> Chosen:
    """The port to listen on, said on stderr when a busy default moved (see tracker/ports.py)."""
    chosen = choose(listener)
    if chosen.moved:
        logs.say(f"note: {chosen.note()}")
    return chosen
