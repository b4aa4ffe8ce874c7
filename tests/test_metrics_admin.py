"""FOLLOWUP_METRICS_BIND: the web's Prometheus text on an admin port only, from real processes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sequences import runtime
from sequences.config import load_settings
from sequences.sending.sink import free_port
from tracker import create_app

from .conftest import REDIS_URL, Sink, _truncate_postgres, make_env, require_service
from .procs import http, production_stack, wait_for
from .tracking_support import BROWSER, send_message

TOKEN = "scrape-token-0123456789"


def _opens(port: int) -> float | None:
    try:
        answer = http("GET", f"http://127.0.0.1:{port}/metrics", timeout=5)
    except OSError:
        return None
    total = 0.0
    for family in text_string_to_metric_families(answer.body.decode()):
        for sample in family.samples:
            if sample.name == "followup_tracking_hits_total" and sample.labels["kind"] == "open":
                total += sample.value
    return total


@pytest.mark.slow
def test_a_pixel_hit_is_counted_on_the_admin_port_and_the_public_port_hides_metrics(
    postgres_url: str, tmp_path: Path
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    _truncate_postgres(postgres_url)  # no other test's encrypted secrets (see test_production)
    admin = free_port()
    with production_stack(
        postgres_url,
        REDIS_URL,
        tmp_path,
        FOLLOWUP_METRICS_BIND=f"127.0.0.1:{admin}",
        FOLLOWUP_METRICS_TOKEN=TOKEN,  # the admin port wins: no /metrics on the public one
    ) as stack:
        # The message's links are signed with the stack's key; their host does not matter.
        rt = runtime.build(
            load_settings({**stack.env, "FOLLOWUP_BASE_URL": "http://track.example.test"})
        )
        try:
            sent = send_message(rt)
        finally:
            rt.dispose()
        web = stack.start_web(workers=2)
        try:
            wait_for(lambda: _opens(admin) is not None, 30, "the admin listener")
            assert _opens(admin) == 0
            pixel = http("GET", stack.web_url + sent.pixel, headers={"User-Agent": BROWSER})
            assert pixel.status == 200
            # The hit is spooled, then written by the drainer; the admin listener counts it.
            wait_for(lambda: _opens(admin) == 1, 30, "the open on the admin port")
            public = http(
                "GET", stack.web_url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert public.status == 404
        except AssertionError:
            print(web.log())
            raise


def _web_requests(port: int, route: str) -> float | None:
    try:
        answer = http("GET", f"http://127.0.0.1:{port}/metrics", timeout=5)
    except OSError:
        return None
    return sum(
        sample.value
        for family in text_string_to_metric_families(answer.body.decode())
        for sample in family.samples
        if sample.name == "followup_http_requests_total" and sample.labels["route"] == route
    )


def _pixels_per_worker(directory: Path) -> dict[str, float]:
    """Each gunicorn worker writes its own counter_<pid>.db; read them one by one, so the
    test sees which workers served (the admin listener sums them)."""
    from prometheus_client.multiprocess import MultiProcessCollector

    served: dict[str, float] = {}
    for path in directory.glob("counter_*.db"):
        # A private reader, but the only one that takes a single worker's file.
        for family in MultiProcessCollector._read_metrics([str(path)]).values():  # type: ignore[attr-defined]
            for sample in family.samples:
                # The raw reader keeps labels as pairs.
                named = sample.name == "followup_http_requests_total"
                if named and dict(sample.labels) == {"route": "pixel"}:
                    served[path.stem] = served.get(path.stem, 0.0) + sample.value
    return served


@pytest.mark.slow
def test_the_web_request_counter_on_the_admin_port_sums_every_worker(
    postgres_url: str, tmp_path: Path
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    _truncate_postgres(postgres_url)
    admin = free_port()
    with production_stack(
        postgres_url, REDIS_URL, tmp_path, FOLLOWUP_METRICS_BIND=f"127.0.0.1:{admin}"
    ) as stack:
        web = stack.start_web(workers=2)
        directory = tmp_path / "instance" / "web-metrics"  # `followup web`'s own default
        made = 0

        def batch() -> bool:
            nonlocal made
            # Concurrent, so a sync worker busy with one leaves the next to the other.
            with ThreadPoolExecutor(8) as pool:
                answers = list(
                    pool.map(
                        lambda i: http(
                            "GET",
                            f"{stack.web_url}/o/unknown{i}.gif",
                            headers={"User-Agent": BROWSER},
                        ),
                        range(16),
                    )
                )
            assert all(a.status == 200 for a in answers)
            made += len(answers)
            served = _pixels_per_worker(directory)
            return len(served) >= 2 and all(n > 0 for n in served.values())

        try:
            wait_for(lambda: _web_requests(admin, "pixel") is not None, 30, "the admin listener")
            wait_for(batch, 60, "pixel hits served by both workers")
            served = _pixels_per_worker(directory)
            assert sum(served.values()) == made
            # Every worker's count, summed at the scrape: not one worker's share.
            assert _web_requests(admin, "pixel") == made
            assert _web_requests(admin, "app") is not None
        except AssertionError:
            print(sorted(p.name for p in directory.glob("*")), _pixels_per_worker(directory))
            print(web.log())
            raise


def test_the_public_metrics_route_is_404_when_an_admin_port_is_set(
    database_url: str, smtp_sink: Sink, tmp_path: Path
) -> None:
    settings = load_settings(
        make_env(
            database_url,
            smtp_sink.port,
            tmp_path,
            FOLLOWUP_METRICS_TOKEN=TOKEN,
            FOLLOWUP_METRICS_BIND="127.0.0.1:9100",
        )
    )
    assert settings.metrics_bind == ("127.0.0.1", 9100)
    built = runtime.build(settings)
    try:
        client: Any = create_app({"RUNTIME": built, "TESTING": True}).test_client()
        answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 404
    finally:
        built.dispose()


def test_a_busy_admin_port_stops_the_web_in_one_line_naming_the_setting(
    tmp_path: Path, sqlite_template: Path
) -> None:
    import os
    import shutil
    import socket

    from .procs import run_cli

    shutil.copy(sqlite_template, tmp_path / "followup.db")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
        env.update(
            make_env(f"sqlite:///{tmp_path / 'followup.db'}", free_port(), tmp_path),
            FOLLOWUP_METRICS_BIND=f"127.0.0.1:{port}",
        )
        done = run_cli(["web", "--port", str(free_port())], env)
    assert done.returncode == 2, done.stderr
    assert f"port {port}" in done.stderr and "FOLLOWUP_METRICS_BIND" in done.stderr
    assert "Traceback" not in done.stderr
