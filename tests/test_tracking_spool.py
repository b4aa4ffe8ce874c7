"""Lossless tracking: hits survive a dead database and are written later, in order, exactly once."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from sequences.clock import FrozenClock
from sequences.models import Event
from sequences.runtime import Runtime
from sequences.sending.sink import free_port
from sequences.tracking.spool import Drainer, Spool
from tracker import create_app

from .tracking_support import BROWSER, events, send_message


def dead_sessions(database_url: str, tmp_path: Path) -> sessionmaker[Session]:
    """Sessions on a database that is not there (nothing listens / the file cannot be opened)."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path}/no/such/dir/followup.db"
    else:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone?connect_timeout=2"
    return sessionmaker(create_engine(url), expire_on_commit=False)


def count(session: Session, message_id: int, type_: str) -> int:
    n = session.scalar(
        select(func.count()).where(Event.message_id == message_id, Event.type == type_)
    )
    session.commit()
    return int(n or 0)


def test_a_thousand_opens_with_the_database_down_are_all_written_when_it_returns(
    app: Any,
    client: Any,
    rt: Runtime,
    clock: FrozenClock,
    session: Session,
    database_url: str,
    tmp_path: Path,
) -> None:
    sent = send_message(rt)
    clock.advance(hours=1)
    alive = rt.sessions
    rt.sessions = dead_sessions(database_url, tmp_path)
    try:
        for i in range(1000):
            clock.advance(seconds=1)
            response = client.get(sent.pixel, headers={"User-Agent": f"{BROWSER} n={i}"})
            assert response.status_code == 200 and response.mimetype == "image/gif"
        click = client.get(sent.clicks[0], headers={"User-Agent": BROWSER})
        assert click.status_code == 302  # the destination travels signed in the link
        assert click.headers["Location"].startswith("https://example.com/pricing?")
    finally:
        rt.sessions = alive
    assert count(session, sent.message_id, "open") == 0
    spool = app.extensions["followup.tracking"].spool
    assert spool.pending_bytes() > 0

    drainer = app.extensions["followup.tracking"].drainer
    assert drainer.drain_once(force=True) == 1001
    assert spool.pending_bytes() == 0
    opens = events(session, sent.message_id, "open")
    assert len(opens) == 1000
    # In arrival order, with each hit's own time and agent.
    assert [e.user_agent.rsplit("n=", 1)[1] for e in opens] == [str(i) for i in range(1000)]
    assert [e.id for e in opens] == sorted(e.id for e in opens)
    assert count(session, sent.message_id, "click") == 1


def test_a_drain_repeated_after_a_crash_writes_nothing_twice(
    app: Any, client: Any, rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    sent = send_message(rt)
    clock.advance(hours=1)
    state = app.extensions["followup.tracking"]
    state.inline = False  # keep the hits in the spool until we drain
    for _ in range(50):
        client.get(sent.pixel, headers={"User-Agent": BROWSER})
    assert state.drainer.drain_once(force=True) == 50
    # A crash after the commit but before the offset moved: the offsets are lost.
    for offset in state.spool.directory.glob("*.offset"):
        offset.write_text("0")
    state.drainer.drain_once(force=True)
    assert count(session, sent.message_id, "open") == 50


def test_click_without_a_carried_destination_answers_503_when_the_database_is_down(
    app: Any,
    client: Any,
    rt: Runtime,
    clock: FrozenClock,
    session: Session,
    database_url: str,
    tmp_path: Path,
) -> None:
    long_url = "https://example.com/" + "x" * 2000
    sent = send_message(rt, body=f'<a href="{long_url}">long</a>')
    [path, _honeypot] = sent.clicks
    assert path.count("/") == 2  # too long to carry: looked up in the database
    clock.advance(hours=1)
    alive = rt.sessions
    rt.sessions = dead_sessions(database_url, tmp_path)
    try:
        response = client.get(path, headers={"User-Agent": BROWSER})
        assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    finally:
        rt.sessions = alive
    response = client.get(path, headers={"User-Agent": BROWSER})
    assert response.status_code == 302 and response.headers["Location"] == long_url
    # Both hits were kept: the one during the outage is written once the database is back
    # (the drainer is backing off after the failure; its thread would retry within seconds).
    app.extensions["followup.tracking"].drainer.drain_once(force=True)
    assert count(session, sent.message_id, "click") == 2


def test_drainer_thread_writes_spooled_hits_without_a_request(
    rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    app = create_app(
        {
            "RUNTIME": rt,
            "TESTING": True,
            "TRACKING_DRAIN_INLINE": False,
            "TRACKING_DRAIN_INTERVAL": 0.05,
        }
    )
    state = app.extensions["followup.tracking"]
    sent = send_message(rt)
    clock.advance(hours=1)
    client = app.test_client()
    for _ in range(20):
        client.get(sent.pixel, headers={"User-Agent": BROWSER})
    state.drainer.start(0.05)
    try:
        deadline = time.monotonic() + 30
        while count(session, sent.message_id, "open") < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        state.drainer.stop()
    assert count(session, sent.message_id, "open") == 20


def test_spool_keeps_half_written_lines_for_later(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append({"id": "a", "n": 1})
    [path] = spool.files()
    with path.open("ab") as f:
        f.write(b'{"id": "b", "n"')  # a writer mid-line
    seen: list[dict[str, Any]] = []
    assert spool.drain(seen.extend) == 1
    with path.open("ab") as f:
        f.write(b": 2}\n")
    assert spool.drain(seen.extend) == 1
    assert [r["id"] for r in seen] == ["a", "b"]


def test_spool_failed_write_keeps_the_batch(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for n in range(3):
        spool.append({"id": str(n)})

    def broken(_records: list[dict[str, Any]]) -> None:
        raise ConnectionError("database down")

    with pytest.raises(ConnectionError):
        spool.drain(broken)
    seen: list[dict[str, Any]] = []
    assert spool.drain(seen.extend) == 3


def test_one_batch_takes_every_files_lines_each_in_order(tmp_path: Path) -> None:
    first, second = Spool(tmp_path), Spool(tmp_path)  # two web processes' files
    for n in range(3):
        first.append({"id": f"a{n}"})
        second.append({"id": f"b{n}"})

    def broken(_records: list[dict[str, Any]]) -> None:
        raise ConnectionError("database down")

    with pytest.raises(ConnectionError):
        Spool(tmp_path).drain(broken)  # no file's offset moves
    batches: list[list[dict[str, Any]]] = []
    assert Spool(tmp_path).drain(batches.append) == 6
    [batch] = batches  # one transaction for both files
    ids = [r["id"] for r in batch]
    assert [i for i in ids if i.startswith("a")] == ["a0", "a1", "a2"]
    assert [i for i in ids if i.startswith("b")] == ["b0", "b1", "b2"]
    assert Spool(tmp_path).drain(batches.append) == 0


def test_sealed_files_of_dead_writers_are_drained_and_removed(tmp_path: Path) -> None:
    old = Spool(tmp_path, max_bytes=100)
    for n in range(10):
        old.append({"id": f"{n:03d}", "pad": "x" * 40})  # rotates every two lines
    old.close()  # the process is gone
    assert len(old.files()) == 5
    seen: list[dict[str, Any]] = []
    assert Spool(tmp_path).drain(seen.extend) == 10
    assert [r["id"] for r in seen] == [f"{n:03d}" for n in range(10)]
    assert list(tmp_path.iterdir()) == []


def test_live_writer_file_is_never_removed(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append({"id": "1"})
    other = Spool(tmp_path)  # another process's drainer
    assert other.drain(lambda _r: None) == 1
    assert len(spool.files()) == 1
    spool.append({"id": "2"})
    assert other.drain(lambda _r: None) == 1


def _append_from_threads(spool: Spool) -> None:
    """8 threads append 500 lines each ("<thread>-<n>"), all at once."""

    def writer(t: int) -> None:
        for n in range(500):
            spool.append({"id": f"{t}-{n}", "pad": "y" * 200})

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    _append_from_threads(spool)
    lines = b"".join(p.read_bytes() for p in spool.files()).splitlines()
    assert len(lines) == 4000
    assert len({json.loads(line)["id"] for line in lines}) == 4000


def test_concurrent_appends_across_rotations_are_all_kept_in_each_threads_order(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path, max_bytes=5_000)  # a new file every ~20 lines, mid-write of others
    _append_from_threads(spool)
    spool.close()
    assert len(spool.files()) > 100
    seen: list[dict[str, Any]] = []
    assert Spool(tmp_path).drain(seen.extend) == 4000
    for t in range(8):
        assert [r["id"] for r in seen if r["id"].startswith(f"{t}-")] == [
            f"{t}-{n}" for n in range(500)
        ]
    # Every file was closed (sealed) by its last writer, so all were drained and removed.
    assert list(tmp_path.iterdir()) == []


def test_drainer_backs_off_after_a_failure(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append({"id": "1"})
    calls: list[int] = []

    def broken(records: list[dict[str, Any]]) -> None:
        calls.append(len(records))
        raise ConnectionError("down")

    drainer = Drainer(spool, broken)
    assert drainer.drain_once() == 0
    assert drainer.drain_once() == 0  # backing off: the request pays nothing
    assert calls == [1]


def test_spool_cli_shows_and_drains_what_waits(
    app: Any,
    client: Any,
    rt: Runtime,
    clock: FrozenClock,
    session: Session,
    database_url: str,
    smtp_sink: Any,
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from tracker.cli.main import main

    from .conftest import make_env

    sent = send_message(rt)
    clock.advance(hours=1)
    app.extensions["followup.tracking"].inline = False
    for _ in range(7):
        client.get(sent.pixel, headers={"User-Agent": BROWSER})
    env = make_env(database_url, smtp_sink.port, tmp_path)
    runner = CliRunner()
    status = runner.invoke(main, ["spool", "status"], env=env)
    assert status.exit_code == 0 and "1 file(s)" in status.output
    drained = runner.invoke(main, ["spool", "drain"], env=env)
    assert drained.exit_code == 0 and "drained 7 hit(s); 0 byte(s) still waiting" in drained.output
    assert count(session, sent.message_id, "open") == 7


def test_spool_drain_forever_process_writes_hits_and_stops_on_sigterm(
    app: Any,
    client: Any,
    rt: Runtime,
    clock: FrozenClock,
    session: Session,
    database_url: str,
    smtp_sink: Any,
    tmp_path: Path,
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from .conftest import make_env

    sent = send_message(rt)
    clock.advance(hours=1)
    app.extensions["followup.tracking"].inline = False
    for _ in range(25):
        client.get(sent.pixel, headers={"User-Agent": BROWSER})
    env = {**os.environ, **make_env(database_url, smtp_sink.port, tmp_path)}
    followup = str(Path(sys.executable).with_name("followup"))
    argv = [followup, "spool", "drain", "--forever", "--interval", "0.05", "--nice", "5"]
    proc = subprocess.Popen([*argv, "--parent", str(os.getpid())], env=env)
    try:
        deadline = time.monotonic() + 60
        while count(session, sent.message_id, "open") < 25 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert count(session, sent.message_id, "open") == 25
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def _click_record(sent: Any, hit_id: str, clock: FrozenClock) -> dict[str, Any]:
    return {
        "id": hit_id,
        "kind": "click",
        "token": sent.clicks[0].split("/")[2],
        "at": clock.now().isoformat(),
        "method": "GET",
        "ip": "198.51.100.9",
        "ua": BROWSER,
    }


def test_inferred_opens_of_hits_with_similar_ids_do_not_collide(
    rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    from sequences.tracking.events import spool_writer

    one, two = send_message(rt), send_message(rt, email="two@prospect.example")
    clock.advance(hours=1)
    write = spool_writer(rt.sessions, rt.settings.secret_keys)
    write([_click_record(one, "a" * 31 + "0", clock), _click_record(two, "a" * 31 + "1", clock)])
    for sent in (one, two):
        [opened] = events(session, sent.message_id, "open")
        assert opened.reason == "inferred"


def test_a_refused_hit_never_stalls_the_hits_behind_it(
    rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    from sequences.models import Event
    from sequences.tracking.events import inferred_hit_id, spool_writer

    poisoned, fine = send_message(rt), send_message(rt, email="fine@prospect.example")
    clock.advance(hours=1)
    # A row that takes the id the poisoned hit's inferred open will want (a corrupted database).
    session.add(Event(type="note", at=clock.now(), hit_id=inferred_hit_id("b" * 32), data={}))
    session.commit()
    write = spool_writer(rt.sessions, rt.settings.secret_keys)
    write([_click_record(poisoned, "b" * 32, clock), _click_record(fine, "c" * 32, clock)])
    assert count(session, fine.message_id, "click") == 1
    assert count(session, poisoned.message_id, "click") == 0


def test_a_line_completed_while_a_pass_runs_is_read_whole_by_the_next(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append({"id": "1"})
    spool.append({"id": "2"})
    [path] = spool.files()
    with path.open("ab") as f:
        f.write(b'{"id": "3", "pa')  # a writer mid-line
    seen: list[dict[str, Any]] = []

    def write(records: list[dict[str, Any]]) -> None:
        seen.extend(records)
        if len(seen) == 2:  # the writer finishes its line while we write the batch before it
            with path.open("ab") as f:
                f.write(b'd": "x"}\n')

    assert spool.drain(write, batch=10) == 2  # stops at the half line it saw
    assert spool.drain(write, batch=10) == 1  # and reads it whole, never its tail alone
    assert [r["id"] for r in seen] == ["1", "2", "3"]


def _open_record(sent: Any, hit_id: str, clock: FrozenClock) -> dict[str, Any]:
    token = sent.pixel.split("/")[2].removesuffix(".gif")
    return {**_click_record(sent, hit_id, clock), "kind": "open", "token": token}


def test_verdicts_do_not_depend_on_how_hits_were_batched(
    rt: Runtime, clock: FrozenClock, session: Session
) -> None:
    from sequences.tracking.events import HISTORY_PER_MESSAGE, spool_writer

    one, apart = send_message(rt), send_message(rt, email="apart@prospect.example")
    clock.advance(hours=1)
    write = spool_writer(rt.sessions, rt.settings.secret_keys)
    together: list[dict[str, Any]] = []
    for n in range(HISTORY_PER_MESSAGE + 10):  # a flood of opens within the repeat window
        clock.advance(seconds=1)
        together.append(_open_record(one, f"{n:032x}", clock))
        write([_open_record(apart, f"{n + 1000:032x}", clock)])  # each in its own batch
    write(together)  # all in one batch

    def repeats(message_id: int) -> list[bool]:
        return [bool(e.data.get("repeat")) for e in events(session, message_id, "open")]

    assert repeats(one.message_id) == repeats(apart.message_id)
    # Only the latest hits count: a first open that dropped out of them starts a new count.
    assert repeats(one.message_id).count(False) == 2
