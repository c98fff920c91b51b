"""tokenward behind the real nginx of ``deploy/nginx/tokenward.conf``, as written: the tests
replace only its ports, its certificate paths and the nodes' addresses.

TLS uses a certificate made here for ``127.0.0.1`` (with ``openssl``), which the
clients trust as their only CA. Clients may connect from any loopback address
(``127.0.0.0/8``), so one machine has many "people" behind one proxy, and nginx (which
connects to the nodes from ``127.0.0.1``) is the only trusted proxy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import shutil
import ssl
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from backends import require_service
from gateways import Gateway, Nginx, free_port, rewrite
from installed import ROOT

__all__ = ["Front", "Reply", "front", "rss_kib", "self_signed"]

CONF = ROOT / "deploy" / "nginx" / "tokenward.conf"
NGINX_ADDRESS = "127.0.0.1"  # where nginx connects to the nodes from: the trusted proxy


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for ``127.0.0.1``, valid for a day (Debian's ``openssl``)."""
    openssl = shutil.which("openssl")
    require_service("openssl (Debian's package)", openssl is not None)
    assert openssl is not None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1"),
            *("-subj", "/CN=tokenward test", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # names in lower case; repeated ones joined with ", "
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclasses.dataclass
class Front:
    """nginx in front of the nodes: ``https`` terminates TLS, ``http`` redirects to it."""

    nginx: Gateway
    http_port: int
    https_port: int
    ca: Path

    def connect(self, source: str = "127.0.0.1") -> http.client.HTTPSConnection:
        """A TLS connection to nginx from loopback address ``source``."""
        context = ssl.create_default_context(cafile=str(self.ca))
        return http.client.HTTPSConnection(
            "127.0.0.1", self.https_port, timeout=15, context=context, source_address=(source, 0)
        )

    def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        source: str = "127.0.0.1",
    ) -> Reply:
        """One request on a new connection from ``source``."""
        conn = self.connect(source)
        try:
            return exchange(conn, method, path, headers, body)
        finally:
            conn.close()


def exchange(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
) -> Reply:
    """One request on ``conn`` (kept open for the next)."""
    conn.request(method, path, body=body, headers=dict(headers or {}))
    answer = conn.getresponse()
    found: dict[str, str] = {}
    for name, value in answer.getheaders():
        key = name.lower()
        found[key] = f"{found[key]}, {value}" if key in found else value
    return Reply(answer.status, found, answer.read())


@contextlib.contextmanager
def front(home: Path, node_ports: Sequence[int]) -> Iterator[Front]:
    """nginx with ``deploy/nginx/tokenward.conf`` before the nodes at ``node_ports`` (one to
    three; with fewer than three, the last fills the remaining upstream entries)."""
    ports = [*node_ports, *[node_ports[-1]] * (3 - len(node_ports))]
    http_port, https_port = free_port(), free_port()
    home.mkdir(parents=True, exist_ok=True)
    cert, key = self_signed(home)
    site = rewrite(
        CONF.read_text(),
        {
            "listen 80;": f"listen 127.0.0.1:{http_port};",
            "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
            "/etc/ssl/tokenward/fullchain.pem": str(cert),
            "/etc/ssl/tokenward/privkey.pem": str(key),
            "127.0.0.1:8081": f"127.0.0.1:{ports[0]}",
            "127.0.0.1:8082": f"127.0.0.1:{ports[1]}",
            "127.0.0.1:8083": f"127.0.0.1:{ports[2]}",
        },
    )
    with Nginx.running(home / "nginx", site, http_port) as nginx:
        yield Front(nginx, http_port, https_port, cert)


def rss_kib(pid: int) -> int:
    """The resident memory of process ``pid`` (``VmRSS`` in ``/proc/<pid>/status``), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")
