"""The workspace's views in the JSON API: hot list, call logging, step statistics, report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sequences import runtime
from sequences.models import Event

from .conftest import Cast


def _prospect(client: Any, cast: Cast, email: str) -> int:
    response = client.post(
        "/api/v1/prospects", json={"email": email, "phone": "+1 555 0100"}, headers=cast.auth()
    )
    assert response.status_code == 201
    return int(response.json["id"])


def test_hotlist_ranks_human_engagement_and_ignores_machines(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    warm, machine_only = (
        _prospect(client, cast, "warm@example.com"),
        _prospect(client, cast, "bot@example.com"),
    )
    now = rt.clock.now()
    with rt.sessions.begin() as s:
        s.add(Event(prospect_id=warm, type="click", at=now - timedelta(minutes=5), verdict="human"))
        s.add(
            Event(
                prospect_id=machine_only,
                type="open",
                at=now - timedelta(minutes=1),
                verdict="machine",
                reason="apple_privacy_proxy",
            )
        )
    items = client.get("/api/v1/hotlist", headers=cast.auth()).json["items"]
    assert [i["prospect"]["email"] for i in items] == ["warm@example.com"]
    assert items[0]["clicks"] == 1 and items[0]["prospect"]["phone"] == "+1 555 0100"


def test_logging_a_call_puts_it_on_the_timeline(client: Any, cast: Cast) -> None:
    prospect = _prospect(client, cast, "callme@example.com")
    response = client.post(
        f"/api/v1/prospects/{prospect}/calls",
        json={"outcome": "voicemail", "notes": "Left a message"},
        headers=cast.auth(),
    )
    assert response.status_code == 201 and response.json["outcome"] == "voicemail"
    events = client.get(f"/api/v1/prospects/{prospect}/activity", headers=cast.auth()).json[
        "events"
    ]
    assert any(e["type"] == "call" and e["notes"] == "Left a message" for e in events)
    for body, field in (
        ({"outcome": "maybe"}, "outcome"),
        ({}, "outcome"),
        ({"outcome": "connected", "notes": 3}, "notes"),
    ):
        bad = client.post(f"/api/v1/prospects/{prospect}/calls", json=body, headers=cast.auth())
        assert bad.status_code == 422 and bad.json["error"]["field"] == field


def test_sequence_stats_list_every_step(client: Any, cast: Cast) -> None:
    sequence = client.post(
        "/api/v1/sequences",
        json={
            "name": "S",
            "steps": [
                {"type": "email", "subject": "a", "body_html": "<p>a</p>"},
                {"type": "email", "delay": "P2D", "subject": "b", "body_html": "<p>b</p>"},
            ],
        },
        headers=cast.auth(),
    ).json
    stats = client.get(f"/api/v1/sequences/{sequence['id']}/stats", headers=cast.auth()).json
    assert stats["sequence_id"] == sequence["id"]
    assert all(row["sent"] == 0 for row in stats["items"])
    assert client.get("/api/v1/sequences/9999/stats", headers=cast.auth()).status_code == 404


def test_report_is_for_managers_and_checks_its_dates(client: Any, cast: Cast) -> None:
    assert client.get("/api/v1/report", headers=cast.auth()).status_code == 403
    report = client.get(
        "/api/v1/report?start=2026-01-01&end=2026-01-31", headers=cast.auth(cast.manager_key)
    )
    assert report.status_code == 200
    assert report.json["start"] == "2026-01-01" and {r["rep"] for r in report.json["items"]} >= {
        "Rita Rep"
    }
    for query, field in (
        ("start=yesterday", "start"),
        ("end=2026-13-01", "end"),
        ("start=2026-02-01&end=2026-01-01", "start"),
        ("start=2020-01-01&end=2026-01-01", "start"),
    ):
        bad = client.get(f"/api/v1/report?{query}", headers=cast.auth(cast.manager_key))
        assert bad.status_code == 422 and bad.json["error"]["field"] == field, query
