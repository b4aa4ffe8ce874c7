"""Browser fixtures: Debian's Chromium driven by Playwright, and the app served on a free port."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sequences.sending.sink import free_port

from ..conftest import CI

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _require_chromium() -> None:
    """Skip locally without Chromium; in CI it must be there (.ci/run installs it)."""
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return
    if CI:
        pytest.fail(f"chromium is not installed at {CHROMIUM} and CI=true requires it")
    pytest.skip(f"chromium not installed ({CHROMIUM}); apt-get install -y chromium")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    _require_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if CI:
            pytest.fail("playwright is not installed and CI=true requires it")
        pytest.skip("playwright not installed (pip install -e '.[dev]')")
    manager = sync_playwright().start()
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    browser = manager.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    manager.stop()


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The app on 127.0.0.1:<free port>, served by werkzeug in a thread."""
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def _is_csp_violation(text: str) -> bool:
    # Chromium reports each refused script, style, image, frame or form as a console error
    # naming the policy ("Refused to apply inline style because it violates the following
    # Content Security Policy directive: ...").
    return "Content Security Policy" in text or "Content-Security-Policy" in text


@pytest.fixture
def page_factory(chromium: Any, live_server: str) -> Iterator[Any]:
    """New browser contexts (separate cookies) pointed at the live server.

    Every page is watched: a Content-Security-Policy violation (or an uncaught script error)
    on any page of the test fails it at the end, naming what was refused.
    """
    contexts: list[Any] = []
    problems: list[str] = []

    def watch(page: Any) -> None:
        page.on(
            "console",
            lambda message: (
                problems.append(f"{page.url}: {message.text}")
                if _is_csp_violation(message.text)
                else None
            ),
        )
        page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))

    def make(phone: bool = False) -> Any:
        options: dict[str, Any] = {"base_url": live_server}
        if phone:
            options.update(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        else:
            options.update(viewport={"width": 1280, "height": 900})
        context = chromium.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        watch(page)
        return page

    make.problems = problems  # type: ignore[attr-defined]  # a test that expects one takes it out
    yield make
    for context in contexts:
        context.close()
    assert problems == [], "the browser refused or failed on something (CSP, script errors)"


def screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    """Always taken (it exercises rendering); kept in docs/screenshots when UPDATE_SCREENSHOTS=1."""
    target = (
        SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    ) / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    return target
