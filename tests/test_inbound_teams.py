"""Inbound mail scoped to its team: matched by what it was sent to, never shown across teams."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select, text

from sequences import runtime
from sequences.db import null_pool_engine
from sequences.inbound.ingest import receive
from sequences.inbound.teams import Addresses, team_for
from sequences.migrate import upgrade
from sequences.models import (
    InboundMessage,
    Mailbox,
    Prospect,
    Team,
    User,
    Webhook,
    WebhookDelivery,
)
from sequences.workspace import create_team, create_user, default_team
from sequences.workspace.accounts import create_api_key
from tracker.cli.main import main

from .conftest import make_env
from .test_secrets import empty_database_url  # noqa: F401  (the fixture)


@dataclass
class Two:
    """Team A (the default) and team B (East, inbound domain replies.east.example)."""

    a: int
    b: int
    a_key: str
    b_key: str
    a_prospect: int
    b_prospect: int
    a_hook: int
    b_hook: int


def _two(rt: runtime.Runtime) -> Two:
    now = rt.clock.now()
    with rt.sessions.begin() as s:
        a = default_team(s)
        b = create_team(s, "East", "replies.east.example")
        rita = create_user(s, "rita@west.example", team=a, manager=True)
        bea = create_user(s, "bea@east.example", team=b, manager=True)
        s.add(
            Mailbox(team_id=b.id, owner_id=bea.id, from_name="Bea", from_email="bea@east.example")
        )
        # The same person is a prospect of both teams: the sender says nothing of whose mail it is.
        pa = Prospect(team_id=a.id, owner_id=rita.id, email="zoe@prospect.example")
        pb = Prospect(team_id=b.id, owner_id=bea.id, email="zoe@prospect.example")
        hooks = [
            Webhook(team_id=t.id, user_id=u.id, url="https://h.test/", events=["reply"], secret="s")
            for t, u in ((a, rita), (b, bea))
        ]
        s.add_all([pa, pb, *hooks])
        s.flush()
        return Two(
            a.id,
            b.id,
            create_api_key(s, rita, now),
            create_api_key(s, bea, now),
            pa.id,
            pb.id,
            hooks[0].id,
            hooks[1].id,
        )


def _mail(
    to: str, body: str = "Yes, let's talk.", message_id: str = "<m1@prospect.example>"
) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Zoe <zoe@prospect.example>"
    msg["To"] = to
    msg["Subject"] = "Re: hello"
    msg["Message-ID"] = message_id
    msg.set_content(body)
    return msg.as_bytes()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_reply_to_team_bs_mailbox_is_team_bs_and_never_team_as(
    client: Any, rt: runtime.Runtime
) -> None:
    two = _two(rt)
    outcome = receive(rt, _mail("Bea <bea@east.example>"), source="api")
    assert (outcome.verdict, outcome.prospect_id) == ("reply", two.b_prospect)
    with rt.sessions() as s:
        assert s.get(Prospect, two.a_prospect).status == "active"  # type: ignore[union-attr]
        assert s.get(InboundMessage, outcome.inbound_id).team_id == two.b  # type: ignore[union-attr]
    listed_a = client.get("/api/v1/inbound", headers=_auth(two.a_key)).json
    assert listed_a["items"] == [] and listed_a.get("total", 0) == 0
    assert (
        client.get(f"/api/v1/inbound/{outcome.inbound_id}", headers=_auth(two.a_key)).status_code
        == 404
    )
    listed_b = client.get("/api/v1/inbound", headers=_auth(two.b_key)).json
    assert [i["id"] for i in listed_b["items"]] == [outcome.inbound_id]


def test_a_webhook_of_team_a_never_fires_for_team_bs_inbound(rt: runtime.Runtime) -> None:
    two = _two(rt)
    receive(rt, _mail("bea@east.example"), source="api")
    with rt.sessions() as s:
        hooks = set(s.scalars(select(WebhookDelivery.webhook_id)))
    assert hooks == {two.b_hook}


def test_mail_to_a_teams_inbound_domain_is_the_teams(client: Any, rt: runtime.Runtime) -> None:
    two = _two(rt)
    outcome = receive(
        rt,
        _mail("Sales <anyone@replies.east.example>"),
        source="smtp",
        recipients=["x@replies.east.example"],
    )
    assert outcome.prospect_id == two.b_prospect
    stranger = receive(
        rt,
        _mail("hello@replies.east.example", message_id="<m2@else.example>").replace(
            b"zoe@prospect.example", b"who@else.example"
        ),
        source="smtp",
    )
    assert stranger.verdict == "unmatched"
    with rt.sessions() as s:
        assert s.get(InboundMessage, stranger.inbound_id).team_id == two.b  # type: ignore[union-attr]
    # Unmatched, but sent to team B: team B's, never team A's nor the admins' pile.
    ids_b = [i["id"] for i in client.get("/api/v1/inbound", headers=_auth(two.b_key)).json["items"]]
    ids_a = [i["id"] for i in client.get("/api/v1/inbound", headers=_auth(two.a_key)).json["items"]]
    assert stranger.inbound_id in ids_b and stranger.inbound_id not in ids_a


def test_the_rules_in_order_and_a_rule_naming_two_teams_names_none() -> None:
    known = Addresses(
        mailboxes=[(1, "a@a.example", "replies@shared.example"), (2, "b@b.example", None)],
        inbound_domains={"in.b.example": 2},
    )
    assert team_for(["B@B.example"], known) == (2, "mailbox address")
    assert team_for(["x@in.b.example"], known) == (2, "inbound domain")
    assert team_for(["other@shared.example"], known) == (1, "reply domain")
    assert team_for(["b@b.example"], known, token_team=1) == (1, "token")
    assert team_for(["b@b.example"], known, mailbox_team=1) == (1, "mailbox")
    assert team_for(["who@nowhere.example"], known) == (None, "")
    both = Addresses(
        mailboxes=[(1, "x@s.example", None), (2, "x@s.example", None)], inbound_domains={}
    )
    assert team_for(["x@s.example"], both) == (None, "")


def test_the_migration_gives_old_unmatched_rows_the_team_they_were_sent_to(
    empty_database_url: str,  # noqa: F811
) -> None:
    url = empty_database_url
    upgrade(url, "0012_lead_pool")
    engine = null_pool_engine(url)
    with engine.begin() as conn:
        for team_id, name, domain in ((1, "West", None), (2, "East", "replies.east.example")):
            conn.execute(
                text(
                    "INSERT INTO teams (id, name, inbound_domain, created_at) VALUES (:i, :n, :d, :t)"
                ),
                {"i": team_id, "n": name, "d": domain, "t": "2026-01-01"},
            )
        conn.execute(
            text(
                "INSERT INTO mailboxes (id, team_id, from_name, from_email, daily_limit,"
                " min_gap_seconds, paused, created_at, hour_count, day_count) VALUES (1, 1, 'R',"
                " 'rita@west.example', 500, 0, false, '2026-01-01', 0, 0)"
            )
        )
        rows = [
            (1, "rita@west.example", None),  # a mailbox's address: team 1
            (2, "x@replies.east.example", None),  # team 2's inbound domain
            (3, "nobody@nowhere.example", _mail("bea@replies.east.example")),  # by its To header
            (4, "nobody@nowhere.example", None),  # matches nothing: stays the admins'
        ]
        for row_id, recipients, raw in rows:
            conn.execute(
                text(
                    "INSERT INTO inbound_messages (id, dedupe_key, source, received_at, verdict,"
                    " reason, enrollment_ids, recipients, size, raw) VALUES (:i, :k, 'smtp',"
                    " '2026-01-01', 'unmatched', '', '[]', :r, 0, :raw)"
                ),
                {"i": row_id, "k": f"k{row_id}", "r": recipients, "raw": raw},
            )
    upgrade(url)
    with engine.connect() as conn:
        teams = dict(conn.execute(text("SELECT id, team_id FROM inbound_messages")).all())
    engine.dispose()
    assert teams == {1: 1, 2: 2, 3: 2, 4: None}


def test_an_admin_sees_no_other_teams_data_only_the_mail_that_matched_no_team(
    client: Any, rt: runtime.Runtime
) -> None:
    two = _two(rt)
    theirs = receive(rt, _mail("bea@east.example"), source="api")
    nobodys = receive(rt, _mail("who@nowhere.example", message_id="<m3@x.example>"), source="smtp")
    with rt.sessions.begin() as s:
        for user in s.scalars(select(User).where(User.team_id == two.a)):
            user.is_admin = True  # an admin of the install, a member of team A only
    admin = _auth(two.a_key)
    assert client.get(f"/api/v1/prospects/{two.b_prospect}", headers=admin).status_code == 404
    assert client.get(f"/api/v1/inbound/{theirs.inbound_id}", headers=admin).status_code == 404
    listed = [p["id"] for p in client.get("/api/v1/prospects", headers=admin).json["items"]]
    assert two.b_prospect not in listed and two.a_prospect in listed
    inbound = [i["id"] for i in client.get("/api/v1/inbound", headers=admin).json["items"]]
    assert theirs.inbound_id not in inbound
    # Zoe is team A's prospect too, so that sender-matched reply is team A's; the admins
    # alone see mail that matched nothing (see the next row).
    assert nobodys.verdict == "reply" or nobodys.inbound_id in inbound


def test_an_admin_sets_a_teams_inbound_domain_through_the_api_and_the_cli(
    client: Any, rt: runtime.Runtime, tmp_path: Any, smtp_sink: Any
) -> None:
    two = _two(rt)
    with rt.sessions.begin() as s:
        for user in s.scalars(select(User).where(User.team_id == two.a)):
            user.is_admin = True
    admin = _auth(two.a_key)
    taken = client.patch(
        f"/api/v1/teams/{two.a}", json={"inbound_domain": "replies.east.example"}, headers=admin
    )
    assert taken.status_code == 409 and "already receives mail for team East" in taken.text
    bad = client.patch(f"/api/v1/teams/{two.a}", json={"inbound_domain": "no"}, headers=admin)
    assert bad.status_code in (400, 422) and "inbound_domain" in bad.text
    made = client.patch(
        f"/api/v1/teams/{two.a}", json={"inbound_domain": "In.West.example"}, headers=admin
    )
    assert made.status_code == 200 and made.json["inbound_domain"] == "in.west.example"
    refused = client.patch(
        f"/api/v1/teams/{two.a}", json={"inbound_domain": None}, headers=_auth(two.b_key)
    )
    assert refused.status_code == 403
    runner = CliRunner(env=make_env(rt.settings.database_url, smtp_sink.port, tmp_path))
    done = runner.invoke(main, ["team", "update", "East", "--inbound-domain", "mail.east.example"])
    assert done.exit_code == 0 and "inbound domain mail.east.example" in done.output, done.output
    clash = runner.invoke(main, ["team", "update", "East", "--inbound-domain", "in.west.example"])
    assert clash.exit_code != 0 and "already receives mail" in clash.output
    with rt.sessions() as s:
        assert s.get(Team, two.b).inbound_domain == "mail.east.example"  # type: ignore[union-attr]


def _post(client: Any, key: str, raw: bytes, **query: Any) -> Any:
    return client.post(
        "/api/v1/inbound",
        data=raw,
        content_type="message/rfc822",
        query_string=query,
        headers=_auth(key),
    )


def test_team_as_api_key_cannot_post_mail_sent_to_team_bs_addresses(
    client: Any, rt: runtime.Runtime
) -> None:
    two = _two(rt)
    for raw, query in (
        (_mail("Bea <bea@east.example>"), {}),  # team B's mailbox
        (
            _mail("someone@else.example", message_id="<m2@p.example>"),
            {"to": "x@replies.east.example"},
        ),
    ):
        refused = _post(client, two.a_key, raw, **query)
        assert refused.status_code == 403, refused.json
        assert "sent to another team's address" in refused.json["error"]["message"]
        assert (
            "post it with an API key of the team it was sent to" in refused.json["error"]["message"]
        )
    with rt.sessions() as s:
        assert s.scalars(select(InboundMessage)).all() == []  # nothing stored
        assert s.get(Prospect, two.b_prospect).status == "active"  # type: ignore[union-attr]
        assert s.scalars(select(WebhookDelivery)).all() == []
    # Team B's own key posts it: team B's reply.
    taken = _post(client, two.b_key, _mail("Bea <bea@east.example>"))
    assert taken.status_code == 200 and taken.json["prospect_id"] == two.b_prospect


def test_a_retried_post_by_another_team_does_not_answer_the_first_teams_outcome(
    client: Any, rt: runtime.Runtime
) -> None:
    two = _two(rt)
    raw = _mail("Bea <bea@east.example>")
    assert _post(client, two.b_key, raw).json["prospect_id"] == two.b_prospect
    again = _post(client, two.a_key, raw)
    assert again.status_code == 403 and "prospect_id" not in again.text


def test_mail_sent_to_no_teams_address_matches_the_posting_teams_prospect_only(
    client: Any, rt: runtime.Runtime
) -> None:
    two = _two(rt)
    # Zoe is a prospect of both teams; the mail names no team's address: the caller's team's.
    posted = _post(client, two.a_key, _mail("someone@else.example"))
    assert posted.status_code == 200, posted.json
    assert (posted.json["verdict"], posted.json["prospect_id"]) == ("reply", two.a_prospect)
    with rt.sessions() as s:
        assert s.get(Prospect, two.b_prospect).status == "active"  # type: ignore[union-attr]
        row = s.get(InboundMessage, posted.json["inbound_id"])
        assert row is not None and row.team_id == two.a
        assert set(s.scalars(select(WebhookDelivery.webhook_id))) == {two.a_hook}
    # A stranger's mail to no team's address matched nobody: the admins' pile, as before.
    stranger = _mail("someone@else.example", message_id="<m3@else.example>").replace(
        b"zoe@prospect.example", b"who@else.example"
    )
    unmatched = _post(client, two.a_key, stranger).json
    assert unmatched["verdict"] == "unmatched"
    with rt.sessions() as s:
        assert s.get(InboundMessage, unmatched["inbound_id"]).team_id is None  # type: ignore[union-attr]
