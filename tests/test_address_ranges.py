"""The bundled address ranges: lookups, and the refresh command's parsing and writing."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from sequences.tracking import address_ranges
from sequences.tracking.address_ranges import RangeSet

APPLE_CSV = """172.224.226.0/27,GB,GB-EN,London,
172.224.226.32/31,GB,GB-SC,Aberdeen,
2a02:26f7:b3c0:4000::/64,DE,DE-BE,Berlin,
104.28.30.0/26,JP,JP-13,,
"""


def test_range_set_finds_the_block_holding_an_address() -> None:
    ranges = RangeSet(
        (ipaddress.ip_network(c), name)
        for c, name in [("10.0.0.0/8", "a"), ("10.1.0.0/16", "nested"), ("192.0.2.0/30", "b")]
    )
    assert ranges.find(ipaddress.ip_address("10.1.2.3")) == "a"
    assert ranges.find(ipaddress.ip_address("192.0.2.3")) == "b"
    assert ranges.find(ipaddress.ip_address("192.0.2.4")) is None
    assert ranges.find(ipaddress.ip_address("2001:db8::1")) is None


def test_bundled_apple_relay_names_its_source_and_date() -> None:
    text = address_ranges.APPLE_RELAY_FILE.read_text()
    assert "# source: https://mask-api.icloud.com/egress-ip-ranges.csv" in text
    assert "# date: " in text
    assert len(address_ranges.apple_relay()) > 1000


def test_refresh_rewrites_the_relay_file_from_apples_csv(tmp_path: Path) -> None:
    csv_file = tmp_path / "egress-ip-ranges.csv"
    csv_file.write_text(APPLE_CSV)
    blocks = address_ranges.parse_apple_csv(csv_file.read_text())
    target = tmp_path / "relay.txt"
    address_ranges.write_apple_relay(blocks, str(csv_file), target)
    assert [str(b) for b in address_ranges.apple_relay(target)] == [
        "104.28.30.0/26",
        "172.224.226.0/27",
        "172.224.226.32/31",
        "2a02:26f7:b3c0:4000::/64",
    ]
    assert f"# source: {csv_file}" in target.read_text()


def test_refresh_with_a_bad_file_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("not-a-range,GB,,\n")
    assert address_ranges.main(["apple-relay", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: bad address range 'not-a-range'") and err.count("\n") == 1
    assert address_ranges.main(["gateways", "Acme", str(tmp_path / "missing.txt")]) == 1
