"""The JSON API's contract: authentication on every route, JSON errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Cast


def test_every_api_route_requires_a_key(app: Any, client: Any) -> None:
    routes = [
        r
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/v1") and "openapi" not in r.rule
    ]
    assert routes
    sent = 0
    for rule in routes:
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", "1").replace(f"<{arg}>", "x")
            path = path.replace(f"<any(pause, resume, unenroll, retry, skip):{arg}>", "pause")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            # A client address per request: bad keys from one address are throttled after a few
            # (tests/test_login_throttle.py), and this test is about every route's 401.
            sent += 1
            response = client.open(
                path,
                method=method,
                headers={"Authorization": "Bearer fu_nope_nope"},
                environ_base={"REMOTE_ADDR": f"10.0.{sent // 256}.{sent % 256}"},
            )
            assert response.status_code == 401, (method, path)
            assert response.json["error"]["message"]


def test_a_revoked_or_malformed_key_is_refused(client: Any, cast: Cast) -> None:
    for header in ("", "Bearer", "Basic abc", f"Bearer {cast.rep_key}x", f"Token {cast.rep_key}"):
        assert client.get("/api/v1/prospects", headers={"Authorization": header}).status_code == 401
    assert client.get("/api/v1/prospects", headers=cast.auth()).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": "x@example.com\r\nBcc: victim@example.com"}, "email"),
        ({}, "email"),
        ({"email": "a@example.com", "first_name": 5}, "first_name"),
        ({"email": "a@example.com", "first_name": "Evil\nBcc: x"}, "first_name"),
        ({"email": "a@example.com", "timezone": "Mars/Olympus"}, "timezone"),
        ({"email": "a@example.com", "fields": ["a"]}, "fields"),
        ({"email": "a@example.com", "favourite": "x"}, "favourite"),
    ],
)
def test_invalid_prospect_is_422_naming_the_field(
    client: Any, cast: Cast, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/prospects", json=body, headers=cast.auth())
    assert response.status_code == 422
    assert response.json["error"]["field"] == field


def test_body_that_is_not_json_is_a_clear_error(client: Any, cast: Cast) -> None:
    for data, content_type, status, words in (
        ("{", "application/json", 400, "not valid JSON"),
        ("email=a@b.c", "application/x-www-form-urlencoded", 415, "application/json"),
        ("[1, 2]", "application/json", 422, "JSON object"),
    ):
        response = client.post(
            "/api/v1/prospects", data=data, content_type=content_type, headers=cast.auth()
        )
        assert response.status_code == status, data
        assert words in response.json["error"]["message"]


def test_duplicate_prospect_is_409(client: Any, cast: Cast) -> None:
    assert (
        client.post(
            "/api/v1/prospects", json={"email": "dup@example.com"}, headers=cast.auth()
        ).status_code
        == 201
    )
    response = client.post(
        "/api/v1/prospects", json={"email": "dup@EXAMPLE.com"}, headers=cast.auth()
    )
    assert response.status_code == 409


def test_unknown_ids_and_methods_answer_json(client: Any, cast: Cast) -> None:
    for path in (
        "/api/v1/prospects/999",
        "/api/v1/enrollments/999",
        "/api/v1/sequences/999",
        "/api/v1/prospects/999/activity",
        "/api/v1/nothing-here",
    ):
        response = client.get(path, headers=cast.auth())
        assert response.status_code == 404 and response.is_json, path
    response = client.delete("/api/v1/prospects", headers=cast.auth())
    assert response.status_code == 405 and response.is_json


def test_invalid_sequence_is_422_with_step_and_line(client: Any, cast: Cast) -> None:
    response = client.post(
        "/api/v1/sequences",
        json={
            "name": "Bad",
            "steps": [
                {"type": "email", "subject": "Hi", "body_html": "<p>ok</p>"},
                {
                    "type": "email",
                    "delay": "P3D",
                    "subject": "Hi {{ first_name }",
                    "body_html": "<p>line one</p>\n<p>{{ favourite_colour }}</p>",
                },
            ],
        },
        headers=cast.auth(),
    )
    assert response.status_code == 422
    details = response.json["error"]["details"]
    assert {k: details[0][k] for k in ("field", "line")} == {"field": "steps[1].subject", "line": 1}
    assert details[1]["field"] == "steps[1].body_html" and details[1]["line"] == 2
    assert "favourite_colour" in details[1]["message"]
    for steps, field in (
        (
            [{"type": "email", "delay": "3 months", "subject": "s", "body_html": "b"}],
            "steps[0].delay",
        ),
        ([{"type": "fax"}], "steps[0].type"),
        ([], "steps"),
    ):
        response = client.post(
            "/api/v1/sequences", json={"name": "x", "steps": steps}, headers=cast.auth()
        )
        assert response.status_code == 422 and response.json["error"]["field"] == field


def test_enrolling_twice_is_refused_with_a_reason(client: Any, cast: Cast) -> None:
    prospect = client.post(
        "/api/v1/prospects", json={"email": "once@example.com"}, headers=cast.auth()
    ).json
    sequence = client.post(
        "/api/v1/sequences",
        json={
            "name": "S",
            "steps": [{"type": "email", "delay": "P1D", "subject": "s", "body_html": "b"}],
        },
        headers=cast.auth(),
    ).json
    body = {"prospect_id": prospect["id"], "sequence_id": sequence["id"]}
    assert client.post("/api/v1/enrollments", json=body, headers=cast.auth()).status_code == 201
    again = client.post("/api/v1/enrollments", json=body, headers=cast.auth())
    assert again.status_code == 409 and "already active" in again.json["error"]["message"]
    forced = client.post("/api/v1/enrollments", json={**body, "force": True}, headers=cast.auth())
    assert forced.status_code == 201


def test_a_rep_cannot_see_another_reps_prospect_but_a_manager_can(
    client: Any, cast: Cast, rt: Any
) -> None:
    from sequences.workspace.accounts import create_api_key, create_user

    with rt.sessions.begin() as s:
        other = create_user(s, "olga@example.com", name="Olga")
        other_key = create_api_key(s, other, rt.clock.now())
    prospect = client.post(
        "/api/v1/prospects", json={"email": "mine@example.com"}, headers=cast.auth()
    ).json
    assert (
        client.get(f"/api/v1/prospects/{prospect['id']}", headers=cast.auth(other_key)).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/v1/prospects/{prospect['id']}", headers=cast.auth(cast.manager_key)
        ).status_code
        == 200
    )


def test_tasks_page_in_due_order_with_a_cursor(client: Any, cast: Cast, rt: Any) -> None:
    from datetime import timedelta

    from sequences.models import Prospect, Task

    now = rt.clock.now()
    with rt.sessions.begin() as s:
        prospect = Prospect(team_id=1, owner_id=cast.rep_id, email="calls@example.com")
        s.add(prospect)
        s.flush()
        # Created in one order, due in another: pages follow the due time.
        for hours in (5, 1, 4, 2, 3):
            s.add(
                Task(
                    prospect_id=prospect.id,
                    owner_id=cast.rep_id,
                    type="call",
                    title=f"call in {hours}h",
                    due_at=now + timedelta(hours=hours),
                )
            )
    titles: list[str] = []
    cursor = ""
    while True:
        page = client.get(f"/api/v1/tasks?limit=2{cursor}", headers=cast.auth()).json
        titles += [t["title"] for t in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert titles == [f"call in {h}h" for h in (1, 2, 3, 4, 5)]
    # A well-formed cursor naming no task: as an unknown id (404); a malformed one is a 422.
    assert client.get("/api/v1/tasks?cursor=999999", headers=cast.auth()).status_code == 404
    assert client.get("/api/v1/tasks?cursor=x", headers=cast.auth()).status_code == 422


def test_documents_page_newest_first(client: Any, cast: Cast) -> None:
    import io

    for n in range(3):
        response = client.post(
            "/api/v1/documents",
            headers=cast.auth(),
            data={"file": (io.BytesIO(b"%PDF-1.4 x"), f"doc{n}.pdf")},
        )
        assert response.status_code == 201, response.json
    first = client.get("/api/v1/documents?limit=2", headers=cast.auth()).json
    assert [d["name"] for d in first["items"]] == ["doc2.pdf", "doc1.pdf"]
    rest = client.get(
        f"/api/v1/documents?limit=2&cursor={first['next_cursor']}", headers=cast.auth()
    ).json
    assert [d["name"] for d in rest["items"]] == ["doc0.pdf"] and rest["next_cursor"] is None
