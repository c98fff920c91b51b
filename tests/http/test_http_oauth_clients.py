"""OAuth client authentication on introspection and revocation (RFC 6749 §2.3, §5.2): an admin
key's id and secret as ``client_secret_basic`` or ``client_secret_post``, besides Bearer."""

from __future__ import annotations

import base64
from typing import Any

import httpx2
import pytest
from admin_support import PASSWORD, admin_key, web_client
from starlette.testclient import TestClient

from tokenward.domain.model import UserRecord
from tokenward.http.oauth import MAX_FIELDS
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.store.base import EventQuery
from tokenward.testing import make_token, make_user

FORM = "application/x-www-form-urlencoded"
BASIC_CHALLENGE = 'Basic realm="tokenward"'


@pytest.fixture
def key(runtime: Runtime) -> CreatedToken:
    """A resource server's admin key: the OAuth client (id ``tok_…``, secret the key)."""
    return admin_key(runtime, make_user(runtime, "root", is_admin=True), "introspect")


def basic(client_id: str, secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def oauth_error(response: httpx2.Response, status: int, error: str) -> dict[str, Any]:
    """Assert an RFC 6749 §5.2 error answer, never cached, and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str) and body["error_description"]
    return body


def revoked_events(runtime: Runtime) -> int:
    return len(runtime.audit.query(EventQuery(type="token.revoked")))


def test_client_secret_basic_and_post_introspect_like_the_bearer_header(
    client: TestClient, runtime: Runtime, alice: UserRecord, key: CreatedToken
) -> None:
    token = make_token(runtime, alice).secret
    by_bearer = client.post(
        "/v1/introspect", data={"token": token}, headers={"Authorization": f"Bearer {key.secret}"}
    )
    by_basic = client.post(
        "/v1/introspect", data={"token": token}, headers=basic(key.record.id, key.secret)
    )
    posted = {"token": token, "client_id": key.record.id, "client_secret": key.secret}
    by_post = client.post("/v1/introspect", data=posted)
    assert by_bearer.json()["active"] is True
    assert by_basic.json() == by_bearer.json() == by_post.json()


def test_basic_credentials_are_form_encoded_before_base64_as_rfc_6749_says(
    client: TestClient, runtime: Runtime, alice: UserRecord, key: CreatedToken
) -> None:
    """§2.3.1: id and secret are application/x-www-form-urlencoded first (``_`` stays as is,
    but a client that escapes it anyway must still be understood)."""
    token = make_token(runtime, alice).secret
    escaped = key.secret.replace("_", "%5F")
    answer = client.post(
        "/v1/introspect", data={"token": token}, headers=basic(key.record.id, escaped)
    )
    assert answer.json()["active"] is True


@pytest.mark.parametrize("method", ["basic", "post"])
@pytest.mark.parametrize("path", ["/v1/introspect", "/v1/revoke"])
def test_a_wrong_secret_and_a_mismatched_id_are_one_and_the_same_invalid_client(
    client: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    key: CreatedToken,
    method: str,
    path: str,
) -> None:
    token = make_token(runtime, alice).secret
    other = admin_key(runtime, make_user(runtime, "ops", is_admin=True), "introspect", label="b")
    wrong = make_token(runtime, alice).secret[:-6] + "AAAAAA"
    bodies = []
    for client_id, secret in [(key.record.id, wrong), (key.record.id, other.secret)]:
        if method == "basic":
            answer = client.post(path, data={"token": token}, headers=basic(client_id, secret))
        else:
            form = {"token": token, "client_id": client_id, "client_secret": secret}
            answer = client.post(path, data=form)
        bodies.append(oauth_error(answer, 401, "invalid_client"))
        assert answer.headers["www-authenticate"] == BASIC_CHALLENGE
    assert bodies[0] == bodies[1]  # nothing tells which part was wrong
    assert client.get("/v1/self", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert revoked_events(runtime) == 0  # a refused revocation changes nothing


def test_revocation_needs_no_client_authentication_but_bad_credentials_change_nothing(
    client: TestClient, runtime: Runtime, alice: UserRecord, key: CreatedToken
) -> None:
    token = make_token(runtime, alice).secret
    self_check = {"Authorization": f"Bearer {token}"}
    refused = client.post("/v1/revoke", data={"token": token}, headers=basic(key.record.id, "x"))
    oauth_error(refused, 401, "invalid_client")
    assert client.get("/v1/self", headers=self_check).status_code == 200
    done = client.post(
        "/v1/revoke", data={"token": token}, headers=basic(key.record.id, key.secret)
    )
    assert (done.status_code, done.text) == (200, "")
    assert client.get("/v1/self", headers=self_check).status_code == 401
    assert revoked_events(runtime) == 1


@pytest.mark.parametrize(
    "garbage", ["Basic !!!", "Basic " + base64.b64encode(b"no colon").decode(), "Basic"]
)
def test_an_unreadable_basic_credential_is_invalid_client_with_the_basic_challenge(
    client: TestClient, runtime: Runtime, alice: UserRecord, garbage: str
) -> None:
    token = make_token(runtime, alice).secret
    for path in ("/v1/introspect", "/v1/revoke"):
        answer = client.post(path, data={"token": token}, headers={"Authorization": garbage})
        oauth_error(answer, 401, "invalid_client")
        assert answer.headers["www-authenticate"] == BASIC_CHALLENGE
    assert revoked_events(runtime) == 0


def test_two_client_authentication_methods_at_once_are_invalid_request(
    client: TestClient, runtime: Runtime, alice: UserRecord, key: CreatedToken
) -> None:
    """RFC 6749 §2.3: one method a request; nothing is revoked."""
    token = make_token(runtime, alice).secret
    form = {"token": token, "client_id": key.record.id, "client_secret": key.secret}
    for header in (basic(key.record.id, key.secret), {"Authorization": f"Bearer {key.secret}"}):
        for path in ("/v1/introspect", "/v1/revoke"):
            oauth_error(client.post(path, data=form, headers=header), 400, "invalid_request")
    lonely = client.post("/v1/revoke", data={"token": token, "client_secret": key.secret})
    assert "client_id" in oauth_error(lonely, 400, "invalid_request")["error_description"]
    assert revoked_events(runtime) == 0


def test_a_client_without_the_introspect_scope_is_403(
    client: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    admin_only = admin_key(runtime, make_user(runtime, "root", is_admin=True))
    token = make_token(runtime, alice).secret
    answer = client.post(
        "/v1/introspect",
        data={"token": token},
        headers=basic(admin_only.record.id, admin_only.secret),
    )
    oauth_error(answer, 403, "insufficient_scope")


def test_unknown_parameters_are_ignored_within_the_caps(
    client: TestClient, runtime: Runtime, alice: UserRecord, key: CreatedToken
) -> None:
    """RFC 6749 §3.1 / RFC 7662 §2.1: what clients add (resource, audience, client_id of a
    Basic client, an assertion) is ignored; past the field cap it is refused."""
    token = make_token(runtime, alice).secret
    extra = {
        "token_type_hint": "access_token",
        "resource": "https://api.example.com/",
        "audience": "api",
        "client_id": key.record.id,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": "e30." * 300,
    }
    headers = basic(key.record.id, key.secret)
    answer = client.post("/v1/introspect", data={"token": token, **extra}, headers=headers)
    assert answer.json()["active"] is True
    crowd = {"token": token, **{f"p{i}": "x" for i in range(MAX_FIELDS)}}
    oauth_error(client.post("/v1/introspect", data=crowd, headers=headers), 400, "invalid_request")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "HEAD"])
def test_another_method_is_405_with_allow_post_in_the_oauth_format(
    client: TestClient, method: str
) -> None:
    for path in ("/v1/introspect", "/v1/revoke"):
        answer = client.request(method, path)
        assert (answer.status_code, answer.headers["allow"]) == (405, "POST")
        if method != "HEAD":
            oauth_error(answer, 405, "invalid_request")


def test_another_method_on_a_plain_route_is_a_405_problem(client: TestClient) -> None:
    for path in ("/v1/self", "/v1/events"):
        answer = client.request("POST", path)
        assert (answer.status_code, answer.headers["allow"]) == (405, "GET")
        assert answer.headers["content-type"] == "application/problem+json"


def test_over_https_a_session_is_read_under_its_host_prefixed_name_here_too(
    runtime: Runtime, alice: UserRecord
) -> None:
    """These endpoints check their callers themselves, with the cookie name the middleware
    would use: an admin's live session may introspect, a dead one is 401 and revokes nothing."""
    make_user(runtime, "root", is_admin=True)
    token = make_token(runtime, alice).secret
    with web_client(runtime, "https://tokens.example") as web:
        login = web.post("/v1/session", json={"username": "root", "password": PASSWORD})
        cookie = {"Cookie": f"__Host-tw_session={login.cookies['__Host-tw_session']}"}
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        web.cookies.clear()
        live = web.post("/v1/introspect", data={"token": token}, headers={**cookie, **csrf})
        assert live.json()["active"] is True
        assert web.delete("/v1/session", headers={**cookie, **csrf}).status_code == 204
        dead = web.post("/v1/revoke", data={"token": token}, headers={**cookie, **csrf})
        oauth_error(dead, 401, "invalid_client")
    assert revoked_events(runtime) == 0
