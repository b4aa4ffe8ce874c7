"""Browser security headers on every answer: pages, the API, errors; HSTS and Secure cookies
when the site is served over https (the browser side: tests/browser, which fails on any CSP
violation)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from sequences import runtime
from sequences.clock import FrozenClock
from sequences.config import load_settings

from .conftest import Sink, make_env
from .webkit import login, seed_team


def _headers_ok(response: Any) -> None:
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_pages_the_api_and_errors_carry_the_security_headers(client: Any) -> None:
    for path in ("/login", "/api/v1/openapi.json", "/api/v1/prospects", "/nowhere", "/healthz"):
        response = client.get(path)
        _headers_ok(response)
        assert "Strict-Transport-Security" not in response.headers  # http here
    assert client.get("/").status_code == 302
    _headers_ok(client.get("/"))


def test_only_the_editor_allows_the_previewed_emails_inline_styles(
    client: Any, session: Session
) -> None:
    team = seed_team(session)
    login(client, team.rep_email)
    editor = client.get("/sequences/new").headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in editor and "script-src 'self';" in editor
    listing = client.get("/sequences").headers["Content-Security-Policy"]
    assert "style-src 'self';" in listing


@pytest.fixture
def https_client(
    database_url: str, smtp_sink: Sink, tmp_path: Path
) -> Iterator[tuple[Any, runtime.Runtime]]:
    from tracker import create_app

    env = make_env(
        database_url, smtp_sink.port, tmp_path, FOLLOWUP_BASE_URL="https://follow.example.com"
    )
    built = runtime.build(load_settings(env), FrozenClock())
    previous = runtime.install(built)
    app = create_app({"RUNTIME": built, "TESTING": True})
    yield app.test_client(), built
    runtime.install(previous)
    built.dispose()


def test_over_https_hsts_is_sent_and_the_session_cookie_is_secure(
    https_client: tuple[Any, runtime.Runtime],
) -> None:
    client, built = https_client
    with built.sessions() as session:
        team = seed_team(session)
    page = client.get("/login", base_url="https://follow.example.com")
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
    _headers_ok(page)
    response = login(client, team.rep_email)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
