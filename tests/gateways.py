"""Real gateways for the tests: Debian's nginx and Caddy, run as child processes on loopback.

Each gateway gets a folder of its own (configuration, logs, pid file, temporary files) and its
own ports, so tests and concurrent test runs never share one. ``make gateways`` installs both
packages; where one is missing the test is skipped naming it, or fails under ``CI=true``.

The deployment configurations in ``deploy/`` are meant to be used as written: a test reads the
file, replaces only the addresses (``rewrite``) and includes it in the small main configuration
built here, which holds what a distribution's own ``nginx.conf`` would (events, temp paths,
logs), so that nothing outside the test's folder is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from backends import require_service

__all__ = [
    "Caddy",
    "Gateway",
    "Nginx",
    "free_port",
    "require_caddy",
    "require_nginx",
    "require_nginx_module",
    "rewrite",
]

READY_WITHIN = 10.0  # seconds
# Debian's packaged modules load themselves through these files, with paths relative to
# nginx's own prefix; the tests' nginx runs with a prefix of its own, so they are made absolute.
NGINX_ENABLED_MODULES = Path("/etc/nginx/modules-enabled")
NGINX_PREFIX = Path("/usr/share/nginx")
NGINX_MODULES = Path("/usr/lib/nginx/modules")
NGINX_MAIN = """\
{modules}{user}worker_processes 1;
pid {home}/nginx.pid;
error_log {home}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {home}/access.log;
    client_body_temp_path {home}/client_body;
    proxy_temp_path {home}/proxy;
    fastcgi_temp_path {home}/fastcgi;
    uwsgi_temp_path {home}/uwsgi;
    scgi_temp_path {home}/scgi;
    include {home}/site.conf;
}}
"""


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def require_nginx() -> str:
    """The nginx binary (skip, or fail under CI, when it is not installed)."""
    found = shutil.which("nginx") or _sbin("nginx")
    require_service("nginx (Debian's package; `make gateways` installs it)", found is not None)
    assert found is not None
    return found


def require_nginx_module(name: str, package: str) -> None:
    """Skip (or fail under CI) when Debian's nginx module ``name`` (the ``.so`` file's stem) is
    not installed; ``package`` is what to install."""
    found = (NGINX_MODULES / f"{name}.so").exists()
    require_service(f"nginx's {name} ({package}; `make gateways` installs it)", found)


def require_caddy() -> str:
    """The caddy binary (skip, or fail under CI, when it is not installed)."""
    found = shutil.which("caddy")
    require_service("caddy (Debian's package; `make gateways` installs it)", found is not None)
    assert found is not None
    return found


def rewrite(text: str, replacements: Mapping[str, str]) -> str:
    """``text`` with each key replaced by its value; every key must occur, so a config that
    drifts from what the test expects fails loudly instead of testing something else."""
    for old, new in replacements.items():
        if old not in text:
            raise AssertionError(f"the configuration no longer contains {old!r}")
        text = text.replace(old, new)
    return text


@dataclasses.dataclass
class Gateway:
    """A gateway process listening on ``port`` (loopback), stopped by :meth:`stop`."""

    home: Path
    port: int
    process: subprocess.Popen[bytes]

    def request(
        self, method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a new connection: status, headers (lower-case names), body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body or None, headers=dict(headers or {}))
            answer = conn.getresponse()
            found = {k.lower(): v for k, v in answer.getheaders()}
            return answer.status, found, answer.read()
        finally:
            conn.close()

    def wait_ready(self, path: str = "/") -> None:
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the gateway exited early:\n{self.log}")
            with contextlib.suppress(OSError):
                self.request("GET", path)
                return
            time.sleep(0.05)
        raise AssertionError(f"the gateway did not answer within {READY_WITHIN}s:\n{self.log}")

    def reload(self) -> None:
        """Re-read the configuration (SIGHUP), as an operator's reload would."""
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    @property
    def log(self) -> str:
        parts = [p.read_text(errors="replace") for p in sorted(self.home.glob("*.log"))]
        return "\n".join(parts)[-4000:]


class Nginx:
    """nginx with ``site`` (a configuration of ``http`` level: upstreams and servers)."""

    @staticmethod
    @contextlib.contextmanager
    def running(home: Path, site: str, port: int) -> Iterator[Gateway]:
        binary = require_nginx()
        home.mkdir(parents=True, exist_ok=True)
        (home / "site.conf").write_text(site)
        main = home / "nginx.conf"
        # As root, nginx's workers would run as nobody, who cannot read pytest's 0700 folders.
        user = "user root;\n" if os.geteuid() == 0 else ""
        main.write_text(NGINX_MAIN.format(home=home, user=user, modules=_debian_modules()))
        command = [binary, "-p", str(home), "-c", str(main), "-e", str(home / "error.log")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, f"nginx -t refused the configuration:\n{checked.stderr}"
        yield from _run([*command, "-g", "daemon off;"], home, port)


class Caddy:
    """Caddy with ``caddyfile`` (its admin endpoint off, its storage in ``home``)."""

    @staticmethod
    @contextlib.contextmanager
    def running(home: Path, caddyfile: str, port: int) -> Iterator[Gateway]:
        binary = require_caddy()
        home.mkdir(parents=True, exist_ok=True)
        config = home / "Caddyfile"
        config.write_text(caddyfile)
        env = {"HOME": str(home), "XDG_DATA_HOME": str(home), "XDG_CONFIG_HOME": str(home)}
        checked = subprocess.run(
            [binary, "validate", "--config", str(config), "--adapter", "caddyfile"],
            capture_output=True,
            text=True,
            env=env,
        )
        assert checked.returncode == 0, f"caddy validate refused the Caddyfile:\n{checked.stderr}"
        command = [binary, "run", "--config", str(config), "--adapter", "caddyfile"]
        yield from _run(command, home, port, env)


def _run(
    command: list[str], home: Path, port: int, env: Mapping[str, str] | None = None
) -> Iterator[Gateway]:
    with (home / "process.log").open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=home,
            env=None if env is None else {"PATH": "/usr/bin:/bin", **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    gateway = Gateway(home, port, process)
    try:
        gateway.wait_ready()
        yield gateway
    finally:
        gateway.stop()


def _debian_modules() -> str:
    """The ``load_module`` lines of Debian's enabled modules, as its ``nginx.conf`` includes
    them, with absolute paths."""
    lines = []
    for enabled in sorted(NGINX_ENABLED_MODULES.glob("*.conf")):
        for line in enabled.read_text().splitlines():
            words = line.strip().rstrip(";").split()
            if len(words) == 2 and words[0] == "load_module":
                lines.append(f"load_module {NGINX_PREFIX / words[1]};\n")
    return "".join(lines)


def _sbin(name: str) -> str | None:
    path = Path("/usr/sbin") / name
    return str(path) if path.exists() else None
