"""The verdict on an open or a click: a person, or which kind of machine, and why."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

HUMAN = "human"
MACHINE = "machine"

# Seconds after delivery within which an open or click is a machine's prefetch, not a person.
PREFETCH_WINDOW = timedelta(seconds=5)

_BOTS = re.compile(
    r"bot\b|crawler|spider|slurp|curl/|wget/|python-requests|python-urllib|httpclient|"
    r"go-http-client|headlesschrome|phantomjs|facebookexternalhit|preview",
    re.IGNORECASE,
)
_SCANNERS = re.compile(
    r"barracuda|mimecast|proofpoint|safelinks|symantec|forcepoint", re.IGNORECASE
)


@dataclass(frozen=True)
class Hit:
    """What we know about one request to a tracking URL."""

    kind: str  # open | click
    method: str
    user_agent: str
    ip: str | None
    since_sent: timedelta | None
    hidden_link: bool = False


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reason: str | None


def classify(hit: Hit) -> Verdict:
    """Combine method, agent and timing into one verdict with its reason."""
    ua = hit.user_agent.strip()
    if hit.hidden_link:
        return Verdict(MACHINE, "prefetch")
    if hit.method == "HEAD":
        return Verdict(MACHINE, "prefetch")
    if "GoogleImageProxy" in ua:
        # Gmail fetches images when the person opens the message: a real open, via the proxy.
        return Verdict(HUMAN, "google_image_proxy")
    if _SCANNERS.search(ua):
        return Verdict(MACHINE, "security_scanner")
    if not ua or _BOTS.search(ua):
        return Verdict(MACHINE, "bot")
    if hit.kind == "open" and ua == "Mozilla/5.0":
        # Apple Mail Privacy Protection fetches every image with this bare agent.
        return Verdict(MACHINE, "apple_privacy_proxy")
    if hit.since_sent is not None and hit.since_sent < PREFETCH_WINDOW:
        return Verdict(MACHINE, "prefetch")
    return Verdict(HUMAN, None)
