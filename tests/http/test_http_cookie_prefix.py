"""The session cookie is ``__Host-tw_session`` wherever it is Secure (issue 17, point 6): a
browser takes such a cookie only from this host over HTTPS, so a sibling host cannot plant a
session. The server reads the session only under the name it would have set."""

from __future__ import annotations

from admin_support import LOOPBACK, PASSWORD, web_client

from tokenward.domain.model import UserRecord
from tokenward.runtime import Runtime

HTTPS = "https://tokens.example"


def _log_in(runtime: Runtime, base_url: str) -> tuple[str, str]:
    """(cookie name, secret) of a login over ``base_url``."""
    with web_client(runtime, base_url) as client:
        response = client.post("/v1/session", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    name, _, rest = response.headers["set-cookie"].partition("=")
    return name, rest.split(";", 1)[0]


def _session_status(runtime: Runtime, base_url: str, cookie: str) -> int:
    with web_client(runtime, base_url) as client:
        return client.get("/v1/session", headers={"Cookie": cookie}).status_code


def test_over_https_the_host_prefixed_cookie_is_the_session(
    runtime: Runtime, alice: UserRecord
) -> None:
    name, secret = _log_in(runtime, HTTPS)
    assert name == "__Host-tw_session"
    assert _session_status(runtime, HTTPS, f"__Host-tw_session={secret}") == 200


def test_over_https_a_plain_tw_session_cookie_is_not_a_session(
    runtime: Runtime, alice: UserRecord
) -> None:
    """What a sibling subdomain could plant: the same secret under the unprefixed name."""
    _, secret = _log_in(runtime, HTTPS)
    assert _session_status(runtime, HTTPS, f"tw_session={secret}") == 401


def test_on_plain_loopback_the_cookie_keeps_its_plain_name(
    runtime: Runtime, alice: UserRecord
) -> None:
    """A browser refuses ``__Host-`` cookies without Secure, and refuses Secure ones over
    plain HTTP: on loopback the cookie is ``tw_session``, and only that name is read."""
    name, secret = _log_in(runtime, LOOPBACK)
    assert name == "tw_session"
    assert _session_status(runtime, LOOPBACK, f"tw_session={secret}") == 200
    assert _session_status(runtime, LOOPBACK, f"__Host-tw_session={secret}") == 401


def test_logging_out_over_https_drops_the_prefixed_cookie(
    runtime: Runtime, alice: UserRecord
) -> None:
    _, secret = _log_in(runtime, HTTPS)
    with web_client(runtime, HTTPS) as client:
        csrf = client.get("/v1/session", headers={"Cookie": f"__Host-tw_session={secret}"})
        response = client.delete(
            "/v1/session",
            headers={
                "Cookie": f"__Host-tw_session={secret}",
                "X-CSRF-Token": csrf.json()["csrf_token"],
            },
        )
    assert response.status_code == 204
    dropped = response.headers["set-cookie"]
    assert dropped.startswith('__Host-tw_session="";') and "Secure" in dropped
