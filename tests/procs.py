"""Starts the real production commands (the ones docker-compose.yml runs) as processes for tests."""

from __future__ import annotations

import http.client as httpclient
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sequences.sending.sink import free_port

BIN = Path(sys.executable).parent
FOLLOWUP = str(BIN / "followup")


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll until `condition()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Proc:
    """One running command with its output in a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        log = self.log_path.open("ab")
        # A new session so that stop() reaches the command's children too (gunicorn, dramatiq).
        self.popen = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal_group(self, sig: int) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean-up, like a crashed machine."""
        self.signal_group(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def run_cli(
    args: list[str], env: dict[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FOLLOWUP, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Response:
    """One HTTP request that does not follow redirects."""
    parts = urlsplit(url)
    conn = httpclient.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout
    )
    send_headers = dict(headers or {})
    payload: bytes | None = None
    if body is not None:
        payload = json.dumps(body).encode() if not isinstance(body, bytes) else body
        send_headers.setdefault("Content-Type", "application/json")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(method, path or "/", body=payload, headers=send_headers)
        raw = conn.getresponse()
        return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read())
    finally:
        conn.close()


def http_ok(url: str) -> bool:
    """Whether a server answers at `url` at all (a 503 from /healthz still means it is up)."""
    try:
        http("GET", url, timeout=2)
    except OSError:
        return False
    return True


@dataclass
class Stack:
    """The production topology on this machine: sink, web (gunicorn), worker (dramatiq), scheduler."""

    env: dict[str, str]
    dir: Path
    web_url: str
    sink_port: int
    sink_dir: Path
    procs: dict[str, Proc] = field(default_factory=dict)

    def start(self, name: str, args: list[str]) -> Proc:
        proc = Proc(name, [FOLLOWUP, *args], self.env, self.dir / f"{name}.log").start()
        self.procs[name] = proc
        return proc

    def start_sink(self) -> Proc:
        proc = self.start(
            "sink",
            [
                "sink",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.sink_port),
                "--dir",
                str(self.sink_dir),
            ],
        )
        wait_for(lambda: _port_open(self.sink_port), 20, "the SMTP sink")
        return proc

    def start_web(self, workers: int = 2) -> Proc:
        port = urlsplit(self.web_url).port
        proc = self.start(
            "web", ["web", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        )
        wait_for(lambda: http_ok(self.web_url + "/healthz") or not proc.alive(), 30, "gunicorn")
        assert proc.alive(), proc.log()
        return proc

    def start_worker(self, processes: int = 1, threads: int = 4) -> Proc:
        return self.start(
            "worker", ["worker", "--processes", str(processes), "--threads", str(threads)]
        )

    def start_scheduler(self, interval: float = 0.2) -> Proc:
        return self.start("scheduler", ["scheduler", "--interval", str(interval)])

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(list(args), self.env)

    def api_key(self, email: str = "rep@example.com", manager: bool = False) -> str:
        created = self.cli(
            "user",
            "create",
            "--email",
            email,
            "--name",
            "Rita Rep",
            *(["--manager"] if manager else []),
        )
        assert created.returncode == 0, created.stderr
        made = self.cli("api-key", "create", "--user", email)
        assert made.returncode == 0, made.stderr
        return made.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {n} ---\n{p.log()[-4000:]}" for n, p in self.procs.items())


def _port_open(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def production_stack(
    database_url: str, redis_url: str, tmp_path: Path, **extra_env: str
) -> Iterator[Stack]:
    """Environment and process control for the production commands; migrates the database."""
    web_port = free_port()
    sink_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env.update(
        FOLLOWUP_PRODUCTION="true",
        FOLLOWUP_DATABASE_URL=database_url,
        FOLLOWUP_REDIS_URL=redis_url,
        # A namespace of its own, so parallel runs on one Redis never take each other's messages.
        FOLLOWUP_REDIS_NAMESPACE=f"followup-test-{uuid.uuid4().hex[:8]}",
        FOLLOWUP_SMTP_URL=f"smtp://127.0.0.1:{sink_port}?timeout=10",
        FOLLOWUP_BASE_URL=f"http://127.0.0.1:{web_port}",
        FOLLOWUP_SECRET_KEY="production-test-secret-0123456789",
        # Production reads no key file: the key for the secrets at rest is configured.
        FOLLOWUP_ENCRYPTION_KEY="P662HYQTAAJnWTYltd7NbVx5-bqTfMnlzzJYF7Wu3FI=",
        FOLLOWUP_INSTANCE_PATH=str(tmp_path / "instance"),
        FOLLOWUP_MAIL_DOMAIN="mail.example.test",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra_env)
    stack = Stack(env, tmp_path, f"http://127.0.0.1:{web_port}", sink_port, tmp_path / "sink")
    upgraded = stack.cli("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    try:
        yield stack
    finally:
        stack.stop()
