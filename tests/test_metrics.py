"""GET /metrics: hidden unless a token is set, Prometheus text that follows real sends, hits and mail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from sequences.config import load_settings
from sequences.runtime import Runtime
from tracker import create_app

from .conftest import Sink, make_env
from .sending_helpers import drain, email, enroll_ids, make_prospect, make_sequence
from .tracking_support import BROWSER, send_message

TOKEN = "scrape-token-0123456789"


def app_with_token(rt: Runtime, database_url: str, smtp_sink: Sink, tmp_path: Path) -> Any:
    settings = load_settings(
        make_env(database_url, smtp_sink.port, tmp_path, FOLLOWUP_METRICS_TOKEN=TOKEN)
    )
    rt.settings = settings
    return create_app({"RUNTIME": rt, "TESTING": True})


def samples(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    out = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_answer_404_when_no_token_is_set(client: Any) -> None:
    assert client.get("/metrics").status_code == 404


def test_metrics_refuse_a_missing_or_wrong_token(
    rt: Runtime, database_url: str, smtp_sink: Sink, tmp_path: Path
) -> None:
    client = app_with_token(rt, database_url, smtp_sink, tmp_path).test_client()
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == "Bearer"


def test_metrics_follow_a_real_send_an_open_and_an_inbound_message(
    rt: Runtime, database_url: str, smtp_sink: Sink, tmp_path: Path
) -> None:
    client = app_with_token(rt, database_url, smtp_sink, tmp_path).test_client()
    before = samples(client)
    assert before[("followup_due_steps_waiting", ())] == 0

    sequence = make_sequence(rt, [email()])
    enroll_ids(rt, [make_prospect(rt, "zoe@prospect.example")], sequence)
    assert samples(client)[("followup_due_steps_waiting", ())] == 1
    drain(rt)
    assert len(smtp_sink.messages()) == 1
    after_send = samples(client)
    assert after_send[("followup_messages", (("status", "sent"),))] == 1
    assert after_send[("followup_due_steps_waiting", ())] == 0
    smtp = after_send[("followup_smtp_seconds_count", ())]
    assert smtp >= 1

    sent = send_message(rt, email="ann@prospect.example")
    assert client.get(sent.pixel, headers={"User-Agent": BROWSER}).status_code == 200
    after_open = samples(client)
    opens = [
        value
        for (name, labels), value in after_open.items()
        if name == "followup_tracking_hits_total" and ("kind", "open") in labels
    ]
    assert sum(opens) == 1  # with its verdict as a label
    assert after_open[("followup_spool_pending_bytes", ())] == 0

    raw = (Path(__file__).parent / "data" / "inbound" / "reply_gmail.eml").read_bytes()
    posted = client.post(
        "/api/v1/inbound",
        data=raw,
        headers={"Content-Type": "message/rfc822", "Authorization": f"Bearer {make_key(rt)}"},
    )
    assert posted.status_code < 300
    after_inbound = samples(client)
    verdicts = {
        dict(labels)["verdict"]: value
        for (name, labels), value in after_inbound.items()
        if name == "followup_inbound_messages_total"
    }
    assert sum(verdicts.values()) == 1


def make_key(rt: Runtime) -> str:
    from sequences.workspace import create_api_key, create_user
    from sequences.workspace.accounts import default_team

    with rt.sessions.begin() as s:
        user = create_user(s, "max@example.com", name="Max", manager=True, team=default_team(s))
        return create_api_key(s, user, rt.clock.now())


def test_the_grafana_dashboard_uses_only_metrics_that_a_scrape_serves(
    rt: Runtime, database_url: str, smtp_sink: Sink, tmp_path: Path
) -> None:
    import json
    import re

    client = app_with_token(rt, database_url, smtp_sink, tmp_path).test_client()
    sequence = make_sequence(rt, [email()])
    enroll_ids(rt, [make_prospect(rt, "zoe@prospect.example")], sequence)
    drain(rt)
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(True)
    served = set()
    for family in text_string_to_metric_families(text):  # families without samples count too
        served |= {family.name, f"{family.name}_total", f"{family.name}_bucket"}
    dashboard = json.loads(
        (Path(__file__).parent.parent / "docs/grafana-followup.json").read_text()
    )
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"followup_\w+", target["expr"])
    }
    # The tick histogram lives in the scheduler's process; everything else is in this scrape.
    assert used - served <= {"followup_scheduler_tick_seconds_bucket"}
