"""A session cookie that is not live (expired, logged out, never issued) is a presented
credential that is not valid: on the API it is ``401`` with a challenge, never anonymous
treatment, so a script can tell "log in again" from "you may not" (P2, issue 17 point 4).
Pages keep sending the browser to the login page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from admin_support import BARE_CHALLENGE, PASSWORD, ProblemCheck, log_in, web_client
from starlette.testclient import TestClient

from tokenward.domain import tokens as token_format
from tokenward.domain.model import UserRecord
from tokenward.domain.tokens import TokenKind
from tokenward.http.oauth import PATHS as OAUTH_PATHS
from tokenward.runtime import Runtime
from tokenward.testing import FakeClock

DEAD = ["expired", "logged-out", "unknown"]
API = [("GET", "/v1/policy"), ("GET", "/v1/self"), ("GET", "/v1/tokens"), ("POST", "/v1/revoke")]


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    with web_client(runtime) as client:
        yield client


def _dead_cookie(kind: str, web: TestClient, clock: FakeClock) -> dict[str, str]:
    if kind == "unknown":
        return {"Cookie": f"tw_session={token_format.generate(TokenKind.SESSION)}"}
    session = log_in(web, "alice")
    if kind == "expired":
        clock.advance(hours=12)  # the session's lifetime
    else:
        assert web.delete("/v1/session", headers=session.writes).status_code == 204
    return session.cookie


def _oauth_problem(response: httpx2.Response) -> Any:
    """The OAuth endpoints' errors: RFC 6749 §5.2 JSON, the problem's members beside."""
    assert (response.status_code, response.headers["content-type"]) == (401, "application/json")
    body = response.json()
    assert (body["error"], body["error_description"]) == ("invalid_client", body["detail"])
    return body


@pytest.mark.parametrize("kind", DEAD)
def test_a_dead_session_cookie_on_the_api_is_401_never_anonymous(
    web: TestClient, clock: FakeClock, alice: UserRecord, problem: ProblemCheck, kind: str
) -> None:
    cookie = _dead_cookie(kind, web, clock)
    for method, path in API:
        response = web.request(method, path, headers=cookie)
        body = _oauth_problem(response) if path in OAUTH_PATHS else problem(response, 401)
        assert body["type"] == "/problems/session-ended", path
        assert "log in again" in body["detail"]
        assert response.headers["www-authenticate"] == BARE_CHALLENGE
        assert response.headers["cache-control"] == "no-store"
    assert web.get("/v1/policy").status_code == 200  # without the cookie: anonymous, as ever


@pytest.mark.parametrize("kind", DEAD)
def test_a_dead_session_cookie_on_a_page_leads_to_the_login_page(
    web: TestClient, clock: FakeClock, alice: UserRecord, kind: str
) -> None:
    cookie = _dead_cookie(kind, web, clock)
    for path in ("/", "/ui/tokens"):
        response = web.get(path, headers=cookie, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/ui/login")


def test_logging_in_again_with_a_dead_cookie_gets_a_new_session(
    web: TestClient, clock: FakeClock, alice: UserRecord
) -> None:
    cookie = _dead_cookie("expired", web, clock)
    body = {"username": "alice", "password": PASSWORD}
    response = web.post("/v1/session", json=body, headers=cookie)
    assert response.status_code == 200
    fresh = {"Cookie": f"tw_session={response.cookies['tw_session']}"}
    web.cookies.clear()
    assert web.get("/v1/self", headers=fresh).json()["user"]["username"] == "alice"
