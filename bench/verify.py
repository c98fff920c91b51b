"""Verify benchmark: ``GET /v1/self`` with valid tokens beside a bare Starlette JSON route.

Both servers run under the same uvicorn settings on one core; wrk loads them from the other
core, alternating baseline and tokenward runs so drift on a shared machine hits both alike.
With ``--backend postgresql`` tokenward runs on a fresh PostgreSQL schema instead of SQLite.
Before the load, each of ``--miss-tokens`` new tokens is verified once (a cache miss: a store
read) and then again (a cache hit), one request at a time, to report the latency of both.
See bench/README.md. Run: ``make bench`` or ``.venv/bin/python bench/verify.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import shutil
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import _servers
import _wrk
from _cpu import cpu_seconds
from _fixture import FixtureError, create_minter, mint_tokens
from _postgres import DEFAULT_URL, PostgresError
from _report import Run, percentiles_ms, report
from _setup import bounded, fresh_database, tokenward_environment

HERE = Path(__file__).parent
LUA = HERE / "rotate_tokens.lua"


class BenchError(RuntimeError):
    """The benchmark could not produce honest figures; the message says why."""


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    url: str
    pid: int
    script_args: tuple[str, ...] = ()

    @property
    def script(self) -> Path | None:
        return LUA if self.script_args else None


def main(argv: list[str] | None = None) -> int:
    options = _arguments(argv)
    try:
        rounds, misses = _benchmark(options)
    except (
        BenchError,
        FixtureError,
        PostgresError,
        _servers.ServerError,
        _wrk.WrkError,
        OSError,
    ) as error:
        print(f"bench: FAILED: {error}", file=sys.stderr)
        return 1
    report(rounds, options, misses)
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add("--duration", type=bounded(1, 120), default=10, help="seconds per run (10)")
    add("--warmup", type=bounded(0, 60), default=3, help="warm-up seconds per server (3)")
    add("--rounds", type=bounded(1, 10), default=3, help="baseline/tokenward pairs (3)")
    add("--connections", type=bounded(1, 1024), default=32, help="wrk connections (32)")
    add("--tokens", type=bounded(1, 10_000), default=100, help="valid tokens to rotate (100)")
    add("--server-core", type=bounded(0, 1023), default=0, help="CPU for both servers (0)")
    add("--wrk-core", type=bounded(0, 1023), default=1, help="CPU for wrk (1)")
    add(
        "--backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="tokenward's store: a fresh SQLite file, or a fresh PostgreSQL schema (sqlite)",
    )
    add("--postgres-url", default=DEFAULT_URL, help=f"database for the schema ({DEFAULT_URL})")
    add(
        "--miss-tokens",
        type=bounded(0, 10_000),
        default=200,
        help="new tokens verified once (cache miss) then again (hit) before the load; 0: skip",
    )
    options = parser.parse_args(argv)
    if options.server_core == options.wrk_core:
        parser.error("--server-core and --wrk-core must differ: wrk would steal the server's CPU")
    return options


def _benchmark(options: argparse.Namespace) -> tuple[list[dict[str, Run]], dict[str, object]]:
    _require_tools()
    with (
        tempfile.TemporaryDirectory(prefix="tokenward-bench-") as raw,
        fresh_database(
            options.backend == "sqlite", Path(raw), options.postgres_url, "tw_bench_verify"
        ) as url,
    ):
        work = Path(raw)
        env = tokenward_environment(url)
        where = "SQLite database" if options.backend == "sqlite" else "PostgreSQL schema"
        print(
            f"bench: fresh {where}, files in {work}; user and minting token via the CLI",
            flush=True,
        )
        minter = create_minter(env)
        with _both_servers(options, work, env) as (baseline, tokenward):
            base = tokenward.url.removesuffix("/v1/self")
            print(f"bench: minting {options.tokens} tokens with POST /v1/tokens", flush=True)
            tokens = mint_tokens(base, minter, options.tokens)
            Path(tokenward.script_args[0]).write_text("".join(f"{t}\n" for t in tokens))
            _check_every_token(tokenward.url, tokens)
            misses = _misses(options, base, minter)
            writes_before = _servers.metric(base, "tokenward_store_writes_total")
            rounds = _alternate(options, baseline, tokenward, len(tokens))
            writes = _servers.metric(base, "tokenward_store_writes_total") - writes_before
            _report_writes(options, rounds, writes)
            return rounds, misses


def _report_writes(
    options: argparse.Namespace, rounds: list[dict[str, Run]], writes: float
) -> None:
    """Verifying writes nothing: last use is noted in memory and written in batches, so the
    store sees a few heartbeats and last-use batches during the whole load, not one write a
    request."""
    rates = [r["tokenward"].rps for r in rounds]
    served = (options.duration * len(rates) + options.warmup) * sum(rates) / len(rates)
    print(
        f"bench: store writes during the load: {int(writes)} statements for about "
        f"{int(served):,} requests ({writes / max(served, 1):.6f} a request)",
        flush=True,
    )


def _require_tools() -> None:
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} is not on PATH (Debian: apt-get install wrk util-linux)")


@contextlib.contextmanager
def _both_servers(
    options: argparse.Namespace, work: Path, env: dict[str, str]
) -> Iterator[tuple[Target, Target]]:
    """Both servers up on the server core for the whole run; idle, one costs the other nothing."""
    base_port, tw_port = _servers.free_port(), _servers.free_port()
    if base_port == tw_port:
        raise BenchError("could not find two free ports on loopback")
    base_url = f"http://{_servers.HOST}:{base_port}/"
    tw_url = f"http://{_servers.HOST}:{tw_port}/v1/self"
    with (
        _servers.running(
            _servers.baseline_command(options.server_core, base_port),
            ready_url=base_url,
            log=work / "baseline.log",
        ) as base,
        _servers.running(
            _servers.tokenward_command(options.server_core, tw_port),
            ready_url=f"http://{_servers.HOST}:{tw_port}/healthz",
            log=work / "tokenward.log",
            env=env,
        ) as tw,
    ):
        yield (
            Target("baseline", base_url, base.pid),
            Target("tokenward", tw_url, tw.pid, script_args=(str(work / "tokens.txt"),)),
        )


def _check_every_token(url: str, tokens: list[str]) -> None:
    """Each token answers 200 before the load starts, and a bad one 401, so the figures are
    for the path we mean to measure."""
    for token in tokens:
        status = _servers.get_status(url, {"Authorization": f"Bearer {token}"})
        if status != 200:
            raise BenchError(f"a bench token was answered {status} before the run, not 200")
    if _servers.get_status(url, {"Authorization": "Bearer twu_not_a_token"}) != 401:
        raise BenchError("a malformed token was not answered 401: is this tokenward?")


def _misses(options: argparse.Namespace, base: str, minter: str) -> dict[str, object]:
    """Latency of a cache miss: ``--miss-tokens`` tokens never verified before, each asked
    once (the node reads the store) and at once again (a cache hit), one request at a time on
    one keep-alive connection, the server otherwise idle. The node's miss counter must grow by
    exactly one per token, so we know each first request was a miss."""
    if not options.miss_tokens:
        return {}
    print(f"bench: cache misses: minting {options.miss_tokens} more tokens", flush=True)
    tokens = mint_tokens(base, minter, options.miss_tokens, label="miss")
    misses_before = _servers.metric(base, "tokenward_cache_misses_total")
    address = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    miss, hit = [], []
    try:
        for token in tokens:
            for sink in (miss, hit):
                headers = {"Authorization": f"Bearer {token}"}
                started = time.perf_counter()
                connection.request("GET", "/v1/self", headers=headers)
                answer = connection.getresponse()
                answer.read()
                sink.append(time.perf_counter() - started)
                if answer.status != 200:
                    raise BenchError(f"cache-miss run: a new token was answered {answer.status}")
    finally:
        connection.close()
    counted = _servers.metric(base, "tokenward_cache_misses_total") - misses_before
    if counted != len(tokens):
        raise BenchError(f"cache-miss run: {counted} misses counted for {len(tokens)} new tokens")
    return {"tokens": len(tokens), "miss_ms": percentiles_ms(miss), "hit_ms": percentiles_ms(hit)}


def _alternate(
    options: argparse.Namespace, baseline: Target, tokenward: Target, tokens: int
) -> list[dict[str, Run]]:
    if options.warmup:
        print(f"bench: warm-up, {options.warmup}s each", flush=True)
        for target in (baseline, tokenward):
            _load(target, options, options.warmup, tokens)
    rounds = []
    for number in range(1, options.rounds + 1):
        results = {}
        for target in (baseline, tokenward):
            print(f"bench: round {number}/{options.rounds}: {target.name}", flush=True)
            results[target.name] = _load(target, options, options.duration, tokens)
        rounds.append(results)
    return rounds


def _load(target: Target, options: argparse.Namespace, seconds: int, tokens: int) -> Run:
    cpu_before = cpu_seconds(target.pid)
    result, report = _wrk.run(
        target.url,
        core=options.wrk_core,
        duration=seconds,
        connections=options.connections,
        script=target.script,
        script_args=target.script_args,
    )
    cpu = cpu_seconds(target.pid) - cpu_before
    _check(target, result, report, tokens)
    return Run(result.rps, result.p50_ms, result.p99_ms, cpu / result.requests * 1e6)


def _check(target: Target, result: _wrk.WrkResult, report: str, tokens: int) -> None:
    if result.requests == 0:
        raise BenchError(f"{target.name}: wrk completed no requests:\n{report}")
    if result.non_2xx:
        raise BenchError(f"{target.name}: {result.non_2xx} responses were not 2xx:\n{report}")
    if result.socket_errors:
        raise BenchError(f"{target.name}: {result.socket_errors} socket errors:\n{report}")
    if target.script and f"loaded {tokens} tokens" not in report:
        raise BenchError(f"{target.name}: the wrk script did not load the tokens:\n{report}")


if __name__ == "__main__":
    sys.exit(main())
