"""Standard OAuth client libraries, with their defaults, against real ``tokenward serve`` nodes
(issue 13): Authlib's httpx ``OAuth2Client`` (client_secret_basic), Authlib's
``ResourceProtector`` with an ``IntrospectTokenValidator`` in a small Flask app, and
requests-oauth2client with ``auth=(id, secret)`` (client_secret_post) and ``ClientSecretBasic``.
Each introspects, revokes (the token is then refused on both nodes within the bound) and meets
a wrong secret with its own invalid-client error."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flask
import pytest
import requests
from authlib.integrations.flask_oauth2 import ResourceProtector  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import OAuth2Client as AuthlibClient  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.errors import InvalidClientError  # type: ignore[import-untyped]
from authlib.oauth2.rfc7662 import IntrospectTokenValidator  # type: ignore[import-untyped]
from oauth_support import Credential, Nodes, two_nodes
from requests_oauth2client import ClientSecretBasic, InvalidClient
from requests_oauth2client import OAuth2Client as RoClient

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    yield from two_nodes(Path(tmp_path_factory.mktemp("oauth")))


@pytest.fixture
def client_key(nodes: Nodes) -> Credential:
    return nodes.client_key()


# -- each library as two callables: introspect(token) -> dict, revoke(token) ----------------

Calls = tuple[Callable[[str], Any], Callable[[str], None]]


def authlib_calls(nodes: Nodes, key: Credential, closing: contextlib.ExitStack) -> Calls:
    """Authlib's defaults: client_secret_basic for both endpoints. Its client hands back the
    HTTP response; its errors module names the RFC 6749 codes, raised here as it would be."""
    client = closing.enter_context(AuthlibClient(key.id, key.secret))

    def checked(answer: Any) -> Any:
        if answer.status_code != 200:
            assert answer.json()["error"] == InvalidClientError.error
            raise InvalidClientError(description=answer.json()["error_description"])
        return answer

    def introspect(token: str) -> Any:
        return checked(client.introspect_token(nodes.url("/v1/introspect"), token=token)).json()

    def revoke(token: str) -> None:
        checked(client.revoke_token(nodes.url("/v1/revoke"), token=token))

    return introspect, revoke


def ro_calls(nodes: Nodes, auth: Any, closing: contextlib.ExitStack) -> Calls:
    """requests-oauth2client wants a token endpoint; tokenward has none, and none is called."""
    client = RoClient(
        token_endpoint=nodes.url("/no-token-endpoint"),
        introspection_endpoint=nodes.url("/v1/introspect"),
        revocation_endpoint=nodes.url("/v1/revoke"),
        auth=auth,
        testing=True,  # plain HTTP on loopback
    )
    closing.callback(client.session.close)

    def revoke(token: str) -> None:
        assert client.revoke_access_token(token) is True

    return client.introspect_token, revoke


LIBRARIES: dict[str, Callable[[Nodes, Credential, contextlib.ExitStack], Calls]] = {
    "authlib": authlib_calls,
    "requests-oauth2client-post": lambda nodes, key, closing: ro_calls(
        nodes, (key.id, key.secret), closing
    ),
    "requests-oauth2client-basic": lambda nodes, key, closing: ro_calls(
        nodes, ClientSecretBasic(key.id, key.secret), closing
    ),
}
LibraryFor = Callable[[str, Credential], Calls]
INVALID_CLIENT = {
    "authlib": InvalidClientError,
    "requests-oauth2client-post": InvalidClient,
    "requests-oauth2client-basic": InvalidClient,
}


@pytest.fixture
def library_for(nodes: Nodes) -> Iterator[Callable[[str, Credential], Calls]]:
    """``library_for(name, key)``: that library's calls as client ``key``; closed afterwards."""
    with contextlib.ExitStack() as closing:
        yield lambda name, key: LIBRARIES[name](nodes, key, closing)


@pytest.mark.parametrize("library", LIBRARIES)
def test_introspection_active_then_inactive_for_unknown_revoked_and_expired_tokens(
    nodes: Nodes, client_key: Credential, library_for: LibraryFor, library: str
) -> None:
    introspect, _ = library_for(library, client_key)
    token = nodes.token()
    active = introspect(token.secret)
    assert (active["active"], active["tokenward_id"], active["token_type"]) == (
        True,
        token.id,
        "Bearer",
    )
    assert active["username"] == "admin"
    revoked = nodes.token("to revoke")
    assert (
        nodes.a.request(
            "POST",
            "/v1/revoke",
            {"Content-Type": "application/x-www-form-urlencoded"},
            f"token={revoked.secret}",
        ).status
        == 200
    )
    for dead in (nodes.unknown_token(), revoked.secret, nodes.expired_token()):
        assert introspect(dead) == {"active": False}


@pytest.mark.parametrize("library", LIBRARIES)
def test_revocation_with_default_client_authentication_is_honoured_by_both_nodes_in_the_bound(
    nodes: Nodes, client_key: Credential, library_for: LibraryFor, library: str
) -> None:
    _, revoke = library_for(library, client_key)
    token = nodes.token()
    for node in (nodes.a, nodes.b):  # both have it cached
        assert nodes.status_of(node, token.secret) == 200
    since = time.monotonic()
    revoke(token.secret)
    waited = nodes.refused_everywhere_within(token.secret, since)
    print(f"[oauth] {library}: revoked through A, refused by A and B after {waited * 1000:.0f} ms")


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_wrong_secret_raises_the_librarys_own_invalid_client_error_and_changes_nothing(
    nodes: Nodes, client_key: Credential, library_for: LibraryFor, library: str
) -> None:
    wrong = Credential(client_key.id, nodes.client_key("another").secret)
    introspect, revoke = library_for(library, wrong)
    token = nodes.token()
    with pytest.raises(INVALID_CLIENT[library]):
        introspect(token.secret)
    with pytest.raises(INVALID_CLIENT[library]):
        revoke(token.secret)
    assert nodes.status_of(nodes.a, token.secret) == nodes.status_of(nodes.b, token.secret) == 200


# -- Authlib's ResourceProtector in a resource server of its own -----------------------------


def flask_resource_server(nodes: Nodes, key: Credential) -> flask.Flask:
    """The common pattern: introspection with ``auth=(id, secret)`` from the validator."""

    class TokenwardValidator(IntrospectTokenValidator):  # type: ignore[misc]
        def introspect_token(self, token_string: str) -> Any:
            answer = requests.post(
                nodes.url("/v1/introspect"),
                data={"token": token_string, "token_type_hint": "access_token"},
                auth=(key.id, key.secret),
                timeout=5,
            )
            answer.raise_for_status()
            return answer.json()

    protect = ResourceProtector()
    protect.register_token_validator(TokenwardValidator())
    app = flask.Flask("projects")

    @app.get("/projects")
    @protect("tokens:read")  # type: ignore[untyped-decorator]
    def projects() -> dict[str, Any]:
        return {"projects": ["apollo"]}

    @app.get("/admin")
    @protect("admin")  # type: ignore[untyped-decorator]
    def admin() -> dict[str, Any]:
        return {}

    return app


def test_authlibs_resource_protector_serves_valid_tokens_and_refuses_dead_ones(
    nodes: Nodes, client_key: Credential
) -> None:
    resource = flask_resource_server(nodes, client_key).test_client()
    token = nodes.token()

    def get(path: str, secret: str) -> Any:
        return resource.get(path, headers={"Authorization": f"Bearer {secret}"})

    assert get("/projects", token.secret).json == {"projects": ["apollo"]}
    assert get("/admin", token.secret).status_code == 403  # insufficient_scope
    for dead in (nodes.unknown_token(), nodes.expired_token()):
        refused = get("/projects", dead)
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    with AuthlibClient(client_key.id, client_key.secret) as client:
        assert client.revoke_token(nodes.url("/v1/revoke"), token=token.secret).status_code == 200
    assert get("/projects", token.secret).status_code == 401
