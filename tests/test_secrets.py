"""Secrets at rest: mailbox passwords and webhook secrets encrypted under FOLLOWUP_ENCRYPTION_KEY."""

from __future__ import annotations

import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from sequences import runtime, vault
from sequences.clock import FrozenClock
from sequences.config import ConfigError, load_settings
from sequences.db import null_pool_engine
from sequences.migrate import upgrade
from sequences.models import Mailbox, Webhook
from sequences.vault import Vault, generate_key
from sequences.workspace.accounts import create_api_key, create_user, default_team

from .conftest import PG_ADMIN_URL, make_env, require_service
from .procs import run_cli

OLD, NEW = generate_key(), generate_key()
IMAP_URL = "imaps://rita%40acme.test:hunter2-imap@imap.acme.test:993/INBOX"
SMTP_URL = "smtp://rita:hunter2-smtp@smtp.acme.test:587?starttls=true"


def _raw(url: str, sql: str) -> list[Any]:
    engine = null_pool_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _build(database_url: str, tmp_path: Path, keys: str | None, **extra: str) -> runtime.Runtime:
    env = make_env(database_url, 1025, tmp_path, **extra)
    if keys is not None:
        env["FOLLOWUP_ENCRYPTION_KEY"] = keys
    return runtime.build(load_settings(env), FrozenClock())


def _store_secrets(rt: runtime.Runtime) -> tuple[int, str]:
    """A mailbox with IMAP and SMTP passwords and a webhook; returns the webhook id and secret."""
    with rt.sessions.begin() as s:
        team = default_team(s)
        user = create_user(s, "rita@example.com", team=team)
        s.add(
            Mailbox(
                team_id=team.id,
                from_name="Rita",
                from_email="rita@acme.test",
                imap_url=IMAP_URL,
                smtp_url=SMTP_URL,
            )
        )
        hook = Webhook(
            team_id=team.id,
            user_id=user.id,
            url="https://crm.example.com/hook",
            events=["reply"],
            secret="whsec_" + uuid.uuid4().hex,
        )
        s.add(hook)
        s.flush()
        return hook.id, hook.secret


def _cli_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env.update(make_env(database_url, 1025, tmp_path, **extra))
    return env


def test_a_secret_round_trips_and_the_token_hides_it() -> None:
    box = Vault((NEW,))
    sealed = box.encrypt("hunter2")
    assert sealed.startswith("fernet:") and "hunter2" not in sealed
    assert box.decrypt(sealed) == "hunter2"
    assert NEW not in repr(box) and "1 key" in repr(box)


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    under_old = Vault((OLD,)).encrypt("hunter2")
    both = Vault((NEW, OLD))
    assert both.decrypt(under_old) == "hunter2"
    rotated = both.rotate(under_old)
    assert Vault((NEW,)).decrypt(rotated) == "hunter2"
    with pytest.raises(ConfigError, match=r"^FOLLOWUP_ENCRYPTION_KEY: "):
        Vault((OLD,)).decrypt(rotated)


# Fixed values: a random key in a test id makes pytest-xdist's workers collect different tests.
FIXED = "P662HYQTAAJnWTYltd7NbVx5-bqTfMnlzzJYF7Wu3FI="


@pytest.mark.parametrize("raw", ["short", "not base64 at all!!", f"{FIXED},oops", ","])
def test_a_key_of_the_wrong_form_is_one_error_naming_the_setting(raw: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"FOLLOWUP_ENCRYPTION_KEY": raw})
    message = str(raised.value)
    assert message.startswith("FOLLOWUP_ENCRYPTION_KEY: ") and "\n" not in message
    assert raw.split(",")[0] not in message or raw == ","  # the key itself is never echoed


def test_passwords_and_webhook_secrets_are_encrypted_in_the_database(
    database_url: str, tmp_path: Path
) -> None:
    rt = _build(database_url, tmp_path, NEW)
    try:
        hook_id, secret = _store_secrets(rt)
        [(imap, smtp)] = _raw(database_url, "SELECT imap_url, smtp_url FROM mailboxes")
        [(stored,)] = _raw(database_url, "SELECT secret FROM webhooks")
        for value, plain in ((imap, "hunter2-imap"), (smtp, "hunter2-smtp"), (stored, secret)):
            assert value.startswith("fernet:") and plain not in value
        # The application reads them in clear.
        with rt.sessions() as s:
            mailbox = s.query(Mailbox).one()
            assert (mailbox.imap_url, mailbox.smtp_url) == (IMAP_URL, SMTP_URL)
            assert s.get(Webhook, hook_id).secret == secret  # type: ignore[union-attr]
    finally:
        rt.dispose()


def test_embedded_mode_makes_a_private_key_file_once_and_keeps_it(
    database_url: str, tmp_path: Path
) -> None:
    rt = _build(database_url, tmp_path, None)
    _store_secrets(rt)
    rt.dispose()
    key_file = tmp_path / "instance" / "encryption.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text()
    again = _build(database_url, tmp_path, None)  # a restart reads what it wrote
    with again.sessions() as s:
        assert s.query(Mailbox).one().imap_url == IMAP_URL
    again.dispose()
    assert key_file.read_text() == first


def test_a_key_that_cannot_decrypt_the_stored_secrets_stops_the_start_in_one_line(
    database_url: str, tmp_path: Path
) -> None:
    rt = _build(database_url, tmp_path, OLD)
    _store_secrets(rt)
    rt.dispose()
    with pytest.raises(ConfigError) as raised:
        _build(database_url, tmp_path, NEW)
    assert str(raised.value).startswith("FOLLOWUP_ENCRYPTION_KEY: cannot decrypt mailbox 1's")

    env = _cli_env(database_url, tmp_path, FOLLOWUP_ENCRYPTION_KEY=NEW)
    for command in (["imap-poll", "--once"], ["scheduler"], ["secrets", "check"], ["web"]):
        result = run_cli(command, env)
        assert result.returncode == 2, (command, result.stderr)
        assert "Traceback" not in result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: FOLLOWUP_ENCRYPTION_KEY: cannot decrypt mailbox 1's IMAP")


def test_production_without_the_key_refuses_to_start_once_secrets_are_stored(
    database_url: str, tmp_path: Path
) -> None:
    production = {"FOLLOWUP_PRODUCTION": "true"}
    # Nothing stored yet: production starts without a key (and writes none to disk).
    _build(database_url, tmp_path, None, **production).dispose()
    assert not (tmp_path / "instance" / "encryption.key").exists()
    rt = _build(database_url, tmp_path, NEW)
    _store_secrets(rt)
    rt.dispose()
    result = run_cli(["secrets", "check"], _cli_env(database_url, tmp_path, **production))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: FOLLOWUP_ENCRYPTION_KEY: required in production")


def test_secrets_rotate_re_encrypts_under_the_first_key(database_url: str, tmp_path: Path) -> None:
    rt = _build(database_url, tmp_path, OLD)
    hook_id, secret = _store_secrets(rt)
    rt.dispose()
    before = _raw(database_url, "SELECT secret FROM webhooks")

    rotated = run_cli(
        ["secrets", "rotate"],
        _cli_env(database_url, tmp_path, FOLLOWUP_ENCRYPTION_KEY=f"{NEW},{OLD}"),
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 3 secret(s)" in rotated.stdout
    assert _raw(database_url, "SELECT secret FROM webhooks") != before

    # The old key can go: the new one alone opens everything.
    checked = run_cli(
        ["secrets", "check"], _cli_env(database_url, tmp_path, FOLLOWUP_ENCRYPTION_KEY=NEW)
    )
    assert checked.returncode == 0, checked.stderr
    assert "3 stored secret(s) decrypt" in checked.stdout
    rt = _build(database_url, tmp_path, NEW)
    with rt.sessions() as s:
        assert s.get(Webhook, hook_id).secret == secret  # type: ignore[union-attr]
        assert s.query(Mailbox).one().smtp_url == SMTP_URL
    rt.dispose()


def test_the_webhook_secret_is_write_only_in_the_api(
    client: Any, cast: Any, rt: runtime.Runtime
) -> None:
    auth = cast.auth()
    made = client.post(
        "/api/v1/webhooks",
        json={"url": "https://crm.example.com/hook", "events": ["reply"]},
        headers=auth,
    ).json
    assert made["secret"].startswith("whsec_")
    shown = client.get(f"/api/v1/webhooks/{made['id']}", headers=auth).json
    listed = client.get("/api/v1/webhooks", headers=auth).json["items"]
    for answer in (shown, *listed):
        assert "secret" not in answer and made["secret"] not in str(answer)
        assert answer["secret_set"] is True and answer["secret_changed_at"]
    # A client cannot set one, nor read it back by PATCH.
    patched = client.patch(f"/api/v1/webhooks/{made['id']}", json={"secret": "mine"}, headers=auth)
    assert patched.status_code == 422
    renewed = client.post(f"/api/v1/webhooks/{made['id']}/secret", headers=auth)
    assert renewed.status_code == 200
    assert renewed.json["secret"].startswith("whsec_") and renewed.json["secret"] != made["secret"]
    with rt.sessions() as s:
        assert s.get(Webhook, made["id"]).secret == renewed.json["secret"]  # type: ignore[union-attr]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema yet, to migrate step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"followup_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_the_migration_encrypts_what_was_stored_in_clear(
    empty_database_url: str, tmp_path: Path
) -> None:
    url = empty_database_url
    upgrade(url, "0008_one_line")
    engine = null_pool_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO teams (id, name, created_at) VALUES (1, 'T', :t)"),
            {"t": "2026-01-01"},
        )
        conn.execute(
            text(
                "INSERT INTO users (id, team_id, email, name, is_manager, signature, created_at) "
                "VALUES (1, 1, 'a@x.test', '', false, '', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO mailboxes (id, team_id, from_name, from_email, imap_url, daily_limit,"
                " min_gap_seconds, paused, created_at, hour_count, day_count) VALUES (1, 1, 'R',"
                " 'r@x.test', :imap, 500, 0, false, '2026-01-01', 0, 0)"
            ),
            {"imap": IMAP_URL},
        )
        conn.execute(
            text(
                "INSERT INTO webhooks (id, team_id, user_id, url, events, secret, description,"
                " include_machine, active, created_at) VALUES (1, 1, 1, 'https://h.test/', '[]',"
                " 'whsec_clear', '', false, true, '2026-01-01')"
            )
        )
    engine.dispose()

    previous = vault.install(Vault((NEW,)))
    try:
        upgrade(url)
    finally:
        vault.install(previous)
    [(imap, changed)] = _raw(url, "SELECT imap_url, credentials_changed_at FROM mailboxes")
    [(secret,)] = _raw(url, "SELECT secret FROM webhooks")
    assert imap.startswith("fernet:") and "hunter2" not in imap and changed is not None
    assert Vault((NEW,)).decrypt(imap) == IMAP_URL
    assert Vault((NEW,)).decrypt(secret) == "whsec_clear"


def test_the_migration_uses_the_embedded_key_file_when_no_key_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url, "0008_one_line")
    engine = null_pool_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO teams (id, name, created_at) VALUES (1, 'T', '2026-01-01')"))
        conn.execute(
            text(
                "INSERT INTO users (id, team_id, email, name, is_manager, signature, created_at) "
                "VALUES (1, 1, 'a@x.test', '', 0, '', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO webhooks (id, team_id, user_id, url, events, secret, description,"
                " include_machine, active, created_at) VALUES (1, 1, 1, 'https://h.test/', '[]',"
                " 'whsec_clear', '', 0, 1, '2026-01-01')"
            )
        )
    engine.dispose()
    monkeypatch.setenv("FOLLOWUP_INSTANCE_PATH", str(tmp_path / "instance"))
    previous = vault.install(None)
    try:
        upgrade(url)
    finally:
        vault.install(previous)
    key = (tmp_path / "instance" / "encryption.key").read_text().strip()
    [(secret,)] = _raw(url, "SELECT secret FROM webhooks")
    assert Vault((key,)).decrypt(secret) == "whsec_clear"


def test_a_cli_user_can_store_an_imap_url_and_it_is_encrypted(
    database_url: str, tmp_path: Path
) -> None:
    rt = _build(database_url, tmp_path, NEW)
    with rt.sessions.begin() as s:
        team = default_team(s)
        s.add(Mailbox(team_id=team.id, from_name="R", from_email="r@acme.test"))
        create_api_key(s, create_user(s, "m@example.com", team=team), rt.clock.now())
    rt.dispose()
    env = _cli_env(database_url, tmp_path, FOLLOWUP_ENCRYPTION_KEY=NEW)
    result = run_cli(["imap-poll", "--mailbox", "1", "--url", IMAP_URL], env)
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    [(imap, changed)] = _raw(database_url, "SELECT imap_url, credentials_changed_at FROM mailboxes")
    assert imap.startswith("fernet:") and changed is not None
    shutil.rmtree(tmp_path / "instance", ignore_errors=True)
