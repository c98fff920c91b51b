"""CPU time of a process, from /proc: a per-request cost that shrugs off a busy machine better
than requests per second do."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cpu_seconds", "machine_busy_seconds"]

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by ``pid``, all its threads included."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces; the fields we need come after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICK


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine (all cores, every process, ours or not) spent busy so far:
    everything in the first line of /proc/stat but idle and iowait. Set beside our processes'
    own CPU time, it shows how much of the machine the rest of the world took during a run."""
    fields = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / _TICK
