"""Logs: one setup, JSON lines on request, ids from context, secrets and addresses never written;
and the workers' and scheduler's Prometheus exposition, scraped from real processes."""

from __future__ import annotations

import json
import logging
import re
import uuid
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from sequences import logs
from sequences.sending.sink import free_port

from .conftest import REDIS_URL, _truncate_postgres, require_service
from .procs import http, production_stack, run_cli, wait_for

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
SMTP_PASSWORD = "smtp-pass-" + uuid.uuid4().hex[:12]
PROSPECT = "ana.lopez@prospect.example"


def test_mask_hides_addresses_url_passwords_api_keys_and_registered_secrets() -> None:
    logs.register_secret("a-very-secret-value")
    line = logs.mask(
        "to ana.lopez@prospect.example via smtp://rep:hunter22@relay:587 with "
        "fu_0123456789ab_AbCdEf-gh_ij Bearer tok123 and a-very-secret-value"
    )
    assert line == (
        "to a***@prospect.example via smtp://rep:***@relay:587 with "
        "fu_0123456789ab_*** Bearer *** and ***"
    )


def test_json_lines_carry_the_bound_ids_and_mask_the_message() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "sent to %s", ("bo@b.example",), None
    )
    with logs.bound(enrollment_id=7, request_id="r1"):
        line = json.loads(logs.JsonFormatter().format(record))
    assert line["msg"] == "sent to b***@b.example"
    assert line["enrollment_id"] == 7 and line["request_id"] == "r1"
    assert "enrollment_id" not in json.loads(logs.JsonFormatter().format(record))


def test_text_lines_tag_the_bound_ids() -> None:
    record = logging.LogRecord("sequences.x", logging.INFO, __file__, 1, "hello", (), None)
    with logs.bound(message_id=3):
        assert "sequences.x [message_id=3] hello" in logs.TextFormatter().format(record)


def test_a_bad_log_format_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    done = run_cli(["team", "list"], {"FOLLOWUP_LOG_FORMAT": "xml", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: FOLLOWUP_LOG_FORMAT: expected one of text, json, got 'xml'"
    )


def test_the_flask_app_answers_a_request_id_and_keeps_a_well_formed_one(client: Any) -> None:
    fresh = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["X-Request-Id"])
    kept = client.get("/healthz", headers={"X-Request-Id": "edge-1234abcd"})
    assert kept.headers["X-Request-Id"] == "edge-1234abcd"
    replaced = client.get("/healthz", headers={"X-Request-Id": "bad id <script>"})
    assert replaced.headers["X-Request-Id"] != "bad id <script>"


class _AuthSink:
    """An SMTP server that requires the password (AUTH LOGIN/PLAIN) and keeps what it gets."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = BytesParser(policy=default_policy).parsebytes(envelope.content)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
    ok = isinstance(auth, LoginPassword) and auth.password.decode() == SMTP_PASSWORD
    return AuthResult(success=ok)


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
    return parsed


@pytest.mark.slow
def test_a_full_slice_logs_json_without_secrets_or_addresses_and_workers_export_metrics(
    postgres_url: str, tmp_path: Path
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    _truncate_postgres(postgres_url)
    handler = _AuthSink()
    smtp_port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=smtp_port,
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    worker_port, scheduler_port = free_port(), free_port()
    try:
        with production_stack(
            postgres_url,
            REDIS_URL,
            tmp_path,
            FOLLOWUP_LOG_FORMAT="json",
            FOLLOWUP_LOG_LEVEL="info",
            FOLLOWUP_SMTP_URL=f"smtp://rep:{SMTP_PASSWORD}@127.0.0.1:{smtp_port}?timeout=10",
            FOLLOWUP_WORKER_METRICS=f"127.0.0.1:{worker_port}",
            FOLLOWUP_SCHEDULER_METRICS=f"127.0.0.1:{scheduler_port}",
        ) as stack:
            key = stack.api_key()
            stack.start_web()
            stack.start_worker()
            stack.start_scheduler()
            try:
                _slice(stack.web_url, key, handler, stack.logs)
                worker_text = wait_for(
                    lambda: _scrape(worker_port, "dramatiq_messages_total{"),
                    30,
                    "the worker's exposition",
                )
                scheduler_text = wait_for(
                    lambda: _scrape(scheduler_port, "followup_scheduler_tick_seconds_count"),
                    30,
                    "the scheduler's exposition",
                )
            except AssertionError:
                print(stack.logs())
                raise
            stack.stop()
            written = "\n".join(p.log() for p in stack.procs.values())
    finally:
        controller.stop()

    assert re.search(
        r'dramatiq_messages_total\{[^}]*actor_name="send_steps"[^}]*\} [1-9]', worker_text
    )
    assert "followup_smtp_seconds_count" in worker_text  # our own histogram, same directory
    assert "followup_scheduler_tick_seconds_count" in scheduler_text
    dashboard = (Path(__file__).parent.parent / "docs/grafana-followup.json").read_text()
    import importlib.util

    # Read, not imported: importing it creates Dramatiq's default metrics directory.
    spec = importlib.util.find_spec("dramatiq.middleware.prometheus")
    assert spec is not None and spec.origin is not None
    defined = Path(spec.origin).read_text()
    for name in set(re.findall(r"dramatiq_\w+", dashboard)):  # the dashboard's worker panels
        assert f'"{name.removesuffix("_bucket")}"' in defined, name

    for secret in (key, SMTP_PASSWORD, PROSPECT, "production-test-secret-0123456789"):
        assert secret not in written, secret
    lines = _json_lines(written)
    sent = [line for line in lines if line["msg"].startswith("send: ")]
    assert sent and sent[0]["enrollment_id"] and sent[0]["message_id"] and sent[0]["prospect_id"]
    assert "a***@prospect.example" in sent[0]["msg"]
    assert sent[0]["actor"] == "send_steps" and sent[0]["process"] == "worker"
    replies = [line for line in lines if line["msg"].startswith("inbound (api): reply")]
    assert replies and replies[0]["prospect_id"] == sent[0]["prospect_id"]
    assert replies[0]["request_id"]
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert access and all(re.search(r"request_id=([0-9a-f]{32}|-)", a["msg"]) for a in access)


def _scrape(port: int, needle: str) -> str | None:
    try:
        text = http("GET", f"http://127.0.0.1:{port}/metrics", timeout=5).body.decode()
    except OSError:
        return None
    return text if needle in text else None


def _slice(base: str, key: str, sink: _AuthSink, procs_log: Any) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    prospect = http(
        "POST", f"{base}/api/v1/prospects", {"email": PROSPECT, "first_name": "Ana"}, auth
    )
    assert prospect.status == 201, prospect.body
    assert re.fullmatch(r"[0-9a-f]{32}", prospect.headers["x-request-id"])
    sequence = http(
        "POST",
        f"{base}/api/v1/sequences",
        {
            "name": "Welcome",
            "steps": [
                {
                    "type": "email",
                    "delay": "PT0S",
                    "subject": "Hi {{ first_name }}",
                    "body_html": '<p>See <a href="https://example.com/x">this</a></p>',
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
    wait_for(
        lambda: sink.messages, 60, "the email through the authenticated SMTP server\n" + procs_log()
    )
    sent = sink.messages[0]
    html = sent.get_body(("html",)).get_content()  # type: ignore[union-attr]
    pixel = re.search(r'src="([^"]+/o/[^"]+\.gif)"', html).group(1)  # type: ignore[union-attr]
    click = re.search(r'href="([^"]+/c/[^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert http("GET", pixel, headers={"User-Agent": BROWSER}).status == 200
    assert http("GET", click, headers={"User-Agent": BROWSER}).status == 302

    reply = EmailMessage()
    reply["From"] = f"Ana <{PROSPECT}>"
    reply["To"] = sent["From"]
    reply["Subject"] = "Re: " + str(sent["Subject"])
    reply["Message-ID"] = f"<{uuid.uuid4().hex}@prospect.example>"
    reply["In-Reply-To"] = sent["Message-ID"]
    reply["References"] = sent["Message-ID"]
    reply.set_content("Yes, let's talk on Tuesday.\n")
    answered = http(
        "POST",
        f"{base}/api/v1/inbound",
        reply.as_bytes(),
        {**auth, "Content-Type": "message/rfc822"},
    )
    assert answered.status == 200 and answered.json()["verdict"] == "reply", answered.body


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("0.0.0.0:9191", ("0.0.0.0", 9191)), (":9300", ("127.0.0.1", 9300)), ("off", None)],
)
def test_metrics_binds_are_host_and_port_or_off(raw: str, parsed: Any) -> None:
    from sequences.config import load_settings

    assert load_settings({"FOLLOWUP_WORKER_METRICS": raw}).worker_metrics == parsed


def test_a_bad_metrics_bind_names_the_setting() -> None:
    from sequences.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="FOLLOWUP_SCHEDULER_METRICS: expected host:port"):
        load_settings({"FOLLOWUP_SCHEDULER_METRICS": "9192x"})
