"""Hostile bytes never crash the reader: random data and mangled corpus messages (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sequences.inbound.classify import detect_bounce, return_date
from sequences.inbound.evidence import (
    auto_reply_evidence,
    challenge_link,
    challenge_service,
    unsubscribe_evidence,
)
from sequences.inbound.ingest import read
from sequences.inbound.verdicts import decide

CORPUS = sorted(p for p in (Path(__file__).parent / "data" / "inbound").iterdir())
SAMPLES = [p.read_bytes() for p in CORPUS if p.suffix in (".eml", ".bin")]
NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _read_everything(raw: bytes) -> None:
    key, parsed, problem = read(raw, 1024 * 1024)
    assert key and (parsed is not None or problem)
    if parsed is None:
        return
    for to_verp in (False, True):
        detect_bounce(parsed, to_verp)
        decide(parsed, to_verp=to_verp)
    auto_reply_evidence(parsed)
    unsubscribe_evidence(parsed)
    link = challenge_link(parsed)
    assert link is None or link.lower().startswith(("http://", "https://"))
    assert challenge_service(parsed)
    return_date(parsed.new_text or parsed.body, NOW)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    _read_everything(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SAMPLES),
    st.integers(min_value=0, max_value=20000),
    st.lists(st.tuples(st.integers(0, 20000), st.integers(0, 255)), max_size=8),
)
def test_truncated_and_corrupted_corpus_messages_never_raise(
    raw: bytes, cut: int, flips: list[tuple[int, int]]
) -> None:
    mangled = bytearray(raw[:cut] if cut else raw)
    for index, value in flips:
        if mangled:
            mangled[index % len(mangled)] = value
    _read_everything(bytes(mangled))
