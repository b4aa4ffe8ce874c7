"""The verdict on an open or a click: a person, or which kind of machine, and why.

Rules live in data/tracking_rules.yaml (agent patterns, address ranges, time windows); this
module combines them with what one hit says (method, agent, address, seconds since delivery,
a hidden link) and with what came before it for the same message (a burst of clicks on every
link, two links within a second, a click before any open seconds after delivery, a click
seconds after a machine open, the same hit again).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from . import address_ranges
from .address_ranges import RangeSet
from .agents import AgentRules, crawler_list, device_detector_list, judge, patterns, rx

HUMAN = "human"
MACHINE = "machine"

# Reasons (stored in events.reason).
APPLE = "apple_privacy_proxy"
GOOGLE = "google_image_proxy"
SCANNER = "security_scanner"
PREFETCH = "prefetch"
PREVIEW = "link_preview"
BOT = "bot"
INFERRED = "inferred"

RULES_FILE = Path(__file__).resolve().parent.parent / "data" / "tracking_rules.yaml"
DATA_DIR = RULES_FILE.parent


@dataclass(frozen=True, eq=False)  # hashed by identity: it keys the per-address cache
class Rules:
    """The parsed rules file, with the address range files it names."""

    prefetch: timedelta
    burst: timedelta
    multi_click: timedelta
    click_after_machine_open: timedelta
    scan_click: timedelta
    repeat: timedelta
    apple_window: timedelta
    agents: AgentRules
    scanner_ranges: RangeSet
    apple_ranges: RangeSet  # Apple's own block: every open from it is the proxy
    apple_relay: RangeSet  # shared with Private Relay browsing: Apple Mail's own agent only

    @property
    def context_window(self) -> timedelta:
        """How far back the writer must read a message's hits for the context rules."""
        return max(self.repeat, self.burst, self.click_after_machine_open, self.scan_click)


def _seconds(raw: dict[str, Any], key: str, default: float) -> timedelta:
    return timedelta(seconds=float(raw.get(key, default)))


def parse_rules(raw: dict[str, Any], data_dir: Path = DATA_DIR) -> Rules:
    """Build Rules from the YAML document; a bad pattern or range raises ValueError."""
    apple = raw.get("apple_privacy") or {}
    gateways: list[tuple[address_ranges.Network, str]] = []
    if raw.get("gateway_ranges_file"):
        for vendor, blocks in address_ranges.gateways(
            data_dir / raw["gateway_ranges_file"]
        ).items():
            gateways += [(block, vendor) for block in blocks]
    for vendor, cidrs in (raw.get("scanner_ranges") or {}).items():
        gateways += [(address_ranges.network(c), vendor) for c in cidrs]
    relay = (
        address_ranges.apple_relay(data_dir / apple["relay_ranges_file"])
        if apple.get("relay_ranges_file")
        else []
    )
    native = raw.get("native_apps")
    named = raw.get("mail_named")
    electron = raw.get("electron_app")
    bare_named = raw.get("bare_named")

    def listed(key: str, kind: str) -> tuple[Any, ...]:
        file = raw.get(key)
        return (
            device_detector_list((data_dir / file).read_text(encoding="utf-8"), kind)
            if file
            else ()
        )

    return Rules(
        prefetch=_seconds(raw, "prefetch_seconds", 5),
        burst=_seconds(raw, "burst_seconds", 10),
        multi_click=_seconds(raw, "multi_click_seconds", 1),
        click_after_machine_open=_seconds(raw, "click_after_machine_open_seconds", 9),
        scan_click=_seconds(raw, "scan_click_seconds", 0),
        repeat=_seconds(raw, "repeat_seconds", 60),
        apple_window=timedelta(seconds=float(apple.get("seconds", 0))),
        agents=AgentRules(
            people=patterns(raw.get("people"), "mail client")
            + listed("mail_client_list_file", "pim")
            + listed("second_mail_client_list_file", "pim"),
            previews=patterns(raw.get("link_previews"), "link preview"),
            scanners=patterns(raw.get("scanner_agents"), "a security scanner"),
            apple_bare=tuple(rx(p) for p in apple.get("agents", [])),
            apple_mail=tuple(rx(p) for p in apple.get("mail_agents", [])),
            bots=tuple(rx(p) for p in raw.get("bot_agents", [])),
            bare=tuple(rx(p) for p in raw.get("bare_agents", [])),
            contradictions=patterns(raw.get("contradictions"), "contradiction"),
            obsolete=patterns(raw.get("obsolete"), "obsolete browser"),
            native_apps=rx(native) if native else None,
            feed_readers=patterns(raw.get("feed_readers"), "feed reader"),
            media_players=patterns(raw.get("media_players"), "media player"),
            crawler_list=(
                crawler_list((data_dir / raw["crawler_list_file"]).read_text(encoding="utf-8"))
                if raw.get("crawler_list_file")
                else None
            ),
            plain=tuple(rx(p) for p in raw.get("plain_agents", [])),
            programs=listed("program_list_file", "libraries")
            + patterns(raw.get("programs"), "program"),
            mail_named=rx(named) if named else None,
            electron_app=rx(electron) if electron else None,
            bare_named=rx(bare_named) if bare_named else None,
        ),
        scanner_ranges=RangeSet(gateways),
        apple_ranges=RangeSet(
            (address_ranges.network(c), "Apple") for c in apple.get("ranges", [])
        ),
        apple_relay=RangeSet((block, "Apple's privacy relay") for block in relay),
    )


@functools.cache
def rules() -> Rules:
    """The rules shipped in data/tracking_rules.yaml, read once per process."""
    return parse_rules(yaml.safe_load(RULES_FILE.read_text(encoding="utf-8")))


def _address(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A public client address, or None: loopback, private and link-local addresses (tests,
    a proxy in front of the app) say nothing about who fetched."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if address.is_loopback or address.is_private or address.is_link_local:
        return None
    return address


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
class _Place:
    scanner: str | None  # "address in Mimecast's range"
    apple: bool  # Apple's own block
    relay: bool  # Apple's privacy relay


@functools.lru_cache(maxsize=8192)
def _place(r: Rules, ip: str | None) -> _Place:
    address = _address(ip)
    if address is None:
        return _Place(None, False, False)
    vendor = r.scanner_ranges.find(address)
    return _Place(
        f"address in {vendor}'s range" if vendor else None,
        r.apple_ranges.find(address) is not None,
        r.apple_relay.find(address) is not None,
    )


def classify(hit: Hit, r: Rules | None = None) -> Verdict:
    """The verdict one hit earns on its own: method, agent, address and time since delivery.

    Order matters: what names a machine for sure (the honeypot, HEAD, a scanner's own agent or
    address) comes first; then the mail clients people use, before any rule that would take
    an unusual agent for a machine (the crawler list, old or odd agents, "not a browser")."""
    r = r or rules()
    ua = hit.user_agent.strip()
    if hit.hidden_link:
        return Verdict(MACHINE, PREFETCH, "followed the hidden link no person can see")
    if hit.method.upper() == "HEAD":
        return Verdict(MACHINE, PREFETCH, "HEAD request")
    agent = judge(r.agents, ua)
    if agent.scanner is not None:
        return Verdict(MACHINE, SCANNER, f"agent of {agent.scanner}")
    if agent.declared_bot and agent.preview is None:
        return Verdict(MACHINE, BOT, agent.bot or "automated client agent")
    place = _place(r, hit.ip)
    if place.scanner is not None:
        return Verdict(MACHINE, SCANNER, place.scanner)
    since = hit.since_sent
    early = since is not None and since < r.prefetch
    opening = hit.kind == "open"
    person = agent.person
    if person is not None and (opening or not person.opens_only):
        if early:
            return Verdict(MACHINE, PREFETCH, f"{_secs(since or timedelta(0))} after delivery")
        return Verdict(HUMAN, person.reason, f"mail client: {person.name}")
    if not ua:
        return Verdict(MACHINE, BOT, "no user agent")
    if agent.preview is not None:
        return Verdict(MACHINE, PREVIEW, f"link preview of {agent.preview}")
    if opening:
        apple = _apple(r, agent.apple_bare, agent.apple_mail, place, since)
        if apple:
            return Verdict(MACHINE, APPLE, f"Apple Mail Privacy Protection fetch: {apple}")
    if agent.bot is not None:
        return Verdict(MACHINE, BOT, agent.bot)
    if agent.mail_named:
        # Past every list of machines: a product calling itself a mail app is a person's client
        # (the senders' and harvesters' own fetchers are on those lists and matched above).
        if early:
            return Verdict(MACHINE, PREFETCH, f"{_secs(since or timedelta(0))} after delivery")
        return Verdict(HUMAN, None, "mail client: names itself a mail app")
    if agent.disguise is not None:
        return Verdict(MACHINE, SCANNER, agent.disguise)
    if agent.program:
        return Verdict(MACHINE, BOT, "neither a browser nor a known mail client")
    if early:
        return Verdict(MACHINE, PREFETCH, f"{_secs(since or timedelta(0))} after delivery")
    return Verdict(HUMAN, None)


def _apple(r: Rules, bare: bool, mail: bool, place: _Place, since: timedelta | None) -> str | None:
    """Why an open is Apple's proxy, or None."""
    if bare:
        return "bare agent"
    if place.apple:
        return "address in Apple's block"
    if mail and place.relay:
        return "Apple Mail's agent from Apple's privacy relay"
    if mail and since is not None and since < r.apple_window:
        return f"Apple Mail's agent {_secs(since)} after delivery"
    return None


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
        quick = [
            p
            for p in recent
            if not p.hidden and p.position != position and at - p.at <= r.multi_click
        ]
        if honeypot:
            verdict = Verdict(MACHINE, SCANNER, "clicked with the hidden link within seconds")
        elif visible_links >= 2 and len(clicked) >= visible_links:
            verdict = Verdict(
                MACHINE, SCANNER, f"every link ({visible_links}) clicked within {_secs(r.burst)}"
            )
        elif quick:
            verdict = Verdict(
                MACHINE,
                SCANNER,
                f"{len(quick) + 1} links clicked within {_secs(r.multi_click)}",
            )
            recent = quick
        elif (
            hit.since_sent is not None
            and hit.since_sent < r.scan_click
            and not any(p.kind == "open" and p.verdict == HUMAN for p in history)
        ):
            # A gateway follows every link as the message arrives; a person opens it first
            # (or, with images off, takes longer than this to read and click).
            verdict = Verdict(
                MACHINE,
                SCANNER,
                f"clicked {_secs(hit.since_sent)} after delivery, before any open",
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
