"""Bundled address ranges (Apple's privacy relay, mail security gateways): lookup and refresh.

The files live in sequences/data/ranges/ with their source and date. Lookups are a binary
search over sorted, collapsed ranges, so the relay's thousands of blocks cost a few
comparisons per address. Refresh them from the vendors' published lists with

    python -m sequences.tracking.address_ranges apple-relay egress-ip-ranges.csv   # or its URL
    python -m sequences.tracking.address_ranges gateways Mimecast mimecast.txt       # CIDRs, one a line
    python -m sequences.tracking.address_ranges crawler-list   # crawler-user-agents.json, file or URL
    python -m sequences.tracking.address_ranges device-detector pim   # or libraries; file or URL

(the last two are no address ranges, but refreshed the same way: data/crawler_user_agents.txt,
data/device_detector_pim.yml and data/device_detector_libraries.yml).
"""

from __future__ import annotations

import argparse
import bisect
import csv
import io
import ipaddress
import sys
import urllib.request
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

RANGES_DIR = Path(__file__).resolve().parent.parent / "data" / "ranges"
APPLE_RELAY_FILE = RANGES_DIR / "apple_private_relay.txt"
GATEWAYS_FILE = RANGES_DIR / "gateways.yaml"
CRAWLER_LIST_FILE = RANGES_DIR.parent / "crawler_user_agents.txt"
CRAWLER_LIST_URL = "https://raw.githubusercontent.com/monperrus/crawler-user-agents/master/crawler-user-agents.json"
DEVICE_DETECTOR_FILES = {
    kind: RANGES_DIR.parent / f"device_detector_{kind}.yml" for kind in ("pim", "libraries")
}
APPLE_RELAY_URL = "https://mask-api.icloud.com/egress-ip-ranges.csv"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RangeSet:
    """Networks, each with a label, answering "which one holds this address?" in O(log n)."""

    def __init__(self, networks: Iterable[tuple[Network, str]]) -> None:
        by_version: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
        for network, label in networks:
            first, last = int(network.network_address), int(network.broadcast_address)
            by_version[network.version].append((first, last, label))
        self._starts: dict[int, list[int]] = {}
        self._spans: dict[int, list[tuple[int, int, str]]] = {}
        for version, spans in by_version.items():
            spans.sort()
            # Nested or overlapping blocks would break the search; keep the outer one.
            merged: list[tuple[int, int, str]] = []
            for span in spans:
                if merged and span[0] <= merged[-1][1]:
                    if span[1] > merged[-1][1]:
                        merged[-1] = (merged[-1][0], span[1], merged[-1][2])
                    continue
                merged.append(span)
            self._spans[version] = merged
            self._starts[version] = [s[0] for s in merged]

    def __len__(self) -> int:
        return sum(len(s) for s in self._spans.values())

    def find(self, address: Address) -> str | None:
        """The label of the block that holds the address, or None."""
        spans = self._spans[address.version]
        value = int(address)
        i = bisect.bisect_right(self._starts[address.version], value) - 1
        if i >= 0 and spans[i][0] <= value <= spans[i][1]:
            return spans[i][2]
        return None


def network(cidr: str) -> Network:
    """A CIDR block; a bad one raises ValueError naming it."""
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"bad address range {cidr!r}: {exc}") from exc


def read_cidr_lines(text: str) -> list[Network]:
    """Blocks from a text of one CIDR a line ('#' comments and blank lines skipped)."""
    return [network(line) for line in text.splitlines() if line.strip() and line[0] != "#"]


def apple_relay(path: Path = APPLE_RELAY_FILE) -> list[Network]:
    return read_cidr_lines(path.read_text(encoding="utf-8"))


def gateways(path: Path = GATEWAYS_FILE) -> dict[str, list[Network]]:
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {vendor: [network(c) for c in entry.get("ranges", [])] for vendor, entry in raw.items()}


# -- refresh --------------------------------------------------------------------------------


def _read_source(source: str) -> str:
    if source.startswith(("https://", "http://")):
        with urllib.request.urlopen(source, timeout=60) as response:
            return str(response.read().decode("utf-8"))
    return Path(source).read_text(encoding="utf-8")


def parse_apple_csv(text: str) -> list[Network]:
    """Apple's egress list: `cidr,country,region,city,` per line; collapsed per version."""
    blocks = [network(row[0]) for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
    return collapse(blocks)


def collapse(blocks: Sequence[Network]) -> list[Network]:
    v4 = [b for b in blocks if isinstance(b, ipaddress.IPv4Network)]
    v6 = [b for b in blocks if isinstance(b, ipaddress.IPv6Network)]
    return [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]


def write_apple_relay(
    blocks: Sequence[Network], source: str, path: Path = APPLE_RELAY_FILE
) -> None:
    today = datetime.now(UTC).date().isoformat()
    header = [
        "# Apple iCloud Private Relay egress ranges, IPv4 then IPv6, one CIDR a line (collapsed).",
        "# Apple Mail Privacy Protection fetches remote images through Apple's relays: an open with",
        "# Apple Mail's bare WebKit agent from here is Apple's proxy (classify.py, opens only).",
        f"# source: {source}",
        f"# date: {today}",
        "# refresh: python -m sequences.tracking.address_ranges apple-relay egress-ip-ranges.csv   (or the URL)",
    ]
    path.write_text("\n".join([*header, *map(str, blocks)]) + "\n", encoding="utf-8")


def write_gateway(
    vendor: str, blocks: Sequence[Network], source: str, path: Path = GATEWAYS_FILE
) -> None:
    """Replace one vendor's ranges in gateways.yaml (comments at the top are kept)."""
    text = path.read_text(encoding="utf-8")
    head = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    raw: dict[str, Any] = yaml.safe_load(text) or {}
    raw[vendor] = {
        "source": source,
        "date": datetime.now(UTC).date().isoformat(),
        "ranges": [str(b) for b in collapse(blocks)],
    }
    body = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=200)
    path.write_text(head + "\n" + body, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sequences.tracking.address_ranges", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    apple = sub.add_parser("apple-relay", help="rewrite the Apple relay ranges from Apple's CSV")
    apple.add_argument("source", nargs="?", default=APPLE_RELAY_URL, help="a file or URL")
    gate = sub.add_parser("gateways", help="replace one gateway vendor's ranges")
    gate.add_argument("vendor")
    gate.add_argument("source", help="a file or URL of CIDRs, one a line")
    crawlers = sub.add_parser(
        "crawler-list", help="rewrite the bundled crawler patterns from crawler-user-agents.json"
    )
    crawlers.add_argument("source", nargs="?", default=CRAWLER_LIST_URL)
    dd = sub.add_parser(
        "device-detector",
        help="rewrite a bundled device-detector client list (pim: mail clients; libraries)",
    )
    dd.add_argument("kind", choices=sorted(DEVICE_DETECTOR_FILES))
    dd.add_argument(
        "source", nargs="?", help="a file or URL (device-detector's raw file by default)"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "device-detector":
            from . import agents

            source = args.source or agents.DEVICE_DETECTOR_RAW.format(args.kind)
            text = _read_source(source)
            today = datetime.now(UTC).date().isoformat()
            body = agents.device_detector_file(text, args.kind, source, today)
            DEVICE_DETECTOR_FILES[args.kind].write_text(body, encoding="utf-8")
            count = len(agents.device_detector_list(body, args.kind))
            print(f"{count} patterns written to {DEVICE_DETECTOR_FILES[args.kind]}")
            return 0
        text = _read_source(args.source)
        if args.command == "crawler-list":
            from . import agents  # here, so the corpus builders that read ranges never load it

            body = agents.crawler_list_file(text, args.source, datetime.now(UTC).date().isoformat())
            CRAWLER_LIST_FILE.write_text(body, encoding="utf-8")
            count = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
            print(f"{count} patterns written to {CRAWLER_LIST_FILE}")
        elif args.command == "apple-relay":
            blocks = parse_apple_csv(text)
            if not blocks:
                print("error: no ranges in that file; nothing written", file=sys.stderr)
                return 1
            write_apple_relay(blocks, args.source)
            print(f"{len(blocks)} ranges written to {APPLE_RELAY_FILE}")
        else:
            blocks = read_cidr_lines(text)
            if not blocks:
                print("error: no ranges in that file; nothing written", file=sys.stderr)
                return 1
            write_gateway(args.vendor, blocks, args.source)
            print(f"{args.vendor}: {len(blocks)} ranges written to {GATEWAYS_FILE}")
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
