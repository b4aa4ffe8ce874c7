"""Words for opens and clicks: a person's, inferred from a click or a reply, or a machine's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# events.reason of an open that no pixel recorded: a person's click or reply proved it.
INFERRED = "inferred"

# What proved an inferred open (events.data["inferred_from"]), as a rep says it.
INFERRED_FROM = {"click": "a click", "document": "a document view", "reply": "a reply"}

# Which machine made an open or a click (events.reason of a machine verdict).
MACHINES = {
    "apple_privacy_proxy": "Apple Mail Privacy Protection",
    "google_image_proxy": "Google's image proxy",
    "security_scanner": "a security scanner",
    "prefetch": "a prefetch",
    "link_preview": "a link preview",
    "bot": "a bot",
}


def machine_words(reason: str | None) -> str:
    """'Apple Mail Privacy Protection', 'a security scanner'... ('a machine' when unknown)."""
    return MACHINES.get(reason or "", (reason or "unknown").replace("_", " "))


def inferred_from(type_: str, reason: str | None, data: Mapping[str, Any] | None) -> str | None:
    """What an open was inferred from ('click', 'document', 'reply'), None for a recorded one.

    An inferred open a scanner's click later disproved keeps its `inferred_from` (it is a
    machine's now, and says so), so the data, not the reason, tells."""
    if type_ != "open":
        return None
    via = (data or {}).get("inferred_from")
    if isinstance(via, str) and via:
        return via
    return "click" if reason == INFERRED else None


def label(
    type_: str, verdict: str | None, reason: str | None, data: Mapping[str, Any] | None
) -> str | None:
    """'opened', 'opened (inferred from a click)', 'opened by a machine (Apple Mail Privacy
    Protection)', 'clicked', 'clicked by a machine (a security scanner)'; None for other types."""
    if type_ not in ("open", "click"):
        return None
    verb = "opened" if type_ == "open" else "clicked"
    if verdict == "machine":
        return f"{verb} by a machine ({machine_words(reason)})"
    via = inferred_from(type_, reason, data)
    if via is not None:
        return f"{verb} (inferred from {INFERRED_FROM.get(via, 'a ' + via)})"
    return verb


def opens_phrase(opens: int, inferred: Mapping[str, int] | None = None, noun: str = "open") -> str:
    """'3 opens', '1 open (inferred from a click)', '3 opens (1 inferred from a reply)'."""
    text = f"{opens} {noun}{'s' if opens != 1 else ''}"
    parts = [(via, n) for via, n in sorted((inferred or {}).items()) if n]
    if not parts:
        return text
    if len(parts) == 1 and parts[0][1] == opens:
        return f"{text} (inferred from {INFERRED_FROM.get(parts[0][0], parts[0][0])})"
    words = ", ".join(f"{n} inferred from {INFERRED_FROM.get(via, via)}" for via, n in parts)
    return f"{text} ({words})"
