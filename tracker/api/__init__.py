"""The JSON API under /api/v1: one blueprint module per resource, the OpenAPI spec beside them.

- `core`: authentication, prospects, sequences, enrollments, activity and the event feed;
- `sequences`: bulk enrollment and tasks; `workspace`: hot list, calls, statistics, report;
- `documents`, `inbound`, `webhooks`, `digest`: one resource each;
- `teams`: teams and users, for the install's admins;
- `openapi`: /api/v1/openapi.json, merged from the fragments in `spec/`;
- `pagination`: the cursor every list answers with.
"""

from __future__ import annotations

from flask import Blueprint


def blueprints() -> tuple[Blueprint, ...]:
    """Every API blueprint, in the order the app registers them."""
    from . import (
        core,
        digest,
        documents,
        inbound,
        openapi,
        sequences,
        teams,
        webhooks,
        workspace,
    )

    return (
        core.bp,  # prospects, sequences, enrollments, activity, events
        sequences.bp,  # bulk enrollment, tasks
        documents.bp,
        workspace.bp,  # hot list, calls, step statistics, report
        inbound.bp,  # POST /api/v1/inbound (raw email webhook), the inbound list
        webhooks.bp,
        digest.bp,
        teams.bp,  # the install's admins: teams, users, moving users between teams
        openapi.bp,  # /api/v1/openapi.json
    )
