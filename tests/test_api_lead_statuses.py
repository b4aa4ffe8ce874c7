"""The lead statuses API: a prospect's status by hand (one, bulk), filters, rules managed by
managers, the brochure example through the scheduler and the SMTP sink, and bad input refused."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from sequences import runtime
from sequences.models import Event, Prospect, StatusRule, Team
from sequences.scheduler import run_hooks
from sequences.workspace import create_api_key, create_user

from .conftest import Cast, Sink
from .sending_helpers import drain

BROCHURE = {
    "status": "interested",
    "action": "send_email",
    "subject": "Our brochure",
    "body_html": "<p>Hi {{ first_name | default('there') }}, here is the brochure.</p>",
}


def _prospect(client: Any, cast: Cast, email: str) -> int:
    response = client.post("/api/v1/prospects", json={"email": email}, headers=cast.auth())
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def test_a_rep_changes_a_prospects_status_and_filters_by_it(client: Any, cast: Cast) -> None:
    ann, bob = (
        _prospect(client, cast, "ann@acme.example"),
        _prospect(client, cast, "bob@acme.example"),
    )
    response = client.patch(
        f"/api/v1/prospects/{ann}/status",
        json={"status": "qualified", "note": "budget confirmed"},
        headers=cast.auth(),
    )
    assert response.status_code == 200, response.json
    assert response.json["changed"] is True
    assert response.json["prospect"]["lead_status"] == "qualified"
    listed = client.get("/api/v1/prospects?status=qualified", headers=cast.auth()).json
    assert [p["id"] for p in listed["items"]] == [ann]
    listed = client.get("/api/v1/prospects?status=new", headers=cast.auth()).json
    assert [p["id"] for p in listed["items"]] == [bob]
    assert client.get("/api/v1/hotlist?status=qualified", headers=cast.auth()).status_code == 200
    activity = client.get(f"/api/v1/prospects/{ann}/activity", headers=cast.auth()).json
    assert "prospect.status_changed" in str(activity)


def test_bulk_change_and_a_stale_expected_status_is_a_409(client: Any, cast: Cast) -> None:
    ids = [_prospect(client, cast, f"p{i}@acme.example") for i in range(3)]
    response = client.post(
        "/api/v1/prospects/status",
        json={"prospect_ids": ids, "status": "lost"},
        headers=cast.auth(),
    )
    assert response.status_code == 200
    assert [i["changed"] for i in response.json["items"]] == [True, True, True]
    response = client.post(
        f"/api/v1/prospects/{ids[0]}/status",
        json={"status": "new", "expected": "contacted"},
        headers=cast.auth(),
    )
    assert response.status_code == 409
    assert 'is "lost", not "contacted"' in response.json["error"]["message"]


def test_bad_input_is_a_clear_4xx_and_nothing_changes(
    client: Any, cast: Cast, rt: runtime.Runtime
) -> None:
    ann = _prospect(client, cast, "ann@acme.example")
    response = client.patch(
        f"/api/v1/prospects/{ann}/status", json={"status": "hot"}, headers=cast.auth()
    )
    # A status is a value, not an object: one the team lacks is invalid input, naming the field.
    assert response.status_code == 422
    assert response.json["error"]["field"] == "status"
    assert 'unknown status "hot"' in response.json["error"]["message"]
    listed = client.get("/api/v1/prospects?status=hot", headers=cast.auth())
    assert listed.status_code == 422 and listed.json["error"]["field"] == "status"
    blank = client.get("/api/v1/prospects?status=", headers=cast.auth())
    assert blank.status_code == 422 and blank.json["error"]["field"] == "status"
    manager = cast.auth(cast.manager_key)
    response = client.post(
        "/api/v1/leads/status-rules",
        json={**BROCHURE, "body_html": "<p>{{ shoe_size }}</p>"},
        headers=manager,
    )
    assert response.status_code == 422 and response.json["error"]["field"] == "body_html"
    assert "`shoe_size` is not something a prospect has" in response.json["error"]["message"]
    rule = {"status": "contacted", "action": "set_status", "set_status": "interested"}
    assert client.post("/api/v1/leads/status-rules", json=rule, headers=manager).status_code == 201
    loop = {"status": "interested", "action": "set_status", "set_status": "contacted"}
    response = client.post("/api/v1/leads/status-rules", json=loop, headers=manager)
    assert response.status_code == 422 and "a loop" in response.json["error"]["message"]
    # A rep does not manage rules; a rep of another team does not see this team's prospects.
    assert (
        client.post("/api/v1/leads/status-rules", json=BROCHURE, headers=cast.auth()).status_code
        == 403
    )
    with rt.sessions.begin() as s:
        other = Team(name="Other")
        s.add(other)
        s.flush()
        stranger = create_user(s, "eve@other.example", name="Eve", team=other, manager=True)
        key = create_api_key(s, stranger, rt.clock.now())
    response = client.patch(
        f"/api/v1/prospects/{ann}/status", json={"status": "lost"}, headers=cast.auth(key)
    )
    assert response.status_code == 404
    response = client.post(
        "/api/v1/prospects/status",
        json={"prospect_ids": [ann], "status": "lost"},
        headers=cast.auth(key),
    )
    assert response.status_code == 404
    with rt.sessions() as s:
        prospect = s.get(Prospect, ann)
        assert prospect is not None and prospect.lead_status == "new"
        assert s.scalar(select(func.count()).select_from(StatusRule)) == 1
        assert s.scalar(select(func.count()).where(Event.type == "prospect.status_changed")) == 0


def test_the_team_list_is_managed_by_managers(client: Any, cast: Cast) -> None:
    got = client.get("/api/v1/leads/statuses", headers=cast.auth()).json
    assert got["statuses"][0] == "new" and got["on_reply"] is None
    body = {"statuses": ["new", "contacted", "replied", "won"], "on_reply": "replied"}
    assert client.put("/api/v1/leads/statuses", json=body, headers=cast.auth()).status_code == 403
    response = client.put("/api/v1/leads/statuses", json=body, headers=cast.auth(cast.manager_key))
    assert response.status_code == 200 and response.json["statuses"] == body["statuses"]
    response = client.put(
        "/api/v1/leads/statuses", json={"statuses": "new"}, headers=cast.auth(cast.manager_key)
    )
    assert response.status_code == 422 and response.json["error"]["field"] == "statuses"


def test_marking_interested_sends_the_brochure_through_the_scheduler_and_the_sink(
    client: Any, cast: Cast, rt: runtime.Runtime, smtp_sink: Sink
) -> None:
    manager = cast.auth(cast.manager_key)
    created = client.post("/api/v1/leads/status-rules", json=BROCHURE, headers=manager)
    assert created.status_code == 201, created.json
    rule_id = created.json["id"]
    assert (
        client.get(f"/api/v1/leads/status-rules/{rule_id}", headers=cast.auth()).json["subject"]
        == "Our brochure"
    )
    assert client.get("/api/v1/sequences", headers=cast.auth()).json["items"] == []  # hidden
    ann = _prospect(client, cast, "ann@acme.example")
    client.patch(
        f"/api/v1/prospects/{ann}/status", json={"status": "interested"}, headers=cast.auth()
    )
    run_hooks(rt)  # the scheduler's pass: the rule fires once
    run_hooks(rt)
    assert drain(rt) == ["sent"]
    [stored] = smtp_sink.messages()
    assert (
        stored.envelope_to == ["ann@acme.example"] and stored.message["Subject"] == "Our brochure"
    )
    assert (
        client.delete(f"/api/v1/leads/status-rules/{rule_id}", headers=manager).status_code == 204
    )
