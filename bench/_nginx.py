"""nginx for the gateway bench: Debian's binary in a folder of its own, one worker pinned to
one core, with the deployment configuration of ``deploy/nginx`` (addresses replaced) beside a
server without auth and the static upstream both proxy to."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import _servers

__all__ = ["DEPLOYED", "NginxError", "running", "site"]

DEPLOYED = Path(__file__).parents[1] / "deploy" / "nginx" / "forward-auth.conf"
ENABLED_MODULES = Path("/etc/nginx/modules-enabled")  # Debian's packaged modules
PREFIX = Path("/usr/share/nginx")  # what their relative paths are relative to
BODY = '{"projects":["website","handbook"]}'
MAIN = """\
{modules}{user}worker_processes 1;
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {home}/client_body;
    proxy_temp_path {home}/proxy;
    fastcgi_temp_path {home}/fastcgi;
    uwsgi_temp_path {home}/uwsgi;
    scgi_temp_path {home}/scgi;
    include {home}/site.conf;
}}
"""


class NginxError(RuntimeError):
    """nginx refused the configuration or did not come up."""


def site(*, gateway: int, bare: int, upstream: int, tokenward: int, home: Path) -> str:
    """The deployed configuration (on ``gateway``), the same proxying without auth (on
    ``bare``), and the upstream: a static JSON file served by nginx itself."""
    deployed = DEPLOYED.read_text()
    for old, new in {
        "127.0.0.1:8080": f"127.0.0.1:{tokenward}",
        "127.0.0.1:9000": f"127.0.0.1:{upstream}",
        "127.0.0.1:8000": f"127.0.0.1:{gateway}",
    }.items():
        if old not in deployed:
            raise NginxError(f"{DEPLOYED} no longer contains {old}")
        deployed = deployed.replace(old, new)
    (home / "projects.json").write_text(BODY)
    return f"""{deployed}
server {{
    listen 127.0.0.1:{bare};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /projects {{ proxy_pass http://api; }}
}}
server {{
    listen 127.0.0.1:{upstream};
    keepalive_requests 1000000;
    location = /projects {{ default_type application/json; alias {home}/projects.json; }}
}}
"""


@contextlib.contextmanager
def running(home: Path, site_conf: str, core: int, ready_url: str) -> Iterator[int]:
    """nginx with ``site_conf``, its worker pinned to ``core``; yields the worker's pid."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    (home / "site.conf").write_text(site_conf)
    user = "user root;\n" if os.geteuid() == 0 else ""  # else nobody, who cannot read $home
    main = home / "nginx.conf"
    main.write_text(MAIN.format(home=home, user=user, modules=_modules()))
    command = [binary, "-p", str(home), "-c", str(main), "-e", str(home / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        raise NginxError(f"nginx -t refused the configuration:\n{checked.stderr}")
    pinned = ["taskset", "-c", str(core), *command, "-g", "daemon off;"]
    with _servers.running(pinned, ready_url=ready_url, log=home / "nginx.log") as master:
        yield _worker_of(master.pid)


def _worker_of(master: int) -> int:
    """nginx's one worker process (the master only hands it the connections)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise NginxError(f"expected one nginx worker, found {len(children)}")
    return int(children[0])


def _modules() -> str:
    lines = []
    for enabled in sorted(ENABLED_MODULES.glob("*.conf")):
        for line in enabled.read_text().splitlines():
            words = line.strip().rstrip(";").split()
            if len(words) == 2 and words[0] == "load_module":
                lines.append(f"load_module {PREFIX / words[1]};\n")
    return "".join(lines)
