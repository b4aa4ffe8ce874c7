"""Turns a step and a prospect into the subject and bodies that go out, with tracking added."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..rendering import prospect_context, render
from ..tracking import destinations, html_to_text, make_token, rewrite_html, rewrite_text


@dataclass(frozen=True)
class TrackingUrls:
    """Builds the public URLs that tokens live in; templates never build these by hand."""

    base_url: str
    keys: tuple[str, ...]
    mail_domain: str

    def pixel(self, token_id: str) -> str:
        return f"{self.base_url}/o/{make_token(self.keys, 'o', token_id)}.gif"

    def click(self, token_id: str, position: int, url: str | None = None) -> str:
        """The click URL; given the destination, it carries it signed (clicks work with the DB down)."""
        token = make_token(self.keys, "c", token_id, position)
        blob = destinations.carry(self.keys, token, url) if url is not None else None
        return f"{self.base_url}/c/{token}/{blob}" if blob else f"{self.base_url}/c/{token}"

    def document(self, token_id: str, position: int) -> str:
        return f"{self.base_url}/d/{make_token(self.keys, 'd', token_id, position)}"

    def unsubscribe(self, token_id: str) -> str:
        return f"{self.base_url}/u/{make_token(self.keys, 'u', token_id)}"

    def unsubscribe_mailto(self, token_id: str) -> str:
        token = make_token(self.keys, "u", token_id)
        return f"mailto:unsubscribe+{token}@{self.mail_domain}?subject=unsubscribe"

    def bounce_address(self, token_id: str) -> str:
        """VERP: a per-message envelope sender, so a bounce names its message."""
        return f"bounce+{make_token(self.keys, 'b', token_id)}@{self.mail_domain}"

    def reply_address(self, token_id: str) -> str:
        return f"reply+{make_token(self.keys, 'r', token_id)}@{self.mail_domain}"


@dataclass
class Composed:
    subject: str
    html: str
    text: str
    links: list[tuple[int, str, bool]] = field(default_factory=list)  # (position, url, hidden)


class _LinkTable:
    """Numbers each distinct destination once, so HTML and text share a position per URL."""

    def __init__(self, urls: TrackingUrls, token_id: str) -> None:
        self.urls = urls
        self.token_id = token_id
        self.rows: list[tuple[int, str, bool]] = []
        self._positions: dict[str, int] = {}

    def __call__(self, url: str) -> str:
        position = self._positions.get(url)
        if position is None:
            position = len(self.rows)
            self._positions[url] = position
            self.rows.append((position, url, False))
        return self.urls.click(self.token_id, position, url)

    def document(self, document_id: int) -> str:
        url = f"{DOCUMENT_SCHEME}{document_id}"
        position = self._positions.get(url)
        if position is None:
            position = len(self.rows)
            self._positions[url] = position
            self.rows.append((position, url, False))
        return self.urls.document(self.token_id, position)

    def honeypot(self) -> str:
        position = len(self.rows)
        url = self.urls.base_url + "/"
        self.rows.append((position, url, True))
        return self.urls.click(self.token_id, position, url)


# A step shares a hosted file with <a href="document:42">: sent as a tracked /d/<token> link.
DOCUMENT_SCHEME = "document:"
_DOCUMENT_HREF = re.compile(r"""(\bhref\s*=\s*)(["'])\s*document:(\d{1,9})\s*\2""", re.IGNORECASE)


def _share_documents(body: str, table: _LinkTable) -> str:
    return _DOCUMENT_HREF.sub(
        lambda m: f'{m.group(1)}"{html_lib.escape(table.document(int(m.group(3))), quote=True)}"',
        body,
    )


def _insert_before_body_end(body: str, snippet: str) -> str:
    index = body.lower().rfind("</body>")
    return body + snippet if index < 0 else body[:index] + snippet + body[index:]


def compose(
    *,
    subject_template: str,
    html_template: str,
    text_template: str | None,
    prospect: Any,
    sender: Mapping[str, Any],
    token_id: str,
    urls: TrackingUrls,
    thread_subject: str | None = None,
    track: bool = True,
) -> Composed:
    """Render the step for this prospect and add click tracking, pixel and unsubscribe link.

    Raises rendering.RenderError when the prospect lacks a field the template needs.
    """
    unsubscribe_url = urls.unsubscribe(token_id)
    context = prospect_context(prospect, sender, unsubscribe_url)
    if thread_subject is not None:
        subject = (
            thread_subject if thread_subject.lower().startswith("re:") else f"Re: {thread_subject}"
        )
    else:
        subject = render(subject_template, context, html=False, part="subject")
    subject = " ".join(subject.split())  # a subject is one line, whatever the template did
    body_html = render(html_template, context, html=True, part="body_html")
    table = _LinkTable(urls, token_id)
    body_html = _share_documents(body_html, table)
    body_text = (
        render(text_template, context, html=False, part="body_text")
        if text_template
        else html_to_text(body_html)
    )
    if unsubscribe_url not in body_html:
        link = html_lib.escape(unsubscribe_url, quote=True)
        body_html = _insert_before_body_end(
            body_html,
            '<p style="font-size:12px;color:#888888">Not interested? '
            f'<a href="{link}">Unsubscribe</a>.</p>',
        )
    if unsubscribe_url not in body_text:
        body_text = body_text.rstrip("\n") + f"\n\n--\nUnsubscribe: {unsubscribe_url}\n"
    if not track:
        return Composed(subject, body_html, body_text, table.rows)

    skip = (urls.base_url + "/u/", urls.base_url + "/d/")
    body_html = rewrite_html(body_html, table, skip)
    body_text = rewrite_text(body_text, table, skip)
    # A link no person can see or click: only machines that follow every link reach it.
    honeypot = html_lib.escape(table.honeypot(), quote=True)
    pixel = html_lib.escape(urls.pixel(token_id), quote=True)
    body_html = _insert_before_body_end(
        body_html,
        f'<a href="{honeypot}" style="display:none;font-size:0;line-height:0;max-height:0" '
        'aria-hidden="true" tabindex="-1"></a>'
        f'<img src="{pixel}" width="1" height="1" alt="" '
        'style="display:block;border:0;width:1px;height:1px;overflow:hidden">',
    )
    return Composed(subject, body_html, body_text, table.rows)
