"""What a User-Agent string alone says: a mail client family, a link preview, a crawler, a scanner's disguise.

The patterns come from data/tracking_rules.yaml (see classify.py); the maintained crawler list
is crawlerdetect's. One report per distinct agent string, cached: agents repeat endlessly, so
the regular expressions run once per new agent, in the writer, never in the web request.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from crawlerdetect import CrawlerDetect


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    name: str
    reason: str | None = None
    opens_only: bool = False
    # The same pattern without its leading word boundary, searched first: a pattern that starts
    # with a lookbehind is tried at every position, one that starts with its name is not.
    quick: re.Pattern[str] | None = None


def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def patterns(raw: Sequence[Mapping[str, Any]] | None, default_name: str) -> tuple[Pattern, ...]:
    """[{pattern, name?, reason?, opens_only?}, ...] from the rules file, compiled."""
    return tuple(
        Pattern(
            rx(p["pattern"]),
            str(p.get("name") or default_name),
            p.get("reason"),
            bool(p.get("opens_only")),
        )
        for p in raw or []
    )


@dataclass(frozen=True, eq=False)  # hashed by identity: it keys the per-agent cache
class AgentRules:
    people: tuple[Pattern, ...]
    previews: tuple[Pattern, ...]
    scanners: tuple[Pattern, ...]
    apple_bare: tuple[re.Pattern[str], ...]
    apple_mail: tuple[re.Pattern[str], ...]
    bots: tuple[re.Pattern[str], ...]
    bare: tuple[re.Pattern[str], ...]
    contradictions: tuple[Pattern, ...]
    obsolete: tuple[Pattern, ...]
    native_apps: re.Pattern[str] | None
    feed_readers: tuple[Pattern, ...]
    media_players: tuple[Pattern, ...]
    crawler_list: re.Pattern[str] | None  # monperrus/crawler-user-agents, after crawlerdetect's
    plain: tuple[re.Pattern[str], ...]  # "Mozilla/5.0 <one name>": a program, no browser
    programs: tuple[Pattern, ...] = ()  # HTTP libraries, runtimes, shells, media stacks
    mail_named: re.Pattern[str] | None = None  # a product that calls itself Mail/Email/Webmail
    electron_app: re.Pattern[str] | None = None  # an Electron desktop app's own whole agent
    bare_named: re.Pattern[str] | None = None  # a bare agent naming a program, not a platform


@dataclass(frozen=True)
class Agent:
    """One agent string, judged on its own. Each field is None/False when it does not apply."""

    person: Pattern | None  # a mail client family or a provider's image proxy
    preview: str | None  # a messenger's or social network's link preview
    scanner: str | None  # a security gateway naming itself
    apple_bare: bool  # the agent only Apple's privacy proxy sends ("Mozilla/5.0")
    apple_mail: bool  # Apple Mail's bare WebKit agent: a person, or the proxy (see timing, address)
    bot: str | None  # a crawler, an HTTP library, a headless browser
    declared_bot: bool  # says so itself (bot, crawler, curl...): a machine whatever else it says
    disguise: (
        str | None
    )  # bare, contradictory or obsolete: what a scanner pretending to be a browser sends
    program: bool  # neither a browser nor a known mail client
    mail_named: bool = False  # calls itself a mail app ("Claws Mail/4.1"): a person's client


_crawlers = CrawlerDetect()


@functools.lru_cache(maxsize=4096)
def _crawler(ua: str) -> str | None:
    """The maintained crawler list's match for this agent, if any (cached: it is a big regex)."""
    if _crawlers.isCrawler(ua):
        return _crawlers.getMatches() or "crawler list"
    return None


def crawler_list(text: str) -> re.Pattern[str] | None:
    """One regular expression of a crawler pattern file (one pattern a line, `#` comments),
    case-sensitive as monperrus/crawler-user-agents writes them; None when it has none."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    for line in lines:
        re.compile(line)  # a bad line is named by the error, not hidden in the alternation
    return re.compile("|".join(f"(?:{line})" for line in lines)) if lines else None


CRAWLER_LIST_URL = "https://raw.githubusercontent.com/monperrus/crawler-user-agents/master/crawler-user-agents.json"
# An Android build number ("AP3A.240617.008") names a phone's firmware, which every person's
# browser on that phone carries too: never a crawler's name, so never taken from the list.
_BUILD_NUMBER = re.compile(r"^[A-Z0-9]{4}\\\.\d{6}\\\.\d{3}$")


def crawler_list_file(list_json: str, source: str, today: str) -> str:
    """The bundled pattern file's text from crawler-user-agents.json (its `pattern` fields)."""
    entries = json.loads(list_json)
    if not isinstance(entries, list):
        raise ValueError("not a crawler-user-agents.json list")
    kept = [
        str(e["pattern"])
        for e in entries
        if isinstance(e, dict)
        and isinstance(e.get("pattern"), str)
        and "\n" not in e["pattern"]
        and not _BUILD_NUMBER.match(e["pattern"])
    ]
    if not kept:
        raise ValueError("no patterns in that file")
    for pattern in kept:
        re.compile(pattern)
    header = (
        f"# Crawler patterns of monperrus/crawler-user-agents ({source}, {today}, MIT), one\n"
        "# regular expression a line, case-sensitive as the list gives them. A second maintained\n"
        "# crawler list beside crawlerdetect's; applied after the `people` list. Left out: entries\n"
        "# that are an Android build number (a firmware, which every person's browser on that\n"
        "# phone also carries). Refresh: python -m sequences.tracking.address_ranges crawler-list\n"
    )
    return header + "\n".join(kept) + "\n"


# matomo-org/device-detector's client lists (regexes/client/*.yml): its parser searches each
# regex after this boundary, so a name is not found inside a longer word.
DEVICE_DETECTOR_RAW = (
    "https://raw.githubusercontent.com/matomo-org/device-detector/master/regexes/client/{}.yml"
)
_DD_BOUNDARY = r"(?:^|(?<=[^A-Za-z0-9_-]))"


def device_detector_list(text: str, kind: str) -> tuple[Pattern, ...]:
    """Patterns of one bundled device-detector list (`pim`: mail and PIM clients, people;
    `libraries`: HTTP libraries and tools, programs), in the list's order."""
    entries = yaml.safe_load(text) or []
    if not isinstance(entries, list):
        raise ValueError("not a device-detector client list")
    found = []
    for e in entries:
        if not (isinstance(e, dict) and isinstance(e.get("regex"), str) and e.get("name")):
            continue
        name = str(e["name"])
        regex = e["regex"]
        try:
            if regex.startswith("^"):
                found.append(Pattern(rx(regex), name))
            else:
                found.append(Pattern(rx(_DD_BOUNDARY + regex), name, quick=rx(regex)))
        except re.error as exc:  # named, so a refresh that brings a bad entry says which
            raise ValueError(f"bad pattern for {name}: {exc}") from exc
    if not found:
        raise ValueError("no patterns in that list")
    return tuple(found)


def device_detector_file(text: str, kind: str, source: str, today: str) -> str:
    """The bundled copy of one device-detector list, with its source, date and licence."""
    device_detector_list(text, kind)  # every regex compiles, or nothing is written
    body = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))
    header = (
        f"# matomo-org/device-detector regexes/client/{kind}.yml ({source}, {today}),\n"
        "# LGPL-3.0-or-later (https://www.gnu.org/licenses/lgpl-3.0.html), its entries copied unchanged\n"
        "# below (its comments left out).\n"
        "# Read by sequences/tracking/agents.py: each regex is searched case-insensitively after a\n"
        "# word boundary, as device-detector does. Refresh:\n"
        f"#   python -m sequences.tracking.address_ranges device-detector {kind} [FILE_OR_URL]\n"
    )
    return header + body.lstrip("\n")


def _first(found: Sequence[Pattern], ua: str) -> Pattern | None:
    return next(
        (p for p in found if (p.quick is None or p.quick.search(ua)) and p.regex.search(ua)), None
    )


@functools.lru_cache(maxsize=8192)
def judge(r: AgentRules, ua: str) -> Agent:
    """The report on one agent string (stripped by the caller)."""
    person = _first(r.people, ua)
    mail_named = r.mail_named is not None and r.mail_named.search(ua) is not None
    electron = r.electron_app is not None and r.electron_app.search(ua) is not None
    preview = _first(r.previews, ua)
    scanner = _first(r.scanners, ua)
    bot: str | None = None
    declared = any(p.search(ua) for p in r.bots)
    if declared:
        bot = "automated client agent"
    elif (feed := _first(r.feed_readers, ua)) is not None:
        bot = f"feed reader: {feed.name}"
    elif (player := _first(r.media_players, ua)) is not None:
        bot = f"media player: {player.name}"
    elif (tool := _first(r.programs, ua)) is not None:
        bot = f"program: {tool.name}"
    elif ua:
        match = _crawler(ua)
        # A mail app's own token outranks the second list, which names bare tokens: it lists
        # Fastmail's desktop app (a current browser agent with `FastmailUA/1.0`) among
        # crawlers. crawlerdetect still comes first (it names Mail.RU's and Seznam's robots).
        # An Electron app's own agent likewise: the list names VS Code's `Code/1.` and Trae's.
        if match is None and r.crawler_list is not None and not (mail_named or electron):
            listed = r.crawler_list.search(ua)
            match = listed.group(0) if listed else None
        bot = f"crawler list: {match}"[:200] if match is not None else None
    disguise: str | None = None
    if (found := _first(r.contradictions, ua)) is not None:
        disguise = f"contradictory agent: {found.name}"
    elif (found := _first(r.obsolete, ua)) is not None:
        disguise = f"obsolete browser: {found.name}"
    elif any(p.search(ua) for p in r.bare):
        # A mail app naming itself there stays one (mail_named, checked after the bot lists).
        named = r.bare_named is not None and r.bare_named.search(ua) is not None
        if bot is None and named and not mail_named:
            bot = "program: names itself in a bare agent"
        else:
            disguise = "bare agent, no browser named"
    native = r.native_apps is not None and r.native_apps.search(ua) is not None
    return Agent(
        person=person,
        preview=preview.name if preview else None,
        scanner=scanner.name if scanner else None,
        apple_bare=any(p.search(ua) for p in r.apple_bare),
        apple_mail=any(p.search(ua) for p in r.apple_mail),
        bot=bot,
        declared_bot=declared,
        disguise=disguise,
        mail_named=mail_named,
        program=bool(ua)
        and (
            (not ua.lower().startswith("mozilla/") and not native)
            or any(p.search(ua) for p in r.plain)
        ),
    )
