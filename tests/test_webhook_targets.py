"""Webhooks never reach the inside: refused addresses at registration and at delivery, pinned
connections (DNS rebinding), no redirects, and delivery errors that do not tell ports apart."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sequences import webhooks
from sequences.config import ConfigError, load_settings
from sequences.egress import TargetPolicy, TargetRefused, check_host
from sequences.errors import ValidationError
from sequences.sending.sink import free_port
from sequences.workspace.accounts import create_user, default_team

from .conftest import Cast

REFUSED = [
    ("http://127.0.0.1/hook", "loopback"),
    ("http://127.8.9.10:8080/hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://10.1.2.3/hook", "private"),
    ("http://172.16.0.1/hook", "private"),
    ("http://172.31.255.254/hook", "private"),
    ("http://192.168.1.1/hook", "private"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://169.254.7.7/hook", "link-local"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://[fc00::1]/hook", "unique-local"),
    ("http://[fd12:3456::1]/hook", "unique-local"),
    ("http://[fd00:ec2::254]/hook", "cloud metadata"),
    ("http://0.0.0.0:8000/hook", "unspecified"),
    ("http://[::]/hook", "unspecified"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback (IPv4 inside IPv6)"),
    ("http://100.64.0.1/hook", "not public"),
    ("http://localhost:8000/hook", "loopback"),
    ("https://LocalHost./hook", "loopback"),
    ("http://admin.localhost/hook", "loopback"),
]


def test_every_inside_address_class_is_refused_at_registration_with_the_reason(
    client: Any, cast: Cast
) -> None:
    for url, kind in REFUSED:  # one test: the app is built once
        response = client.post(
            "/api/v1/webhooks", json={"url": url, "events": ["reply"]}, headers=cast.auth()
        )
        assert response.status_code == 422, (url, response.json)
        error = response.json["error"]
        assert error["field"] == "url" and kind in error["message"], (url, error)
        assert "FOLLOWUP_WEBHOOK_ALLOW_PRIVATE" in error["message"]
    assert client.get("/api/v1/webhooks", headers=cast.auth()).json["items"] == []


def test_changing_a_webhook_to_an_inside_address_is_refused(client: Any, cast: Cast) -> None:
    made = client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.invalid/x", "events": ["reply"]},
        headers=cast.auth(),
    )
    assert made.status_code == 201, made.json  # a name that does not resolve reaches nothing
    changed = client.patch(
        f"/api/v1/webhooks/{made.json['id']}",
        json={"url": "http://192.168.0.10/x"},
        headers=cast.auth(),
    )
    assert changed.status_code == 422 and "private" in changed.json["error"]["message"]
    got = client.get(f"/api/v1/webhooks/{made.json['id']}", headers=cast.auth()).json
    assert got["url"] == "https://hooks.example.invalid/x"


def resolver(*answers: list[str]) -> Any:
    """A DNS that gives each answer in turn (the last one from then on), counting lookups."""
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls), len(answers)) - 1]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def test_a_name_resolving_to_an_inside_address_is_refused(rt: Any) -> None:
    with rt.sessions() as s:
        rep = create_user(s, "dns@example.com", team=default_team(s))
        for answer in (["10.0.0.7"], ["93.184.215.14", "127.0.0.1"], ["::1"]):
            with pytest.raises(ValidationError) as refused:
                webhooks.create_webhook(
                    s,
                    rep,
                    {"url": "https://crm.example.com/hook", "events": ["reply"]},
                    rt.clock.now(),
                    resolve=resolver(answer),
                )
            assert refused.value.field == "url"
            assert "crm.example.com resolves to" in refused.value.message
        hook = webhooks.create_webhook(
            s,
            rep,
            {"url": "https://crm.example.com/hook", "events": ["reply"]},
            rt.clock.now(),
            resolve=resolver(["93.184.215.14"]),
        )
        assert hook.url == "https://crm.example.com/hook"
        s.rollback()


def test_settings_allow_private_targets_but_never_cloud_metadata() -> None:
    anything = TargetPolicy(allow_private=True)
    assert check_host("127.0.0.1", 80, anything) == [ipaddress.ip_address("127.0.0.1")]
    assert check_host("localhost", 80, anything, resolver(["127.0.0.1"]))
    with pytest.raises(TargetRefused, match="cloud metadata"):
        check_host("169.254.169.254", 80, anything)

    office = TargetPolicy(allow_networks=(ipaddress.ip_network("10.20.0.0/16"),))
    assert check_host("10.20.3.4", 80, office)
    for outside in ("10.21.0.1", "192.168.1.1", "127.0.0.1"):
        with pytest.raises(TargetRefused):
            check_host(outside, 80, office)
    metadata = TargetPolicy(allow_networks=(ipaddress.ip_network("169.254.169.254/32"),))
    assert check_host("169.254.169.254", 80, metadata)  # named explicitly: the operator's call


def test_the_settings_are_read_from_the_environment_and_checked() -> None:
    settings = load_settings(
        {
            "FOLLOWUP_WEBHOOK_ALLOW_PRIVATE": "yes",
            "FOLLOWUP_WEBHOOK_ALLOW_NETWORKS": "10.0.0.0/8, fd00::/8,192.168.1.5",
        }
    )
    assert settings.webhook_allow_private is True
    assert [str(n) for n in settings.webhook_allow_networks] == [
        "10.0.0.0/8",
        "fd00::/8",
        "192.168.1.5/32",
    ]
    assert load_settings({}).webhook_allow_private is False
    with pytest.raises(ConfigError, match="FOLLOWUP_WEBHOOK_ALLOW_NETWORKS"):
        load_settings({"FOLLOWUP_WEBHOOK_ALLOW_NETWORKS": "10.0.0.0/8,intranet"})
    with pytest.raises(ConfigError, match="FOLLOWUP_WEBHOOK_ALLOW_PRIVATE"):
        load_settings({"FOLLOWUP_WEBHOOK_ALLOW_PRIVATE": "maybe"})


class Server:
    """A real local HTTP server recording each POST's Host header; answers `status`."""

    def __init__(self, status: int = 200, location: str | None = None) -> None:
        self.hosts: list[str] = []
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                state.hosts.append(self.headers.get("Host", ""))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


LOCAL_ONLY = TargetPolicy(allow_networks=(ipaddress.ip_network("127.0.0.1/32"),))


def test_delivery_connects_to_the_checked_address_with_the_names_host_header(
    server: Server,
) -> None:
    dns = resolver(["127.0.0.1"])
    url = f"http://crm.example.com:{server.port}/hook"
    status, _ = webhooks.http_post(url, b"{}", {}, 2.0, targets=LOCAL_ONLY, resolve=dns)
    assert status == 200
    assert server.hosts == [f"crm.example.com:{server.port}"]
    assert dns.calls == ["crm.example.com"]  # one lookup: what was checked is what is used


def test_dns_rebinding_after_registration_reaches_nothing_inside(rt: Any, server: Server) -> None:
    """The name resolved to a public address when registered, to loopback when delivered."""
    dns = resolver(["93.184.215.14"], ["127.0.0.1"])
    url = f"http://rebind.example.com:{server.port}/hook"
    with rt.sessions() as s:
        rep = create_user(s, "rebind@example.com", team=default_team(s))
        webhooks.create_webhook(
            s, rep, {"url": url, "events": ["reply"]}, rt.clock.now(), resolve=dns
        )
        s.rollback()
    with pytest.raises(TargetRefused) as refused:
        webhooks.http_post(url, b"{}", {}, 2.0, resolve=dns)
    assert server.hosts == []  # nothing was sent to the inside
    assert webhooks.delivery_error(refused.value).startswith(
        "refused: rebind.example.com resolves to 127.0.0.1, a loopback address"
    )


def test_a_redirect_to_an_inside_address_is_not_followed(server: Server) -> None:
    redirecting = Server(status=307, location=f"http://127.0.0.1:{server.port}/inside")
    try:
        url = f"http://127.0.0.1:{redirecting.port}/hook"
        status, _ = webhooks.http_post(url, b"{}", {}, 2.0, targets=LOCAL_ONLY)
    finally:
        redirecting.close()
    assert status == 307  # a failed delivery ("HTTP 307"), not a second request
    assert len(redirecting.hosts) == 1 and server.hosts == []


def _error_for(url: str, timeout: float) -> str:
    try:
        webhooks.http_post(url, b"{}", {}, timeout, targets=LOCAL_ONLY)
    except (OSError, ValueError) as exc:
        return webhooks.delivery_error(exc)
    return "answered"


def test_the_delivery_error_is_the_same_for_closed_silent_and_resetting_ports() -> None:
    closed = free_port()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    resetting = socket.socket()
    resetting.bind(("127.0.0.1", 0))
    resetting.listen(1)

    def reset_once() -> None:
        conn, _ = resetting.accept()
        conn.close()

    threading.Thread(target=reset_once, daemon=True).start()
    try:
        errors = {
            "closed": _error_for(f"http://127.0.0.1:{closed}/", 0.3),
            "silent": _error_for(f"http://127.0.0.1:{silent.getsockname()[1]}/", 0.3),
            "reset": _error_for(f"http://127.0.0.1:{resetting.getsockname()[1]}/", 0.3),
        }
    finally:
        silent.close()
        resetting.close()
    assert set(errors.values()) == {webhooks.NO_ANSWER}, errors
