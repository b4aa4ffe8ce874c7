"""Whose address the throttles count: the peer by default, the client behind our own proxies
with FOLLOWUP_TRUSTED_PROXIES=N, and never an X-Forwarded-For entry the client wrote itself."""

from __future__ import annotations

import dataclasses
from typing import Any

from sequences import runtime
from sequences.workspace import API_KEY_ADDRESS

BAD = {"Authorization": "Bearer fu_not_a_key"}
PROXY = "10.0.0.2"  # the reverse proxy (nginx) in front of gunicorn


def _app_behind(rt: runtime.Runtime, proxies: int) -> Any:
    from tracker import create_app

    settings = dataclasses.replace(rt.settings, trusted_proxies=proxies)
    return create_app({"RUNTIME": dataclasses.replace(rt, settings=settings), "TESTING": True})


def _bad_keys(client: Any, forwarded_for: str, times: int) -> list[int]:
    headers = {**BAD, "X-Forwarded-For": forwarded_for}
    return [client.get("/api/v1/prospects", headers=headers).status_code for _ in range(times)]


def _client(app: Any) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = PROXY
    return client


def test_by_default_a_forged_forwarded_for_header_does_not_dodge_the_key_throttle(
    app: Any,
) -> None:
    client = _client(app)
    # Each guess claims another address; without trusted proxies the peer is what counts.
    codes = [
        client.get(
            "/api/v1/prospects", headers={**BAD, "X-Forwarded-For": f"203.0.113.{i}"}
        ).status_code
        for i in range(API_KEY_ADDRESS.free + 1)
    ]
    assert codes == [401] * API_KEY_ADDRESS.free + [429]


def test_behind_one_trusted_proxy_each_client_address_is_throttled_on_its_own(
    rt: runtime.Runtime,
) -> None:
    client = _client(_app_behind(rt, 1))
    guesser = _bad_keys(client, "203.0.113.7", API_KEY_ADDRESS.free + 1)
    assert guesser == [401] * API_KEY_ADDRESS.free + [429]
    # Another client behind the same proxy is not held back by the guesser's failures.
    assert _bad_keys(client, "198.51.100.9", 1) == [401]
    # The guesser writing its own X-Forwarded-For first: the proxy appends the real address,
    # and only that last entry is trusted, so the forged one changes nothing.
    assert _bad_keys(client, "198.51.100.50, 203.0.113.7", 1) == [429]
