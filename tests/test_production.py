"""The production topology as real processes: gunicorn, a dramatiq worker, the scheduler, the sink,
on PostgreSQL and Redis; and `followup run`, the embedded mode, as a real process too."""

from __future__ import annotations

import os
import re
import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from sequences.sending.sink import free_port, read_messages

from .conftest import REDIS_URL, _truncate_postgres, require_service
from .procs import FOLLOWUP, Proc, http, production_stack, run_cli, wait_for

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
LINK = "https://example.com/brochure.pdf?utm_source=followup#page=2"

pytestmark = pytest.mark.slow


def _slice_over_http(base: str, key: str, sink_dir: Path, procs_log: Any) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    prospect = http(
        "POST",
        f"{base}/api/v1/prospects",
        {"email": "ana@prospect.example", "first_name": "Ana", "fields": {"deadline": "March"}},
        auth,
    )
    assert prospect.status == 201, prospect.body
    sequence = http(
        "POST",
        f"{base}/api/v1/sequences",
        {
            "name": "Welcome",
            "steps": [
                {
                    "type": "email",
                    "delay": "PT0S",
                    "subject": "Thanks, {{ first_name }}",
                    "body_html": f'<p>Before {{{{ fields.deadline }}}}: <a href="{LINK}">the brochure</a></p>',
                }
            ],
        },
        auth,
    )
    assert sequence.status == 201, sequence.body
    enrollment = http(
        "POST",
        f"{base}/api/v1/enrollments",
        {"prospect_id": prospect.json()["id"], "sequence_id": sequence.json()["id"]},
        auth,
    )
    assert enrollment.status == 201, enrollment.body

    messages = wait_for(
        lambda: read_messages(sink_dir), 60, "the email in the sink\n" + procs_log()
    )
    assert len(messages) == 1
    html = messages[0].message.get_body(("html",)).get_content()
    assert "Before March" in html
    pixel = re.search(r'src="([^"]+/o/[^"]+\.gif)"', html).group(1)  # type: ignore[union-attr]
    click = re.search(r'href="([^"]+/c/[^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert pixel.startswith(base) and click.startswith(base)

    wait_for(
        lambda: (
            http(
                "GET", f"{base}/api/v1/enrollments/{enrollment.json()['id']}", headers=auth
            ).json()["status"]
            == "finished"
        ),
        30,
        "the enrollment to finish",
    )
    # The prospect reads it a while later (classification treats a hit within seconds as a prefetch).
    assert http("GET", pixel, headers={"User-Agent": BROWSER}).status == 200
    redirect = http("GET", click, headers={"User-Agent": BROWSER})
    assert redirect.status == 302 and redirect.headers["location"] == LINK
    tampered = http("GET", click[:-3] + ("AAA" if not click.endswith("AAA") else "BBB"))
    assert tampered.status == 404 and "location" not in tampered.headers

    def tracked() -> list[dict[str, Any]]:
        url = f"{base}/api/v1/prospects/{prospect.json()['id']}/activity"
        events: list[dict[str, Any]] = http("GET", url, headers=auth).json()["events"]
        return events if {"open", "click"} <= {e["type"] for e in events} else []

    # Hits are spooled and written by the web process's drainer a moment after the answer.
    events = wait_for(tracked, 30, "the open and the click on the timeline")
    assert {"enrolled", "sent", "open", "click"} <= {e["type"] for e in events}
    assert sum(1 for e in events if e["type"] == "click") == 1


def test_production_processes_send_and_track_on_postgres_and_redis(
    postgres_url: str, tmp_path: Path
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    # The shared database may hold secrets other tests encrypted under their own keys, which
    # the web server rightly refuses to start on: begin empty, as a new install does.
    _truncate_postgres(postgres_url)
    with production_stack(postgres_url, REDIS_URL, tmp_path) as stack:
        key = stack.api_key()
        stack.start_sink()
        stack.start_web()
        stack.start_worker()
        stack.start_scheduler()
        health = http("GET", stack.web_url + "/healthz")
        assert health.status == 200 and health.json() == {
            "status": "ok",
            "database": "ok",
            "broker": "ok",
        }
        # The email's tracking links point at FOLLOWUP_BASE_URL, which is this gunicorn.
        try:
            _slice_over_http(stack.web_url, key, stack.sink_dir, stack.logs)
        except AssertionError:
            print(stack.logs())
            raise


def test_healthz_reports_unreachable_broker_as_503(postgres_url: str, tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    _truncate_postgres(postgres_url)  # as above: no other test's encrypted secrets
    with production_stack(postgres_url, dead, tmp_path) as stack:
        stack.start_web(workers=1)
        health = http("GET", stack.web_url + "/healthz")
        assert health.status == 503
        assert health.json()["database"] == "ok" and health.json()["broker"].startswith("error")


def test_followup_run_starts_everything_embedded(tmp_path: Path) -> None:
    """`make run` in miniature: one process, SQLite, in-process broker, local sink."""
    port, smtp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env.update(
        FOLLOWUP_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        PYTHONUNBUFFERED="1",
        FOLLOWUP_BASE_URL=f"http://127.0.0.1:{port}",
    )
    # Run from an empty folder: the instance folder (database, captured mail) is made there.
    inbound_port = free_port()
    env["FOLLOWUP_MAIL_DOMAIN"] = "mail.example.test"
    argv = [FOLLOWUP, "run", "--port", str(port), "--inbound-port", str(inbound_port)]
    proc = Proc("run", argv, env, tmp_path / "run.log", cwd=tmp_path)
    proc.start()
    try:
        printed = wait_for(
            lambda: "Stop with Ctrl-C" in proc.log() and proc.log(), 60, "followup run to start"
        )
        assert f"http://127.0.0.1:{port}/" in printed
        assert f"smtp://127.0.0.1:{smtp_port}" in printed
        key = re.search(r"^\s+(fu_\S+)$", printed, re.MULTILINE).group(1)  # type: ignore[union-attr]
        assert (tmp_path / "instance" / "followup.db").exists()
        _slice_over_http(f"http://127.0.0.1:{port}", key, tmp_path / "instance" / "mail", proc.log)
        listed = run_cli(
            ["sink", "list"], {**env, "FOLLOWUP_INSTANCE_PATH": str(tmp_path / "instance")}
        )
        assert "1 message(s)" in listed.stdout and "Thanks, Ana" in listed.stdout

        # Ana answers; her reply reaches the embedded inbound server and lands on her timeline.
        assert f"smtp://127.0.0.1:{inbound_port}" in printed
        sent = read_messages(tmp_path / "instance" / "mail")[0].message
        reply = EmailMessage()
        reply["From"] = "Ana <ana@prospect.example>"
        reply["To"] = "reply@mail.example.test"
        reply["Subject"] = "Re: " + str(sent["Subject"])
        reply["In-Reply-To"] = sent["Message-ID"]
        reply["Message-ID"] = "<ana-reply-1@prospect.example>"
        reply.set_content("Yes, let's talk on Tuesday.")
        with smtplib.SMTP("127.0.0.1", inbound_port, timeout=10) as smtp:
            smtp.send_message(reply)
        auth = {"Authorization": f"Bearer {key}"}
        wait_for(
            lambda: any(
                e["type"] == "reply"
                for e in http(
                    "GET", f"http://127.0.0.1:{port}/api/v1/prospects/1/activity", headers=auth
                ).json()["events"]
            ),
            30,
            "the reply on the timeline",
        )
    finally:
        proc.stop()
    assert "Traceback" not in proc.log(), proc.log()


def test_second_start_reuses_the_database_and_prints_how_to_get_a_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env.update(FOLLOWUP_INSTANCE_PATH=str(tmp_path / "instance"))
    assert run_cli(["db", "upgrade"], env).returncode == 0
    assert run_cli(["user", "create", "--email", "me@example.com"], env).returncode == 0
    port, smtp_port = free_port(), free_port()
    env.update(FOLLOWUP_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}", PYTHONUNBUFFERED="1")
    argv = [FOLLOWUP, "run", "--port", str(port), "--inbound-port", "0"]
    proc = Proc("run", argv, env, tmp_path / "run.log").start()
    try:
        printed = wait_for(
            lambda: "Stop with Ctrl-C" in proc.log() and proc.log(), 60, "followup run"
        )
        assert "followup api-key create --user" in printed
        assert "fu_" not in printed
    finally:
        proc.stop()


def test_compose_file_runs_the_commands_these_tests_run() -> None:
    import yaml

    compose = yaml.safe_load((Path(__file__).parent.parent / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "scheduler", "sink"} <= set(services)
    commands = {
        name: services[name]["command"][:2]
        for name in ("web", "worker", "scheduler", "sink", "migrate")
    }
    assert commands == {
        "web": ["followup", "web"],
        "worker": ["followup", "worker"],
        "scheduler": ["followup", "scheduler"],
        "sink": ["followup", "sink"],
        "migrate": ["followup", "db"],
    }
    assert services["worker"]["environment"]["FOLLOWUP_REDIS_URL"].startswith("redis://")
    assert services["web"]["environment"]["FOLLOWUP_DATABASE_URL"].startswith("postgresql")
