"""The verdict rules on real user agents of mail clients, proxies and scanners."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from sequences.tracking.verdicts import (
    RULES_FILE,
    Hit,
    Prior,
    classify,
    classify_in_context,
    parse_rules,
)

LATER = timedelta(hours=2)

# Agents as seen in the wild (from tracking logs and vendors' documentation).
APPLE_MAIL_MPP = "Mozilla/5.0"
APPLE_MAIL_MACOS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
)
APPLE_MAIL_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
OUTLOOK_DESKTOP = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)"
OUTLOOK_WEB = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
)
YAHOO = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0"
BARRACUDA = "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))"
MIMECAST = "Mozilla/5.0 (compatible; Mimecast URL Protect)"
PROOFPOINT = "Mozilla/5.0 (compatible; Proofpoint URL Defense)"
SAFE_LINKS_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/117.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGPREVIEW = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) BingPreview/1.0b"


def verdict(
    ua: str,
    kind: str = "open",
    ip: str | None = "198.51.100.20",
    since: timedelta | None = LATER,
    method: str = "GET",
    hidden: bool = False,
) -> tuple[str, str | None]:
    v = classify(Hit(kind, method, ua, ip, since, hidden_link=hidden))
    return v.verdict, v.reason


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (APPLE_MAIL_MPP, ("machine", "apple_privacy_proxy")),
        (APPLE_MAIL_MACOS, ("human", None)),
        (APPLE_MAIL_IOS, ("human", None)),
        (GMAIL, ("human", "google_image_proxy")),
        (OUTLOOK_DESKTOP, ("human", None)),
        (OUTLOOK_WEB, ("human", None)),
        (YAHOO, ("human", "yahoo_mail_proxy")),
        (THUNDERBIRD, ("human", None)),
        (BARRACUDA, ("machine", "security_scanner")),
        (MIMECAST, ("machine", "security_scanner")),
        (PROOFPOINT, ("machine", "security_scanner")),
        (GOOGLEBOT, ("machine", "bot")),
        (BINGPREVIEW, ("machine", "bot")),
        ("python-requests/2.31.0", ("machine", "bot")),
        ("curl/8.4.0", ("machine", "bot")),
        ("", ("machine", "bot")),
    ],
)
def test_open_verdict_for_real_agents(ua: str, expected: tuple[str, str | None]) -> None:
    assert verdict(ua) == expected


def test_apple_address_range_with_a_bare_agent_is_the_privacy_proxy() -> None:
    assert verdict(SAFE_LINKS_UA, ip="17.58.63.10") == ("machine", "apple_privacy_proxy")


def test_apple_proxy_rule_is_for_opens_only() -> None:
    # A click is a person acting, even from an Apple address (iCloud Private Relay users).
    assert verdict(APPLE_MAIL_IOS, kind="click", ip="17.58.63.10") == ("human", None)


def test_safe_links_with_a_browser_agent_is_caught_by_its_address() -> None:
    assert verdict(SAFE_LINKS_UA, kind="click", ip="40.107.22.9") == ("machine", "security_scanner")
    assert verdict(SAFE_LINKS_UA, kind="click", ip="2a01:111:f400:7e1b::1") == (
        "machine",
        "security_scanner",
    )


@pytest.mark.parametrize("ip", ["205.139.110.30", "148.163.140.1", "64.235.150.2"])
def test_mimecast_proofpoint_barracuda_ranges(ip: str) -> None:
    assert verdict(OUTLOOK_WEB, kind="click", ip=ip) == ("machine", "security_scanner")


def test_any_hit_seconds_after_delivery_is_a_prefetch() -> None:
    assert verdict(OUTLOOK_WEB, since=timedelta(seconds=3)) == ("machine", "prefetch")
    assert verdict(GMAIL, since=timedelta(seconds=1)) == ("machine", "prefetch")
    assert verdict(OUTLOOK_WEB, kind="click", since=timedelta(seconds=4)) == ("machine", "prefetch")
    assert verdict(OUTLOOK_WEB, since=timedelta(seconds=6)) == ("human", None)


def test_head_and_hidden_link_are_prefetches() -> None:
    assert verdict(OUTLOOK_WEB, method="HEAD") == ("machine", "prefetch")
    assert verdict(OUTLOOK_WEB, kind="click", hidden=True) == ("machine", "prefetch")


def test_bad_address_is_ignored_not_fatal() -> None:
    assert verdict(OUTLOOK_WEB, ip="not-an-ip") == ("human", None)
    assert verdict(OUTLOOK_WEB, ip=None) == ("human", None)


T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def click(seconds: float, position: int, verdict: str = "human", hidden: bool = False) -> Prior:
    return Prior("click", T0 + timedelta(seconds=seconds), verdict, position, hidden=hidden)


def in_context(history: list[Prior], at: float, position: int, links: int = 3) -> tuple[str, Any]:
    hit = Hit("click", "GET", OUTLOOK_WEB, "198.51.100.20", LATER)
    result = classify_in_context(hit, T0 + timedelta(seconds=at), position, history, links)
    return result.verdict.verdict, result.verdict.reason


def test_burst_over_every_visible_link_is_a_scanner() -> None:
    history = [click(0, 0), click(1, 1)]
    assert in_context(history, 2, 2) == ("machine", "security_scanner")


def test_clicks_on_some_links_or_spread_out_stay_human() -> None:
    assert in_context([click(0, 0)], 2, 1) == ("human", None)  # 2 of 3 links
    assert in_context([click(0, 0), click(30, 1)], 60, 2) == ("human", None)


def test_click_near_a_honeypot_click_is_a_scanner() -> None:
    assert in_context([click(0, 5, "machine", hidden=True)], 1, 0) == (
        "machine",
        "security_scanner",
    )


def test_click_after_machine_open_only_within_the_window() -> None:
    machine_open = Prior("open", T0, "machine", ip="198.51.100.20")
    assert in_context([machine_open], 5, 0) == ("machine", "security_scanner")
    assert in_context([machine_open], 60, 0) == ("human", None)


def test_burst_names_earlier_human_clicks_to_relabel() -> None:
    earlier = click(0, 0)
    earlier.ref = "event-1"
    hit = Hit("click", "GET", OUTLOOK_WEB, None, LATER)
    result = classify_in_context(hit, T0 + timedelta(seconds=1), 1, [earlier], 2)
    assert result.relabel == ("event-1",)


def test_repeat_within_window_is_marked() -> None:
    first = Prior("open", T0, "human")
    hit = Hit("open", "GET", OUTLOOK_WEB, None, LATER)
    assert classify_in_context(hit, T0 + timedelta(seconds=30), None, [first], 0).repeat
    assert not classify_in_context(hit, T0 + timedelta(seconds=61), None, [first], 0).repeat


def test_rules_file_is_the_single_source_and_validates() -> None:
    raw = yaml.safe_load(RULES_FILE.read_text())
    rules = parse_rules(raw)
    assert rules.prefetch == timedelta(seconds=raw["prefetch_seconds"])
    raw["scanner_ranges"]["Broken"] = ["999.1.2.3/8"]
    with pytest.raises(ValueError):
        parse_rules(raw)


def test_changing_the_data_changes_the_verdict() -> None:
    raw = yaml.safe_load(RULES_FILE.read_text())
    raw["scanner_agents"].append({"pattern": "AcmeLinkGuard", "name": "Acme"})
    rules = parse_rules(raw)
    hit = Hit("click", "GET", "Mozilla/5.0 AcmeLinkGuard/2", None, LATER)
    assert classify(hit, rules).reason == "security_scanner"
