"""Link rewriting round trips, signed tokens (tampering, rotation) and the unsubscribe flow."""

from __future__ import annotations

import html as html_lib
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from sequences.clock import FrozenClock
from sequences.models import Prospect
from sequences.runtime import Runtime
from sequences.sending.batch import run_step
from sequences.sending.compose import TrackingUrls, compose
from sequences.tracking import destinations, links
from sequences.tracking.tokens import KINDS, make_token, new_token_id, read_token
from tracker import create_app

from .conftest import SECRET, Cast, Sink
from .test_slice import send_due
from .tracking_support import BROWSER, events, send_message

URLS = TrackingUrls("https://t.example", (SECRET,), "mail.example")


def composed(body: str, text: str | None = None) -> Any:
    return compose(
        subject_template="s",
        html_template=body,
        text_template=text,
        prospect=Prospect(email="a@b.example", first_name="A", fields={}),
        sender={"name": "R", "email": "r@example.com", "signature": ""},
        token_id=new_token_id(),
        urls=URLS,
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/pricing?plan=pro&ref=mail#compare",
        "https://example.com/caf\u00e9/men\u00fc?q=\u00fcber&x=\u65e5\u672c",
        "http://example.com/a%20b/?q=%E2%9C%93&empty=&flag",
        "https://user@example.com:8443/p;param?a=1&a=2#frag/with?chars",
        "https://example.com/search?q=a+b&redirect=https%3A%2F%2Fevil.example",
        "https://EXAMPLE.com/Path/UPPER#",
    ],
)
def test_links_survive_the_round_trip_unchanged(url: str) -> None:
    body = f"<a href=\"{html_lib.escape(url, quote=True)}\">x</a> <a href='{url}'>y</a>"
    out = composed(body)
    visible = [(p, u) for p, u, hidden in out.links if not hidden]
    assert visible == [(0, url)]  # one position per distinct URL, shared by both anchors
    clicks = re.findall(r'href="(https://t\.example/c/[^"]+)"', out.html)
    token, blob = urlsplit(html_lib.unescape(clicks[0])).path.split("/")[2:]
    assert destinations.read((SECRET,), token, blob) == url


def test_every_http_link_is_rewritten_in_html_and_text_except_unsubscribe_mailto_tel() -> None:
    body = (
        '<a href="https://a.example/1">1</a> <A HREF="HTTP://b.example/2">2</A> '
        '<a href="mailto:rep@example.com">m</a> <a href="tel:+15551234">t</a> '
        '<a href="#top">anchor</a> <a href="/relative">r</a> '
        "<p>{{ unsubscribe_url }}</p>"
    )
    out = composed(
        body, text="See https://a.example/1 and https://c.example/3. Mail rep@example.com"
    )
    assert "a.example" not in out.html and "b.example" not in out.html
    assert 'href="mailto:rep@example.com"' in out.html and 'href="tel:+15551234"' in out.html
    assert 'href="#top"' in out.html and 'href="/relative"' in out.html
    assert "https://t.example/u/" in out.html  # the unsubscribe link is never a click URL
    assert "a.example" not in out.text and "c.example" not in out.text
    assert out.text.count("https://t.example/c/") == 2 and "rep@example.com" in out.text
    assert "https://t.example/u/" in out.text
    assert [u for _, u, h in out.links if not h] == [
        "https://a.example/1",
        "HTTP://b.example/2",
        "https://c.example/3",
    ]


def test_pixel_and_hidden_honeypot_close_the_body() -> None:
    out = composed("<html><body><p>Hi</p></body></html>")
    tail = out.html[out.html.index("<p>Hi</p>") :]
    assert tail.index('style="display:none') < tail.index("/o/") < tail.index("</body>")
    assert out.links[-1][2] is True


def test_click_with_the_blob_of_another_link_or_message_is_refused(
    client: Any, rt: Runtime
) -> None:
    one, two = send_message(rt), send_message(rt, email="b@prospect.example")
    token_one = one.clicks[0].split("/")[2]
    blob_two = two.clicks[0].split("/")[3]
    blob_other_link = one.clicks[1].split("/")[3]
    for path in (f"/c/{token_one}/{blob_two}", f"/c/{token_one}/{blob_other_link}"):
        response = client.get(path)
        assert response.status_code == 404 and "Location" not in response.headers
    forged = destinations.carry(("attacker-key",), token_one, "https://evil.example/")
    assert client.get(f"/c/{token_one}/{forged}").status_code == 404


# -- tokens ----------------------------------------------------------------------------------


def test_tampering_any_character_of_a_token_invalidates_it() -> None:
    token = make_token((SECRET,), "c", new_token_id(), 3)
    for i in range(len(token)):
        replacement = "A" if token[i] != "A" else "B"
        tampered = token[:i] + replacement + token[i + 1 :]
        assert read_token((SECRET,), tampered, "c") is None, i


def test_truncated_extended_unknown_and_wrong_kind_tokens_are_refused() -> None:
    token = make_token((SECRET,), "o", new_token_id())
    assert read_token((SECRET,), token, "o") is not None
    for bad in (token[:-1], token[:10], token + "A", "", "x" * 36, "%%%%" * 9, "\u00e9" * 36):
        assert read_token((SECRET,), bad, "o") is None
    for kind in set(KINDS) - {"o"}:
        assert read_token((SECRET,), token, kind) is None


def test_tokens_do_not_reveal_or_follow_row_ids() -> None:
    a, b = new_token_id(), new_token_id()
    assert a != b and len(a) == 24
    assert make_token((SECRET,), "o", a) != make_token((SECRET,), "o", a, 1)


def test_key_rotation_keeps_old_links_valid_until_the_old_key_is_dropped(
    rt: Runtime, clock: FrozenClock, tmp_path: Any
) -> None:
    import dataclasses

    sent = send_message(rt)  # signed with SECRET
    clock.advance(hours=1)
    rotated = dataclasses.replace(rt.settings, secret_keys=("brand-new-key-0123456789", SECRET))
    rt.settings = rotated
    client = create_app({"RUNTIME": rt, "TESTING": True}).test_client()
    assert client.get(sent.clicks[0], headers={"User-Agent": BROWSER}).status_code == 302
    assert client.get(sent.unsubscribe).status_code == 200
    fresh = send_message(rt, email="new@prospect.example")  # signed with the new key
    assert client.get(fresh.clicks[0]).status_code == 302

    rt.settings = dataclasses.replace(rotated, secret_keys=("brand-new-key-0123456789",))
    client = create_app({"RUNTIME": rt, "TESTING": True}).test_client()
    assert client.get(sent.clicks[0]).status_code == 404
    assert client.get(fresh.clicks[0]).status_code == 302


def test_secret_key_list_from_the_environment_signs_with_the_first() -> None:
    from sequences.config import load_settings

    settings = load_settings({"FOLLOWUP_SECRET_KEY": "new-key-aaaaaaaaaaaa, old-key-bbbbbbbbbbbb"})
    assert settings.secret_keys == ("new-key-aaaaaaaaaaaa", "old-key-bbbbbbbbbbbb")
    token = make_token(settings.secret_keys, "o", new_token_id())
    assert read_token(("new-key-aaaaaaaaaaaa",), token, "o") is not None
    assert read_token(("old-key-bbbbbbbbbbbb",), token, "o") is None


# -- unsubscribe -----------------------------------------------------------------------------


def _two_step_enrollment(client: Any, cast: Cast) -> tuple[int, int]:
    prospect = client.post(
        "/api/v1/prospects", json={"email": "uma@prospect.example"}, headers=cast.auth()
    ).json
    ids = []
    for name in ("Main", "Other"):
        sequence = client.post(
            "/api/v1/sequences",
            json={
                "name": name,
                "steps": [
                    {"type": "email", "delay": "PT0S", "subject": "One", "body_html": "<p>1</p>"},
                    {"type": "email", "delay": "P2D", "subject": "Two", "body_html": "<p>2</p>"},
                ],
            },
            headers=cast.auth(),
        ).json
        enrollment = client.post(
            "/api/v1/enrollments",
            # The same prospect in two sequences at once is asked for explicitly (409 otherwise).
            json={"prospect_id": prospect["id"], "sequence_id": sequence["id"], "force": True},
            headers=cast.auth(),
        )
        assert enrollment.status_code == 201, enrollment.json
        ids.append(enrollment.json["id"])
    return ids[0], ids[1]


def test_scanner_get_never_unsubscribes_and_one_click_post_stops_every_later_send(
    client: Any,
    cast: Cast,
    rt: Runtime,
    clock: FrozenClock,
    smtp_sink: Sink,
    stub_worker: Any,
) -> None:
    main, other = _two_step_enrollment(client, cast)
    assert send_due(rt, stub_worker) == 2
    first = smtp_sink.messages()[0].message
    header = first["List-Unsubscribe"]
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https = re.search(r"<(http://track\.example\.test/u/[^>]+)>", header)
    assert https is not None and "<mailto:unsubscribe+" in header
    path = urlsplit(https.group(1)).path
    assert path in first.get_body(("html",)).get_content()  # the body carries it too

    for _ in range(3):  # security gateways follow every link with GET (and HEAD)
        page = client.get(path, headers={"User-Agent": "Mozilla/5.0 (compatible; Mimecast)"})
        assert page.status_code == 200 and b"<form" in page.data
        assert client.head(path).status_code == 200
    status = client.get(f"/api/v1/enrollments/{main}", headers=cast.auth()).json["status"]
    assert status == "active"

    response = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "Location" not in response.headers
    for enrollment_id in (main, other):
        got = client.get(f"/api/v1/enrollments/{enrollment_id}", headers=cast.auth()).json
        assert got["status"] == "unsubscribed"
    assert (
        client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    )  # twice: fine

    clock.advance(days=3)
    assert run_step(rt, main, 1).startswith("not active")
    assert send_due(rt, stub_worker) == 0
    assert len(smtp_sink.messages()) == 2  # nothing after the unsubscribe


def test_unsubscribe_page_button_and_bad_tokens(
    client: Any, rt: Runtime, clock: FrozenClock
) -> None:
    sent = send_message(rt)
    assert client.get(sent.unsubscribe[:-4] + "AAAA").status_code == 404
    assert client.post(sent.unsubscribe[:-4] + "AAAA").status_code == 404
    assert client.post("/u/nonsense").status_code == 404
    response = client.post(sent.unsubscribe)  # the page's button: no form field
    assert response.status_code == 200 and b"unsubscribed" in response.data


# Pieces of email HTML, plain and odd: the fast reader must agree with HTMLParser on all of them.
HTML_PIECES = [
    "<p>", "</p>", "<br>", "<br/>", "<br />", "<BR>", "<p/>", "<p >", "</p >", "</ p>", "</>",
    '<a href="https://x.example/a?b=1&amp;c=2">', "<a href='http://y.example'>", "</a>", "<a>",
    "<a href=http://z.example/p>", '<a href="">', "<a href>", '<a href="x"/>', "</A>",
    '<a title="t" href="https://q.example" href="https://last.example">', '<a href = "h" >',
    '<div class="x">', "</div>", "<ul>", "<li>", "</li>", "</ul>", "<h1>", "</h1>", "<table>",
    "<tr>", "<td>", "</td>", "</tr>", "</table>", '<span\nclass="y">', "</span>", "<o:p>",
    "<style>p{color:red}</style>", "<script>if (a<b) {}</script>", "<head>", "</head>",
    "<title>T</title>", "<!-- c -->", "<!-- a -- b -->", "<!--->", "<!DOCTYPE html>",
    "<![CDATA[x]]>", "<?xml?>", '<img src="x.gif" alt="">', "<img src=x.gif/>",
    "Hello", " world ", "\n", "\t", "&amp;", "&lt;", "&#233;", "&nbsp;", "&", "a < b", "<3",
    "<", ">", "\u00e9", "https://bare.example/x", '="', "'", '"',
]  # fmt: skip


def _html_to_text_by_htmlparser(body: str) -> str:
    parser = links._TextExtractor()
    parser.feed(body)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.sampled_from(HTML_PIECES), max_size=40).map("".join)
    | st.text(alphabet="<>/aAhrefp b=\"'&!-\n;#x:\u00e9\t", max_size=80)
)
def test_plain_text_part_reads_html_exactly_as_htmlparser_does(body: str) -> None:
    assert links.html_to_text(body) == _html_to_text_by_htmlparser(body)


def _without_request_id(headers: Any) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in headers.items() if k != "X-Request-Id")


def test_the_pixel_and_click_answer_exactly_as_the_flask_routes_do(
    app: Any, client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    """HitFront answers the hot paths before Flask: same status, headers and body, same event."""
    from werkzeug.test import Client

    flask_only = Client(app.wsgi_app.inner)  # the routes themselves, without the front
    sent = send_message(rt)
    clock.advance(hours=1)
    for path in (sent.pixel, sent.clicks[0]):
        for method in ("GET", "HEAD"):
            fast = client.open(path, method=method, headers={"User-Agent": BROWSER})
            routed = flask_only.open(path, method=method, headers={"User-Agent": BROWSER})
            assert (fast.status, fast.data) == (routed.status, routed.data)
            # The request id belongs to Flask's requests; the front answers before one exists.
            assert _without_request_id(fast.headers) == _without_request_id(routed.headers)
    head = client.head(sent.pixel)
    assert head.data == b"" and head.headers["Content-Length"] == "43"
    # Both answers were recorded: 2 opens and 2 clicks each way.
    assert [e.type for e in events(session, sent.message_id, "open")] == ["open"] * 5
    assert len(events(session, sent.message_id, "click")) == 4


def test_clicks_the_front_cannot_answer_get_the_routes_answer(
    client: Any, rt: Runtime, session: Session
) -> None:
    """A tampered blob, an unsigned token, an extra path segment, a link cut short: a small
    page that says the link is broken (the unsubscribe page's look), 404, no redirect, no event."""
    sent = send_message(rt)
    token, _, blob = sent.clicks[0].removeprefix("/c/").partition("/")
    for path in (
        f"/c/{token}/{blob[:-2]}xx",
        f"/c/{token[:-2]}xx/{blob}",
        f"/c/{token}/{blob}/more",
        f"/c/{token[:20]}",
    ):
        response = client.get(path, headers={"User-Agent": BROWSER})
        assert response.status_code == 404, path
        assert "Location" not in response.headers
        page = response.text
        assert "This link is broken" in page and "Nothing was recorded" in page, path
        assert "Traceback" not in page and "/static/app.css" in page  # the site's own look
    assert events(session, sent.message_id, "click") == []
