"""The sign-in and API-key throttles hold across processes: a real `followup web --workers 4`
(gunicorn) and guesses from many threads at once, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest

from sequences.workspace import API_KEY_ADDRESS, LOGIN_PAIR

from .conftest import REDIS_URL, require_service
from .procs import Stack, http, production_stack
from .webkit import CSRF

pytestmark = pytest.mark.slow
GUESSES = 40  # ten per worker, all at once


def _guess_password(stack: Stack, password: str, email: str = "rep@example.com") -> int:
    page = http("GET", stack.web_url + "/login")
    cookie = page.headers["set-cookie"].split(";", 1)[0]
    found = CSRF.search(page.body.decode())
    assert found is not None
    form = {"email": email, "password": password, "csrf_token": found.group(1)}
    answer = http(
        "POST",
        stack.web_url + "/login",
        urlencode(form).encode(),
        {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    return answer.status


def _guess_key(stack: Stack, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    return http("GET", stack.web_url + "/api/v1/prospects", headers=headers).status


def test_four_workers_allow_no_more_guesses_than_one(database_url: str, tmp_path: Path) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    # A long first wait: no cool-down ends while the guesses run, however slow the machine.
    with production_stack(
        database_url, REDIS_URL, tmp_path, FOLLOWUP_THROTTLE_BASE_SECONDS="3600"
    ) as stack:
        key = stack.api_key()  # rep@example.com
        made = stack.cli("user", "create", "--email", "pw@example.com", "--password", "right-pw")
        assert made.returncode == 0, made.stderr
        stack.start_web(workers=4)
        with ThreadPoolExecutor(max_workers=GUESSES) as pool:
            statuses = list(pool.map(lambda _: _guess_password(stack, "wrong"), range(GUESSES)))
            assert sorted(statuses) == [401] * LOGIN_PAIR.free + [429] * (
                GUESSES - LOGIN_PAIR.free
            ), stack.logs()
            bad = [f"fu_{n:012x}_guess" for n in range(GUESSES)]
            statuses = list(pool.map(lambda k: _guess_key(stack, k), bad))
            assert sorted(statuses) == [401] * API_KEY_ADDRESS.free + [429] * (
                GUESSES - API_KEY_ADDRESS.free
            ), stack.logs()
        assert _guess_key(stack, key) == 429  # the right key too, from this address, for now
        # Another account from this address still has its own allowance.
        assert _guess_password(stack, "right-pw", "pw@example.com") == 302
