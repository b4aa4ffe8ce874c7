"""CPU time of processes and of the whole machine, read from Linux /proc, for the benchmarks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Proc:
    pid: int
    name: str  # the command name (comm)
    group: int  # process group
    session: int
    cpu: float  # user + system CPU seconds so far


def stat(pid: int) -> Proc | None:
    """One process's /proc/<pid>/stat, or None if it is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces or ")".
    head, _, rest = text.rpartition(")")
    fields = rest.split()
    ticks = os.sysconf("SC_CLK_TCK")
    return Proc(
        pid=pid,
        name=head.partition(" (")[2],
        group=int(fields[2]),
        session=int(fields[3]),
        cpu=(int(fields[11]) + int(fields[12])) / ticks,  # utime, stime
    )


def cpu(pid: int) -> float:
    """User + system CPU seconds of a process (0 if it is gone)."""
    proc = stat(pid)
    return proc.cpu if proc else 0.0


def processes() -> Iterator[Proc]:
    """Every live process (processes that ended meanwhile are not counted)."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            proc = stat(int(entry.name))
            if proc is not None:
                yield proc


def machine_cpu() -> dict[str, float]:
    """CPU seconds of the whole machine so far, all cores (/proc/stat): busy (user, system,
    interrupts), of which in interrupts, and stolen by the hypervisor."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(
            int, f.readline().split()[1:9]
        )
    tick = os.sysconf("SC_CLK_TCK")
    return {
        "busy": (user + nice + system + irq + softirq) / tick,
        "interrupts": (irq + softirq) / tick,
        "stolen": steal / tick,
    }
