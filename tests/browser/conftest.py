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


# When a test ends, the browser closes while werkzeug's test server may still be answering a
# static file (the favicon's 304); the dropped connection leaves that file to the garbage
# collector, whose ResourceWarning lands in whichever test runs then. It is the test server's
# (production serves through gunicorn), so only that warning, for our static files, is let pass.
_DROPPED_STATIC = (
    "ignore:Exception ignored in. <_io.FileIO name=.*/static/"
    ":pytest.PytestUnraisableExceptionWarning"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "browser" in item.path.parts:
            item.add_marker(pytest.mark.filterwarnings(_DROPPED_STATIC))


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


def _same_origin(url: str, origin: str) -> bool:
    return url == origin or url.startswith(origin + "/")


@pytest.fixture
def page_factory(chromium: Any, live_server: str) -> Iterator[Any]:
    """New browser contexts (separate cookies) pointed at the live server.

    Every page is watched, and the test fails at the end naming each problem: any console
    error (a Content-Security-Policy refusal, a script that threw, a resource that would not
    load), an uncaught script error, and any request of our own origin that failed or was
    answered with a status of 400 or more, except the page itself (a test may open a page it
    expects to be 404 or 403; the sub-resources of that page must still load). A test that
    expects one takes it out of `page_factory.problems`.
    """
    contexts: list[Any] = []
    problems: list[str] = []

    def on_console(page: Any, message: Any) -> None:
        if message.type != "error":
            return
        text = message.text
        where = (message.location or {}).get("url") or page.url
        if text.startswith("Failed to load resource"):
            # Chromium's echo of a response below; the response handler names the URL. A page
            # the test navigated to on purpose (a 404 page) is echoed too and is not a problem.
            return
        problems.append(f"console error on {where}: {text}")

    def on_response(response: Any) -> None:
        request = response.request
        if response.status < 400 or not _same_origin(response.url, live_server):
            return
        if request.is_navigation_request() and request.frame.parent_frame is None:
            return  # the page itself: its status is the test's to assert
        problems.append(f"{request.method} {response.url} answered {response.status}")

    def on_request_failed(request: Any) -> None:
        if not _same_origin(request.url, live_server):
            return
        failure = request.failure or ""
        if "ERR_ABORTED" in failure:
            # Cancelled by the browser, not refused by the server: a page left before its
            # favicon, script or live stream finished loading (the next click came first).
            return
        problems.append(f"{request.method} {request.url} failed: {failure}")

    watched: set[int] = set()

    def watch(page: Any) -> None:
        if id(page) in watched:
            return
        watched.add(id(page))
        page.on("console", lambda message: on_console(page, message))
        page.on("pageerror", lambda error: problems.append(f"script error on {page.url}: {error}"))
        page.on("response", on_response)
        page.on("requestfailed", on_request_failed)

    def make(phone: bool = False) -> Any:
        options: dict[str, Any] = {"base_url": live_server}
        if phone:
            options.update(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        else:
            options.update(viewport={"width": 1280, "height": 900})
        context = chromium.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        # Pages the app opens itself (a link with target=_blank) are watched too.
        context.on("page", watch)
        page = context.new_page()
        watch(page)
        return page

    make.problems = problems  # type: ignore[attr-defined]  # a test that expects one takes it out
    yield make
    for context in contexts:
        context.close()
    assert problems == [], "the browser reported problems:\n" + "\n".join(problems)


def screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    """Always taken (it exercises rendering); kept in docs/screenshots when UPDATE_SCREENSHOTS=1."""
    target = (
        SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    ) / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    return target
