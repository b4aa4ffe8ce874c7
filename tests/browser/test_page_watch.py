"""The browser fixture itself: what it counts as a problem on a page, and what it leaves to the
test (the status of a page the test opened on purpose)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_a_missing_image_a_failed_fetch_and_a_console_error_are_each_named(
    page_factory: Any, live_server: str
) -> None:
    page = page_factory()
    page.goto("/login")
    page.evaluate(
        """async () => {
            const img = document.createElement('img');
            const loaded = new Promise(done => { img.onerror = done; img.onload = done; });
            img.src = '/static/no-such-picture.png';
            document.body.append(img);
            await loaded;
            await fetch('/api/v1/no-such-thing');
            console.error('the widget could not start');
        }"""
    )
    problems = sorted(page_factory.problems)
    assert problems == [
        f"GET {live_server}/api/v1/no-such-thing answered 404",
        f"GET {live_server}/static/no-such-picture.png answered 404",
        f"console error on {live_server}/login: the widget could not start",
    ]
    page_factory.problems.clear()


def test_a_page_opened_on_purpose_may_be_a_404_but_its_own_assets_must_load(
    page_factory: Any,
) -> None:
    page = page_factory()
    response = page.goto("/no-such-page")
    assert response is not None and response.status == 404
    assert page.locator("link[rel=stylesheet]").count() >= 1  # the 404 page has the app's look
    assert page_factory.problems == []
