"""The request's database session and the runtime behind it."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from sequences.runtime import Runtime


def rt() -> Runtime:
    runtime: Runtime = current_app.extensions["followup"]
    return runtime


def db() -> Session:
    """One session per request, closed at teardown."""
    if "db" not in g:
        g.db = rt().sessions()
    session: Session = g.db
    return session


def _close(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
