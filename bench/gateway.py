"""Gateway benchmark: nginx → a static upstream with ``auth_request`` to tokenward (the
configuration of ``deploy/nginx/forward-auth.conf`` as written), beside the same nginx → the
same upstream without auth, in the same run.

nginx (one worker) and tokenward each run pinned to a core of their own; wrk shares nginx's core
in both runs, so the only difference between them is the auth hop. Every request presents one of
``--tokens`` valid tokens (rotating), all verified before the load: tokenward answers from its
cache. Throughput runs (``--connections``) give req/s, the ratio and the CPU per request; runs on
one connection give the latency a request pays for the hop (p50/p99 added). See bench/README.md.
Run: ``.venv/bin/python bench/gateway.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import _nginx
import _servers
import _wrk
from _cpu import cpu_seconds, machine_busy_seconds
from _fixture import FixtureError, create_minter, mint_tokens
from _setup import bounded

LUA = Path(__file__).parent / "rotate_tokens.lua"
PATH = "/projects"
HEADERS_MORE = Path("/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so")
TARGETS = ("bare", "gateway")


class BenchError(RuntimeError):
    """The benchmark could not produce honest figures; the message says why."""


@dataclasses.dataclass(frozen=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    nginx_us: float  # nginx worker CPU per request
    tokenward_us: float  # tokenward CPU per request

    FIELDS = ("rps", "p50_ms", "p99_ms", "nginx_us", "tokenward_us")


@dataclasses.dataclass(frozen=True)
class Stack:
    urls: dict[str, str]
    nginx_pid: int
    tokenward_pid: int
    tokenward_url: str
    script_args: tuple[str, ...]


def main(argv: list[str] | None = None) -> int:
    options = _arguments(argv)
    try:
        figures = _benchmark(options)
    except (BenchError, FixtureError, _nginx.NginxError, _servers.ServerError, _wrk.WrkError) as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        return 1
    _report(options, *figures)
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add("--duration", type=bounded(1, 120), default=10, help="seconds per throughput run (10)")
    add("--latency-duration", type=bounded(1, 120), default=5, help="seconds per latency run (5)")
    add("--warmup", type=bounded(0, 60), default=3, help="warm-up seconds per target (3)")
    add("--rounds", type=bounded(1, 10), default=3, help="bare/gateway pairs (3)")
    add("--connections", type=bounded(1, 1024), default=32, help="wrk connections (32)")
    add("--tokens", type=bounded(1, 10_000), default=100, help="valid tokens to rotate (100)")
    add("--nginx-core", type=bounded(0, 1023), default=0, help="CPU for nginx and wrk (0)")
    add("--tokenward-core", type=bounded(0, 1023), default=1, help="CPU for tokenward (1)")
    options = parser.parse_args(argv)
    if options.nginx_core == options.tokenward_core:
        parser.error("--nginx-core and --tokenward-core must differ")
    return options


def _benchmark(
    options: argparse.Namespace,
) -> tuple[list[dict[str, Run]], dict[str, Run], dict[str, float]]:
    _require_tools()
    with (
        tempfile.TemporaryDirectory(prefix="tokenward-bench-gateway-") as raw,
        _stack(options, Path(raw)) as stack,
    ):
        misses = _servers.metric(stack.tokenward_url, "tokenward_cache_misses_total")
        busy, started = machine_busy_seconds(), time.monotonic()
        ours = _cpu(stack)
        _warm(options, stack)
        rounds = [_round(options, stack, number) for number in range(1, options.rounds + 1)]
        latency = {name: _latency(options, stack, name) for name in TARGETS}
        load = {
            "machine_busy": (machine_busy_seconds() - busy) / (time.monotonic() - started),
            "ours": (_cpu(stack) - ours) / (time.monotonic() - started),
            "misses": _servers.metric(stack.tokenward_url, "tokenward_cache_misses_total") - misses,
        }
        return rounds, latency, load


def _require_tools() -> None:
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} is not on PATH (Debian: apt-get install wrk util-linux)")
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        raise BenchError("nginx is not installed (Debian: apt-get install nginx)")
    if not HEADERS_MORE.exists():
        raise BenchError("apt-get install libnginx-mod-http-headers-more-filter (the config's)")


@contextlib.contextmanager
def _stack(options: argparse.Namespace, work: Path) -> Iterator[Stack]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
    env["TOKENWARD_DATABASE_URL"] = f"sqlite:///{work / 'tokenward.db'}"
    env["TOKENWARD_PASSWORD"] = secrets.token_urlsafe(24)
    env["TOKENWARD_ADMIN_PASSWORD"] = secrets.token_urlsafe(24)
    print(f"bench: fresh SQLite database, files in {work}; user and minting token via the CLI")
    minter = create_minter(env)
    ports = {name: _servers.free_port() for name in ("tokenward", *TARGETS, "upstream")}
    base = f"http://{_servers.HOST}:{ports['tokenward']}"
    command = _servers.tokenward_command(options.tokenward_core, ports["tokenward"])
    log = work / "tokenward.log"
    with _servers.running(command, ready_url=f"{base}/healthz", log=log, env=env) as tokenward:
        print(f"bench: minting {options.tokens} tokens with POST /v1/tokens", flush=True)
        tokens = mint_tokens(base, minter, options.tokens)
        (work / "tokens.txt").write_text("".join(f"{t}\n" for t in tokens))
        site = _nginx.site(
            gateway=ports["gateway"],
            bare=ports["bare"],
            upstream=ports["upstream"],
            tokenward=ports["tokenward"],
            home=work,
        )
        urls = {name: f"http://{_servers.HOST}:{ports[name]}{PATH}" for name in TARGETS}
        with _nginx.running(work, site, options.nginx_core, urls["bare"]) as nginx:
            stack = Stack(urls, nginx, tokenward.pid, base, (str(work / "tokens.txt"), PATH))
            _check(stack, tokens)
            yield stack


def _check(stack: Stack, tokens: list[str]) -> None:
    """Every token passes the gateway (which fills tokenward's cache), a bad one is refused,
    and nothing passes when tokenward says no: the figures are for the path we mean."""
    for token in tokens:
        status = _servers.get_status(stack.urls["gateway"], {"Authorization": f"Bearer {token}"})
        if status != 200:
            raise BenchError(f"a bench token was answered {status} by the gateway, not 200")
    bad = {"Authorization": "Bearer twu_not_a_token"}
    if _servers.get_status(stack.urls["gateway"], bad) != 401:
        raise BenchError("the gateway did not refuse a malformed token with 401: is auth on?")


def _cpu(stack: Stack) -> float:
    return cpu_seconds(stack.nginx_pid) + cpu_seconds(stack.tokenward_pid)


def _warm(options: argparse.Namespace, stack: Stack) -> None:
    if options.warmup:
        print(f"bench: warm-up, {options.warmup}s each", flush=True)
        for name in TARGETS:
            _load(options, stack, name, options.warmup, options.connections)


def _round(options: argparse.Namespace, stack: Stack, number: int) -> dict[str, Run]:
    results = {}
    for name in TARGETS:
        print(f"bench: round {number}/{options.rounds}: {name}", flush=True)
        results[name] = _load(options, stack, name, options.duration, options.connections)
    return results


def _latency(options: argparse.Namespace, stack: Stack, name: str) -> Run:
    print(f"bench: latency, one connection: {name}", flush=True)
    return _load(options, stack, name, options.latency_duration, 1)


def _load(
    options: argparse.Namespace, stack: Stack, name: str, seconds: int, connections: int
) -> Run:
    before = cpu_seconds(stack.nginx_pid), cpu_seconds(stack.tokenward_pid)
    result, report = _wrk.run(
        stack.urls[name],
        core=options.nginx_core,
        duration=seconds,
        connections=connections,
        script=LUA,
        script_args=stack.script_args,
    )
    if not result.requests or result.non_2xx or result.socket_errors:
        raise BenchError(f"{name}: not every request was answered 2xx:\n{report}")
    if f"loaded {options.tokens} tokens" not in report:
        raise BenchError(f"{name}: the wrk script did not load the tokens:\n{report}")
    nginx = cpu_seconds(stack.nginx_pid) - before[0]
    tokenward = cpu_seconds(stack.tokenward_pid) - before[1]
    per = 1e6 / result.requests
    return Run(result.rps, result.p50_ms, result.p99_ms, nginx * per, tokenward * per)


def _medians(rounds: list[dict[str, Run]], name: str) -> dict[str, float]:
    return {
        field: round(statistics.median(getattr(r[name], field) for r in rounds), 3)
        for field in Run.FIELDS
    }


def _report(
    options: argparse.Namespace,
    rounds: list[dict[str, Run]],
    latency: dict[str, Run],
    load: dict[str, float],
) -> None:
    print(
        f"\nGET {PATH} through nginx (1 worker, core {options.nginx_core}, wrk beside it) to a "
        f"static upstream: with auth_request to tokenward (core {options.tokenward_core}, "
        f"{options.tokens} tokens rotating, cache hits) vs without auth"
    )
    header = f"{'round':<7}{'target':<9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    header += f"{'nginx us':>10}{'tw us':>8}"
    print(header + "\n" + "-" * len(header))
    for number, results in enumerate(rounds, 1):
        for name, run in results.items():
            print(_row(str(number), name, dataclasses.asdict(run)))
    medians = {name: _medians(rounds, name) for name in TARGETS}
    for name in TARGETS:
        print(_row("median", name, medians[name]))
    for name in TARGETS:
        print(_row("1 conn", name, dataclasses.asdict(latency[name])))
    summary = _summary(options, rounds, medians, latency, load)
    _conclude(summary)
    print(json.dumps(summary, separators=(",", ":")))


def _row(label: str, name: str, f: dict[str, float]) -> str:
    return (
        f"{label:<7}{name:<9}{f['rps']:>9.0f}{f['p50_ms']:>9.3f}{f['p99_ms']:>9.3f}"
        f"{f['nginx_us']:>10.1f}{f['tokenward_us']:>8.1f}"
    )


def _summary(
    options: argparse.Namespace,
    rounds: list[dict[str, Run]],
    medians: dict[str, dict[str, float]],
    latency: dict[str, Run],
    load: dict[str, float],
) -> dict[str, object]:
    ratios = [round(r["gateway"].rps / r["bare"].rps, 3) for r in rounds]
    return {
        "bench": "gateway",
        "connections": options.connections,
        "tokens": options.tokens,
        "bare": medians["bare"],
        "gateway": medians["gateway"],
        "ratio": statistics.median(ratios),
        "ratios": ratios,
        "added_p50_ms": round(latency["gateway"].p50_ms - latency["bare"].p50_ms, 3),
        "added_p99_ms": round(latency["gateway"].p99_ms - latency["bare"].p99_ms, 3),
        "tokenward_cpu_us": medians["gateway"]["tokenward_us"],
        "cache_misses_during_load": int(load["misses"]),
        "machine_busy_cores": round(load["machine_busy"], 2),
        "ours_cores": round(load["ours"], 2),
    }


def _conclude(s: dict[str, object]) -> None:
    print(
        f"\ngateway/bare requests/s: {s['ratio']}x (rounds {s['ratios']}; target >= 0.5x)"
        f"\nadded latency, one connection: p50 {s['added_p50_ms']} ms (target <= 0.5 ms), "
        f"p99 {s['added_p99_ms']} ms"
        f"\ntokenward CPU per request: {s['tokenward_cpu_us']} us; "
        f"cache misses during the load: {s['cache_misses_during_load']}"
        f"\nmachine busy: {s['machine_busy_cores']} cores on average, of which nginx and "
        f"tokenward {s['ours_cores']} (wrk and anything else: the rest)"
    )


if __name__ == "__main__":
    sys.exit(main())
