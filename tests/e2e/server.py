"""A real ``tokenward serve`` process on loopback, and the plain HTTP to talk to it."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from installed import TOKENWARD

READY_WITHIN = 15.0  # seconds
STOP_WITHIN = 10.0
ADMIN_PASSWORD = "change-me-right-now"  # the README's example value, not a secret


def clean_env(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any TOKENWARD_* variable, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
    env.update(overrides or {})
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # names in lower case
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


@dataclasses.dataclass
class Server:
    """One server process; its stdout and stderr go to files in ``cwd``."""

    cwd: Path
    env: dict[str, str]
    port: int
    process: subprocess.Popen[bytes]
    name: str

    @classmethod
    def start(
        cls,
        cwd: Path,
        env: Mapping[str, str],
        name: str = "server",
        args: Sequence[str] = (),
        port: int | None = None,
    ) -> Server:
        """Start ``tokenward serve`` (plus ``args``) in a process group of its own, so that
        :meth:`stop` also ends any worker processes it forks; on ``port`` if given (a node
        restarted where a load balancer expects it), else on a free one."""
        port = port or free_port()
        with (
            (cwd / f"{name}.stdout").open("wb") as out,
            (cwd / f"{name}.stderr").open("wb") as err,
        ):
            process = subprocess.Popen(
                [str(TOKENWARD), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        return cls(cwd, dict(env), port, process, name)

    def wait_ready(self) -> None:
        """Poll ``/healthz`` until it answers 200; fail with the server's output if it does not."""
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.output}")
            try:
                if self.request("GET", "/healthz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server not ready within {READY_WITHIN}s:\n{self.output}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers; always reaps the process, and kills whatever
        is left of its process group (workers orphaned by a killed parent)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_WITHIN)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_WITHIN)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would; reaps the process."""
        self.process.kill()
        self.process.wait(STOP_WITHIN)

    @property
    def stdout(self) -> str:
        return (self.cwd / f"{self.name}.stdout").read_text("utf-8")

    @property
    def stderr(self) -> str:
        return (self.cwd / f"{self.name}.stderr").read_text("utf-8")

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def request(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: str | None = None,
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request(method, target, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
            found = {name.lower(): value for name, value in response.getheaders()}
            return Reply(response.status, found, response.read().decode("utf-8"))
        finally:
            conn.close()

    def cli(self, *args: str) -> str:
        """Run the ``tokenward`` command beside the server (same folder, same environment)."""
        done = subprocess.run(
            [str(TOKENWARD), *args],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=READY_WITHIN,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


def run_script(script: str, cwd: Path, env: Mapping[str, str], timeout: float) -> tuple[str, str]:
    """Run ``script`` with ``bash -euo pipefail``; kill its whole process group on timeout."""
    with subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            raise AssertionError(
                f"script still running after {timeout}s:\n{err.decode()}"
            ) from None
        text_out, text_err = out.decode("utf-8"), err.decode("utf-8")
        assert process.returncode == 0, f"exit {process.returncode}\n{text_out}\n{text_err}"
        return text_out, text_err
