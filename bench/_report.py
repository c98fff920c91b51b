"""The figures of the verify benchmark: per-round table, medians, ratios, JSON summary."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import math
import statistics

__all__ = ["NAMES", "Run", "percentiles_ms", "report"]

NAMES = ("baseline", "tokenward")


@dataclasses.dataclass(frozen=True)
class Run:
    """The figures of one wrk run, and the server CPU time it cost."""

    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float  # server CPU time (user + system, all threads) per request

    FIELDS = ("rps", "p50_ms", "p99_ms", "cpu_us")


def report(
    rounds: list[dict[str, Run]],
    options: argparse.Namespace,
    misses: dict[str, object] | None = None,
) -> None:
    """Print the table of every round, the medians, the ratio, the cache-miss latency (when
    measured), and a one-line JSON summary."""
    medians = {name: _medians(rounds, name) for name in NAMES}
    summary = _summary(rounds, options, medians)
    if misses:
        summary["cache_miss"] = misses
    print(
        f"\nGET /v1/self ({options.tokens} valid tokens, rotating) vs a bare Starlette JSON route"
        f"\ntokenward's store: {summary['backend']}"
        f"\nservers: {summary['server']}, core {options.server_core}; "
        f"load: wrk -t1 -c{options.connections} -d{options.duration}s, core {options.wrk_core}"
    )
    header = f"{'round':<7}{'server':<11}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU us/req':>12}"
    header += f"{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for number, results in enumerate(rounds, 1):
        for name, run in results.items():
            ratio = f"{_ratio(results):.3f}" if name == "tokenward" else ""
            print(_row(str(number), name, dataclasses.asdict(run), ratio))
    print("-" * len(header))
    for name in NAMES:
        ratio = f"{summary['ratio']:.3f}" if name == "tokenward" else ""
        print(_row("median", name, medians[name], ratio))
    print(
        f"\ntokenward/baseline requests/s: {summary['ratio']:.3f}x "
        f"(median of the per-round ratios {summary['ratios']}); "
        f"server CPU per request: {summary['cpu_ratio']:.2f}x the baseline's"
    )
    if misses:
        miss, hit = misses["miss_ms"], misses["hit_ms"]
        assert isinstance(miss, dict) and isinstance(hit, dict)  # noqa: S101 - from verify.py
        print(
            f"cache miss (first use of {misses['tokens']} new tokens, one at a time, idle server): "
            f"p50 {miss['p50']:.2f} ms, p99 {miss['p99']:.2f} ms; the same tokens at once again "
            f"(hits): p50 {hit['p50']:.2f} ms, p99 {hit['p99']:.2f} ms"
        )
    print(json.dumps(summary, separators=(",", ":")))


def _row(label: str, name: str, figures: dict[str, float], ratio: str) -> str:
    return (
        f"{label:<7}{name:<11}{figures['rps']:>9.0f}{figures['p50_ms']:>9.2f}"
        f"{figures['p99_ms']:>9.2f}{figures['cpu_us']:>12.0f}{ratio:>8}"
    )


def _ratio(results: dict[str, Run]) -> float:
    return results["tokenward"].rps / results["baseline"].rps


def _cpu_ratio(results: dict[str, Run]) -> float:
    return results["tokenward"].cpu_us / results["baseline"].cpu_us


def _medians(rounds: list[dict[str, Run]], name: str) -> dict[str, float]:
    return {
        field: round(statistics.median(getattr(r[name], field) for r in rounds), 3)
        for field in Run.FIELDS
    }


def _summary(
    rounds: list[dict[str, Run]],
    options: argparse.Namespace,
    medians: dict[str, dict[str, float]],
) -> dict[str, object]:
    return {
        "bench": "verify",
        "endpoint": "GET /v1/self",
        "backend": getattr(options, "backend", "sqlite"),
        "rounds": len(rounds),
        "duration_s": options.duration,
        "connections": options.connections,
        "tokens": options.tokens,
        "server": _implementation(),
        "baseline": medians["baseline"],
        "tokenward": medians["tokenward"],
        "ratio": round(statistics.median(_ratio(r) for r in rounds), 3),
        "ratios": [round(_ratio(r), 3) for r in rounds],
        "cpu_ratio": round(statistics.median(_cpu_ratio(r) for r in rounds), 3),
    }


def _implementation() -> str:
    """The servers' settings: the baseline's are fixed (uvloop + httptools); tokenward's are
    what ``tokenward serve`` picks in this environment, as shipped."""
    from tokenward.cli.server import event_loop_and_parser

    loop, http = event_loop_and_parser()
    version = importlib.metadata.version("uvicorn")
    return (
        f"uvicorn {version}, 1 worker, access log off; baseline uvloop+httptools, "
        f"tokenward serve {loop}+{http}"
    )


def percentiles_ms(seconds: list[float]) -> dict[str, float]:
    """p50, p99 (nearest rank: a value that was measured) and max of ``seconds``, in ms; NaN
    for none. Shared with bench/revocation.py."""
    if not seconds:
        return {"p50": math.nan, "p99": math.nan, "max": math.nan}
    ordered = sorted(seconds)

    def rank(percent: float) -> float:
        return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]

    return {
        "p50": round(rank(50) * 1000, 3),
        "p99": round(rank(99) * 1000, 3),
        "max": round(ordered[-1] * 1000, 3),
    }
