"""The gateway harness runs Debian's nginx and Caddy as the tests' own processes, each in a
folder of its own, on loopback ports that no other test shares."""

from __future__ import annotations

import json
from pathlib import Path

from gateways import Caddy, Nginx, free_port, rewrite

STATIC = {"projects": ["website", "handbook"]}


def test_nginx_serves_a_static_upstream_from_the_tests_own_folder(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "projects.json").write_text(json.dumps(STATIC))
    port = free_port()
    site = f"""server {{
        listen 127.0.0.1:{port};
        location = /projects {{
            default_type application/json;
            alias {tmp_path}/www/projects.json;
        }}
    }}"""
    with Nginx.running(tmp_path / "nginx", site, port) as nginx:
        status, headers, body = nginx.request("GET", "/projects")
    assert (status, json.loads(body)) == (200, STATIC)
    assert headers["content-type"] == "application/json"
    assert (tmp_path / "nginx" / "access.log").read_text().count("GET /projects") == 1


def test_caddy_serves_with_its_admin_endpoint_off_and_its_storage_in_the_folder(
    tmp_path: Path,
) -> None:
    port = free_port()
    caddyfile = f"""{{
        admin off
        auto_https off
        storage file_system {tmp_path}/caddy/data
    }}
    http://127.0.0.1:{port} {{
        respond /projects `{json.dumps(STATIC)}` 200
    }}"""
    with Caddy.running(tmp_path / "caddy", caddyfile, port) as caddy:
        status, _, body = caddy.request("GET", "/projects")
    assert (status, json.loads(body)) == (200, STATIC)


def test_rewrite_refuses_a_configuration_that_lost_an_address() -> None:
    assert rewrite("proxy_pass http://127.0.0.1:8080;", {"8080": "9"}) == (
        "proxy_pass http://127.0.0.1:9;"
    )
    try:
        rewrite("proxy_pass http://127.0.0.1:8080;", {"127.0.0.2": "x"})
    except AssertionError as error:
        assert "127.0.0.2" in str(error)
    else:
        raise AssertionError("rewrite accepted a missing address")
