"""Revocation benchmark: "revoke response received -> every node refuses the token", 3 nodes.

Three ``tokenward serve`` nodes share one fresh database (a PostgreSQL schema, or one SQLite
file). A checker process (bench/_checker.py) keeps verifying the tokens on every node while
this process revokes them one at a time, through each node in turn. For every token: the time
from the revoke response to the first 401 from each node (the latest of the nodes counts), and
any 200 later than revoke response + max_staleness (a broken bound: exit status 1).
See bench/README.md. Run: ``.venv/bin/python bench/revocation.py [--bus notify|redis|poll-sqlite]``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _servers
from _cpu import cpu_seconds, machine_busy_seconds
from _fixture import FixtureError, create_minter, mint_tokens_with_ids
from _postgres import DEFAULT_URL, PostgresError
from _report import percentiles_ms
from _setup import bounded, fresh_database, tokenward_environment

HERE = Path(__file__).parent
BUSES = ("notify", "redis", "poll-sqlite")
NODES = 3
TARGET_P99_MS = 50.0


class BenchError(RuntimeError):
    """The benchmark could not produce honest figures; the message says why."""


@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    port: int
    pid: int

    @property
    def base(self) -> str:
        return f"http://{_servers.HOST}:{self.port}"


@dataclasses.dataclass(frozen=True)
class Revocation:
    index: int
    via: int  # the node that was asked to revoke
    sent: float  # monotonic, before the DELETE was written
    answered: float  # monotonic, once the whole 200 answer was read


def main(argv: list[str] | None = None) -> int:
    options = _arguments(argv)
    summaries: dict[str, dict[str, Any]] = {}
    failed = []
    for bus in options.buses:
        try:
            summaries[bus] = _benchmark(bus, options)
        except (
            BenchError,
            FixtureError,
            PostgresError,
            _servers.ServerError,
            OSError,
        ) as error:
            print(f"bench: {bus}: FAILED: {error}", file=sys.stderr, flush=True)
            failed.append(bus)
    _print_overview(summaries, failed)
    broken = [bus for bus, s in summaries.items() if not s["bound_kept"]]
    if broken:
        print(
            f"bench: FAILED: {', '.join(broken)}: an accept after the bound, a node that never "
            "refused, or a refusal before a revocation (see above)",
            file=sys.stderr,
        )
    return 1 if failed or broken else 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add(
        "--bus",
        dest="buses",
        action="append",
        choices=[*BUSES, "all"],
        help="notify (PostgreSQL LISTEN/NOTIFY), redis (PostgreSQL store, Redis pub/sub), "
        "poll-sqlite (one SQLite file, log polling), all; repeatable (default: notify, redis)",
    )
    add("--tokens", type=bounded(1, 10_000), default=200, help="tokens to revoke (200)")
    add("--interval-ms", type=bounded(1, 10_000), default=25, help="between revokes (25)")
    add(
        "--max-staleness-ms",
        type=bounded(1, 60_000),
        default=1000,
        help="TOKENWARD_MAX_STALENESS_MS of the nodes, the bound checked (1000)",
    )
    add("--postgres-url", default=DEFAULT_URL, help=f"database for the schema ({DEFAULT_URL})")
    add("--redis-url", default="redis://127.0.0.1:6379/0", help="TOKENWARD_BUS_URL for redis")
    options = parser.parse_args(argv)
    chosen = options.buses or ["notify", "redis"]
    options.buses = list(BUSES) if "all" in chosen else list(dict.fromkeys(chosen))
    return options


# -- one run -----------------------------------------------------------------------------------


def _benchmark(bus: str, options: argparse.Namespace) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="tokenward-revocation-") as raw,
        fresh_database(
            bus == "poll-sqlite", Path(raw), options.postgres_url, "tw_bench_revocation"
        ) as url,
    ):
        work = Path(raw)
        env = _environment(bus, url, options)
        where = "one SQLite file" if bus == "poll-sqlite" else "a fresh PostgreSQL schema"
        print(f"bench: {bus}: {NODES} nodes on {where}; user and minting token via the CLI")
        minter = create_minter(env)
        with _nodes(work, env) as nodes:
            print(f"bench: {bus}: minting {options.tokens} tokens with POST /v1/tokens", flush=True)
            minted = mint_tokens_with_ids(nodes[0].base, minter, options.tokens)
            with _checker(work, nodes, [secret for _, secret in minted], options) as checker:
                warm = checker.warm()
                cached = [
                    int(_servers.metric(node.base, "tokenward_cache_entries")) for node in nodes
                ]
                if min(cached) < options.tokens:
                    raise BenchError(f"caches not warm after the warm-up: entries {cached}")
                print(
                    f"bench: {bus}: caches warm ({warm['seconds']:.1f}s; entries per node "
                    f"{cached}); revoking every {options.interval_ms} ms",
                    flush=True,
                )
                pids = [node.pid for node in nodes] + [checker.process.pid]
                cpu_before, started = [cpu_seconds(pid) for pid in pids], time.monotonic()
                machine_before = machine_busy_seconds()
                revocations = _revoke_all(nodes, minter, [i for i, _ in minted], checker, options)
                elapsed = time.monotonic() - started
                cpu = [cpu_seconds(pid) - b for pid, b in zip(pids, cpu_before, strict=True)]
                cpu.append(machine_busy_seconds() - machine_before)
                busy = [round(c / elapsed, 2) for c in cpu]
                last = max(r.answered for r in revocations)
                # The sweep must come after the bound of every token has passed.
                _sleep_until(last + options.max_staleness_ms / 1000 + 0.05)
                result = checker.stop()
    summary = _analyse(bus, revocations, result, options)
    summary["cores_busy"] = {"nodes": busy[:-2], "checker": busy[-2], "machine": busy[-1]}
    summary["load_average"] = round(os.getloadavg()[0], 2)
    _print_run(summary)
    return summary


def _environment(bus: str, url: str, options: argparse.Namespace) -> dict[str, str]:
    """The bound, the bus, and no failed-auth limit: the checker is one address answered
    thousands of 401s."""
    settings = {"max_staleness_ms": str(options.max_staleness_ms), "failed_auth_per_minute": "0"}
    if bus == "redis":
        settings["bus_url"] = options.redis_url
    return tokenward_environment(url, **settings)


@contextlib.contextmanager
def _nodes(work: Path, env: dict[str, str]) -> Iterator[list[Node]]:
    """Three nodes, left to the scheduler (2 cores for 3 nodes, the checker and the database),
    each ready (``/readyz`` 200: fresh) before the run; all stopped on the way out."""
    ports = {_servers.free_port() for _ in range(NODES)}
    if len(ports) != NODES:
        raise BenchError("could not find three free ports on loopback")
    with contextlib.ExitStack() as stack:
        nodes = []
        for number, port in enumerate(sorted(ports)):
            process = stack.enter_context(
                _servers.running(
                    _servers.tokenward_command(None, port),
                    ready_url=f"http://{_servers.HOST}:{port}/readyz",
                    log=work / f"node{number}.log",
                    env=env,
                )
            )
            nodes.append(Node(f"node{number}", port, process.pid))
        yield nodes


# -- the checker process -----------------------------------------------------------------------


class CheckerProcess:
    """bench/_checker.py, driven by lines; see its docstring for the protocol."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    def send(self, line: str) -> None:
        assert self.process.stdin is not None  # noqa: S101 - opened with PIPE
        self.process.stdin.write(f"{line}\n".encode())
        self.process.stdin.flush()

    def expect(self, kind: str, timeout: float) -> str:
        """The payload of the next line, which must start with ``kind``."""
        out = self.process.stdout
        assert out is not None  # noqa: S101 - opened with PIPE
        ready, _, _ = select.select([out], [], [], timeout)
        line = out.readline().decode().rstrip("\n") if ready else ""
        if line != kind and not line.startswith(f"{kind} "):
            tail = self.log.read_text(errors="replace")[-2000:]
            said = line[:300] or f"nothing within {timeout:.0f}s"
            raise BenchError(f"checker: expected {kind!r}, got: {said}\n{tail}")
        return line[len(kind) :].strip()

    def warm(self) -> dict[str, Any]:
        warm: dict[str, Any] = json.loads(self.expect("warm", timeout=60))
        return warm

    def announce(self, index: int) -> None:
        self.send(f"R {index}")
        self.expect(f"A {index}", timeout=10)

    def stop(self) -> dict[str, Any]:
        self.send("STOP")
        result: dict[str, Any] = json.loads(self.expect("result", timeout=60))
        return result


@contextlib.contextmanager
def _checker(
    work: Path, nodes: list[Node], tokens: list[str], options: argparse.Namespace
) -> Iterator[CheckerProcess]:
    log = work / "checker.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "_checker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=sink,
        )
        try:
            checker = CheckerProcess(process, log)
            # Settle: long enough for any node to refuse within the bound, and some.
            settle = options.max_staleness_ms / 1000 + 1
            checker.send(
                json.dumps(
                    {
                        "ports": [n.port for n in nodes],
                        "tokens": tokens,
                        "settle_s": settle,
                    }
                )
            )
            yield checker
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


# -- the revoker -------------------------------------------------------------------------------


def _revoke_all(
    nodes: list[Node],
    minter: str,
    token_ids: list[str],
    checker: CheckerProcess,
    options: argparse.Namespace,
) -> list[Revocation]:
    """Revoke each token through node ``i % 3`` at a fixed pace, once the checker watches it.
    One keep-alive connection per node, as a client of the API would hold."""
    connections = [http.client.HTTPConnection(_servers.HOST, n.port, timeout=10) for n in nodes]
    headers = {"Authorization": f"Bearer {minter}"}
    revocations = []
    start = time.monotonic()
    try:
        for index, token_id in enumerate(token_ids):
            _sleep_until(start + index * options.interval_ms / 1000)
            via = index % len(nodes)
            checker.announce(index)
            sent = time.monotonic()
            connections[via].request("DELETE", f"/v1/tokens/{token_id}", headers=headers)
            answer = connections[via].getresponse()
            body = answer.read()
            answered = time.monotonic()
            if answer.status != 200 or json.loads(body).get("status") != "revoked":
                raise BenchError(
                    f"DELETE through {nodes[via].name}: {answer.status} {body[:300]!r}"
                )
            revocations.append(Revocation(index, via, sent, answered))
    finally:
        for connection in connections:
            connection.close()
    return revocations


def _sleep_until(moment: float) -> None:
    pause = moment - time.monotonic()
    if pause > 0:
        time.sleep(pause)


# -- the figures -------------------------------------------------------------------------------


def _analyse(
    bus: str, revocations: list[Revocation], result: dict[str, Any], options: argparse.Namespace
) -> dict[str, Any]:
    """Per token and node: the first 401 after the last 200 (all by receive time), less the
    revoke response time, floored at 0 (refused before the response arrived); the token's
    latency is the latest node's. Every 200 received later than response + bound is a
    violation."""
    bound = options.max_staleness_ms / 1000
    by_pair: dict[tuple[int, int], list[list[Any]]] = {}
    for probe in result["probes"]:
        by_pair.setdefault((probe[0], probe[1]), []).append(probe)
    announced = {int(k): v for k, v in result["announced"].items()}
    latencies, lower_bounds, other_nodes, gaps = [], [], [], []
    never, violations, late_via = [], [], []
    for revocation in revocations:
        worst = earliest = 0.0
        for node in range(NODES):
            probes = sorted(by_pair.get((node, revocation.index), []), key=lambda p: p[3])
            refused = _refusal(probes)
            for probe in probes:
                if probe[4] == 200 and probe[3] > revocation.answered + bound:
                    violations.append(
                        {
                            "token": revocation.index,
                            "node": node,
                            "late_ms": _ms(probe[3] - revocation.answered - bound),
                            "sent_after_bound": probe[2] > revocation.answered + bound,
                        }
                    )
                if probe[4] == 200 and node == revocation.via and probe[2] > revocation.answered:
                    late_via.append(revocation.index)
            if refused is None:
                never.append({"token": revocation.index, "node": node})
                continue
            # The node stopped accepting after it read the previous question (sent before it)
            # and before it answered the refusing one: that bracket is the resolution.
            latency = max(0.0, probes[refused][3] - revocation.answered)
            previous = probes[refused - 1][2] if refused else announced[revocation.index]
            gaps.append(probes[refused][3] - previous)
            worst = max(worst, latency)
            earliest = max(earliest, previous - revocation.answered, 0.0)
            if node != revocation.via:
                other_nodes.append(latency)
        latencies.append(worst)
        lower_bounds.append(earliest)
    statuses: dict[str, int] = {}
    for per_node in result["statuses"]:
        for status, count in per_node.items():
            statuses[status] = statuses.get(status, 0) + count
    round_trips = [r.answered - r.sent for r in revocations]
    return {
        "bus": bus,
        "tokens": len(revocations),
        "nodes": NODES,
        "interval_ms": options.interval_ms,
        "max_staleness_ms": options.max_staleness_ms,
        "latency_ms": percentiles_ms(latencies),
        "latency_lower_bound_ms": percentiles_ms(lower_bounds),
        "latency_other_nodes_ms": percentiles_ms(other_nodes),
        "refused_before_response": sum(1 for value in latencies if value == 0.0),
        "revoke_round_trip_ms": percentiles_ms(round_trips),
        "sampling_interval_ms": percentiles_ms(gaps),
        "checker_requests_per_s_per_node": result["follow_requests_per_s"],
        "checker_round_trip_ms": result["round_trip_ms"],
        "statuses": statuses,
        "refused_before_revocation": len(result["anomalies"]),
        "never_refused": never,
        "violations": violations,
        "revoking_node_accepted_after_response": sorted(set(late_via)),
        "settled": result["settled"],
        "bound_kept": not violations and not never and not result["anomalies"],
        "target_met": bool(latencies) and percentiles_ms(latencies)["p99"] <= TARGET_P99_MS,
    }


def _refusal(probes: list[list[Any]]) -> int | None:
    """Index of the first 401 after the last 200, or None if the node never refused for good."""
    last_accept = max((i for i, p in enumerate(probes) if p[4] == 200), default=-1)
    return next((i for i in range(last_accept + 1, len(probes)) if probes[i][4] == 401), None)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _print_run(s: dict[str, Any]) -> None:
    lat, low, other, rtt, gap = (
        s["latency_ms"],
        s["latency_lower_bound_ms"],
        s["latency_other_nodes_ms"],
        s["revoke_round_trip_ms"],
        s["sampling_interval_ms"],
    )
    checker_rtt = ", ".join(f"{r['p50']:.2f}/{r['p99']:.2f}" for r in s["checker_round_trip_ms"])
    print(
        f"\nrevocation, bus {s['bus']}: {s['tokens']} tokens revoked one every "
        f"{s['interval_ms']} ms through {NODES} nodes in turn\n"
        f"  revoke response -> every node refuses: p50 {lat['p50']:.2f} ms, "
        f"p99 {lat['p99']:.2f} ms, max {lat['max']:.2f} ms "
        f"(target p99 <= {TARGET_P99_MS:.0f} ms: {'met' if s['target_met'] else 'MISSED'}); "
        f"{s['refused_before_response']} tokens refused everywhere before the response arrived\n"
        f"  lower bound (the latest node read the question before its refusal after): "
        f"p50 {low['p50']:.2f} ms, p99 {low['p99']:.2f} ms, max {low['max']:.2f} ms\n"
        f"  per node other than the revoking one: p50 {other['p50']:.2f} ms, "
        f"p99 {other['p99']:.2f} ms, max {other['max']:.2f} ms\n"
        f"  revoke round trip (DELETE sent -> 200 read): p50 {rtt['p50']:.2f} ms, "
        f"p99 {rtt['p99']:.2f} ms\n"
        f"  checker resolution (previous answer -> the refusing 401, same token and node): "
        f"p50 {gap['p50']:.2f} ms, p99 {gap['p99']:.2f} ms, max {gap['max']:.2f} ms; "
        f"requests/s per node {s['checker_requests_per_s_per_node']}, "
        f"round trip p50/p99 ms per node {checker_rtt}\n"
        f"  CPU while revoking, in cores (of {os.cpu_count()}): nodes "
        f"{s['cores_busy']['nodes']}, checker {s['cores_busy']['checker']}, whole machine "
        f"{s['cores_busy']['machine']} (load average {s['load_average']:.2f})\n"
        f"  answers {s['statuses']}; bound {s['max_staleness_ms']} ms: "
        f"{len(s['violations'])} accepts later than response + bound, "
        f"{len(s['never_refused'])} (token, node) never refused, "
        f"{s['refused_before_revocation']} refusals before a revocation, revoking node "
        f"accepted after its response: {len(s['revoking_node_accepted_after_response'])}",
        flush=True,
    )
    for violation in s["violations"][:10]:
        print(f"  VIOLATION: {violation}")
    for missing in s["never_refused"][:10]:
        print(f"  NEVER REFUSED: {missing}")


def _print_overview(summaries: dict[str, dict[str, Any]], failed: list[str]) -> None:
    print(f"\n{'bus':<13}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'tokens':>8}{'violations':>12}")
    for bus, s in summaries.items():
        lat = s["latency_ms"]
        print(
            f"{bus:<13}{lat['p50']:>9.2f}{lat['p99']:>9.2f}{lat['max']:>9.2f}"
            f"{s['tokens']:>8}{len(s['violations']):>12}"
        )
    compact = {
        bus: {k: v for k, v in s.items() if k not in ("never_refused", "violations")}
        | {"violations": len(s["violations"]), "never_refused": len(s["never_refused"])}
        for bus, s in summaries.items()
    }
    print(
        json.dumps(
            {"bench": "revocation", "commit": _commit(), "runs": compact, "failed": failed},
            separators=(",", ":"),
        )
    )


def _commit() -> str:
    """The commit measured, ``+dirty`` when the working tree has changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(HERE), "status", "--porcelain"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head


if __name__ == "__main__":
    sys.exit(main())
