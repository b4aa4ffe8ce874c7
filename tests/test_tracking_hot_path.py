"""The pixel's hot path: the spool line built directly, and hits from many processes kept once."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta, timezone
from multiprocessing.synchronize import Event as StopEvent
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from sequences.models import Event
from sequences.runtime import Runtime
from sequences.tracking import Request, hit_line, make_hit, spool_writer
from sequences.tracking.spool import Drainer, Spool

from .tracking_support import BROWSER, send_message

AT = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def old_and_new(
    tmp_path: Path,
    kind: str,
    token: str,
    now: datetime,
    method: str,
    ip: str | None,
    ua: str,
    truncate: bool,
    url: str | None,
) -> tuple[bytes, bytes]:
    """What Spool.append(make_hit(...)) writes and what append_line(hit_line(...)) writes, with
    the same hit id (each call draws a new one)."""
    line = hit_line(
        kind, token, now, method=method, ip=ip, user_agent=ua, truncate=truncate, url=url
    )
    record = make_hit(kind, token, Request(method, ip, ua), now, truncate=truncate, url=url)
    record["id"] = json.loads(line)["id"]
    old, new = Spool(tmp_path / "old"), Spool(tmp_path / "new")
    old.append(record)
    new.append_line(line)
    old.close()
    new.close()
    [old_file], [new_file] = old.files(), new.files()
    return old_file.read_bytes(), new_file.read_bytes()


AWKWARD = [
    ("open", "tok", AT, "GET", "203.0.113.9", BROWSER, False, None),
    ("open", "tok", AT, "GET", "203.0.113.9", BROWSER, True, None),
    ("click", "tok", AT, "head", "2001:db8::1", "", True, 'https://example.com/a?b=1&c="2"'),
    ("open", 'to"k\\', AT, "GET", None, "Zoë's client ☃ 𝄞 «mail»", False, None),
    ("open", "tok", AT, "GET", "", 'quote " backslash \\ slash /', False, None),
    ("open", "tok", AT, "GET", "not an ip", "ctl \x00\x01\x1f\x7f\t\n\r\x08\x0c end", False, None),
    ("open", "tok\u2028\u2029", AT, "POSTPOSTPOSTPOST", "10.0.0.1", "x" * 1500, False, None),
    ("open", "", datetime(2026, 1, 1), "GET", "::ffff:1.2.3.4", "\ud800 lone", False, ""),
    (
        "click",
        "tok",
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
        "GET",
        "198.51.100.7",
        "latin-1 from WSGI: \xe9\xff",
        False,
        "https://exämple.com/ü",
    ),
]


@pytest.mark.parametrize("kind,token,now,method,ip,ua,truncate,url", AWKWARD)
def test_hit_line_writes_the_same_bytes_as_appending_the_hit_record(
    tmp_path: Path,
    kind: str,
    token: str,
    now: datetime,
    method: str,
    ip: str | None,
    ua: str,
    truncate: bool,
    url: str | None,
) -> None:
    old, new = old_and_new(tmp_path, kind, token, now, method, ip, ua, truncate, url)
    assert new == old
    assert new.endswith(b"\n") and new.count(b"\n") == 1


@settings(max_examples=200, deadline=None)
@given(
    token=st.text(),
    method=st.text(max_size=20),
    ip=st.one_of(st.none(), st.text(max_size=40), st.ip_addresses().map(str)),
    ua=st.text(max_size=1200),
    truncate=st.booleans(),
    url=st.one_of(st.none(), st.text()),
)
def test_hit_line_matches_the_record_path_for_any_text(
    tmp_path_factory: pytest.TempPathFactory,
    token: str,
    method: str,
    ip: str | None,
    ua: str,
    truncate: bool,
    url: str | None,
) -> None:
    tmp = tmp_path_factory.mktemp("line")
    old, new = old_and_new(tmp, "open", token, AT, method, ip, ua, truncate, url)
    assert new == old


def _append_hits(spool: Spool, token: str, start: datetime, n: int) -> None:
    """A web process: n opens appended one by one, as the pixel does."""
    for i in range(n):
        now = start + timedelta(milliseconds=i)
        line = hit_line("open", token, now, method="GET", ip="203.0.113.9", user_agent=BROWSER)
        spool.append_line(line)
    spool.close()


def _drain_until_told(spool: Spool, url: str, keys: tuple[str, ...], stop: StopEvent) -> None:
    """`followup spool drain --forever` in small: its own engine, passes until `stop` is set,
    then one last pass for what was appended before it."""
    engine = create_engine(url)
    drainer = Drainer(spool, spool_writer(sessionmaker(engine), keys))
    while not stop.is_set():
        drainer.drain_once()
        stop.wait(0.01)  # a pass interval, as the real drainer has; nothing waits on it
    drainer.drain_once(force=True)
    engine.dispose()


def test_hits_appended_by_two_processes_beside_a_draining_one_are_each_recorded_once(
    rt: Runtime, database_url: str, tmp_path: Path
) -> None:
    sent = send_message(rt)
    token = sent.pixel.removeprefix("/o/").removesuffix(".gif")
    spool = Spool(tmp_path / "spool", max_bytes=20_000)  # rotations while the drainer reads
    n = 400
    fork = multiprocessing.get_context("fork")
    stop = fork.Event()
    drainer = fork.Process(
        target=_drain_until_told, args=(spool, database_url, rt.settings.secret_keys, stop)
    )
    drainer.start()
    start = rt.clock.now() + timedelta(hours=1)
    writers = [
        fork.Process(target=_append_hits, args=(spool, token, start + timedelta(seconds=w), n))
        for w in range(2)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
        assert writer.exitcode == 0
    stop.set()
    drainer.join(timeout=120)
    assert drainer.exitcode == 0

    assert spool.pending_bytes() == 0
    with rt.sessions() as session:
        total, distinct = session.execute(
            select(func.count(), func.count(func.distinct(Event.hit_id))).where(
                Event.message_id == sent.message_id, Event.type == "open"
            )
        ).one()
    assert (total, distinct) == (2 * n, 2 * n)


def test_the_sqlite_batch_insert_stores_what_the_orm_insert_stores(tmp_path: Path) -> None:
    from sqlalchemy import insert, text

    from sequences.models import Base
    from sequences.tracking.events import COLUMNS, _insert_many

    engine = create_engine(f"sqlite:///{tmp_path}/events.db")
    Base.metadata.create_all(engine)
    rows = [
        {
            "type": "open",
            "at": datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC),  # no microseconds
            "prospect_id": None,
            "enrollment_id": None,
            "message_id": None,
            "data": {},
            "verdict": "human",
            "reason": None,
            "ip": None,
            "user_agent": "",
        },
        {
            "type": "click",
            "at": datetime(
                2026, 5, 6, 7, 8, 9, 120, tzinfo=timezone(timedelta(hours=5, minutes=45))
            ),
            "prospect_id": None,
            "enrollment_id": None,
            "message_id": None,
            "data": {"url": 'https://exämple.com/"q"', "link": 2, "why": "Zoë ☃", "repeat": True},
            "verdict": "machine",
            "reason": "scanner",
            "ip": "2001:db8::1",
            "user_agent": BROWSER,
        },
    ]
    with sessionmaker(engine)() as session:
        session.execute(insert(Event), [{**r, "hit_id": f"orm{n}"} for n, r in enumerate(rows)])
        _insert_many(session, [{**r, "hit_id": f"raw{n}"} for n, r in enumerate(rows)])
        session.commit()
        columns = ", ".join(c for c in COLUMNS if c != "hit_id")
        stored = session.execute(text(f"SELECT hit_id, {columns} FROM events")).all()
        read_back = session.scalars(select(Event).order_by(Event.hit_id)).all()
    by_id = {row[0]: tuple(row[1:]) for row in stored}
    assert [by_id[f"raw{n}"] for n in range(2)] == [by_id[f"orm{n}"] for n in range(2)]
    assert [(e.at, e.data) for e in read_back[:2]] == [(e.at, e.data) for e in read_back[2:]]
