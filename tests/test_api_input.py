"""The input layer on every API route, generated from app.url_map (a new route is covered):
deep nesting, NaN/Infinity, control characters, oversized bodies, wrong content types and ids
too large for the database, each a clear 4xx naming the field, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sequences.config import Settings, load_settings

from .conftest import Cast, Sink, make_env

LIMIT = 16384  # FOLLOWUP_API_MAX_BODY_BYTES here, so a too-large body stays small
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_ARG = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


@pytest.fixture
def settings(database_url: str, smtp_sink: Sink, tmp_path: Path) -> Settings:
    env = make_env(database_url, smtp_sink.port, tmp_path, FOLLOWUP_API_MAX_BODY_BYTES=str(LIMIT))
    return load_settings(env)


def _path(rule: str, id_value: str) -> str:
    def fill(match: re.Match[str]) -> str:
        converter, options = match.group(1), match.group(2)
        if converter == "any" and options:
            return options.split(",")[0].strip()
        return id_value

    return _ARG.sub(fill, rule)


def api_routes(app: Any) -> Iterator[tuple[str, str, str, str]]:
    """(method, rule, endpoint, body kind) for every /api/ rule and method."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        kind = getattr(view, "followup_accepts", "json")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule, rule.endpoint, kind


def call(client: Any, method: str, path: str, **kwargs: Any) -> Any:
    return client.open(path, method=method, **kwargs)


def assert_refused(response: Any, status: int, field: str, where: str) -> None:
    assert response.status_code == status, (where, response.status_code, response.get_data()[:300])
    error = response.json["error"]
    assert error["field"] == field and error["message"], (where, error)


BAD_JSON = [  # (raw body, status, field)
    ("[" * 5000 + "]" * 5000, 400, "body"),
    ('{"a": ' * 40 + "1" + "}" * 40, 400, "body"),
    ('{"email": NaN}', 400, "body"),
    ('{"email": Infinity}', 400, "body"),
    ('{"email": -Infinity}', 400, "body"),
    ('{"score": 1e400}', 422, "score"),
    ('{"email": "x",}', 400, "body"),
    ("[" + "9" * 5000 + "]", 400, "body"),
    ('{"email": "a\\u0000b@example.com"}', 422, "email"),
    ('{"first_name": "Ann\\u0007"}', 422, "first_name"),
    ('{"fields": {"note": "bad \\u001b[31m"}}', 422, "fields.note"),
    ('{"fields": {"ok": "tab\\tand\\nnewline", "c1": "\\u0085"}}', 422, "fields.c1"),
    ('{"steps": [{"subject": "x"}, {"subject": "\\u007f"}]}', 422, "steps[1].subject"),
    ('{"name": "\\ud800"}', 422, "name"),
    ('{"fields": {"k\\u0000": "v"}}', 422, "fields"),
]


def test_every_json_route_refuses_bad_bodies_before_the_view_runs(
    app: Any, client: Any, cast: Cast
) -> None:
    covered = 0
    for method, rule, _endpoint, kind in api_routes(app):
        if method not in BODY_METHODS or kind != "json":
            continue
        covered += 1
        path = _path(rule, "1")
        where = f"{method} {rule}"
        for raw, status, field in BAD_JSON:
            response = call(
                client,
                method,
                path,
                data=raw.encode("utf-8", "surrogatepass"),
                content_type="application/json",
                headers=cast.auth(),
            )
            assert_refused(response, status, field, f"{where} {raw[:40]}")
        not_utf8 = call(
            client,
            method,
            path,
            data=b'{"a": "\xff"}',
            content_type="application/json",
            headers=cast.auth(),
        )
        assert_refused(not_utf8, 400, "body", where)
        too_big = json.dumps({"notes": "x" * LIMIT})
        response = call(
            client,
            method,
            path,
            data=too_big,
            content_type="application/json",
            headers=cast.auth(),
        )
        assert_refused(response, 413, "body", where)
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "text/xml"):
            response = call(
                client,
                method,
                path,
                data='{"a": 1}',
                content_type=content_type,
                headers=cast.auth(),
            )
            assert_refused(response, 415, "Content-Type", f"{where} {content_type}")
        vendor = call(
            client,
            method,
            path,
            data='{"a": "\\u0000"}',
            content_type="application/merge-patch+json",
            headers=cast.auth(),
        )
        assert_refused(vendor, 422, "a", f"{where} +json")
    assert covered >= 15  # the API's JSON write routes, found from the route table


def test_every_multipart_route_refuses_control_characters_and_other_types(
    app: Any, client: Any, cast: Cast
) -> None:
    routes = [(m, r) for m, r, _, kind in api_routes(app) if kind == "multipart"]
    assert routes
    for method, rule in routes:
        path = _path(rule, "1")
        response = call(
            client,
            method,
            path,
            data={"name": "a\x00b", "file": (b"x", "a.txt")},
            headers=cast.auth(),
        )
        assert_refused(response, 422, "name", rule)
        response = call(
            client, method, path, data="x", content_type="text/plain", headers=cast.auth()
        )
        assert_refused(response, 415, "Content-Type", rule)


def test_every_route_refuses_control_characters_in_the_query(
    app: Any, client: Any, cast: Cast
) -> None:
    for method, rule, _, _ in api_routes(app):
        path = _path(rule, "1") + "?status=open%00&cursor=1"
        response = call(client, method, path, headers=cast.auth())
        assert_refused(response, 422, "status", f"{method} {rule}")


def test_ids_too_large_for_the_database_are_404_on_every_method(
    app: Any, client: Any, cast: Cast
) -> None:
    covered = 0
    for method, rule, _, kind in api_routes(app):
        if "<int:" not in rule:
            continue
        covered += 1
        for too_big in (str(2**31), "99999999999", "9" * 5000):
            kwargs: dict[str, Any] = {"headers": cast.auth()}
            if method in BODY_METHODS and kind == "json":
                kwargs["json"] = {}
            response = call(client, method, _path(rule, too_big), **kwargs)
            assert response.status_code == 404, (method, rule, too_big, response.status_code)
            assert response.is_json and response.json["error"]["message"]
        largest = call(
            client,
            method,
            _path(rule, str(2**31 - 1)),
            headers=cast.auth(),
            **({"json": {}} if method in BODY_METHODS and kind == "json" else {}),
        )
        # A valid id reaches the route's rule: the install's admin routes refuse a rep (403).
        admin_only = rule.startswith(("/api/v1/teams", "/api/v1/users"))
        allowed = (403,) if admin_only else (404, 422)
        assert largest.status_code in allowed, (method, rule, largest.status_code)
    assert covered >= 15


def test_clean_text_with_tabs_and_newlines_is_stored_and_served_as_sent(
    client: Any, cast: Cast
) -> None:
    body = {
        "email": "clean@prospect.example",
        "first_name": "Zoë",
        "fields": {"note": "line one\nline two\tand a tab\r\n", "emoji": "🚀"},
    }
    made = client.post("/api/v1/prospects", json=body, headers=cast.auth())
    assert made.status_code == 201, made.json
    got = client.get(f"/api/v1/prospects/{made.json['id']}", headers=cast.auth()).json
    assert got["fields"] == body["fields"] and got["first_name"] == "Zoë"
    # The refused ones left nothing behind, on either database.
    bad = client.post(
        "/api/v1/prospects", json={"email": "nul\x00@prospect.example"}, headers=cast.auth()
    )
    assert_refused(bad, 422, "email", "NUL")
    listed = client.get("/api/v1/prospects", headers=cast.auth()).json["items"]
    assert [p["email"] for p in listed] == ["clean@prospect.example"]


def test_bodies_without_a_key_are_still_401_when_well_formed(client: Any) -> None:
    response = client.post("/api/v1/prospects", json={"email": "a@b.example"})
    assert response.status_code == 401
