"""The verdict on an open or a click: a person, or which kind of machine, and why.

Rules live in data/tracking_rules.yaml (agent patterns, address ranges, time windows); this
module combines them with what one hit says (method, agent, address, seconds since delivery,
a hidden link) and with what came before it for the same message (a burst of clicks on every
link, a click seconds after a machine open, the same hit again).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from crawlerdetect import CrawlerDetect

HUMAN = "human"
MACHINE = "machine"

# Reasons (stored in events.reason).
APPLE = "apple_privacy_proxy"
GOOGLE = "google_image_proxy"
SCANNER = "security_scanner"
PREFETCH = "prefetch"
BOT = "bot"
INFERRED = "inferred"

RULES_FILE = Path(__file__).resolve().parent.parent / "data" / "tracking_rules.yaml"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    name: str | None = None
    opens_only: bool = False


@dataclass(frozen=True, eq=False)  # hashed by identity: it keys the per-agent caches
class Rules:
    """The parsed rules file."""

    prefetch: timedelta
    burst: timedelta
    click_after_machine_open: timedelta
    repeat: timedelta
    people: tuple[_Pattern, ...]
    scanner_agents: tuple[_Pattern, ...]
    scanner_ranges: tuple[tuple[Network, str], ...]
    apple_agents: tuple[re.Pattern[str], ...]
    apple_ranges: tuple[Network, ...]
    bot_agents: tuple[re.Pattern[str], ...]


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def parse_rules(raw: dict[str, Any]) -> Rules:
    """Build Rules from the YAML document; a bad pattern or range raises ValueError."""
    return Rules(
        prefetch=timedelta(seconds=float(raw["prefetch_seconds"])),
        burst=timedelta(seconds=float(raw["burst_seconds"])),
        click_after_machine_open=timedelta(seconds=float(raw["click_after_machine_open_seconds"])),
        repeat=timedelta(seconds=float(raw["repeat_seconds"])),
        people=tuple(
            _Pattern(_rx(p["pattern"]), p.get("reason"), bool(p.get("opens_only")))
            for p in raw.get("people", [])
        ),
        scanner_agents=tuple(
            _Pattern(_rx(p["pattern"]), p.get("name")) for p in raw.get("scanner_agents", [])
        ),
        scanner_ranges=tuple(
            (ipaddress.ip_network(cidr, strict=False), vendor)
            for vendor, cidrs in (raw.get("scanner_ranges") or {}).items()
            for cidr in cidrs
        ),
        apple_agents=tuple(_rx(p) for p in raw["apple_privacy"].get("agents", [])),
        apple_ranges=tuple(
            ipaddress.ip_network(c, strict=False) for c in raw["apple_privacy"].get("ranges", [])
        ),
        bot_agents=tuple(_rx(p) for p in raw.get("bot_agents", [])),
    )


@functools.cache
def rules() -> Rules:
    """The rules shipped in data/tracking_rules.yaml, read once per process."""
    return parse_rules(yaml.safe_load(RULES_FILE.read_text(encoding="utf-8")))


_crawlers = CrawlerDetect()


@functools.lru_cache(maxsize=4096)
def _crawler(ua: str) -> str | None:
    """The maintained crawler list's match for this agent, if any (cached: it is a big regex)."""
    if _crawlers.isCrawler(ua):
        return _crawlers.getMatches() or "crawler list"
    return None


def _address(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not ip:
        return None
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        return None


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
    why: str = ""

    @property
    def human(self) -> bool:
        return self.verdict == HUMAN


@dataclass(frozen=True)
class _Agent:
    """What the rules say about one user agent (cached: agents repeat endlessly)."""

    scanner: str | None
    person: _Pattern | None
    apple: bool
    bot: str | None


@functools.lru_cache(maxsize=8192)
def _agent(r: Rules, ua: str) -> _Agent:
    scanner = next(
        (p.name or "a security scanner" for p in r.scanner_agents if p.regex.search(ua)), None
    )
    person = next((p for p in r.people if p.regex.search(ua)), None)
    bot = "automated client agent" if any(rx.search(ua) for rx in r.bot_agents) else None
    if bot is None and ua:
        match = _crawler(ua)
        bot = f"crawler list: {match}"[:200] if match is not None else None
    return _Agent(scanner, person, any(rx.search(ua) for rx in r.apple_agents), bot)


@functools.lru_cache(maxsize=8192)
def _network(r: Rules, ip: str | None) -> tuple[str | None, bool]:
    """(the scanner range an address is in, whether it is in Apple's range)."""
    address = _address(ip)
    if address is None:
        return None, False
    for network, vendor in r.scanner_ranges:
        if address.version == network.version and address in network:
            return f"address in {vendor}'s range {network}", False
    return None, any(address.version == n.version and address in n for n in r.apple_ranges)


def classify(hit: Hit, r: Rules | None = None) -> Verdict:
    """The verdict one hit earns on its own: method, agent, address and time since delivery."""
    r = r or rules()
    ua = hit.user_agent.strip()
    if hit.hidden_link:
        return Verdict(MACHINE, PREFETCH, "followed the hidden link no person can see")
    if hit.method.upper() == "HEAD":
        return Verdict(MACHINE, PREFETCH, "HEAD request")
    agent = _agent(r, ua)
    if agent.scanner is not None:
        return Verdict(MACHINE, SCANNER, f"agent of {agent.scanner}")
    scanner_range, apple_range = _network(r, hit.ip)
    if scanner_range is not None:
        return Verdict(MACHINE, SCANNER, scanner_range)
    early = hit.since_sent is not None and hit.since_sent < r.prefetch
    person = agent.person
    if person is not None and (hit.kind == "open" or not person.opens_only):
        if early:
            return Verdict(
                MACHINE, PREFETCH, f"{_secs(hit.since_sent or timedelta(0))} after delivery"
            )
        return Verdict(HUMAN, person.name, "mail client agent")
    if not ua:
        return Verdict(MACHINE, BOT, "no user agent")
    if (agent.apple or apple_range) and hit.kind == "open":
        return Verdict(MACHINE, APPLE, "Apple Mail Privacy Protection fetch")
    if agent.bot is not None:
        return Verdict(MACHINE, BOT, agent.bot)
    if early:
        return Verdict(MACHINE, PREFETCH, f"{_secs(hit.since_sent or timedelta(0))} after delivery")
    return Verdict(HUMAN, None)


def _secs(delta: timedelta) -> str:
    return f"{delta.total_seconds():.1f}s"


@dataclass
class Prior:
    """An earlier open or click of the same message, as the context rules see it."""

    kind: str
    at: datetime
    verdict: str | None
    position: int | None = None  # the link, for clicks
    ip: str | None = None
    hidden: bool = False
    repeat: bool = False
    ref: Any = field(default=None, compare=False)  # the Event, so a burst can relabel it


@dataclass(frozen=True)
class InContext:
    verdict: Verdict
    repeat: bool  # kept, but not counted: the same hit again within the repeat window
    relabel: tuple[Any, ...] = ()  # earlier clicks that turn out to be part of a scanner's burst


def classify_in_context(
    hit: Hit,
    at: datetime,
    position: int | None,
    history: Sequence[Prior],
    visible_links: int,
    r: Rules | None = None,
) -> InContext:
    """Add the signals that need the message's history to the hit's own verdict."""
    r = r or rules()
    verdict = classify(hit, r)
    relabel: tuple[Any, ...] = ()
    if hit.kind == "click" and verdict.human:
        recent = [p for p in history if p.kind == "click" and at - p.at <= r.burst]
        clicked = {p.position for p in recent if not p.hidden} | {position}
        honeypot = [p for p in recent if p.hidden]
        if honeypot:
            verdict = Verdict(MACHINE, SCANNER, "clicked with the hidden link within seconds")
        elif visible_links >= 2 and len(clicked) >= visible_links:
            verdict = Verdict(
                MACHINE, SCANNER, f"every link ({visible_links}) clicked within {_secs(r.burst)}"
            )
        if not verdict.human:
            relabel = tuple(p.ref for p in recent if p.verdict == HUMAN and p.ref is not None)
        else:
            machine_open = [
                p
                for p in history
                if p.kind == "open"
                and p.verdict == MACHINE
                and timedelta(0) <= at - p.at <= r.click_after_machine_open
                and (p.ip is None or hit.ip is None or p.ip == hit.ip)
            ]
            if machine_open:
                verdict = Verdict(
                    MACHINE,
                    SCANNER,
                    f"clicked {_secs(at - machine_open[-1].at)} after a machine open",
                )
    repeat = any(
        p.kind == hit.kind
        and p.position == position
        and p.verdict == verdict.verdict
        and not p.repeat
        and timedelta(0) <= at - p.at < r.repeat
        for p in history
    )
    return InContext(verdict, repeat, relabel)
