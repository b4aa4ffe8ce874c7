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
_SPACES = re.compile(r"\s+")
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
            self.parts.append(_SPACES.sub(" ", data))


# The plain shapes most email HTML is made of: start and end tags with well-formed attributes,
# comments without "--" inside, and a doctype. _plain_text_parts reads a body made only of these
# and text without "<" as HTMLParser would, at a fraction of its cost; anything else (scripts,
# styles, CDATA, stray "<", odd attribute syntax) goes through HTMLParser itself.
_ATTRIBUTE = r"""\s+([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?"""
_PLAIN_MARKUP = re.compile(
    r"""<(/?)([a-zA-Z][-.a-zA-Z0-9:_]*)"""  # a tag's name,
    r"""((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)"""  # its attributes
    r"""\s*(/?)>"""
    r"""|<!--(?:(?!--).)*-->|<!doctype[^<>]*>""",
    re.DOTALL | re.IGNORECASE,
)
_ATTRIBUTES = re.compile(_ATTRIBUTE)
_RAW_TEXT = frozenset(("script", "style"))  # HTMLParser reads these as raw text

_BLOCK = _TextExtractor._BLOCK
_SKIP = _TextExtractor._SKIP
_BLANK_LINES = re.compile(r"\n{3,}")


def _collapse_spaces(text: str) -> str:
    """_SPACES.sub(" ", text), skipping the regex when the only whitespace is single ASCII
    spaces (str.isprintable() is false for every other whitespace character)."""
    if text.isprintable() and "  " not in text:
        return text
    return _SPACES.sub(" ", text)


def _plain_text_parts(body: str) -> list[str] | None:
    """What _TextExtractor collects from `body`, as HTMLParser would feed it, in one pass with
    the handlers inlined (this runs for every email sent); None when the body is not plain
    enough, and HTMLParser itself must read it."""
    parts: list[str] = []
    hrefs: list[str | None] = []
    skip = 0
    position = 0
    length = len(body)
    for match in _PLAIN_MARKUP.finditer(body):
        start = match.start()
        if start > position:
            text = body[position:start]
            if "<" in text:
                return None
            if not skip:
                parts.append(_collapse_spaces(html.unescape(text)))
        position = match.end()
        closing, tag, attributes, self_closing = match.groups()
        if tag is None:  # a comment or the doctype
            continue
        tag = tag.lower()
        if not closing:
            if tag in _RAW_TEXT or (self_closing and attributes):
                return None
            if tag in _SKIP:
                skip += 1
            elif tag == "br":
                parts.append("\n")
            elif tag in _BLOCK:
                parts.append("\n\n")
            elif tag == "li":
                parts.append("\n- ")
            elif tag == "a":
                href = None
                for name, value in _ATTRIBUTES.findall(attributes):
                    if name.lower() == "href":  # the last one wins, as in dict(attrs)
                        if value[:1] in ("'", '"'):
                            value = value[1:-1]
                        href = html.unescape(value) if value else None
                hrefs.append(href)
            if not self_closing:
                continue
        elif attributes or self_closing:
            return None
        # The end tag (or a self-closing tag's end).
        if tag in _SKIP:
            skip = max(0, skip - 1)
        elif tag in _BLOCK:
            parts.append("\n\n")
        elif tag == "a" and hrefs:
            href = hrefs.pop()
            if href and href.lower().startswith(("http://", "https://")):
                parts.append(f" ({href})")
    if position < length:
        text = body[position:]
        if "<" in text:
            return None
        if not skip:
            parts.append(_collapse_spaces(html.unescape(text)))
    return parts


def html_to_text(body: str) -> str:
    """A readable plain-text rendering of an HTML email body."""
    parts = _plain_text_parts(body)
    if parts is None:
        parser = _TextExtractor()
        parser.feed(body)
        parser.close()
        parts = parser.parts
    lines = [line.strip() for line in "".join(parts).splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip() + "\n"
