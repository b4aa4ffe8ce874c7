"""Webhooks through the production processes: the scheduler's hook, Redis, `followup worker
--queues webhooks`, and a real HTTP endpoint that fails once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from sequences import vault
from sequences.clock import SystemClock
from sequences.db import make_sessionmaker, null_pool_engine
from sequences.egress import TargetPolicy
from sequences.enrollment import record
from sequences.models import Prospect, WebhookDelivery
from sequences.webhooks import create_webhook, verify
from sequences.workspace.accounts import create_user, default_team

from .conftest import REDIS_URL, _truncate_postgres, require_service
from .procs import production_stack, wait_for
from .test_webhooks import Receiver, receiver  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow


def test_a_webhook_is_delivered_by_the_scheduler_and_a_webhooks_only_worker(
    postgres_url: str,
    tmp_path: Path,
    receiver: Receiver,  # noqa: F811
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    _truncate_postgres(postgres_url)
    receiver.fail_first = 1  # the first attempt gets a 500: the retry must come from the database
    engine = null_pool_engine(postgres_url)
    sessions = make_sessionmaker(engine)
    with production_stack(
        postgres_url, REDIS_URL, tmp_path, FOLLOWUP_WEBHOOK_ALLOW_PRIVATE="true"
    ) as stack:
        # This process writes the webhook (its secret encrypted) with the stack's key.
        vault.install(vault.Vault((stack.env["FOLLOWUP_ENCRYPTION_KEY"],)))
        now = SystemClock().now()
        with sessions.begin() as s:
            team = default_team(s)
            rep = create_user(s, "hooks@example.com", team=team)
            allow = TargetPolicy(allow_private=True)
            data = {"url": receiver.url, "events": ["reply"]}
            secret = create_webhook(s, rep, data, now, targets=allow).secret
            prospect = Prospect(team_id=team.id, owner_id=rep.id, email="p@prospect.example")
            s.add(prospect)
            s.flush()
            record(s, "reply", now, prospect_id=prospect.id, text="Yes, call me")

        worker = stack.start("worker", ["worker", "--processes", "1", "--queues", "webhooks"])
        stack.start_scheduler()

        def failed_once() -> bool:
            with sessions() as s:
                row = s.scalar(select(WebhookDelivery))
                return row is not None and row.last_status_code == 500

        wait_for(failed_once, 60, "the first attempt to fail\n" + stack.logs())
        assert worker.alive(), stack.logs()
        # The retry is due 30 s (+-20%) later; bring it forward instead of waiting.
        with sessions.begin() as s:
            s.execute(update(WebhookDelivery).values(next_attempt_at=SystemClock().now()))

        def delivered() -> bool:
            with sessions() as s:
                return s.scalar(select(WebhookDelivery.status)) == "delivered"

        wait_for(delivered, 60, "the delivery to succeed\n" + stack.logs())
    engine.dispose()
    first, second = receiver.requests[:2]
    assert (
        first.headers["X-Followup-Attempt"] == "1" and second.headers["X-Followup-Attempt"] == "2"
    )
    assert second.json["event"]["text"] == "Yes, call me"
    signed_at = int(second.headers["X-Followup-Signature"].split(",")[0][2:])
    assert verify(secret, second.headers["X-Followup-Signature"], second.body, signed_at)
