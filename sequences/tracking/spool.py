"""A local-disk spool of tracking hits: appended in the request, drained into the database later.

Why: the pixel and the click must answer at once even when the database is slow or down, and
no hit may be lost. Each web process appends one JSON line per hit to its own file
(`<time>-<pid>-<random>.hits`, O_APPEND, one write() per line, so a crash of the process loses
nothing the kernel has). Draining reads complete lines from a saved offset, hands them to a
writer that commits them (each hit carries a unique id that the database refuses twice), and
only then moves the offset: a crash between the commit and the offset write re-reads lines that
the unique id turns into no-ops. So every hit is written once, in the order it arrived.

Locks (flock): a writer holds a shared lock on its open file for as long as it writes to it; a
drainer holds an exclusive lock on `<file>.lock` while it drains. A file nobody holds a shared
lock on belongs to a process that rotated or died: once drained, it is deleted. Any process
(every web worker, `followup spool drain`) may drain any file in the directory.

With `fsync=True` each append is flushed to the disk before the pixel is answered, which also
survives a power cut, at the cost of a disk flush per hit.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

Writer = Callable[[list[dict[str, Any]]], None]  # must commit, or raise
# One encoder for every line (json.dumps with options builds a new one per call).
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


class Spool:
    """Append hits to this process's file; drain every file in the directory."""

    def __init__(
        self, directory: Path, *, max_bytes: int = 16 * 1024 * 1024, fsync: bool = False
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._lock = threading.Lock()
        self._segment: _Segment | None = None

    # -- writing ---------------------------------------------------------------------------

    @property
    def _path(self) -> Path | None:
        """The file this process appends to now (a drainer leaves it in place)."""
        segment = self._segment
        return segment.path if segment is not None and segment.pid == os.getpid() else None

    def _open(self) -> _Segment:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}.hits"
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)  # "a writer is alive": drainers leave the file be
        self._segment = _Segment(fd, path, os.getpid())
        return self._segment

    def append(self, record: dict[str, Any]) -> None:
        """Write one hit durably (to the kernel, or to the disk with fsync=True)."""
        self.append_line((_encode(record) + "\n").encode())

    def append_line(self, line: bytes) -> None:
        """Write one complete JSON line (ending in a newline), e.g. from `hit_line`, durably."""
        with self._lock:
            segment = self._segment
            if segment is None or segment.pid != os.getpid():
                # First use, or a forked child: never write to the parent's file.
                segment = self._open()
            elif segment.size >= self.max_bytes:
                self._seal_locked(segment)
                segment = self._open()
            segment.size += len(line)
            segment.writers += 1
        # The write happens outside the lock: write() lets go of the GIL, and with the lock
        # held across it every other thread's hit queued behind this thread getting the GIL
        # back (a convoy that cost the web workers more than the write). O_APPEND writes of
        # one buffer never interleave; the lock only keeps the file open while it is written.
        try:
            os.write(segment.fd, line)
            if self.fsync:
                os.fsync(segment.fd)
        finally:
            with self._lock:
                segment.writers -= 1
                if segment.sealed and not segment.writers:
                    os.close(segment.fd)

    def _seal_locked(self, segment: _Segment) -> None:
        """Stop appending to the file; it is closed (releasing the shared lock, so drainers may
        remove it once drained) as soon as no append is writing to it."""
        segment.sealed = True
        if not segment.writers:
            os.close(segment.fd)
        self._segment = None

    def close(self) -> None:
        with self._lock:
            segment = self._segment
            if segment is not None and segment.pid == os.getpid():
                self._seal_locked(segment)
            self._segment = None

    # -- draining --------------------------------------------------------------------------

    def files(self) -> list[Path]:
        try:
            return sorted(self.directory.glob("*.hits"))
        except OSError:
            return []

    def pending_bytes(self) -> int:
        """Bytes appended but not yet drained, across every file (0 when all is written)."""
        total = 0
        for path in self.files():
            try:
                total += max(0, path.stat().st_size - _read_offset(path))
            except OSError:
                continue
        return total

    def drain(self, write: Writer, *, batch: int = 5000, limit: int | None = None) -> int:
        """Hand complete lines to `write` in order, batch by batch; return how many were written.

        A batch takes lines from every file this drainer holds (each file's lines in order,
        oldest file first), so one transaction writes the hits of every web process: what a
        batch costs besides its hits (its queries, its commit) is paid once, not per file.
        Each file's offset moves only after `write` returned. Stops at the first batch `write`
        fails on (the database is down): those lines stay and are tried again by the next
        drain. Files other drainers hold are skipped.
        """
        done = 0
        with ExitStack() as stack:
            sources: list[_Source] = []
            for path in self.files():
                if not stack.enter_context(_exclusive(path.with_suffix(".lock"))):
                    continue
                try:
                    handle = stack.enter_context(path.open("rb"))
                except FileNotFoundError:
                    continue
                source = _Source(path, handle, _read_offset(path))
                handle.seek(source.offset)
                sources.append(source)
            while limit is None or done < limit:
                want = batch if limit is None else min(batch, limit - done)
                records: list[dict[str, Any]] = []
                read: list[tuple[_Source, int]] = []
                for source in sources:
                    if source.at_end or len(records) >= want:
                        continue
                    got, consumed, source.at_end = _read_lines(source.handle, want - len(records))
                    records += got
                    if consumed:
                        read.append((source, consumed))
                if not read:
                    break  # everything is read, up to the lines being written
                if records:
                    write(records)  # raises when the database is unavailable: offsets stay
                for source, consumed in read:
                    source.offset += consumed
                    _write_offset(source.path, source.offset)
                done += len(records)
            for source in sources:
                self._remove_if_done(source)
        return done

    def _remove_if_done(self, source: _Source) -> None:
        """Delete a file its writer let go of once it is drained to the end."""
        path = source.path
        if path != self._path and _sealed(path) and path.stat().st_size <= source.offset:
            for leftover in (path, path.with_suffix(".offset"), path.with_suffix(".lock")):
                leftover.unlink(missing_ok=True)


@dataclass(eq=False)
class _Segment:
    """The spool file a process appends to, and how many appends are writing to it now."""

    fd: int
    path: Path
    pid: int
    size: int = 0
    writers: int = 0
    sealed: bool = False


@dataclass
class _Source:
    """A spool file being drained: where the next line starts, and whether we read it all."""

    path: Path
    handle: BinaryIO
    offset: int
    at_end: bool = False


def _read_lines(handle: Any, batch: int) -> tuple[list[dict[str, Any]], int, bool]:
    """Up to `batch` complete lines, their size, and whether the end (or a half line) was hit.

    A half-written last line is not consumed: the pass stops there, and the next one opens the
    file again at the saved offset and reads the line whole.
    """
    records: list[dict[str, Any]] = []
    consumed = 0
    while len(records) < batch:
        line = handle.readline()
        if not line or not line.endswith(b"\n"):
            return records, consumed, True
        consumed += len(line)
        try:
            record = json.loads(line)
        except ValueError:
            log.error("spool: skipping an unreadable line in %s", handle.name)
            continue
        if isinstance(record, dict):
            records.append(record)
    return records, consumed, False


def _read_offset(path: Path) -> int:
    try:
        return int(path.with_suffix(".offset").read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _write_offset(path: Path, offset: int) -> None:
    tmp = path.with_suffix(".offset.tmp")
    tmp.write_text(str(offset))
    os.replace(tmp, path.with_suffix(".offset"))


def _sealed(path: Path) -> bool:
    """True when no writer holds the file (it rotated or its process is gone)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[bool]:
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


class Drainer:
    """Drains a spool into the database: on demand after a hit, and on a timer in a thread.

    After a failed write (the database is down) it waits, doubling up to `max_backoff`
    seconds, before the next try, so a dead database costs the requests nothing.
    """

    def __init__(
        self, spool: Spool, write: Writer, *, max_backoff: float = 30.0, coalesce: float = 0.2
    ) -> None:
        self.spool = spool
        self.write = write
        self.max_backoff = max_backoff
        self.coalesce = coalesce
        self._busy = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry_at = 0.0
        self._backoff = 0.0

    def drain_once(self, *, force: bool = False) -> int:
        """Drain now unless another thread is (it will pick our hits up) or we are backing off."""
        if not force and time.monotonic() < self._retry_at:
            return 0
        if not self._busy.acquire(blocking=force):
            return 0
        try:
            written = self.spool.drain(self.write)
        except Exception as exc:
            self._backoff = min(self.max_backoff, max(0.5, self._backoff * 2))
            self._retry_at = time.monotonic() + self._backoff
            log.warning("spool: database unavailable (%s); retrying in %.1fs", exc, self._backoff)
            return 0
        finally:
            self._busy.release()
        self._backoff = 0.0
        self._retry_at = 0.0
        return written

    def kick(self) -> None:
        if self._thread is not None:  # nobody waits otherwise (a process drains, or tests)
            self._wake.set()

    def start(self, interval: float = 1.0) -> None:
        """Run a daemon thread that drains every `interval` seconds (and when kicked)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="spool-drainer", daemon=True
        )
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            if self._wake.wait(interval):
                # Let a few more hits arrive, so one transaction writes many (group commit).
                self._stop.wait(self.coalesce)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.drain_once()
            except Exception:  # never let the thread die
                log.exception("spool: drain failed")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
