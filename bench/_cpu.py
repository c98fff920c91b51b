"""CPU time of a process, from /proc: a per-request cost that shrugs off a busy machine better
than requests per second do."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cpu_seconds"]

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by ``pid``, all its threads included."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces; the fields we need come after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICK
