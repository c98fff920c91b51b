"""The two servers under test, each a subprocess pinned to one core, always stopped."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = [
    "FAST",
    "ServerError",
    "baseline_command",
    "free_port",
    "get_status",
    "metric",
    "running",
    "tokenward_command",
]

HOST = "127.0.0.1"
FAST = ("--loop", "uvloop", "--http", "httptools")  # the best settings uvicorn offers
BIN = Path(sys.executable).parent


class ServerError(RuntimeError):
    """A server did not come up, or died; the message carries the tail of its log."""


def free_port() -> int:
    """A port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def tokenward_command(core: int | None, port: int) -> list[str]:
    """``tokenward serve``, exactly as a user runs it: uvicorn, 1 worker, no access log.
    Pinned to ``core``, or left to the scheduler when ``core`` is None."""
    serve = [str(BIN / "tokenward"), "serve", "--host", HOST, "--port", str(port)]
    return serve if core is None else _pinned(core, serve)


def baseline_command(core: int, port: int) -> list[str]:
    """uvicorn on the baseline app as its users would run it for speed: uvloop + httptools
    (named, not ``auto``, so a missing one fails loudly), 1 worker, access log off."""
    here = Path(__file__).parent
    uvicorn = [sys.executable, "-m", "uvicorn", "baseline_app:app", "--app-dir", str(here)]
    uvicorn += ["--host", HOST, "--port", str(port), "--workers", "1", "--no-access-log"]
    uvicorn += ["--log-level", "info", *FAST]
    return _pinned(core, uvicorn)


def _pinned(core: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *command]


@contextlib.contextmanager
def running(
    command: list[str], *, ready_url: str, log: Path, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command``, wait until ``ready_url`` answers 200, and stop it on the way out.

    ``env`` replaces the environment when given; by default the command inherits ours.
    """
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=dict(os.environ if env is None else env),
        )
        try:
            _wait_ready(process, ready_url, log)
            yield process
        finally:
            _stop(process)
    if process.returncode not in (0, -15):
        # It died during the run rather than on our SIGTERM.
        raise ServerError(f"{_name(command)} exited {process.returncode}:\n{_tail(log)}")


def _name(command: list[str]) -> str:
    """The program of ``command``, past ``taskset -c N``."""
    return command[3] if command[0] == "taskset" else command[0]


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"server exited {process.returncode} on start:\n{_tail(log)}")
        if _answers_ok(url):
            return
        time.sleep(0.1)
    raise ServerError(f"server not ready at {url} after {timeout:.0f}s:\n{_tail(log)}")


def _answers_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - loopback URL
            return bool(answer.status == 200)
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def get_status(url: str, headers: Mapping[str, str]) -> int:
    """The status of one GET, 4xx and 5xx included."""
    request = urllib.request.Request(url, headers=dict(headers))  # noqa: S310 - loopback URL
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback URL
            status: int = answer.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


def metric(base_url: str, name: str) -> float:
    """The value of one unlabelled metric on the server's ``/metrics`` (Prometheus text)."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as answer:  # noqa: S310 - loopback URL
        for line in answer.read().decode().splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
    raise ServerError(f"{base_url}/metrics has no {name}")
