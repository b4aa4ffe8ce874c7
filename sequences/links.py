"""Rewriting links to tracked click URLs, and deriving a plain-text part from HTML."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser

# href="..." or href='...' inside an <a> tag. We rewrite attribute values in place rather than
# re-serialising the document, so the author's HTML reaches the prospect byte for byte otherwise.
_A_HREF = re.compile(
    r"""(<a\b[^>]*?\bhref\s*=\s*)(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE | re.DOTALL
)
_TEXT_URL = re.compile(r"""https?://[^\s<>"']+[^\s<>"'.,;:!?)\]]""", re.IGNORECASE)


def is_trackable(url: str, skip_prefixes: tuple[str, ...]) -> bool:
    lowered = url.strip().lower()
    if not lowered.startswith(("http://", "https://")):
        return False  # mailto:, tel:, anchors and relative links are left alone
    return not url.strip().startswith(skip_prefixes)


def rewrite_html(
    body: str, replace: Callable[[str], str], skip_prefixes: tuple[str, ...] = ()
) -> str:
    """Replace each trackable href with replace(original_url)."""

    def sub(match: re.Match[str]) -> str:
        quoted = match.group(2) if match.group(2) is not None else match.group(3)
        url = html.unescape(quoted).strip()
        if not is_trackable(url, skip_prefixes):
            return match.group(0)
        return f'{match.group(1)}"{html.escape(replace(url), quote=True)}"'

    return _A_HREF.sub(sub, body)


def rewrite_text(
    body: str, replace: Callable[[str], str], skip_prefixes: tuple[str, ...] = ()
) -> str:
    """Replace each trackable bare URL in a plain-text body."""

    def sub(match: re.Match[str]) -> str:
        url = match.group(0)
        return replace(url) if is_trackable(url, skip_prefixes) else url

    return _TEXT_URL.sub(sub, body)


class _TextExtractor(HTMLParser):
    _BLOCK = frozenset(("p", "div", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table"))
    _SKIP = frozenset(("style", "script", "head", "title"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._href: list[str | None] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self._BLOCK:
            self.parts.append("\n\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "a":
            self._href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n\n")
        elif tag == "a" and self._href:
            href = self._href.pop()
            if href and href.lower().startswith(("http://", "https://")):
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(body: str) -> str:
    """A readable plain-text rendering of an HTML email body."""
    parser = _TextExtractor()
    parser.feed(body)
    parser.close()
    text = "".join(parser.parts)
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
