"""Who may call which route and see which object: every route of the app x {the owner of the
objects in its path, another rep of the team, the team's manager, another team's manager, no
key or session}, with the status each must get (the model: docs/security.md#authorization).

The cases come from `EXPECTED`, and `test_every_route_has_an_expected_row` compares it with
`app.url_map`: a new route fails the suite until its row says who may call it (and
tracker/api/access.py RULES declares it). One app per backend, seeded once; each case is a
real request through the test client, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from sequences import runtime
from sequences.clock import FrozenClock
from sequences.config import load_settings
from sequences.definitions import create_sequence
from sequences.enrollment import enroll, record
from sequences.migrate import upgrade
from sequences.models import (
    ApiKey,
    InboundMessage,
    Lead,
    Prospect,
    StatusRule,
    Task,
    Team,
    Webhook,
    WebhookDelivery,
)
from sequences.sending.sink import free_port
from sequences.workspace import create_api_key, create_document, create_user
from tracker.api.access import RULES

from .conftest import PG_ADMIN_URL, make_env, require_service
from .webkit import CHEAP_HASH, csrf_of, login

OK = "ok"  # anything but 401, 403, 404 or 5xx: the request reached the view
PERSONAS = ("owner", "other_rep", "manager", "other_team")

# (owner, another rep, the manager, another team's manager); no key is 401 (API), and for a
# page a redirect to the login (GET) or 401; PUBLIC: the same answer for everyone.
ANY = (OK, OK, OK, OK)  # any user, on their own team's data
MINE = (OK, 404, OK, 404)  # the owner's object: their prospect, enrollment, task, webhook
TEAM = (OK, OK, OK, 404)  # the team's object: a sequence to read, a document, inbound mail
OWNED = (OK, 403, OK, 404)  # a team sequence, changed: only its owner and managers
MANAGERS = (403, 403, OK, OK)  # the team's report
SELF = (OK, 404, 404, 404)  # a user's own API key
TEAM_MANAGERS = (403, 403, OK, 404)  # managers change their team's objects: a rep's capacity
ADMINS = (403, 403, 403, 403)  # the install's teams and users: none of these is an admin
ASSIGNED = (OK, 404, 403, 404)  # a lead waiting for its rep: only that rep answers it
PUBLIC = "public"

EXPECTED: dict[str, tuple[str | int, ...] | str] = {
    # API: prospects
    "POST /api/v1/prospects": ANY,
    "GET /api/v1/prospects": ANY,
    "GET /api/v1/prospects/<int:prospect_id>": MINE,
    "PATCH /api/v1/prospects/<int:prospect_id>": MINE,
    "GET /api/v1/prospects/<int:prospect_id>/activity": MINE,
    "POST /api/v1/prospects/<int:prospect_id>/conversion": MINE,
    "POST /api/v1/prospects/<int:prospect_id>/meetings": MINE,
    "POST /api/v1/prospects/<int:prospect_id>/calls": MINE,
    # API: sequences
    "POST /api/v1/sequences": ANY,
    "GET /api/v1/sequences": ANY,
    "GET /api/v1/sequences/<int:sequence_id>": TEAM,
    "PATCH /api/v1/sequences/<int:sequence_id>": OWNED,
    "GET /api/v1/sequences/<int:sequence_id>/stats": TEAM,
    # API: enrollments, events, tasks
    "POST /api/v1/enrollments": ANY,
    "GET /api/v1/enrollments": ANY,
    "POST /api/v1/enrollments/bulk": ANY,
    "GET /api/v1/enrollments/<int:enrollment_id>": MINE,
    "POST /api/v1/enrollments/<int:enrollment_id>/<any(pause, resume, unenroll, retry, skip):action>": MINE,
    "GET /api/v1/events": ANY,
    "GET /api/v1/tasks": ANY,
    "POST /api/v1/tasks/<int:task_id>/complete": MINE,
    "POST /api/v1/tasks/<int:task_id>/skip": MINE,
    # API: workspace
    "GET /api/v1/hotlist": ANY,
    "GET /api/v1/attention": ANY,
    "POST /api/v1/enrollments/<int:enrollment_id>/resume-mailbox": MINE,
    "GET /api/v1/report": MANAGERS,
    # API: documents, inbound, webhooks, digest
    "POST /api/v1/documents": ANY,
    "GET /api/v1/documents": ANY,
    "GET /api/v1/documents/<int:document_id>": TEAM,
    "POST /api/v1/inbound": ANY,
    "GET /api/v1/inbound": ANY,
    "GET /api/v1/inbound/<int:inbound_id>": TEAM,
    "POST /api/v1/webhooks": ANY,
    "GET /api/v1/webhooks": ANY,
    "GET /api/v1/webhooks/<int:webhook_id>": MINE,
    "PATCH /api/v1/webhooks/<int:webhook_id>": MINE,
    "DELETE /api/v1/webhooks/<int:webhook_id>": MINE,
    "POST /api/v1/webhooks/<int:webhook_id>/secret": MINE,
    "GET /api/v1/webhooks/<int:webhook_id>/deliveries": MINE,
    "POST /api/v1/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/retry": MINE,
    "GET /api/v1/me/digest": ANY,
    "PATCH /api/v1/me/digest": ANY,
    "GET /api/v1/me": ANY,
    "PATCH /api/v1/me": ANY,
    "GET /api/v1/openapi.json": PUBLIC,
    # API: the lead pool
    "POST /api/v1/leads": ANY,
    "GET /api/v1/leads/pool": ANY,
    "GET /api/v1/leads/pending": ANY,
    "POST /api/v1/leads/assign": MANAGERS,
    "GET /api/v1/leads/<int:prospect_id>": MINE,
    "POST /api/v1/leads/<int:prospect_id>/accept": ASSIGNED,
    "POST /api/v1/leads/<int:prospect_id>/reject": ASSIGNED,
    "GET /api/v1/leads/settings": ANY,
    "PATCH /api/v1/leads/settings": MANAGERS,
    "GET /api/v1/leads/reps": ANY,
    "PATCH /api/v1/leads/reps/<int:user_id>": TEAM_MANAGERS,
    "GET /api/v1/leads/report": MANAGERS,
    "POST /forms/leads/<form_key>": PUBLIC,
    # API: lead statuses and status rules
    "GET /api/v1/leads/statuses": ANY,
    "PUT /api/v1/leads/statuses": MANAGERS,
    "GET /api/v1/leads/status-rules": ANY,
    "POST /api/v1/leads/status-rules": MANAGERS,
    "GET /api/v1/leads/status-rules/<int:rule_id>": TEAM,
    "PUT /api/v1/leads/status-rules/<int:rule_id>": TEAM_MANAGERS,
    "DELETE /api/v1/leads/status-rules/<int:rule_id>": TEAM_MANAGERS,
    "PATCH /api/v1/prospects/<int:prospect_id>/status": MINE,
    "POST /api/v1/prospects/<int:prospect_id>/status": MINE,
    "POST /api/v1/prospects/status": ANY,
    # API: the install's admins
    "GET /api/v1/teams": ADMINS,
    "POST /api/v1/teams": ADMINS,
    "GET /api/v1/teams/<int:team_id>": ADMINS,
    "PATCH /api/v1/teams/<int:team_id>": ADMINS,
    "GET /api/v1/users": ADMINS,
    "POST /api/v1/users": ADMINS,
    "POST /api/v1/users/<int:user_id>/move": ADMINS,
    # API: failed sign-ins (each manager their own team's; admins also no team's)
    "GET /api/v1/login-failures": MANAGERS,
    # Pages
    "GET /login": PUBLIC,
    "POST /login": PUBLIC,
    "POST /logout": ANY,
    "GET /settings": ANY,
    "POST /settings/keys": ANY,
    "POST /settings/keys/<int:key_id>/revoke": SELF,
    "POST /settings/timezone": ANY,
    "GET /": ANY,
    "GET /hot/fragment": ANY,
    "GET /prospects": ANY,
    "GET /prospects/<int:prospect_id>": MINE,
    "POST /prospects/<int:prospect_id>/calls": MINE,
    "POST /prospects/<int:prospect_id>/convert": MINE,
    "POST /prospects/<int:prospect_id>/status": MINE,
    "POST /prospects/status": ANY,  # each ticked prospect is checked (tests/test_web_leads.py)
    "POST /prospects/<int:prospect_id>/enrollments/<int:enrollment_id>/<action>": MINE,
    "GET /tasks": ANY,
    "POST /tasks/<int:task_id>/<any(complete, skip):action>": MINE,
    "GET /sequences": ANY,
    "GET /sequences/new": ANY,
    "POST /sequences/new": ANY,
    "POST /sequences/preview": ANY,
    "GET /sequences/<int:sequence_id>": TEAM,
    "GET /sequences/<int:sequence_id>/edit": OWNED,
    "POST /sequences/<int:sequence_id>/edit": OWNED,
    "GET /sequences/<int:sequence_id>/enroll": TEAM,
    "POST /sequences/<int:sequence_id>/enroll": TEAM,
    "POST /sequences/<int:sequence_id>/enroll/csv": TEAM,
    "GET /report": MANAGERS,
    "GET /report.csv": MANAGERS,
    "GET /leads/pool": MANAGERS,
    "POST /leads/assign": MANAGERS,
    "POST /leads/<int:prospect_id>/accept": ASSIGNED,
    "POST /leads/<int:prospect_id>/reject": ASSIGNED,
    # No sign-in
    "GET /o/<token>.gif": PUBLIC,
    "GET /o/<path:anything>": PUBLIC,
    "GET /c/<token>": PUBLIC,
    "GET /c/<token>/<blob>": PUBLIC,
    "GET /c/<path:anything>": PUBLIC,
    "GET /d/<token>": PUBLIC,
    "GET /u/<token>": PUBLIC,
    "POST /u/<token>": PUBLIC,
    "GET /healthz": PUBLIC,
    "GET /metrics": PUBLIC,
    "GET /static/<path:filename>": PUBLIC,
    "GET /favicon.ico": PUBLIC,
}

# Routes that use their object up: each case gets a fresh one.
CONSUMES = {
    "DELETE /api/v1/webhooks/<int:webhook_id>",
    "DELETE /api/v1/leads/status-rules/<int:rule_id>",
}
SIGNS_OUT = {"POST /logout"}
_ARG = re.compile(r"<(?:[^<>]*:)?(\w+)>")
_EMAIL_STEP = {"type": "email", "delay": "PT0S", "subject": "Hi", "body_html": "<p>Hi</p>"}


def served(app: Any) -> dict[str, str]:
    """'METHOD rule' -> endpoint, for every rule and method the app serves."""
    return {
        f"{method} {rule.rule}": rule.endpoint
        for rule in app.url_map.iter_rules()
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    }


@dataclass
class World:
    app: Any
    rt: runtime.Runtime
    keys: dict[str, str]  # persona -> API key
    pages: dict[str, Any]  # persona -> signed-in test client ("none": signed out)
    ids: dict[str, int]  # path parameter -> the owner's object
    emails: dict[str, str]  # persona -> email (password: webkit.PASSWORD)
    owner_id: int


def _database(request: pytest.FixtureRequest, tmp: Path, template: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp / "authz.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    # A database of its own: the function-scoped fixtures empty the shared one between tests.
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"followup_authz_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("authz")
    databases = _database(request, tmp, sqlite_template)
    url = next(databases)
    settings = load_settings(make_env(url, free_port(), tmp))
    built = runtime.build(settings, FrozenClock())
    previous = runtime.install(built)
    try:
        yield _seed(built)
    finally:
        runtime.install(previous)
        built.dispose()
        next(databases, None)


def _seed(rt: runtime.Runtime) -> World:
    from tracker import create_app

    now = rt.clock.now()
    with rt.sessions.begin() as s:
        team, elsewhere = Team(name="Sales"), Team(name="Elsewhere")
        s.add_all([team, elsewhere])
        s.flush()
        users = {
            "owner": create_user(s, "rita@example.com", name="Rita", team=team),
            "other_rep": create_user(s, "omar@example.com", name="Omar", team=team),
            "manager": create_user(s, "max@example.com", name="Max", manager=True, team=team),
            "other_team": create_user(
                s, "eve@example.com", name="Eve", manager=True, team=elsewhere
            ),
        }
        for u in users.values():
            u.password_hash = CHEAP_HASH
        keys = {name: create_api_key(s, u, now) for name, u in users.items()}
        owner = users["owner"]
        prospect = Prospect(team_id=team.id, owner_id=owner.id, email="pat@example.com", fields={})
        s.add(prospect)
        s.flush()
        sequence = create_sequence(
            s, team.id, owner.id, {"name": "Rita's", "steps": [_EMAIL_STEP]}, now
        )
        enrollment = enroll(s, prospect, sequence, now)
        task = Task(
            prospect_id=prospect.id, owner_id=owner.id, type="call", title="Call", due_at=now
        )
        event = record(s, "note", now, prospect_id=prospect.id)
        webhook = _webhook(s, team.id, owner.id)
        delivery = WebhookDelivery(webhook_id=webhook.id, event_id=event.id, event_type="note")
        inbound = InboundMessage(
            dedupe_key="<seed@example.com>",
            source="api",
            received_at=now,
            verdict="reply",
            team_id=team.id,
            prospect_id=prospect.id,
        )
        s.add_all([task, delivery, inbound])
        document = create_document(s, team.id, "brochure.txt", b"hello", now)
        # The prospect is also a lead assigned to its owner, waiting for an answer.
        s.add(
            Lead(
                prospect_id=prospect.id,
                team_id=team.id,
                state="pending",
                owner_id=owner.id,
                pooled_at=now,
                assigned_at=now,
                accept_by=now + timedelta(hours=4),
            )
        )
        create_api_key(s, owner, now, name="spare")
        s.flush()
        ids = {
            "prospect_id": prospect.id,
            "sequence_id": sequence.id,
            "enrollment_id": enrollment.id,
            "task_id": task.id,
            "webhook_id": webhook.id,
            "delivery_id": delivery.id,
            "document_id": document.id,
            "user_id": owner.id,
            "team_id": team.id,
            "inbound_id": inbound.id,
            "key_id": _key_id(s, "spare"),
            "rule_id": _status_rule(s, team.id),
        }
        emails = {name: u.email for name, u in users.items()}
        owner_id = owner.id
    app = create_app({"RUNTIME": rt, "TESTING": True})
    pages = {"none": app.test_client()}
    for name, email in emails.items():
        pages[name] = app.test_client()
        assert login(pages[name], email).status_code == 302
    return World(app, rt, keys, pages, ids, emails, owner_id)


def _webhook(s: Any, team_id: int, user_id: int) -> Webhook:
    webhook = Webhook(
        team_id=team_id,
        user_id=user_id,
        url="https://hooks.example.com/in",
        events=["reply"],
        secret="s" * 32,
    )
    s.add(webhook)
    s.flush()
    return webhook


def _status_rule(s: Any, team_id: int) -> int:
    rule = StatusRule(team_id=team_id, status="lost", action="task", title="Ask why")
    s.add(rule)
    s.flush()
    return int(rule.id)


def _key_id(s: Any, name: str) -> int:
    found: int = s.scalar(select(ApiKey.id).where(ApiKey.name == name))
    return found


def _path(world: World, route: str) -> str:
    rule = route.split(" ", 1)[1]
    ids = dict(world.ids)
    if route in CONSUMES:
        team_id = _team_of(world)
        with world.rt.sessions.begin() as s:
            ids["webhook_id"] = _webhook(s, team_id, world.owner_id).id
            ids["rule_id"] = _status_rule(s, team_id)
    values = {
        "action": "skip" if "complete, skip" in rule else "pause",
        "token": "not-a-token",
        "anything": "x",
        "blob": "x",
        "filename": "app.css",
        "form_key": "no-such-form",
        **{k: str(v) for k, v in ids.items()},
    }
    return _ARG.sub(lambda m: values[m.group(1)], rule)


def _team_of(world: World) -> int:
    from sequences.models import User

    with world.rt.sessions() as s:
        owner = s.get(User, world.owner_id)
        assert owner is not None
        return owner.team_id


def _call(world: World, persona: str, route: str) -> int:
    method, rule = route.split(" ", 1)
    path = _path(world, route)
    if rule.startswith("/api/"):
        client = world.pages["none"]
        headers = {"Authorization": f"Bearer {world.keys[persona]}"} if persona != "none" else {}
        kwargs: dict[str, Any] = {"headers": headers}
        if rule == "/api/v1/inbound" and method == "POST":
            kwargs["data"] = b"From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n"
            kwargs["content_type"] = "message/rfc822"
        elif rule == "/api/v1/documents" and method == "POST":
            kwargs["data"] = {"file": (io.BytesIO(b"hello"), "a.txt")}
            kwargs["content_type"] = "multipart/form-data"
        elif method in ("POST", "PATCH", "PUT"):
            kwargs["json"] = {}
        return _status(client.open(path, method=method, **kwargs))
    client = world.pages[persona]
    if route in SIGNS_OUT and persona != "none":
        client = world.app.test_client()  # its own session, not the one the other cases use
        assert login(client, world.emails[persona]).status_code == 302
    if method == "GET":
        return _status(client.get(path))
    data: dict[str, Any] = {}
    if persona != "none":
        data["csrf_token"] = csrf_of(client.get("/settings").text)
    if rule.endswith("/enroll/csv"):
        data["file"] = (io.BytesIO(b"email\nnew@example.com\n"), "p.csv")
    if rule == "/login":
        # An account name per persona: the sign-in throttle allows a few failures per account.
        email = f"nobody-{persona}@example.com"
        data = {"email": email, "password": "x", "csrf_token": _login_csrf(client)}
    return _status(client.post(path, data=data))


def _status(response: Any) -> int:
    response.close()  # a static file's answer holds the file open until closed
    return int(response.status_code)


def _login_csrf(client: Any) -> str:
    return csrf_of(client.get("/login").text)


def _no_key(route: str) -> int:
    method, rule = route.split(" ", 1)
    if rule.startswith("/api/") or method != "GET":
        return 401
    return 302  # to the login page


def _matches(expected: str | int, got: int) -> bool:
    if expected == OK:
        return got not in (401, 403, 404, 405) and got < 500
    return got == expected


def test_every_route_has_an_expected_row_and_an_access_rule(world: World) -> None:
    routes = served(world.app)
    assert sorted(set(routes) - set(EXPECTED)) == [], "routes without a row in EXPECTED"
    assert sorted(set(EXPECTED) - set(routes)) == [], "rows for routes the app does not serve"
    assert sorted(set(routes.values()) - set(RULES)) == [], "endpoints without access.RULES"
    assert sorted(set(RULES) - set(routes.values())) == [], "RULES for endpoints that are gone"


@pytest.mark.parametrize("route", sorted(EXPECTED))
def test_who_may_call_the_route(world: World, route: str) -> None:
    expected = EXPECTED[route]
    got = {persona: _call(world, persona, route) for persona in (*PERSONAS, "none")}
    if expected == PUBLIC:
        assert len(set(got.values())) == 1, got
        assert not {403, 500} & set(got.values()), got
        return
    assert isinstance(expected, tuple)
    wanted = dict(zip(PERSONAS, expected, strict=True)) | {"none": _no_key(route)}
    wrong = {p: (wanted[p], got[p]) for p in got if not _matches(wanted[p], got[p])}
    assert wrong == {}, f"{route}: persona -> (expected, got): {wrong}"


def test_a_route_the_rules_do_not_name_is_refused(world: World) -> None:
    from flask import Blueprint

    # A new app (routes cannot be added to one that has served requests), with one more page.
    from tracker import create_app

    stray = Blueprint("stray", __name__)

    @stray.get("/stray/<int:prospect_id>")
    def page(prospect_id: int) -> str:
        return "seen"

    app = create_app({"RUNTIME": world.rt, "TESTING": True})
    app.register_blueprint(stray)
    client = app.test_client()
    assert client.get(f"/stray/{world.ids['prospect_id']}").status_code == 403


def test_ids_in_a_body_are_checked_like_ids_in_a_path(world: World) -> None:
    client = world.pages["none"]

    def post(persona: str, path: str, body: dict[str, Any]) -> Any:
        auth = {"Authorization": f"Bearer {world.keys[persona]}"}
        return client.post(path, headers=auth, json=body)

    mine = {"prospect_id": world.ids["prospect_id"], "sequence_id": world.ids["sequence_id"]}
    assert post("other_rep", "/api/v1/enrollments", mine).status_code == 404
    assert post("other_team", "/api/v1/enrollments", mine).status_code == 404
    bulk = post(
        "other_rep",
        "/api/v1/enrollments/bulk",
        {"sequence_id": world.ids["sequence_id"], "prospect_ids": [world.ids["prospect_id"]]},
    )
    assert bulk.status_code == 200
    assert bulk.json["results"] == [
        {"prospect_id": world.ids["prospect_id"], "status": "skipped", "reason": "no such prospect"}
    ]


def test_the_editor_is_offered_only_to_who_may_save(world: World) -> None:
    sequence_id = world.ids["sequence_id"]
    edit = f"/sequences/{sequence_id}/edit"
    assert edit in world.pages["owner"].get(f"/sequences/{sequence_id}").text
    assert edit in world.pages["manager"].get("/sequences").text
    other = world.pages["other_rep"]
    assert edit not in other.get(f"/sequences/{sequence_id}").text
    assert edit not in other.get("/sequences").text
    assert f"/sequences/{sequence_id}/enroll" in other.get("/sequences").text


def test_a_rep_may_not_patch_another_reps_sequence_and_nothing_changes(world: World) -> None:
    client = world.pages["none"]
    path = f"/api/v1/sequences/{world.ids['sequence_id']}"
    auth = {"Authorization": f"Bearer {world.keys['other_rep']}"}
    response = client.patch(path, headers=auth, json={"name": "Hijacked"})
    assert response.status_code == 403
    assert "owner" in response.json["error"]["message"]
    owner = {"Authorization": f"Bearer {world.keys['owner']}"}
    assert client.get(path, headers=owner).json["name"] != "Hijacked"
