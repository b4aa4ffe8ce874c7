"""Who is calling, and what they may see and change: the one check every route goes through.

`check` runs before every request of the app (API and web pages alike):

1. the route must be declared in `RULES` (a new route without an entry is refused, 403, and
   tests/test_authorization.py fails until it has one);
2. the caller is identified: a Bearer API key under /api/, the session cookie elsewhere
   (no caller: 401 for the API, the login page for a page);
3. a `MANAGERS` route refuses reps (403);
4. every object named in the path (`<int:prospect_id>`, `<int:sequence_id>`...) is loaded and
   checked for the route's action (read or change) by the rules of
   `sequences/workspace/permissions.py`: an object the caller may not see is a 404 (another
   team's, another rep's prospect), one they see but may not change a 403 (a team sequence
   owned by another rep). A path parameter ending in `_id` that has no loader is refused.

Objects named in a body or a form (`prospect_id` of POST /enrollments, the prospects of a
bulk enrollment) go through the same lookups (`prospect(id, CHANGE)`...), and lists through
the same filters (`prospect_filter`), so the rules live in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, abort, g, redirect, request, session, url_for
from sqlalchemy import Select, select
from werkzeug.wrappers import Response as WerkzeugResponse

from sequences.errors import Conflict, Forbidden, NotFound, ValidationError
from sequences.leads import trigger_email
from sequences.models import (
    ApiKey,
    Document,
    Enrollment,
    InboundMessage,
    Prospect,
    Sequence,
    StatusRule,
    Task,
    User,
    Webhook,
    WebhookDelivery,
)
from sequences.workspace import CHANGE as CHANGE  # re-exported: views say access.CHANGE
from sequences.workspace import READ as READ
from sequences.workspace import (
    Access,
    document_access,
    enrollment_access,
    inbound_access,
    key_access,
    prospect_access,
    prospect_filter,
    sequence_access,
    task_access,
    user_for_key,
    webhook_access,
)

from .. import throttle
from ..db import db
from ..errors import json_error

log = logging.getLogger(__name__)

# The blueprint of prospects, sequences, enrollments and events (its endpoint names,
# `api.prospects_create`..., are those of the routes from before the API was split).
bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Rule:
    """Who may call a route: nobody in particular, any user, or managers; and whether the
    objects in its path are read or changed."""

    who: str
    action: str = READ


PUBLIC = Rule("public")  # no caller needed: sign-in, tracking links, health, the API document
READS = Rule("user", READ)  # any signed-in user; the path's objects must be visible
CHANGES = Rule("user", CHANGE)  # any signed-in user; the path's objects must be changeable
MANAGERS = Rule("manager", READ)  # the team's managers only
ADMINS = Rule("admin", READ)  # the install's admins: teams and users across teams

# Every endpoint of the app, by name. What each object kind allows is in permissions.py.
RULES: dict[str, Rule] = {
    # API: prospects (their owner, managers; unowned ones: the team)
    "api.prospects_create": READS,
    "api.prospects_list": READS,
    "api.prospects_get": READS,
    "api.prospects_update": CHANGES,
    "api.prospects_activity": READS,
    "api.prospects_conversion": CHANGES,
    "api.prospects_meeting": CHANGES,
    "api_workspace.calls_create": CHANGES,
    # API: sequences (the team reads, the owner and managers change)
    "api.sequences_create": READS,
    "api.sequences_list": READS,
    "api.sequences_get": READS,
    "api.sequences_update": CHANGES,
    "api_workspace.sequence_stats": READS,
    # API: enrollments (their prospect's), tasks (their owner's)
    "api.enrollments_create": READS,  # the body's prospect is checked for CHANGE
    "api.enrollments_list": READS,
    "api.enrollments_get": READS,
    "api.enrollments_action": CHANGES,
    "api_sequences.enrollments_bulk": READS,  # each prospect of the body checked for CHANGE
    "api.events_list": READS,
    "api_sequences.tasks_list": READS,
    "api_sequences.tasks_complete": CHANGES,
    "api_sequences.tasks_skip": CHANGES,
    # API: the workspace
    "api_workspace.hotlist": READS,
    "api_workspace.attention_resume_mailbox": CHANGES,  # the mailbox's owner or a manager
    "api_workspace.attention": READS,
    "api_workspace.report": MANAGERS,
    # API: documents and inbound mail (the team's), webhooks (their user's), the digest (mine)
    "api_documents.documents_create": READS,
    "api_documents.documents_list": READS,
    "api_documents.documents_get": READS,
    "api_inbound.inbound_post": READS,
    "api_inbound.inbound_list": READS,
    "api_inbound.inbound_get": READS,
    "api_webhooks.webhooks_create": READS,
    "api_webhooks.webhooks_list": READS,
    "api_webhooks.webhooks_get": READS,
    "api_webhooks.webhooks_update": CHANGES,
    "api_webhooks.webhooks_delete": CHANGES,
    "api_webhooks.webhooks_rotate_secret": CHANGES,
    "api_webhooks.deliveries_list": READS,
    "api_webhooks.deliveries_retry": CHANGES,
    "api_digest.digest_get": READS,
    "api_digest.digest_update": READS,  # the caller's own setting, no object in the path
    "api_me.me_get": READS,
    "api_me.me_update": READS,  # the caller's own time zone, no object in the path
    "openapi.openapi_json": PUBLIC,
    # API: the lead pool (who may assign, accept or reject is the domain's: sequences.leads)
    "api_leads_pool.leads_create": READS,
    "api_leads_pool.leads_pool": READS,
    "api_leads_pool.leads_pending": READS,
    "api_leads_pool.leads_assign": READS,
    "api_leads_pool.leads_get": READS,
    "api_leads_pool.leads_accept": READS,
    "api_leads_pool.leads_reject": READS,
    "api_leads_pool.leads_settings_get": READS,
    "api_leads_pool.leads_settings_update": READS,
    "api_leads_pool.leads_reps": READS,
    "api_leads_pool.leads_reps_update": READS,
    "api_leads_report.leads_report": MANAGERS,
    # API: lead statuses and status rules (rules: a manager changes them), a prospect's status
    "api_lead_statuses.lead_statuses_get": READS,
    "api_lead_statuses.lead_statuses_replace": MANAGERS,
    "api_lead_statuses.status_rules_list": READS,
    "api_lead_statuses.status_rules_create": MANAGERS,
    "api_lead_statuses.status_rules_get": READS,
    "api_lead_statuses.status_rules_update": CHANGES,
    "api_lead_statuses.status_rules_delete": CHANGES,
    "api_lead_statuses.prospects_status_patch": CHANGES,
    "api_lead_statuses.prospects_status_post": CHANGES,
    "api_lead_statuses.prospects_status_bulk": READS,  # each body prospect checked for CHANGE
    "leadform.form_post": PUBLIC,
    # API: the install's teams and users (admins only; their ids span teams, so no loaders)
    "api_teams.teams_list": ADMINS,
    "api_teams.teams_create": ADMINS,
    "api_teams.teams_get": ADMINS,
    "api_teams.teams_update": ADMINS,
    "api_teams.users_list": ADMINS,
    "api_teams.users_create": ADMINS,
    "api_teams.users_move": ADMINS,
    # API: failed sign-ins and refused API keys (the team's managers; admins also no team's)
    "api_login_failures.login_failures_list": READS,  # managers and admins: the view checks
    # Pages
    "auth.login": PUBLIC,
    "auth.logout": READS,
    "auth.settings": READS,
    "auth.key_create": READS,
    "auth.key_revoke": CHANGES,
    "auth.timezone_update": READS,  # the caller's own time zone, no object in the path
    "hotlist.index": READS,
    "hotlist.fragment": READS,
    "prospects.index": READS,
    "prospects.show": READS,
    "prospects.enrollment_action": CHANGES,
    "prospects.convert": CHANGES,
    "prospects.set_status": CHANGES,
    "prospects.bulk_status": READS,  # each ticked prospect checked for CHANGE (access.prospect)
    "prospects.call": CHANGES,
    "tasks.index": READS,
    "tasks.finish": CHANGES,
    "sequences_ui.index": READS,
    "sequences_ui.new": READS,
    "sequences_ui.create": READS,
    "sequences_ui.show": READS,
    "sequences_ui.edit": CHANGES,  # the editor opens only for those who may save it
    "sequences_ui.save": CHANGES,
    "sequences_ui.preview": READS,  # the form's prospect is checked like any other
    "sequences_ui.enroll_page": READS,
    "sequences_ui.enroll_selected": READS,  # each prospect of the form checked for CHANGE
    "sequences_ui.enroll_csv": READS,
    "report.index": MANAGERS,
    "report.export": MANAGERS,
    "leads_ui.pool": MANAGERS,
    "leads_ui.assign": MANAGERS,  # each prospect of the form must be of the team (the domain)
    "leads_ui.accept_lead": READS,  # who may answer is the domain's (sequences.leads.answerable)
    "leads_ui.reject_lead": READS,
    # No sign-in: tracking links carry signed tokens; the health check; static files
    "track.pixel": PUBLIC,
    "track.pixel_fallback": PUBLIC,
    "track.click": PUBLIC,
    "track.click_fallback": PUBLIC,
    "track.document": PUBLIC,
    "track.unsubscribe_page": PUBLIC,
    "track.unsubscribe_post": PUBLIC,
    "health.healthz": PUBLIC,
    "metrics.metrics": PUBLIC,  # its own bearer token (FOLLOWUP_METRICS_TOKEN)
    "assets.static": PUBLIC,
    "assets.favicon": PUBLIC,
}


# Who is calling


def _api() -> bool:
    return request.path.startswith("/api/")


def key_user() -> User | None:
    """The user of the request's Bearer API key."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    # Bad keys per client address are throttled (tracker/throttle.py): a throttled address is
    # refused before its key is looked at, so a right guess past the limit looks like any other.
    waiting = throttle.key_wait()
    if waiting:
        g.throttled = waiting
        return None
    found = user_for_key(db(), key)
    if found is None:
        waiting = throttle.key_failed(key[:200])
        if waiting:  # parallel guesses took the last free slots first
            g.throttled = waiting
    return found


def password_version(found: User) -> str:
    return (found.password_hash or "")[-12:]


def session_user() -> User | None:
    """The signed-in user of a page, loaded once per request."""
    if "web_user" not in g:
        user_id = session.get("uid")
        found = db().get(User, user_id) if isinstance(user_id, int) else None
        # A changed password invalidates every older session: the cookie carries its version.
        if found is not None and session.get("pwv") != password_version(found):
            found = None
        g.web_user = found
    signed_in: User | None = g.web_user
    return signed_in


def _unauthenticated() -> Response | WerkzeugResponse:
    waiting = g.get("throttled")
    if waiting is not None:
        response = json_error(
            429, f"too many bad API keys from this address; retry in {throttle.in_words(waiting)}"
        )
        response.headers["Retry-After"] = str(throttle.retry_seconds(waiting))
        return response
    if _api():
        response = json_error(401, "missing or invalid API key (Authorization: Bearer <key>)")
        response.headers["WWW-Authenticate"] = 'Bearer realm="followup"'
        return response
    if request.method == "GET":
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(401)


def user() -> User:
    """The caller of a route that requires one (set by `check`)."""
    found: User = g.user
    return found


# What they may see


def _refuse(decision: Access, what: str, why: str) -> None:
    if decision == Access.HIDDEN:
        raise NotFound(f"no such {what}")
    if decision == Access.FORBIDDEN:
        abort(403, description=why)


def _get(model: type[Any], object_id: int, *, lock: bool = False) -> Any:
    if not 0 < object_id <= MAX_ID:
        return None
    return db().get(model, object_id, with_for_update=True if lock else None)


def prospect(prospect_id: int, action: str = READ) -> Prospect:
    found = _get(Prospect, prospect_id)
    decision = Access.HIDDEN if found is None else prospect_access(user(), found, action)
    _refuse(decision, "prospect", "this prospect belongs to another rep")
    return found  # type: ignore[no-any-return]


def sequence(sequence_id: int, action: str = READ) -> Sequence:
    found = _get(Sequence, sequence_id)
    decision = Access.HIDDEN if found is None else sequence_access(user(), found, action)
    _refuse(decision, "sequence", "only the sequence's owner and managers can change this sequence")
    return found  # type: ignore[no-any-return]


# A status rule's hidden sequence (sequences/leads/triggers.py TriggerEmail) is read like any
# other, but its email is edited on the rule and only the rule enrolls: editing it here would
# drift from the rule, and a hand enrollment would send the rule's email outside its status.


def editable_sequence(sequence_id: int) -> Sequence:
    """A sequence the caller may change; a status trigger's is a 409 saying where to edit it."""
    found = sequence(sequence_id, CHANGE)
    trigger = trigger_email(db(), found)
    if trigger is not None:
        raise Conflict(trigger.words())
    return found


def enrollable_sequence(sequence_id: int) -> Sequence:
    """A sequence the caller may enroll prospects in; a status trigger's is a 422 on
    sequence_id (the rule enrolls prospects when they enter its status)."""
    found = sequence(sequence_id)
    trigger = trigger_email(db(), found)
    if trigger is not None:
        raise ValidationError(f"sequence_id: {trigger.words()}", field="sequence_id")
    return found


def enrollment(enrollment_id: int, action: str = READ) -> Enrollment:
    found = _get(Enrollment, enrollment_id)
    parent = db().get(Prospect, found.prospect_id) if found is not None else None
    decision = Access.HIDDEN if found is None else enrollment_access(user(), found, parent, action)
    _refuse(decision, "enrollment", "this enrollment belongs to another rep")
    return found  # type: ignore[no-any-return]


def task(task_id: int, action: str = READ, *, lock: bool = False) -> Task:
    found = _get(Task, task_id, lock=lock)
    parent = db().get(Prospect, found.prospect_id) if found is not None else None
    decision = Access.HIDDEN if found is None else task_access(user(), found, parent, action)
    _refuse(decision, "task", "this task belongs to another rep")
    return found  # type: ignore[no-any-return]


def webhook(webhook_id: int, action: str = READ) -> Webhook:
    found = _get(Webhook, webhook_id)
    decision = Access.HIDDEN if found is None else webhook_access(user(), found, action)
    _refuse(decision, "webhook", "this webhook belongs to another user")
    return found  # type: ignore[no-any-return]


def delivery(delivery_id: int, action: str = READ) -> WebhookDelivery:
    found = _get(WebhookDelivery, delivery_id)
    if found is None:
        raise NotFound("no such delivery")
    try:
        webhook(found.webhook_id, action)
    except NotFound:
        raise NotFound("no such delivery") from None
    return found  # type: ignore[no-any-return]


def document(document_id: int, action: str = READ) -> Document:
    found = _get(Document, document_id)
    decision = Access.HIDDEN if found is None else document_access(user(), found, action)
    _refuse(decision, "document", "")
    return found  # type: ignore[no-any-return]


def inbound(inbound_id: int, action: str = READ) -> InboundMessage:
    found = _get(InboundMessage, inbound_id)
    decision = Access.HIDDEN if found is None else inbound_access(user(), found, action)
    _refuse(decision, "inbound message", "")
    return found  # type: ignore[no-any-return]


def api_key(key_id: int, action: str = READ) -> ApiKey:
    found = _get(ApiKey, key_id)
    decision = Access.HIDDEN if found is None else key_access(user(), found, action)
    _refuse(decision, "API key", "")
    return found  # type: ignore[no-any-return]


# Path parameters and the object each names.
def team_user(user_id: int, action: str = READ) -> User:
    """A user of the caller's team (404 for anyone else's: ids of other teams are not told)."""
    found: User | None = _get(User, user_id)
    if found is None or found.team_id != user().team_id:
        raise NotFound(f"no such user: {user_id}")
    return found


def status_rule(rule_id: int, action: str = READ) -> StatusRule:
    """A status rule of the caller's team (404 otherwise); changing one is for managers (403)."""
    found: StatusRule | None = _get(StatusRule, rule_id)
    if found is None or found.team_id != user().team_id:
        raise NotFound(f"no such status rule: {rule_id}")
    if action == CHANGE and not user().is_manager:
        raise Forbidden("only a manager can change the team's status rules")
    return found


LOADERS: dict[str, Callable[[int, str], object]] = {
    "prospect_id": prospect,
    "sequence_id": sequence,
    "enrollment_id": enrollment,
    "task_id": task,
    "webhook_id": webhook,
    "delivery_id": delivery,
    "document_id": document,
    "inbound_id": inbound,
    "key_id": api_key,
    "user_id": team_user,
    "rule_id": status_rule,
}


def visible_prospects() -> Select[Any]:
    """The ids of prospects this user may see, as a subquery (see `prospect`)."""
    return select(Prospect.id).where(prospect_filter(user()))


def check_owner(owner_id: object) -> None:
    """An owner given in a body must be a user of the caller's team."""
    if owner_id is None or not isinstance(owner_id, int) or isinstance(owner_id, bool):
        return  # absent, or clean_prospect_data's error to give
    if not 0 < owner_id < 2**31:  # no id can be that (the document's Id): invalid input
        raise ValidationError("owner_id: a user id", field="owner_id")
    owner = _get(User, owner_id)
    if owner is None or owner.team_id != user().team_id:  # as an unknown id: 404
        raise NotFound("owner_id: not a user of your team")


# The check


def check() -> Response | WerkzeugResponse | None:
    """The app-wide before_request: the route's rule, the caller, the objects in the path."""
    if request.endpoint is None or request.routing_exception is not None:
        return None  # no route: the 404 or 405 is routing's to give
    rule = RULES.get(request.endpoint)
    if rule is None:
        log.error("route %s has no access rule (tracker/api/access.py RULES)", request.endpoint)
        abort(403, description="this route is not open to anyone yet")
    if rule.who == "public":
        return None
    caller = key_user() if _api() else session_user()
    if caller is None:
        return _unauthenticated()
    g.user = caller
    if rule.who == "manager" and not caller.is_manager:
        abort(403, description="only managers can see this")
    if rule.who == "admin":
        if not caller.is_admin:
            abort(403, description="only an admin of this install can manage teams and users")
        return None  # an admin's objects are the install's: the views look them up themselves
    for name, value in (request.view_args or {}).items():
        if not name.endswith("_id"):
            continue
        loader = LOADERS.get(name)
        if loader is None or not isinstance(value, int):
            log.error("route %s: no loader for path parameter %s", request.endpoint, name)
            abort(403, description="this route is not open to anyone yet")
        loader(value, rule.action)
    return None


def init_app(app: Flask) -> None:
    """Install `check` (after the input layer: a malformed body is refused before any key)."""
    app.before_request(check)


# Domain errors as JSON, for every API blueprint


def invalid(exc: ValidationError) -> Response:
    extra: dict[str, object] = {"details": exc.details} if exc.details else {}
    return json_error(422, exc.message, exc.field, **extra)


def not_found(exc: NotFound) -> Response:
    return json_error(404, str(exc) or "not found")


def forbidden(exc: Forbidden) -> Response:
    return json_error(403, str(exc) or "not allowed")


def conflict(exc: Conflict) -> Response:
    return json_error(409, str(exc))


def guard(blueprint: Blueprint, *, conflicts: bool = False) -> Blueprint:
    """Answer the domain's errors of `blueprint`'s routes as JSON naming the field."""
    blueprint.register_error_handler(ValidationError, invalid)
    blueprint.register_error_handler(NotFound, not_found)
    blueprint.register_error_handler(Forbidden, forbidden)
    if conflicts:
        blueprint.register_error_handler(Conflict, conflict)
    return blueprint


guard(bp, conflicts=True)
