"""Shared fixtures: settings, real databases, a real SMTP sink, the app, an in-process worker."""

from __future__ import annotations

import os

# The in-process broker must be chosen before sequences.broker is first imported.
for _name in [n for n in os.environ if n.startswith("FOLLOWUP_")]:
    del os.environ[_name]

import shutil
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from sequences import aftermath, runtime
from sequences.clock import FrozenClock
from sequences.config import Settings, load_settings
from sequences.migrate import upgrade
from sequences.models import Base
from sequences.sending.sink import StoredMessage, free_port, read_messages, start_sink
from sequences.workspace.accounts import create_api_key, create_user, default_team

CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "test-secret-key-0123456789abcdef"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip locally when a service is absent; fail the run in CI, where it must be there."""
    if _reachable(host, port):
        return
    if CI:
        pytest.fail(f"{name} is not reachable on {host}:{port} and CI=true requires it")
    pytest.skip(f"{name} not running on {host}:{port}")


@pytest.fixture(scope="session", autouse=True)
def _consequences_wired() -> None:
    """The test process is an entry point like the app and the CLI: it wires what follows an
    event (webhook outbox rows, lead statuses) before its first one."""
    aftermath.wire()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once keeps tests fast)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, migrated once, dropped at the end."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"followup_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """Each test that uses the database runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "followup.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    _truncate_postgres(url)
    return url


@dataclass
class Sink:
    host: str
    port: int
    dir: Path

    def messages(self) -> list[StoredMessage]:
        return read_messages(self.dir)


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[Sink]:
    """A real aiosmtpd server on a free port that stores what it receives."""
    directory = tmp_path / "sink"
    port = free_port()
    controller = start_sink(directory, "127.0.0.1", port)
    yield Sink("127.0.0.1", port, directory)
    controller.stop()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def make_env(database_url: str, smtp_port: int, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "FOLLOWUP_DATABASE_URL": database_url,
        "FOLLOWUP_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?timeout=10",
        "FOLLOWUP_BASE_URL": "http://track.example.test",
        "FOLLOWUP_SECRET_KEY": SECRET,
        "FOLLOWUP_INSTANCE_PATH": str(tmp_path / "instance"),
        "FOLLOWUP_MAIL_DOMAIN": "mail.example.test",
    }
    env.update(extra)
    return env


@pytest.fixture
def settings(database_url: str, smtp_sink: Sink, tmp_path: Path) -> Settings:
    return load_settings(make_env(database_url, smtp_sink.port, tmp_path))


@pytest.fixture
def rt(settings: Settings, clock: FrozenClock) -> Iterator[runtime.Runtime]:
    built = runtime.build(settings, clock)
    previous = runtime.install(built)
    yield built
    runtime.install(previous)
    built.dispose()


@pytest.fixture
def session(rt: runtime.Runtime) -> Iterator[Session]:
    s = rt.sessions()
    yield s
    s.close()


@pytest.fixture
def app(rt: runtime.Runtime) -> Any:
    from tracker import create_app

    return create_app({"RUNTIME": rt, "TESTING": True})


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@dataclass
class Cast:
    """The shared cast: a rep and a manager, each with an API key."""

    rep_id: int
    rep_key: str
    manager_id: int
    manager_key: str

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.rep_key}"}


@pytest.fixture
def cast(rt: runtime.Runtime) -> Cast:
    with rt.sessions.begin() as s:
        team = default_team(s)
        rep = create_user(s, "rita@example.com", name="Rita Rep", team=team)
        rep.signature = "Rita Rep\nAcme Sales"
        manager = create_user(s, "max@example.com", name="Max Manager", manager=True, team=team)
        rep_key = create_api_key(s, rep, rt.clock.now())
        manager_key = create_api_key(s, manager, rt.clock.now())
        return Cast(rep.id, rep_key, manager.id, manager_key)


@pytest.fixture
def stub_worker() -> Iterator[Any]:
    """Dramatiq's StubBroker with a real Worker running the actors in this process."""
    import dramatiq

    from sequences import actors  # noqa: F401  (declares the actors)
    from sequences.broker import broker

    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    yield broker
    worker.stop()
    broker.flush_all()
