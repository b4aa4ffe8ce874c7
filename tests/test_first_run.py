"""The first run says what it must and nothing else; a demo sender is said, and refused in
production."""

from __future__ import annotations

import os
import re
import smtplib
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sequences.config import ConfigError, check_sender, demo_domain, demo_sender, load_settings
from sequences.runtime import Runtime
from sequences.sending.sink import free_port

from .procs import FOLLOWUP, Proc, http_ok, run_cli, wait_for
from .webkit import add_sequence, login, seed_team

STEP = {"type": "email", "delay": "PT0S", "subject": "Hi", "body_html": "<p>Hi</p>"}
NOISE = ("Connection lost", "Traceback", "WARNING", "ERROR", "Peer", "Deprecat", "lost connection")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env.update(FOLLOWUP_INSTANCE_PATH=str(tmp_path / "instance"), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


@pytest.mark.parametrize(
    ("address", "demo"),
    [
        ("sales@127.0.0.1", True),
        ("sales@localhost", True),
        ("sales@app.localhost", True),
        ("sales@[::1]", True),
        ("sales@10.0.0.5", True),
        ("sales@acme.com", False),
        ("sales@mail.example.test", False),
    ],
)
def test_a_sender_on_a_loopback_or_ip_literal_domain_is_a_demo_one(
    address: str, demo: bool
) -> None:
    assert (demo_domain(address) is not None) is demo


def test_the_default_sender_of_a_fresh_install_is_the_demo_one_and_production_refuses_it() -> None:
    embedded = load_settings({})
    assert demo_sender(embedded) == "sales@127.0.0.1"
    check_sender(embedded)  # embedded mode: said, not refused
    production = replace(embedded, production=True)
    with pytest.raises(ConfigError) as refused:
        check_sender(production)
    assert str(refused.value).startswith("FOLLOWUP_FROM_EMAIL: ")
    assert "sales@127.0.0.1" in str(refused.value)
    check_sender(replace(production, default_from_email="sales@acme.com"))


@pytest.mark.parametrize("command", [["worker"], ["web"], ["scheduler"], ["run"]])
def test_production_refuses_to_start_sending_from_the_demo_address_in_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    env = _env(
        tmp_path,
        FOLLOWUP_PRODUCTION="true",
        FOLLOWUP_SECRET_KEY="production-test-secret-0123456789",
        FOLLOWUP_DATABASE_URL=f"sqlite:///{tmp_path / 'followup.db'}",
        FOLLOWUP_REDIS_URL="redis://127.0.0.1:6379/15",
    )
    done = run_cli(command, env)
    assert done.returncode == 2, (done.stdout, done.stderr)
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: FOLLOWUP_FROM_EMAIL: the sender is still the demo address ")
    assert "sales@127.0.0.1" in line and "set FOLLOWUP_FROM_EMAIL" in line


@pytest.fixture
def demo_rt(rt: Runtime) -> Runtime:
    rt.settings = replace(rt.settings, default_from_email="sales@127.0.0.1")
    return rt


def test_the_sequence_page_says_mail_goes_to_the_sink_from_the_demo_address(
    demo_rt: Runtime, client: Any, session: Any
) -> None:
    team = seed_team(session)
    sequence = add_sequence(session, team.rep_id, demo_rt.clock.now(), [STEP])
    session.commit()
    login(client, team.rep_email)
    page = client.get(f"/sequences/{sequence.id}").text
    assert 'id="demo-sender"' in page
    assert "mail goes to the local mail sink" in page and "sales@127.0.0.1" in page
    assert "FOLLOWUP_FROM_EMAIL" in page


def test_followup_run_prints_the_urls_ports_and_api_key_and_nothing_else(tmp_path: Path) -> None:
    """A real `followup run` on free ports, touched the way a first run is (a page, an SMTP
    client that connects and goes away): the banner, then no noise."""
    port, smtp_port, inbound_port = free_port(), free_port(), free_port()
    env = _env(tmp_path, FOLLOWUP_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}")
    argv = [FOLLOWUP, "run", "--port", str(port), "--inbound-port", str(inbound_port)]
    proc = Proc("run", argv, env, tmp_path / "run.log", cwd=tmp_path).start()
    try:
        printed = wait_for(lambda: "Stop with Ctrl-C.\n\n" in proc.log() and proc.log(), 60, "run")
        lines = printed.splitlines()
        patterns = [
            "",
            rf"  Followup is running: http://127\.0\.0\.1:{port}/",
            r"  Sign in:    admin@example\.com, password \S+",
            r"  API key, shown once:",
            r"              fu_\S+",
            rf"  Mail sink:  smtp://127\.0\.0\.1:{smtp_port} keeps every message, none is delivered;",
            r"              mail goes there from the demo address sales@127\.0\.0\.1 "
            r"\(set FOLLOWUP_FROM_EMAIL\)",
            rf"  Inbound:    smtp://127\.0\.0\.1:{inbound_port} takes replies and bounces",
            r"  Stop with Ctrl-C\.",
            "",
        ]
        assert len(lines) == len(patterns), printed
        for line, pattern in zip(lines, patterns, strict=True):
            assert re.fullmatch(pattern, line), (line, pattern)

        assert http_ok(f"http://127.0.0.1:{port}/login")
        for smtp in (smtp_port, inbound_port):
            with socket.create_connection(("127.0.0.1", smtp), timeout=5) as probe:
                assert probe.recv(100).startswith(b"220")  # and hangs up without QUIT
            with smtplib.SMTP("127.0.0.1", smtp, timeout=5) as client:
                assert client.noop()[0] == 250
        assert http_ok(f"http://127.0.0.1:{port}/healthz")
    finally:
        proc.stop()
    after = proc.log()[len(printed) :]
    assert not [word for word in NOISE if word in after], after


def test_the_license_is_an_spdx_expression_with_its_text_shipped_in_the_package() -> None:
    """PEP 639: `license` an SPDX expression (a table or classifier warns on install) and
    `license-files` naming the text, which wheels carry in .dist-info/licenses/."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "AGPL-3.0-or-later"
    assert not any(c.startswith("License ::") for c in project.get("classifiers", []))
    [name] = project["license-files"]
    text = (root / name).read_text(encoding="utf-8")
    assert text.lstrip().startswith("GNU AFFERO GENERAL PUBLIC LICENSE\n")
    assert "Version 3, 19 November 2007" in text and "13. Remote Network Interaction" in text
