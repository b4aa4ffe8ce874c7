"""Fuzzing the tracking routes: never a 500, never a redirect to a URL that was not in the message."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sequences.runtime import Runtime

from .tracking_support import send_message

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
METHODS = st.sampled_from(
    ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "BREW"]
)
URLSAFE = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=80
)
ANY_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=300,
)
HEADER_VALUE = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E)
    | st.sampled_from("\t\u00e9\u00ff"),
    max_size=2000,
)
PREFIXES = st.sampled_from(["/o/", "/c/", "/d/", "/u/"])
SUFFIXES = st.sampled_from(
    ["", ".gif", "/", "/x", "/%ff%fe", "/..%2f..%2f", "?url=https://evil.example"]
)


def _open(client: Any, path: str, method: str = "GET", **kw: Any) -> Any:
    """Request `path` as a server would see it on our host.

    Given "//x", the test client would take x for a host name (a network-path reference), a
    request no server receives; so the path goes straight into PATH_INFO.
    """
    raw, _, query = path.partition("?")
    environ = {
        "PATH_INFO": unquote_to_bytes(raw).decode("latin-1"),
        "QUERY_STRING": query,
        "HTTP_HOST": "track.example.test",
    }
    environ.update(kw.pop("environ_overrides", {}))
    return client.open("/", method=method, environ_overrides=environ, **kw)


def _allowed(rt: Runtime) -> tuple[Any, set[str]]:
    sent = send_message(rt)
    allowed = {url for _, url, _ in sent.links}
    return sent, allowed


def _check(response: Any, allowed: set[str]) -> None:
    assert response.status_code < 500, response.status_code
    if 300 <= response.status_code < 400:
        location = response.headers.get("Location", "")
        from urllib.parse import unquote

        assert unquote(location) in {unquote(u) for u in allowed}, location


@FUZZ
@given(prefix=PREFIXES, token=st.one_of(URLSAFE, ANY_TEXT), suffix=SUFFIXES, method=METHODS)
def test_random_tokens_and_methods_never_fail_or_redirect(
    client: Any, rt: Runtime, prefix: str, token: str, suffix: str, method: str
) -> None:
    from urllib.parse import quote

    path = prefix + quote(token, safe="") + suffix
    _check(_open(client, path, method), set())


@FUZZ
@given(
    which=st.integers(min_value=0, max_value=10),
    cut=st.integers(min_value=0, max_value=200),
    insert=st.text(max_size=5),
    method=METHODS,
)
def test_mutated_real_links_never_redirect_elsewhere(
    client: Any, rt: Runtime, which: int, cut: int, insert: str, method: str
) -> None:
    from urllib.parse import quote

    sent, allowed = _allowed(rt)
    paths = [*sent.clicks, sent.pixel, sent.unsubscribe]
    path = paths[which % len(paths)]
    cut = cut % len(path)
    mutated = path[:cut] + quote(insert, safe="/") + path[cut + 1 :]
    _check(_open(client, mutated, method), allowed)


@FUZZ
@given(ua=HEADER_VALUE, forwarded=HEADER_VALUE, referer=HEADER_VALUE, which=st.integers(0, 3))
def test_hostile_headers_on_real_links(
    client: Any, rt: Runtime, ua: str, forwarded: str, referer: str, which: int
) -> None:
    sent, allowed = _allowed(rt)
    path = [sent.pixel, sent.clicks[0], sent.clicks[-1], sent.unsubscribe][which]
    headers = {
        "User-Agent": ua,
        "X-Forwarded-For": forwarded,
        "Referer": referer,
        "Accept-Language": ua,
    }
    response = _open(
        client, path, headers=headers, environ_overrides={"REMOTE_ADDR": forwarded[:45] or "x"}
    )
    _check(response, allowed)
    if path == sent.pixel:
        assert response.status_code == 200 and response.mimetype == "image/gif"


def test_huge_paths_and_bad_encodings(client: Any, rt: Runtime) -> None:
    sent, allowed = _allowed(rt)
    for path in (
        "/o/" + "A" * 100_000 + ".gif",
        "/c/" + "A" * 100_000,
        sent.clicks[0] + "/" + "B" * 50_000,
        "/c/%ff%fe%00",
        "/o/%c3%28.gif",
        "/d/" + "%e2%82" * 1000,
        sent.clicks[0].replace("/c/", "/c//"),
        "/u/" + "\u202e" * 50,
        "//evil.example",
        "//evil.example/",
        "/c//evil.example",
        "/o/..//evil.example.gif",
    ):
        for method in ("GET", "HEAD", "POST"):
            _check(_open(client, path, method), allowed)
    response = client.get("/o/" + "A" * 100_000 + ".gif")
    assert response.status_code == 200 and response.mimetype == "image/gif"
    response = client.post(
        sent.unsubscribe, data=b"\xff\xfe" * 1000, content_type="application/x-www-form-urlencoded"
    )
    _check(response, allowed)
