"""The lead pool in the API, the web form and the webhooks: who may do what, and what they see."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from sequences.models import Team, Webhook, WebhookDelivery
from sequences.runtime import Runtime
from sequences.workspace.accounts import create_user
from tests.conftest import Cast

API = "/api/v1"


def _settings(client: Any, cast: Cast, **values: Any) -> Any:
    return client.patch(f"{API}/leads/settings", json=values, headers=cast.auth(cast.manager_key))


def test_a_new_lead_from_the_api_is_assigned_and_waits_for_acceptance(
    client: Any, cast: Cast, rt: Runtime
) -> None:
    with rt.sessions.begin() as s:
        s.add(
            Webhook(
                team_id=1,
                user_id=cast.manager_id,
                url="https://hooks.example.com/x",
                secret="s",
                events=["lead.assigned", "lead.accepted", "lead.rejected", "lead.reassigned"],
            )
        )
    assert (
        _settings(client, cast, acceptance_required=True, accept_within_minutes=30).status_code
        == 200
    )
    created = client.post(
        f"{API}/leads", json={"email": "new@lead.example", "first_name": "Nia"}, headers=cast.auth()
    )
    assert created.status_code == 201, created.json
    lead = created.json["lead"]
    assert lead["state"] == "pending" and lead["owner_id"] == cast.rep_id  # the only rep
    pid = created.json["prospect"]["id"]
    pending = client.get(f"{API}/leads/pending", headers=cast.auth()).json["items"]
    assert [p["prospect_id"] for p in pending] == [pid]
    hot = client.get(f"{API}/hotlist", headers=cast.auth()).json
    assert [p["prospect_id"] for p in hot["pending_leads"]] == [pid]
    # The manager cannot answer for the rep; the rep accepts once.
    refused = client.post(f"{API}/leads/{pid}/accept", headers=cast.auth(cast.manager_key))
    assert refused.status_code == 403 and "not assigned to you" in refused.json["error"]["message"]
    accepted = client.post(f"{API}/leads/{pid}/accept", headers=cast.auth())
    assert accepted.status_code == 200 and accepted.json["state"] == "accepted"
    again = client.post(f"{API}/leads/{pid}/accept", headers=cast.auth())
    assert again.status_code == 409
    detail = client.get(f"{API}/leads/{pid}", headers=cast.auth()).json
    assert [h["reason"] for h in detail["history"]] == ["rule"]
    with rt.sessions() as s:
        types = sorted(s.scalars(select(WebhookDelivery.event_type)))
    assert types == ["lead.accepted", "lead.assigned"]


def test_rejecting_needs_a_reason_and_sends_the_lead_on(
    client: Any, cast: Cast, rt: Runtime
) -> None:
    with rt.sessions.begin() as s:
        create_user(s, "rob@example.com", name="Rob Rep")
    _settings(client, cast, acceptance_required=True)
    pids = [
        client.post(f"{API}/leads", json={"email": f"l{i}@c{i}.example"}, headers=cast.auth()).json[
            "prospect"
        ]["id"]
        for i in range(2)
    ]
    mine = next(
        p
        for p in pids
        if client.get(f"{API}/leads/{p}", headers=cast.auth(cast.manager_key)).json["owner_id"]
        == cast.rep_id
    )
    assert (
        client.post(f"{API}/leads/{mine}/reject", json={}, headers=cast.auth()).json["error"][
            "field"
        ]
        == "reason"
    )
    answer = client.post(
        f"{API}/leads/{mine}/reject",
        json={"reason": "existing customer of Rob"},
        headers=cast.auth(),
    )
    assert answer.status_code == 200 and answer.json["new_owner_id"] not in (None, cast.rep_id)
    # Now it is Rob's: Rita no longer sees it.
    assert client.get(f"{API}/leads/{mine}", headers=cast.auth()).status_code == 404


def test_only_managers_assign_and_only_to_their_own_team(
    client: Any, cast: Cast, rt: Runtime
) -> None:
    _settings(client, cast, auto_assign=False)
    pid = client.post(
        f"{API}/leads", json={"email": "pool@lead.example"}, headers=cast.auth()
    ).json["prospect"]["id"]
    pool = client.get(f"{API}/leads/pool", headers=cast.auth()).json["items"]
    assert [p["prospect_id"] for p in pool] == [pid]
    with rt.sessions.begin() as s:
        other = Team(name="Other")
        s.add(other)
        s.flush()
        stranger = create_user(s, "eve@other.example", team=other).id
    body = {"prospect_ids": [pid], "user_id": stranger}
    refused = client.post(f"{API}/leads/assign", json=body, headers=cast.auth(cast.manager_key))
    assert (
        refused.status_code == 404 and "not a user of your team" in refused.json["error"]["message"]
    )
    assert (
        client.post(
            f"{API}/leads/assign",
            json={"prospect_ids": [pid], "user_id": cast.rep_id},
            headers=cast.auth(),
        ).status_code
        == 403
    )
    done = client.post(
        f"{API}/leads/assign",
        json={"prospect_ids": [pid], "user_id": cast.rep_id},
        headers=cast.auth(cast.manager_key),
    )
    assert done.status_code == 200 and done.json["items"] == [
        {"prospect_id": pid, "user_id": cast.rep_id}
    ]
    assert client.get(f"{API}/leads/pool", headers=cast.auth()).json["items"] == []
    # Back to the pool, then by the rules.
    client.post(
        f"{API}/leads/assign",
        json={"prospect_ids": [pid], "user_id": None},
        headers=cast.auth(cast.manager_key),
    )
    ruled = client.post(f"{API}/leads/assign", json={}, headers=cast.auth(cast.manager_key))
    assert ruled.json["items"] == [{"prospect_id": pid, "user_id": cast.rep_id}]
    missing = client.post(
        f"{API}/leads/assign", json={"prospect_ids": [999999]}, headers=cast.auth(cast.manager_key)
    )
    assert missing.status_code == 404
    # Assigning to someone needs the leads to assign: a rule between fields, a 422 naming it.
    vague = client.post(
        f"{API}/leads/assign", json={"user_id": cast.rep_id}, headers=cast.auth(cast.manager_key)
    )
    assert vague.status_code == 422 and vague.json["error"]["field"] == "prospect_ids"


def test_rules_and_reps_are_validated_and_kept_for_managers(client: Any, cast: Cast) -> None:
    assert _settings(client, cast, reassign_to="nowhere").json["error"]["field"] == "reassign_to"
    assert (
        _settings(client, cast, warn_after_minutes=0).json["error"]["field"] == "warn_after_minutes"
    )
    assert (
        client.patch(
            f"{API}/leads/settings", json={"max_touches": 5}, headers=cast.auth()
        ).status_code
        == 403
    )
    ok = _settings(client, cast, max_touches=5, reassign_after_minutes=240, form_enabled=True)
    assert ok.status_code == 200 and ok.json["max_touches"] == 5 and ok.json["form_key"]
    rep = client.patch(
        f"{API}/leads/reps/{cast.rep_id}",
        json={"away_from": "2026-01-01", "away_until": "2026-01-09", "max_open": 40},
        headers=cast.auth(cast.manager_key),
    )
    assert rep.status_code == 200 and rep.json["away_until"] == "2026-01-09"
    bad = client.patch(
        f"{API}/leads/reps/{cast.rep_id}",
        json={"away_from": "soon"},
        headers=cast.auth(cast.manager_key),
    )
    assert bad.status_code == 422 and bad.json["error"]["field"] == "away_from"
    reps = client.get(f"{API}/leads/reps", headers=cast.auth()).json["items"]
    assert {r["user_id"]: r["active"] for r in reps} == {cast.rep_id: True, cast.manager_id: False}


def test_the_website_form_posts_leads_and_ignores_bots(client: Any, cast: Cast) -> None:
    key = _settings(client, cast, form_enabled=True).json["form_key"]
    bot = client.post(f"/forms/leads/{key}", data={"email": "bot@spam.example", "website": "x"})
    assert bot.status_code == 200 and b"Thank you" in bot.data
    person = client.post(
        f"/forms/leads/{key}", data={"email": "anna@shop.example", "website": "", "need": "a quote"}
    )
    assert person.status_code == 200
    bad = client.post(f"/forms/leads/{key}", data={"email": "not an address"})
    assert bad.status_code == 422 and b"email" in bad.data
    assert client.post("/forms/leads/nope", data={"email": "a@b.example"}).status_code == 404
    leads = client.get(f"{API}/prospects", headers=cast.auth(cast.manager_key)).json["items"]
    assert [p["email"] for p in leads] == ["anna@shop.example"]
    assert leads[0]["fields"] == {"need": "a quote"}


def test_the_lead_report_is_the_managers_and_names_a_bad_date(client: Any, cast: Cast) -> None:
    _settings(client, cast, acceptance_required=True)
    client.post(f"{API}/leads", json={"email": "r1@lead.example"}, headers=cast.auth())
    refused = client.get(f"{API}/leads/report", headers=cast.auth())
    assert refused.status_code == 403
    got = client.get(f"{API}/leads/report", headers=cast.auth(cast.manager_key))
    assert got.status_code == 200, got.json
    rep = next(r for r in got.json["reps"] if r["user_id"] == cast.rep_id)
    assert (rep["open"], rep["pending"], rep["assigned"]) == (1, 1, 1)
    assert got.json["pool"]["size"] == 0 and got.json["reassignments"] == {}
    assert got.json["status_paths"] == [] and rep["status_paths"] == []
    bad = client.get(f"{API}/leads/report?start=yesterday", headers=cast.auth(cast.manager_key))
    assert bad.status_code == 422 and "start" in bad.json["error"]["message"]
