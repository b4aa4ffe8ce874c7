"""A first run never trips on a busy port: explicit ports fail in one line, defaults move."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sequences.sending.sink import free_port
from tests.procs import FOLLOWUP, Proc, http_ok, wait_for
from tracker.ports import Listener, PortUnavailable, choose, choose_all


@contextmanager
def occupied(port: int | None = None) -> Iterator[int]:
    """A real listening socket on `port` (a free one if None), like Mailpit on 1025.

    When a default port is already taken by something else on this machine, it is busy all the
    same, which is what the test needs.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port or 0))
        sock.listen(1)
    except OSError:
        sock.close()
        assert port is not None
        yield port
        return
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env.update(
        FOLLOWUP_INSTANCE_PATH=str(tmp_path / "instance"),
        FOLLOWUP_MAIL_DOMAIN="mail.example.test",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def _fails(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([FOLLOWUP, *argv], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done


def _started(proc: Proc, marker: str) -> str:
    printed: str = wait_for(
        lambda: (marker in proc.log() and proc.log()) or (not proc.alive() and "exited"),
        60,
        f"{proc.name} to print {marker!r}",
    )
    assert printed != "exited", proc.log()
    return printed


# The pure logic, with real sockets.


def test_a_free_port_is_kept() -> None:
    port = free_port()
    assert choose(Listener("the web app", "127.0.0.1", port, "--port", True)).port == port


def test_a_busy_explicit_port_names_the_port_the_setting_and_the_fix() -> None:
    with occupied() as port:
        listener = Listener("the mail sink", "127.0.0.1", port, "FOLLOWUP_SMTP_URL", True, "x y")
        with pytest.raises(PortUnavailable) as caught:
            choose(listener)
    line = str(caught.value)
    assert "\n" not in line
    assert str(port) in line and "FOLLOWUP_SMTP_URL" in line and "already in use" in line
    assert "give another port" in line and "x y" in line


def test_a_busy_default_port_moves_and_says_where() -> None:
    with occupied() as port:
        chosen = choose(Listener("the web app", "127.0.0.1", port, "--port", False))
    assert chosen.moved and chosen.port != port
    assert f"port {port} was busy" in chosen.note() and str(chosen.port) in chosen.note()


def test_listeners_of_one_command_never_share_a_port() -> None:
    port = free_port()
    first, second = choose_all(
        [
            Listener("the web app", "127.0.0.1", port, "--port", False),
            Listener("the mail sink", "127.0.0.1", port, "FOLLOWUP_SMTP_URL", False),
        ]
    )
    assert first.port == port and second.port != port


# The real commands, each port occupied first.


def test_run_with_a_busy_explicit_web_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with occupied() as port:
        done = _fails(["run", "--port", str(port), "--inbound-port", "0"], _env(tmp_path))
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert f"port {port}" in done.stderr and "--port" in done.stderr


def test_run_with_a_busy_explicit_sink_port_suggests_no_sink(tmp_path: Path) -> None:
    with occupied() as smtp_port:
        env = _env(tmp_path, FOLLOWUP_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}")
        done = _fails(["run", "--port", str(free_port()), "--inbound-port", "0"], env)
    assert f"port {smtp_port}" in done.stderr and "FOLLOWUP_SMTP_URL" in done.stderr
    assert "--no-sink" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_run_with_a_busy_explicit_inbound_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with occupied() as inbound:
        env = _env(tmp_path, FOLLOWUP_SMTP_URL=f"smtp://127.0.0.1:{free_port()}")
        done = _fails(["run", "--port", str(free_port()), "--inbound-port", str(inbound)], env)
    assert f"port {inbound}" in done.stderr and "--inbound-port" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_run_moves_every_busy_default_port_and_the_banner_says_where(tmp_path: Path) -> None:
    """`make run` on a machine where 8000, 1025 (Mailpit) and 2525 are all taken."""
    with occupied(8000), occupied(1025), occupied(2525):
        proc = Proc("run", [FOLLOWUP, "run"], _env(tmp_path), tmp_path / "run.log", cwd=tmp_path)
        proc.start()
        try:
            printed = _started(proc, "Stop with Ctrl-C")
            web = int(re.search(r"running: http://127\.0\.0\.1:(\d+)/", printed).group(1))  # type: ignore[union-attr]
            sink = int(re.search(r"Mail sink:  smtp://127\.0\.0\.1:(\d+)", printed).group(1))  # type: ignore[union-attr]
            inbound = int(re.search(r"Inbound:    smtp://127\.0\.0\.1:(\d+)", printed).group(1))  # type: ignore[union-attr]
            assert len({web, sink, inbound, 8000, 1025, 2525}) == 6
            for busy, now in ((8000, web), (1025, sink), (2525, inbound)):
                assert f"port {busy} was busy" in printed and f"listens on {now} instead" in printed
            assert http_ok(f"http://127.0.0.1:{web}/healthz")
            for port in (sink, inbound):
                with socket.create_connection(("127.0.0.1", port), timeout=5) as smtp:
                    assert smtp.recv(100).startswith(b"220")
        finally:
            proc.stop()
    assert "Traceback" not in proc.log(), proc.log()


def test_sink_with_a_busy_explicit_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with occupied() as port:
        done = _fails(["sink", "--port", str(port)], _env(tmp_path))
    assert f"port {port}" in done.stderr and "--port" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_sink_moves_off_a_busy_default_port(tmp_path: Path) -> None:
    with occupied(1025):
        proc = Proc("sink", [FOLLOWUP, "sink"], _env(tmp_path), tmp_path / "sink.log").start()
        try:
            printed = _started(proc, "sink: listening on")
            port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", printed).group(1))  # type: ignore[union-attr]
            assert port != 1025 and "port 1025 was busy" in printed
            with socket.create_connection(("127.0.0.1", port), timeout=5) as smtp:
                assert smtp.recv(100).startswith(b"220")
        finally:
            proc.stop()


def test_inbound_with_a_busy_explicit_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with occupied() as port:
        done = _fails(["inbound", "--port", str(port)], _env(tmp_path))
    assert f"port {port}" in done.stderr and "--port" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_inbound_moves_off_a_busy_default_port(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert subprocess.run([FOLLOWUP, "db", "upgrade"], env=env, timeout=60).returncode == 0
    with occupied(2525):
        proc = Proc("inbound", [FOLLOWUP, "inbound"], env, tmp_path / "inbound.log").start()
        try:
            printed = _started(proc, "inbound: listening on")
            port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", printed).group(1))  # type: ignore[union-attr]
            assert port != 2525 and "port 2525 was busy" in printed
            with socket.create_connection(("127.0.0.1", port), timeout=5) as smtp:
                assert smtp.recv(100).startswith(b"220")
        finally:
            proc.stop()


def test_web_with_a_busy_explicit_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with occupied() as port:
        done = _fails(["web", "--port", str(port)], _env(tmp_path))
    assert f"port {port}" in done.stderr and "--port" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_web_moves_off_a_busy_default_port(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert subprocess.run([FOLLOWUP, "db", "upgrade"], env=env, timeout=60).returncode == 0
    with occupied(8000):
        argv = [FOLLOWUP, "web", "--workers", "1"]
        proc = Proc("web", argv, env, tmp_path / "web.log").start()
        try:
            printed = _started(proc, "Listening at:")
            port = int(re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", printed).group(1))  # type: ignore[union-attr]
            assert port != 8000 and "port 8000 was busy" in printed
            wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), 30, "gunicorn")
        finally:
            proc.stop()
