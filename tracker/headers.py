"""Browser security headers on every answer of the app: a Content-Security-Policy the pages
work under (no inline script, no inline style), no framing, no MIME sniffing, no referrer
beyond the site, and HSTS when the site is served over https.

The pages load their script and stylesheet from /static and nothing else, so the policy is
`'self'` throughout. The one exception is the sequence editor: its live preview shows the
email as the prospect will see it, in a sandboxed `<iframe srcdoc>` (no script runs in it, it
cannot reach the page), and a srcdoc document inherits the page's policy; emails carry inline
styles and remote images, so the editor's pages allow those two, and scripts stay `'self'`.

The tracking fast path (tracker/hits.py answers /o/ and /c/ before Flask's dispatch) adds the
same headers, computed once per app (`fixed_headers`), so its answers stay byte for byte those
of the routes.
"""

from __future__ import annotations

from flask import Flask, Response, request

from .db import rt

_BASE = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
}
# The editor's preview pane: the email's own inline styles and images (see the docstring).
_PREVIEW = _BASE | {"style-src": "'self' 'unsafe-inline'", "img-src": "'self' data: https:"}
PREVIEW_PAGES = frozenset(
    {"sequences_ui.new", "sequences_ui.create", "sequences_ui.edit", "sequences_ui.save"}
)
HSTS = "max-age=31536000"  # a year; subdomains are not ours to decide


def _policy(directives: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}" for name, value in directives.items())


CSP = _policy(_BASE)
CSP_PREVIEW = _policy(_PREVIEW)


def fixed_headers(base_url: str, policy: str = CSP) -> list[tuple[str, str]]:
    """The headers of an answer outside the editor, for a site served at `base_url`."""
    fixed = [
        ("Content-Security-Policy", policy),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
    ]
    if base_url.startswith("https://"):
        fixed.append(("Strict-Transport-Security", HSTS))
    return fixed


def add_headers(response: Response) -> Response:
    policy = CSP_PREVIEW if request.endpoint in PREVIEW_PAGES else CSP
    for name, value in fixed_headers(rt().settings.base_url, policy):
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_headers)
