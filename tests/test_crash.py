"""Exactly one email per (enrollment, step) with real processes killed by SIGKILL and Redis flushed."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from sequences import runtime
from sequences.clock import SystemClock
from sequences.config import load_settings
from sequences.definitions import create_sequence
from sequences.enrollment import enroll
from sequences.models import Enrollment, Message, Prospect
from sequences.sending.sink import read_messages
from sequences.workspace.accounts import default_team

from .conftest import REDIS_URL, _truncate_postgres, make_env, require_service
from .procs import production_stack, wait_for

pytestmark = pytest.mark.slow

PROSPECTS = 250  # two email steps each: 500 sends


def _sink_count(directory: Path) -> int:
    if not directory.exists():
        return 0
    return sum(1 for entry in os.scandir(directory) if entry.name.endswith(".eml"))


def _seed(database_url: str, tmp_path: Path) -> None:
    rt = runtime.build(load_settings(make_env(database_url, 1025, tmp_path)), SystemClock())
    try:
        with rt.sessions.begin() as s:
            team = default_team(s)
            step = {"type": "email", "delay": "PT0S", "body_html": "<p>Hi {{ first_name }}</p>"}
            sequence = create_sequence(
                s,
                team.id,
                None,
                {
                    "name": "Crash test",
                    "steps": [
                        {**step, "subject": "Step 1 for {{ first_name }}"},
                        {**step, "subject": "Step 2 for {{ first_name }}"},
                    ],
                },
                rt.clock.now(),
            )
            prospects = [
                Prospect(
                    team_id=team.id, email=f"p{i}@crash.example", first_name=f"P{i}", fields={}
                )
                for i in range(PROSPECTS)
            ]
            s.add_all(prospects)
            s.flush()
            for prospect in prospects:
                enroll(s, prospect, sequence, rt.clock.now())
    finally:
        rt.dispose()


def test_sigkilled_workers_and_a_flushed_redis_send_every_step_exactly_once(
    postgres_url: str, tmp_path: Path
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    _truncate_postgres(postgres_url)
    _seed(postgres_url, tmp_path)
    sink_dir = tmp_path / "sink"
    with production_stack(
        postgres_url,
        REDIS_URL,
        tmp_path,
        FOLLOWUP_SINK_DIR=str(sink_dir),
        # The sink is ours, so a send cut off during DATA is decided by its Message-ID index.
        FOLLOWUP_DELIVERY_PROBE="sink",
        # A dead worker's claims and lost broker messages are taken over after this long.
        FOLLOWUP_SEND_LEASE_SECONDS="8",
    ) as stack:
        namespace = stack.env["FOLLOWUP_REDIS_NAMESPACE"]
        stack.start_sink()
        stack.start_worker(processes=2, threads=4)
        stack.start_scheduler(interval=0.2)
        kills = 0
        try:
            for threshold in (60, 170, 280):
                wait_for(lambda t=threshold: _sink_count(sink_dir) >= t, 120, f"{threshold} sends")
                stack.procs["worker"].kill()  # SIGKILL the whole process group mid-run
                kills += 1
                stack.start_worker(processes=2, threads=4)
            wait_for(lambda: _sink_count(sink_dir) >= 360, 120, "360 sends")
            # Redis loses everything (a restart on this machine keeps nothing): only our keys.
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(f"{namespace}*"))
            if keys:
                client.delete(*keys)
            client.close()

            engine_rt = runtime.build(
                load_settings(make_env(postgres_url, stack.sink_port, tmp_path)), SystemClock()
            )

            def all_finished() -> bool:
                with engine_rt.sessions() as s:
                    return not s.scalar(
                        select(func.count())
                        .select_from(Enrollment)
                        .where(Enrollment.status != "finished")
                    )

            wait_for(all_finished, 180, "every enrollment to finish\n" + stack.logs())
            stack.procs["worker"].stop()
            stack.procs["scheduler"].stop()
        except AssertionError:
            print(stack.logs())
            raise

        subjects = Counter(str(m.message["Subject"]) for m in read_messages(sink_dir))
        expected = {f"Step {n} for P{i}" for i in range(PROSPECTS) for n in (1, 2)}
        assert kills == 3
        assert set(subjects) == expected
        duplicates = {s: c for s, c in subjects.items() if c != 1}
        assert duplicates == {}
        assert sum(subjects.values()) == 2 * PROSPECTS
        with engine_rt.sessions() as s:
            statuses = Counter(s.scalars(select(Message.status)))
            assert statuses == {"sent": 2 * PROSPECTS}
            assert not s.scalar(select(func.count()).where(Enrollment.needs_review.is_(True)))
        engine_rt.dispose()
