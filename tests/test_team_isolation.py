"""Two teams side by side: no list, report or search of the API shows one team anything of the other.

tests/test_authorization.py holds every route x persona for objects named in the path; this file
holds what that matrix cannot see: what a *list* returns. Team West fills every kind of object
with a marker in its text, then every GET route of the API without a path parameter is read by
team East's manager (the most a user of another team can see) and must never contain the marker.
The routes come from tracker/api/access.py, so a new list route is covered the day it lands.
"""

from __future__ import annotations

import io
import json
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from sequences import runtime
from sequences.workspace import create_api_key, create_team, create_user
from tracker.api.access import RULES

from .conftest import Cast

MARK = "westonly"


def _lists(app: Any) -> list[str]:
    """Every GET route of the API that names no object (every one is declared in RULES)."""
    paths = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and "GET" in rule.methods and not rule.arguments:
            assert rule.endpoint in RULES, rule.endpoint
            paths.append(rule.rule)
    return sorted(p for p in paths if not p.endswith("openapi.json"))


def _seed_west(client: Any, cast: Cast) -> None:
    """One object of every kind, each carrying MARK, made through the API by team West."""
    auth = cast.auth()
    prospect = client.post(
        "/api/v1/prospects",
        json={"email": f"{MARK}@prospect.example", "first_name": MARK.title(), "company": MARK},
        headers=auth,
    )
    assert prospect.status_code == 201, prospect.json
    sequence = client.post(
        "/api/v1/sequences",
        json={
            "name": f"{MARK} sequence",
            "steps": [
                {"type": "call", "delay": "PT0S", "title": f"Call {MARK}"},
                {"type": "email", "delay": "P1D", "subject": f"{MARK} hi", "body_html": "<p>b</p>"},
            ],
        },
        headers=auth,
    )
    assert sequence.status_code == 201, sequence.json
    enrolled = client.post(
        "/api/v1/enrollments",
        json={"prospect_id": prospect.json["id"], "sequence_id": sequence.json["id"]},
        headers=auth,
    )
    assert enrolled.status_code == 201, enrolled.json
    document = client.post(
        "/api/v1/documents",
        data={"file": (io.BytesIO(b"plan"), f"{MARK}-plan.txt", "text/plain")},
        headers=auth,
        content_type="multipart/form-data",
    )
    assert document.status_code == 201, document.json
    hook = client.post(
        "/api/v1/webhooks",
        json={"url": f"https://{MARK}.example/hook", "events": ["reply"]},
        headers=auth,
    )
    assert hook.status_code == 201, hook.json
    lead = client.post("/api/v1/leads", json={"email": f"{MARK}-lead@lead.example"}, headers=auth)
    assert lead.status_code in (200, 201), lead.json
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"{MARK}@prospect.example"
    msg["To"] = "rita@example.com"
    msg["Subject"] = f"Re: {MARK} hi"
    msg["Message-ID"] = f"<{MARK}@prospect.example>"
    msg.set_content(f"Yes, let's talk. {MARK}")
    inbound = client.post(
        "/api/v1/inbound",
        data=msg.as_bytes(),
        headers={**auth, "Content-Type": "message/rfc822"},
    )
    assert inbound.status_code < 300, inbound.json
    client.post(f"/api/v1/prospects/{prospect.json['id']}/conversion", headers=auth)


def test_no_list_of_the_api_shows_another_teams_objects_even_to_its_manager(
    app: Any, client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    with rt.sessions.begin() as s:
        east = create_team(s, "East")
        bea = create_user(s, "bea@east.example", team=east, manager=True)
        east_key = create_api_key(s, bea, rt.clock.now())
    _seed_west(client, cast)
    east_own = client.post(
        "/api/v1/prospects", json={"email": "eastern@prospect.example"}, headers=cast.auth(east_key)
    )
    assert east_own.status_code == 201

    leaked, seen_by_west = [], []
    for path in _lists(app):
        for key in (cast.rep_key, cast.manager_key):
            west = client.get(path, headers=cast.auth(key))
            if MARK in json.dumps(west.json) and path not in seen_by_west:
                seen_by_west.append(path)
        answer = client.get(path, headers=cast.auth(east_key))
        assert answer.status_code < 500, (path, answer.status_code)
        if MARK in json.dumps(answer.json):
            leaked.append(path)
    assert leaked == []
    # The marker is there to be found: West's own manager sees it in the lists of each kind.
    for path in ("/api/v1/prospects", "/api/v1/sequences", "/api/v1/documents", "/api/v1/webhooks"):
        assert path in seen_by_west, seen_by_west
    assert len(seen_by_west) >= 6, seen_by_west
    # Lists of ids carry no marker: East's own are empty, West's are not.
    for path in ("/api/v1/enrollments",):
        assert client.get(path, headers=cast.auth()).json["items"], path
        assert client.get(path, headers=cast.auth(east_key)).json["items"] == [], path
    # And a filter naming West's prospect finds nothing for East either.
    west_id = client.get(f"/api/v1/prospects?q={MARK}", headers=cast.auth(cast.manager_key)).json[
        "items"
    ][0]["id"]
    events = client.get(f"/api/v1/events?prospect_id={west_id}", headers=cast.auth(east_key))
    assert events.status_code in (200, 404)
    assert MARK not in json.dumps(events.json) and str(west_id) not in [
        str(e.get("prospect_id")) for e in (events.json or {}).get("items", [])
    ]


def test_a_sequence_cannot_send_from_another_teams_mailbox(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    from sequences.models import Mailbox, Team

    with rt.sessions.begin() as s:
        other = Team(name="Elsewhere")
        s.add(other)
        s.flush()
        theirs = Mailbox(team_id=other.id, from_name="Eve", from_email="eve@else.example")
        s.add(theirs)
        s.flush()
        theirs_id = theirs.id
    auth = cast.auth()
    steps = [{"type": "call", "delay": "PT0S", "title": "Call"}]
    for mailbox_id in (theirs_id, theirs_id + 1000):  # another team's, and none at all
        made = client.post(
            "/api/v1/sequences",
            json={"name": "Borrowed", "steps": steps, "mailbox_id": mailbox_id},
            headers=auth,
        )
        assert made.status_code == 404 and "mailbox_id" in made.json["error"]["message"]
    mine = client.post("/api/v1/sequences", json={"name": "Mine", "steps": steps}, headers=auth)
    changed = client.patch(
        f"/api/v1/sequences/{mine.json['id']}", json={"mailbox_id": theirs_id}, headers=auth
    )
    assert changed.status_code == 404
    assert (
        client.get(f"/api/v1/sequences/{mine.json['id']}", headers=auth).json["mailbox_id"] is None
    )
    zero = client.post(
        "/api/v1/sequences", json={"name": "Zero", "steps": steps, "mailbox_id": 0}, headers=auth
    )
    assert zero.status_code == 422 and zero.json["error"]["field"] == "mailbox_id"
