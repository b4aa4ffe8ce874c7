"""API lists page with a cursor; errors are JSON with a message and a field, whatever the status."""

from __future__ import annotations

from typing import Any

from sequences import runtime
from sequences.enrollment import record

from .conftest import Cast


def walk(client: Any, path: str, key: str | None = None, limit: int = 2) -> list[dict[str, Any]]:
    """Every item of a list, page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    sep = "&" if "?" in path else "?"
    for _ in range(100):
        url = f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.json
        page = response.json
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination never ended")


def make_sequence(client: Any, cast: Cast, name: str) -> int:
    response = client.post(
        "/api/v1/sequences",
        json={
            "name": name,
            "steps": [{"type": "email", "delay": "P1D", "subject": "s", "body_html": "<p>b</p>"}],
        },
        headers=cast.auth(),
    )
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def test_prospects_sequences_enrollments_and_events_page_through_everything(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    prospects = [
        client.post(
            "/api/v1/prospects", json={"email": f"p{n}@example.com"}, headers=cast.auth()
        ).json["id"]
        for n in range(5)
    ]
    sequences = [make_sequence(client, cast, f"S{n}") for n in range(3)]
    enrollments = [
        client.post(
            "/api/v1/enrollments",
            json={"prospect_id": p, "sequence_id": sequences[0]},
            headers=cast.auth(),
        ).json["id"]
        for p in prospects
    ]
    assert [p["id"] for p in walk(client, "/api/v1/prospects", cast.rep_key)] == prospects
    assert [s["id"] for s in walk(client, "/api/v1/sequences", cast.rep_key)] == sequences
    assert [e["id"] for e in walk(client, "/api/v1/enrollments", cast.rep_key)] == enrollments
    only = walk(client, f"/api/v1/enrollments?prospect_id={prospects[1]}", cast.rep_key)
    assert [e["id"] for e in only] == [enrollments[1]]
    assert walk(client, f"/api/v1/enrollments?sequence_id={sequences[1]}", cast.rep_key) == []
    assert len(walk(client, "/api/v1/enrollments?status=active", cast.rep_key)) == 5
    assert walk(client, "/api/v1/enrollments?status=paused", cast.rep_key) == []

    events = walk(client, "/api/v1/events", cast.rep_key)
    assert [e["type"] for e in events] == ["enrolled"] * 5
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    with rt.sessions.begin() as s:
        record(s, "reply", rt.clock.now(), prospect_id=prospects[2], text="Call me")
    replies = walk(client, "/api/v1/events?type=reply", cast.rep_key)
    assert [(e["type"], e["text"]) for e in replies] == [("reply", "Call me")]
    timeline = walk(client, f"/api/v1/events?prospect_id={prospects[2]}", cast.rep_key)
    assert [e["type"] for e in timeline] == ["enrolled", "reply"]
    # A feed reader that kept the last cursor sees only what is new.
    last = client.get("/api/v1/events?limit=200", headers=cast.auth()).json["items"][-1]["id"]
    with rt.sessions.begin() as s:
        record(s, "open", rt.clock.now(), prospect_id=prospects[0])
    new = client.get(f"/api/v1/events?cursor={last}", headers=cast.auth()).json
    assert [e["type"] for e in new["items"]] == ["open"] and new["next_cursor"] is None


def test_a_rep_lists_only_their_prospects_enrollments_and_events(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    sequence = make_sequence(client, cast, "Shared")
    mine = client.post(
        "/api/v1/prospects", json={"email": "mine@example.com"}, headers=cast.auth()
    ).json["id"]
    theirs = client.post(
        "/api/v1/prospects",
        json={"email": "theirs@example.com"},
        headers=cast.auth(cast.manager_key),
    ).json["id"]
    for prospect_id, key in ((mine, cast.rep_key), (theirs, cast.manager_key)):
        client.post(
            "/api/v1/enrollments",
            json={"prospect_id": prospect_id, "sequence_id": sequence},
            headers=cast.auth(key),
        )
    rep_sees = {e["prospect_id"] for e in walk(client, "/api/v1/enrollments", cast.rep_key)}
    manager_sees = {e["prospect_id"] for e in walk(client, "/api/v1/enrollments", cast.manager_key)}
    assert rep_sees == {mine} and manager_sees == {mine, theirs}
    assert walk(client, f"/api/v1/events?prospect_id={theirs}", cast.rep_key) == []
    assert len(walk(client, f"/api/v1/events?prospect_id={theirs}", cast.manager_key)) == 1


def test_bad_list_arguments_are_422_naming_the_argument(client: Any, cast: Cast) -> None:
    for path, field in (
        ("/api/v1/prospects?cursor=abc", "cursor"),
        ("/api/v1/prospects?cursor=-1", "cursor"),
        ("/api/v1/prospects?cursor=99999999999999999999", "cursor"),
        ("/api/v1/sequences?limit=lots", "limit"),
        ("/api/v1/enrollments?status=sleeping", "status"),
        ("/api/v1/enrollments?prospect_id=x", "prospect_id"),
        ("/api/v1/enrollments?sequence_id=99999999999", "sequence_id"),
        ("/api/v1/events?type=" + "x" * 31, "type"),
        # Out of the documented 1..200: refused, not clamped, so a client hears about its bug.
        ("/api/v1/prospects?limit=0", "limit"),
        ("/api/v1/prospects?limit=5000", "limit"),
    ):
        response = client.get(path, headers=cast.auth())
        assert response.status_code == 422, path
        assert response.json["error"]["field"] == field, path
    assert client.get("/api/v1/prospects?limit=200", headers=cast.auth()).status_code == 200


def test_every_error_status_is_json_with_message_and_field(
    app: Any, client: Any, cast: Cast
) -> None:
    auth = cast.auth()
    cases = [
        client.get("/api/v1/nowhere", headers=auth),  # 404 no route
        client.get("/api/v1/prospects/99999999999", headers=auth),  # 404 beyond 32 bits
        client.delete("/api/v1/prospects", headers=auth),  # 405
        client.post("/api/v1/prospects", data="{", content_type="application/json", headers=auth),
        client.get("/api/v1/prospects"),  # 401
        client.post("/api/v1/inbound", data=b"x", content_type="image/png", headers=auth),  # 415
    ]
    for response in cases:
        assert response.is_json, response.status_code
        error = response.json["error"]
        assert set(error) >= {"message", "field"} and error["message"], response.status_code
    assert [r.status_code for r in cases] == [404, 404, 405, 400, 401, 415]
    assert cases[3].json["error"]["field"] == "body"
    assert "GET" in cases[2].headers["Allow"] and "POST" in cases[2].headers["Allow"]
    assert cases[4].headers["WWW-Authenticate"].startswith("Bearer")

    app.config["MAX_CONTENT_LENGTH"] = 1024
    too_big = client.post(
        "/api/v1/prospects", json={"email": "a@b.co", "x": "y" * 2000}, headers=auth
    )
    assert too_big.status_code == 413 and too_big.is_json
    assert too_big.json["error"]["message"]


def test_values_the_database_cannot_hold_are_refused_not_500(client: Any, cast: Cast) -> None:
    auth = cast.auth()
    for body in (
        {"prospect_id": 2**40, "sequence_id": 1},
        {"prospect_id": 1, "sequence_id": 2**63 + 5},
    ):
        response = client.post("/api/v1/enrollments", json=body, headers=auth)
        assert response.status_code in (404, 422), (body, response.json)
        assert response.is_json
    response = client.post(
        "/api/v1/prospects", json={"email": "o@example.com", "owner_id": 2**40}, headers=auth
    )
    assert response.status_code == 422 and response.json["error"]["field"] == "owner_id"
    first = client.post("/api/v1/prospects", json={"email": "one@example.com"}, headers=auth)
    second = client.post("/api/v1/prospects", json={"email": "two@example.com"}, headers=auth)
    clash = client.patch(
        f"/api/v1/prospects/{second.json['id']}", json={"email": "one@example.com"}, headers=auth
    )
    assert first.status_code == 201 and clash.status_code == 409 and clash.is_json
