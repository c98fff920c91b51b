"""The original report, reenacted through each gateway: Debian's nginx (``auth_request``) and
Caddy (``forward_auth``) running the configurations of ``deploy/`` as written (only addresses
replaced), in front of an API that runs nothing of tokenward's (nginx answering static JSON that
echoes the ``Tokenward-*`` headers it received), asking a real ``tokenward serve``."""

from __future__ import annotations

import contextlib
import http.client
import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from server import ADMIN_PASSWORD, Server, clean_env

from gateways import (
    Caddy,
    Gateway,
    Nginx,
    free_port,
    require_caddy,
    require_nginx,
    require_nginx_module,
    rewrite,
)
from installed import ROOT

pytestmark = pytest.mark.slow

NGINX_CONF = ROOT / "deploy" / "nginx" / "forward-auth.conf"
CADDYFILE = ROOT / "deploy" / "caddy" / "Caddyfile"
GATEWAYS = ["nginx", "caddy"]
BOUND = 1.0  # seconds: TOKENWARD_MAX_STALENESS_MS's default
SEEN = {
    "user": "$http_tokenward_user",
    "user_id": "$http_tokenward_user_id",
    "token_id": "$http_tokenward_token_id",
    "scopes": "$http_tokenward_scopes",
    "expires": "$http_tokenward_token_expires",
    "other": "$http_tokenward_anything",
}
NOTHING_SEEN = dict.fromkeys(SEEN, "")


def _echo(body: dict[str, Any]) -> str:
    """An nginx ``return`` of ``body`` plus the Tokenward-* headers the request carried."""
    seen = ",".join(f'"{key}":"{variable}"' for key, variable in SEEN.items())
    return f"return 200 '{json.dumps(body)[:-1]},\"seen\":{{{seen}}}}}';"


def _api(port: int) -> str:
    """The protected API: nginx and two static answers, nothing of tokenward's."""
    return f"""server {{
        listen 127.0.0.1:{port};
        default_type application/json;
        location = /projects {{ {_echo({"projects": ["website", "handbook"]})} }}
        location = /reports {{ {_echo({"reports": ["q3"]})} }}
    }}
    """


HEADERS_MORE = "libnginx-mod-http-headers-more-filter"
# What a Caddy of the tests' own adds before the site: no admin endpoint (two Caddys would
# share its port), storage in its folder.
CADDY_GLOBALS = "{{\n\tadmin off\n\tstorage file_system {home}/data\n}}\n"


@contextlib.contextmanager
def _gateway(kind: str, home: Path, tokenward: int, api: int) -> Iterator[Gateway]:
    """The deployment configuration of ``kind``, as written but for its three addresses."""
    port = free_port()
    addresses = {
        "127.0.0.1:8080": f"127.0.0.1:{tokenward}",
        "127.0.0.1:9000": f"127.0.0.1:{api}",
        "127.0.0.1:8000": f"127.0.0.1:{port}",
    }
    if kind == "nginx":
        require_nginx_module("ngx_http_headers_more_filter_module", HEADERS_MORE)
        site = rewrite(NGINX_CONF.read_text(), addresses)
        with Nginx.running(home / "nginx", site, port) as gateway:
            yield gateway
        return
    caddyfile = CADDY_GLOBALS.format(home=home / "caddy") + rewrite(
        CADDYFILE.read_text(), addresses
    )
    with Caddy.running(home / "caddy", caddyfile, port) as gateway:
        yield gateway


def _log_in(server: Server) -> dict[str, str]:
    """The admin's web session, as headers that may change state: cookie and CSRF token."""
    body = json.dumps({"username": "admin", "password": ADMIN_PASSWORD})
    answer = server.request("POST", "/v1/session", {"Content-Type": "application/json"}, body)
    assert answer.status == 200, answer.text
    cookie = answer.headers["set-cookie"].split(";", 1)[0]
    return {"Cookie": cookie, "X-CSRF-Token": answer.json()["csrf_token"]}


def _token(server: Server, session: dict[str, str], label: str, *scopes: str) -> str:
    """A new token of the admin's with ``scopes``, made over the API (faster than the CLI)."""
    body = json.dumps({"label": label, "scopes": list(scopes)})
    headers = {**session, "Content-Type": "application/json"}
    answer = server.request("POST", "/v1/tokens", headers, body)
    assert answer.status == 201, answer.text
    secret: str = answer.json()["token"]
    return secret


class Stack:
    """tokenward, the API and both gateways, and the admin's session to make tokens."""

    def __init__(self, server: Server, gateways: dict[str, Gateway], api_port: int) -> None:
        self.server = server
        self.gateways = gateways
        self.api_port = api_port
        self.session = _log_in(server)

    def token(self, label: str, *scopes: str) -> str:
        return _token(self.server, self.session, label, *scopes)

    def revoke(self, token: str) -> None:
        token_id = self.self_of(token)[1]["id"]
        answer = self.server.request("DELETE", f"/v1/tokens/{token_id}", self.session)
        assert answer.status == 200, answer.text

    def expire(self, label: str) -> None:
        """Its last day passes, unused (as in the report)."""
        with sqlite3.connect(self.server.cwd / "tokenward.db") as db:
            sql = "UPDATE tokens SET expires_at = '2000-01-01 00:00:00' WHERE label = ?"
            db.execute(sql, (label,))

    def self_of(self, token: str) -> tuple[dict[str, str], Any]:
        answer = self.server.request("GET", "/v1/self", _bearer(token))
        assert answer.status == 200, answer.text
        return answer.headers, answer.json()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_nginx()
    require_caddy()
    home = tmp_path_factory.mktemp("gateways")
    env = {"TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD, "TOKENWARD_FAILED_AUTH_PER_MINUTE": "0"}
    server = Server.start(home, clean_env(env))
    try:
        server.wait_ready()
        api = free_port()
        with (
            Nginx.running(home / "api", _api(api), api),
            _gateway("nginx", home, server.port, api) as nginx,
            _gateway("caddy", home, server.port, api) as caddy,
        ):
            yield Stack(server, {"nginx": nginx, "caddy": caddy}, api)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tokens(stack: Stack) -> dict[str, str]:
    """A token with scope read, one with write only, one expired."""
    made = {"read": stack.token("reader", "read"), "write": stack.token("writer", "write")}
    made["expired"] = stack.token("expiring", "read")
    stack.expire("expiring")
    return made


def _ask(gateway: Gateway, path: str, headers: Mapping[str, str] | None = None) -> Any:
    status, found, body = gateway.request("GET", path, headers)
    return status, found, json.loads(body) if body else None


@pytest.mark.parametrize("kind", GATEWAYS)
def test_an_expired_token_on_the_public_endpoint_is_401_not_the_list(
    stack: Stack, tokens: dict[str, str], kind: str
) -> None:
    gateway = stack.gateways[kind]
    status, headers, body = _ask(gateway, "/projects", _bearer(tokens["expired"]))
    assert status == 401
    assert _send(gateway.port, [*_bearer(tokens["expired"]).items()])[:2] == (
        401,
        headers["www-authenticate"],
    )
    assert 'error="invalid_token"' in headers["www-authenticate"]
    assert "expired" in headers["www-authenticate"]
    assert "projects" not in body
    assert headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("kind", GATEWAYS)
def test_anonymous_callers_get_the_public_list_and_no_identity(stack: Stack, kind: str) -> None:
    status, headers, body = _ask(stack.gateways[kind], "/projects")
    assert status == 200
    assert body == {"projects": ["website", "handbook"], "seen": NOTHING_SEEN}
    assert "tokenward-token-expires" not in headers


@pytest.mark.parametrize("kind", GATEWAYS)
def test_a_valid_token_passes_with_its_identity_and_its_expiry(
    stack: Stack, tokens: dict[str, str], kind: str
) -> None:
    status, headers, body = _ask(stack.gateways[kind], "/reports", _bearer(tokens["read"]))
    me_headers, me = stack.self_of(tokens["read"])
    expires = me_headers["tokenward-token-expires"]
    assert status == 200
    assert headers["tokenward-token-expires"] == expires
    assert body["seen"] == {
        "user": "admin",
        "user_id": me["user"]["id"],
        "token_id": me["id"],
        "scopes": "read",
        "expires": expires,
        "other": "",
    }


@pytest.mark.parametrize("kind", GATEWAYS)
def test_a_token_without_read_on_the_scoped_endpoint_is_403_naming_read(
    stack: Stack, tokens: dict[str, str], kind: str
) -> None:
    gateway = stack.gateways[kind]
    status, headers, body = _ask(gateway, "/reports", _bearer(tokens["write"]))
    assert status == 403
    assert 'error="insufficient_scope"' in headers["www-authenticate"]
    assert 'scope="read"' in headers["www-authenticate"]
    assert "reports" not in body
    assert _send(gateway.port, [*_bearer(tokens["write"]).items()], "/reports")[0] == 403
    status, challenge, _ = _send(gateway.port, [], "/reports")  # anonymous: a token is needed
    assert (status, challenge) == (401, 'Bearer realm="tokenward"')


@pytest.mark.parametrize("kind", GATEWAYS)
def test_a_revoked_token_is_refused_within_the_bound(stack: Stack, kind: str) -> None:
    gateway, token = stack.gateways[kind], stack.token(f"revoked via {kind}", "read")
    for _ in range(3):  # the first verifies it in the store, the next from the cache
        assert _ask(gateway, "/projects", _bearer(token))[0] == 200
    stack.revoke(token)
    revoked_at = time.monotonic()
    while (answer := _ask(gateway, "/projects", _bearer(token)))[0] == 200:
        assert time.monotonic() - revoked_at < BOUND, "served past the bound"
        time.sleep(0.005)
    status, headers, _ = answer
    assert status == 401
    assert "revoked" in headers["www-authenticate"]


@pytest.mark.parametrize("kind", GATEWAYS)
def test_tokenward_headers_sent_by_the_client_never_reach_the_api(
    stack: Stack, tokens: dict[str, str], kind: str
) -> None:
    forged = {
        "Tokenward-User": "admin",
        "Tokenward-User-Id": "usr_forged",
        "Tokenward-Scopes": "read admin",
        "Tokenward-Token-Expires": "never",
        "Tokenward-Anything": "forged",
        "Tokenward-Require-Token": "false",
    }
    gateway = stack.gateways[kind]
    status, _, body = _ask(gateway, "/projects", forged)
    assert (status, body["seen"]) == (200, NOTHING_SEEN)
    status, _, body = _ask(gateway, "/reports", {**forged, **_bearer(tokens["read"])})
    assert status == 200
    assert (body["seen"]["scopes"], body["seen"]["other"]) == ("read", "")
    assert body["seen"]["user_id"] != "usr_forged"


def _send(
    port: int, headers: list[tuple[str, str]], path: str = "/projects"
) -> tuple[int, str, bytes]:
    """GET ``path`` with ``headers`` as given (repeats included): status, the one challenge
    (there must not be two), body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        answer = conn.getresponse()
        challenges = answer.msg.get_all("WWW-Authenticate") or [""]
        assert len(challenges) == 1, challenges
        return answer.status, challenges[0], answer.read()
    finally:
        conn.close()


@pytest.mark.parametrize("kind", GATEWAYS)
def test_a_malformed_authorization_is_400_invalid_request(stack: Stack, kind: str) -> None:
    port = stack.gateways[kind].port
    status, challenge, body = _send(port, [("Authorization", "Bearer not one token")])
    assert (status, b"projects" in body) == (400, False)
    assert 'error="invalid_request"' in challenge
    # Two Authorization headers: 400 too (nginx refuses them itself, Caddy passes tokenward's).
    twice = [("Authorization", "Bearer one"), ("Authorization", "Bearer two")]
    status, _, body = _send(port, twice)
    assert (status, b"projects" in body) == (400, False)


OTHER_CLIENT = "127.0.0.2"  # a second client address on loopback (Linux routes 127.0.0.0/8)


def _from(
    address: str, gateway: Gateway, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """GET /projects through ``gateway`` from the client ``address``."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", gateway.port, timeout=10, source_address=(address, 0)
    )
    try:
        conn.request("GET", "/projects", headers=headers)
        answer = conn.getresponse()
        found = {k.lower(): v for k, v in answer.getheaders()}
        return answer.status, found, answer.read()
    finally:
        conn.close()


def test_too_many_failures_is_429_and_tokenward_down_is_503_never_the_apis_answer(
    tmp_path: Path, stack: Stack
) -> None:
    """A tokenward of their own behind both gateways (2 failed credentials a minute per client
    address, which the gateways pass on and tokenward believes because they are its trusted
    proxies): the limit reaches the client as 429 with Retry-After,
    a valid token is never limited; then it is killed (the gateways' kept-alive connections to
    it die with it)."""
    env = {
        "TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "TOKENWARD_FAILED_AUTH_PER_MINUTE": "2",
        "TOKENWARD_TRUSTED_PROXIES": "127.0.0.1",  # the gateways, as docs/gateways.md says
    }
    server = Server.start(tmp_path, clean_env(env), name="doomed")
    try:
        server.wait_ready()
        token = _token(server, _log_in(server), "doomed")
        unknown = _bearer("twu_" + "x" * 49)
        with (
            _gateway("nginx", tmp_path, server.port, stack.api_port) as nginx,
            _gateway("caddy", tmp_path, server.port, stack.api_port) as caddy,
        ):
            other = [_from(OTHER_CLIENT, gateway, unknown)[0] for gateway in (nginx, caddy)]
            assert other == [401, 401]  # one client through either gateway: one count
            for gateway in (nginx, caddy):
                status, found, body = _from(OTHER_CLIENT, gateway, unknown)
                assert (status, b"projects" in body) == (429, False)
                assert int(found["retry-after"]) > 0
                assert _from(OTHER_CLIENT, gateway, _bearer(token))[0] == 200  # never limited
                assert (
                    _ask(gateway, "/projects", unknown)[0] == 401
                )  # another client: counted apart
            server.kill()
            for gateway in (nginx, caddy):
                for headers in (_bearer(token), {}):
                    status, found, body = _ask(gateway, "/projects", headers)
                    assert status == 503, body
                    assert found["retry-after"] == "1"
                    assert "projects" not in body
    finally:
        server.stop()
