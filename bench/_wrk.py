"""Running wrk and reading its text report."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

__all__ = ["WrkError", "WrkResult", "parse", "run"]

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)\s*$", re.MULTILINE)
_PERCENTILE = r"^\s+{}%\s+([\d.]+)(us|ms|s|m|h)\s*$"
_TOTAL = re.compile(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.MULTILINE)
_NON_2XX = re.compile(r"^\s+Non-2xx or 3xx responses:\s+(\d+)\s*$", re.MULTILINE)
_SOCKET = re.compile(
    r"^\s+Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$", re.MULTILINE
)


class WrkError(RuntimeError):
    """wrk failed, or its report is missing a figure we need."""


@dataclasses.dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def run(
    url: str,
    *,
    core: int,
    duration: int,
    connections: int,
    script: Path | None = None,
    script_args: tuple[str, ...] = (),
) -> tuple[WrkResult, str]:
    """One wrk run pinned to ``core``; the parsed figures and the raw report."""
    command = ["taskset", "-c", str(core), "wrk", "-t1", f"-c{connections}", f"-d{duration}s"]
    command += ["--latency", "--timeout", "5s"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 30, check=False
    )
    if done.returncode != 0:
        raise WrkError(f"wrk exited {done.returncode}: {done.stderr.strip() or done.stdout}")
    return parse(done.stdout), done.stdout


def parse(report: str) -> WrkResult:
    """The figures of one wrk ``--latency`` report."""
    total = _TOTAL.search(report)
    rps = _RPS.search(report)
    if total is None or rps is None:
        raise WrkError(f"cannot read wrk's report:\n{report}")
    non_2xx = _NON_2XX.search(report)
    socket = _SOCKET.search(report)
    return WrkResult(
        requests=int(total.group(1)),
        rps=float(rps.group(1)),
        p50_ms=_percentile(report, 50),
        p99_ms=_percentile(report, 99),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
    )


def _percentile(report: str, percent: int) -> float:
    found = re.search(_PERCENTILE.format(percent), report, re.MULTILINE)
    if found is None:
        raise WrkError(f"no {percent}% line in wrk's report (was --latency given?):\n{report}")
    return float(found.group(1)) * _UNITS_MS[found.group(2)]
