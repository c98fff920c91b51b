"""A first end-to-end pass through the ASGI app."""

from starlette.testclient import TestClient

from tokenward.runtime import Runtime
from tokenward.testing import make_token, make_user


def test_self_answers_for_a_valid_token_and_401_after_revoke(
    client: TestClient, runtime: Runtime
) -> None:
    owner = make_user(runtime)
    created = make_token(runtime, owner)
    auth = {"Authorization": f"Bearer {created.secret}"}
    assert client.get("/v1/self", headers=auth).json()["id"] == created.record.id
    assert client.delete(f"/v1/tokens/{created.record.id}", headers=auth).status_code == 200
    assert client.get("/v1/self", headers=auth).status_code == 401
