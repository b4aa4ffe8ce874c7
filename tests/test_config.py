"""Settings: defaults that run embedded, and one clear line naming the variable when a value is wrong."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sequences.config import EMBEDDED_SECRET, ConfigError, load_settings, parse_smtp_url

from .procs import run_cli


def test_defaults_run_embedded(tmp_path: Path) -> None:
    settings = load_settings({"FOLLOWUP_INSTANCE_PATH": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'followup.db'}"
    assert settings.redis_url is None
    assert (settings.smtp.host, settings.smtp.port) == ("127.0.0.1", 1025)
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.secret_key == EMBEDDED_SECRET
    assert settings.sink_dir == tmp_path / "mail"


def test_smtp_url_with_credentials_and_starttls() -> None:
    smtp = parse_smtp_url(
        "smtp://rita%40acme.test:p%40ss@mail.acme.test:587?starttls=true&timeout=5"
    )
    assert (smtp.host, smtp.port, smtp.username, smtp.password) == (
        "mail.acme.test",
        587,
        "rita@acme.test",
        "p@ss",
    )
    assert smtp.starttls and not smtp.ssl and smtp.timeout == 5
    assert parse_smtp_url("smtps://mail.acme.test").port == 465
    assert "p@ss" not in repr(smtp)  # secrets never reach logs through repr


def test_postgres_url_uses_psycopg3() -> None:
    settings = load_settings(
        {"FOLLOWUP_DATABASE_URL": "postgresql://u@db/followup", "FOLLOWUP_SECRET_KEY": "k" * 32}
    )
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_secret_key_list_rotates(tmp_path: Path) -> None:
    settings = load_settings({"FOLLOWUP_SECRET_KEY": "new-key-0123456789, old-key-0123456789"})
    assert settings.secret_keys == ("new-key-0123456789", "old-key-0123456789")
    assert settings.secret_key == "new-key-0123456789"


def test_secret_may_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-docker-secret-file\n")
    settings = load_settings(
        {"FOLLOWUP_SECRET_KEY_FILE": str(secret), "FOLLOWUP_PRODUCTION": "true"}
    )
    assert settings.secret_key == "from-a-docker-secret-file"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"FOLLOWUP_PRODUCTION": "true"}, "FOLLOWUP_SECRET_KEY"),
        ({"FOLLOWUP_PRODUCTION": "yes please"}, "FOLLOWUP_PRODUCTION"),
        ({"FOLLOWUP_PRODUCTION": "true", "FOLLOWUP_SECRET_KEY": "short"}, "FOLLOWUP_SECRET_KEY"),
        ({"FOLLOWUP_DATABASE_URL": "postgresql://db/x"}, "FOLLOWUP_SECRET_KEY"),
        ({"FOLLOWUP_DATABASE_URL": "mysql://db/x"}, "FOLLOWUP_DATABASE_URL"),
        ({"FOLLOWUP_DATABASE_URL": "not a url"}, "FOLLOWUP_DATABASE_URL"),
        ({"FOLLOWUP_SMTP_URL": "http://mail:25"}, "FOLLOWUP_SMTP_URL"),
        ({"FOLLOWUP_SMTP_URL": "smtp://mail:notaport"}, "FOLLOWUP_SMTP_URL"),
        ({"FOLLOWUP_SMTP_URL": "smtp://mail?starttls=maybe"}, "FOLLOWUP_SMTP_URL"),
        ({"FOLLOWUP_SMTP_URL": "smtp://mail?tls=1"}, "FOLLOWUP_SMTP_URL"),
        ({"FOLLOWUP_REDIS_URL": "localhost:6379"}, "FOLLOWUP_REDIS_URL"),
        ({"FOLLOWUP_BASE_URL": "track.example.com"}, "FOLLOWUP_BASE_URL"),
        ({"FOLLOWUP_INBOUND_MAX_BYTES": "lots"}, "FOLLOWUP_INBOUND_MAX_BYTES"),
        ({"FOLLOWUP_SECRET_KEY_FILE": "/nonexistent/secret"}, "FOLLOWUP_SECRET_KEY_FILE"),
    ],
)
def test_bad_setting_names_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    assert str(raised.value).startswith(variable + ":")


def test_cli_fails_at_start_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env.update(FOLLOWUP_PRODUCTION="true", FOLLOWUP_INSTANCE_PATH=str(tmp_path))
    for command in (["web"], ["scheduler"], ["db", "upgrade"], ["run"]):
        result = run_cli(command, env)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            "error: FOLLOWUP_SECRET_KEY: required in production (FOLLOWUP_PRODUCTION=true)"
        ]


def test_cli_on_an_unmigrated_database_says_what_to_do(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env.update(FOLLOWUP_INSTANCE_PATH=str(tmp_path))
    result = run_cli(["user", "create", "--email", "a@example.com"], env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "followup db upgrade" in result.stderr


def test_help_explains_each_command() -> None:
    result = run_cli(["--help"], dict(os.environ))
    for command in ("run", "web", "worker", "scheduler", "sink", "db", "user", "api-key"):
        assert f"  {command} " in result.stdout
