"""The JSON API under /api/v1: one module per resource, the OpenAPI spec beside them.

- `access`: the API key, and which objects the caller may see and change;
- `prospects`, `sequences` (with bulk enrollment and tasks), `enrollments`, `events`;
- `workspace`: hot list, calls, statistics, report;
- `leads_pool`, `leads_report`: the lead pool and the manager's view of it;
- `documents`, `inbound`, `webhooks`, `digest`: one resource each;
- `lead_statuses`: the team's lead statuses, status rules, a prospect's status;
- `teams`: teams and users, for the install's admins;
- `me`: the caller's own account and time zone;
- `login_failures`: failed sign-ins and refused API keys, for the team's managers;
- `openapi`: /api/v1/openapi.json, merged from the fragments in `spec/`;
- `helpers`, `pagination`: the body, the clock, the cursor every list answers with.
"""

from __future__ import annotations

from flask import Blueprint


def blueprints() -> tuple[Blueprint, ...]:
    """Every API blueprint, in the order the app registers them."""
    from . import (
        access,
        digest,
        documents,
        enrollments,
        events,
        inbound,
        lead_statuses,
        leads_pool,
        leads_report,
        login_failures,
        me,
        openapi,
        prospects,
        sequences,
        teams,
        webhooks,
        workspace,
    )

    del prospects, enrollments, events  # they add their routes to access.bp when imported
    return (
        access.bp,  # `api`: prospects, sequences, enrollments, activity, events
        sequences.bp,  # bulk enrollment, tasks
        documents.bp,
        workspace.bp,  # hot list, calls, step statistics, report
        inbound.bp,  # POST /api/v1/inbound (raw email webhook), the inbound list
        webhooks.bp,
        digest.bp,
        leads_pool.bp,  # the lead pool: assign, accept, reject, rules
        leads_report.bp,  # the manager's view of the lead process
        login_failures.bp,  # failed sign-ins and refused API keys, for managers
        lead_statuses.bp,  # lead statuses, status rules, a prospect's status
        teams.bp,  # the install's admins: teams, users, moving users between teams
        me.bp,  # GET/PATCH /api/v1/me: the caller's account and time zone
        openapi.bp,  # /api/v1/openapi.json
    )
