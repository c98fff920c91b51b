"""tokenward.sdk.client against a real tokenward server in a thread: every method of ``Client``
and ``AsyncClient`` (each test body runs with both), the typed answers, and one exception type
per kind of refusal, none of which shows a secret."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sdk_client_support import (
    KINDS,
    SECRET_SHAPE,
    Connect,
    admin_key,
    connector,
    serve,
    socket_closed,
    until,
)

from tokenward.domain import tokens as token_format
from tokenward.domain.errors import StoreUnavailable
from tokenward.domain.model import UserRecord
from tokenward.domain.tokens import TokenKind
from tokenward.http.app import create_app
from tokenward.passwords import PasswordHasher
from tokenward.runtime import Runtime
from tokenward.sdk import client as client_module
from tokenward.sdk.client import (
    AsyncClient,
    AuditEvent,
    Client,
    ConflictError,
    CreatedToken,
    Deactivation,
    ForbiddenError,
    Introspection,
    InvalidTokenError,
    LifetimePolicy,
    LifetimeRule,
    NotFoundError,
    Policy,
    RateLimitedError,
    Revocation,
    SelfInfo,
    TokenInfo,
    TokenwardError,
    UnavailableError,
    User,
    ValidationError,
)
from tokenward.service import CreatedToken as ServerCreatedToken
from tokenward.settings import Settings
from tokenward.store.base import EventQuery
from tokenward.store.sql import SqlStore
from tokenward.testing import TEST_ACTOR, FakeClock, make_token, make_user

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # FakeClock's start
UNKNOWN_TOKEN = token_format.generate(TokenKind.USER)  # well-formed, never stored


@pytest.fixture
def root(runtime: Runtime) -> UserRecord:
    return make_user(runtime, "root", is_admin=True)


@pytest.fixture
def ops_key(runtime: Runtime, root: UserRecord) -> ServerCreatedToken:
    return admin_key(runtime, root, "admin")


@pytest.fixture
def introspect_key(runtime: Runtime, root: UserRecord) -> ServerCreatedToken:
    return admin_key(runtime, root, "introspect")


# --- the public surface --------------------------------------------------------------------------

EXPORTS = {
    *("Client", "AsyncClient"),
    *("AuditEvent", "CreatedToken", "Deactivation", "Introspection", "LifetimePolicy"),
    *("LifetimeRule", "Policy", "Revocation", "SelfInfo", "TokenInfo", "User", "UserRef"),
    *("RotatedToken", "CreatedWebhook", "Webhook", "WebhookDelivery"),
    *("TokenwardError", "InvalidTokenError", "ForbiddenError", "NotFoundError"),
    *("ConflictError", "ValidationError", "RateLimitedError", "UnavailableError"),
}


def test_the_client_module_exports_the_intended_names_and_one_error_hierarchy() -> None:
    assert set(client_module.__all__) == EXPORTS
    errors = [getattr(client_module, n) for n in EXPORTS if n.endswith("Error")]
    assert all(issubclass(error, client_module.TokenwardError) for error in errors)


def _methods(cls: type) -> set[str]:
    return {name for name, value in vars(cls).items() if callable(value) and name[0] != "_"}


def test_the_twins_have_the_same_methods_each_with_a_one_line_docstring() -> None:
    assert _methods(Client) - {"close"} == _methods(AsyncClient) - {"aclose"}
    for cls in (Client, AsyncClient):
        for name in _methods(cls):
            doc = getattr(cls, name).__doc__
            assert doc and "\n" not in doc.strip(), f"{cls.__name__}.{name}"


# --- the caller's own token ---------------------------------------------------------------------


def test_self_and_policy_answer_typed_frozen_values_with_aware_times(
    connect: Connect, runtime: Runtime, alice: UserRecord, alice_token: ServerCreatedToken
) -> None:
    client = connect(alice_token.secret)
    me = client.self()
    assert isinstance(me, SelfInfo)
    assert (me.id, me.kind, me.label) == (alice_token.record.id, "user_token", "alice's laptop")
    assert me.scopes == ("tokens:read", "tokens:write")
    assert (me.user.id, me.user.username) == (alice.id, "alice")
    assert me.created_at == NOW and me.created_at.tzinfo is not None
    assert me.expires_at == NOW + timedelta(days=90)
    with pytest.raises(dataclasses.FrozenInstanceError):
        me.label = "changed"  # type: ignore[misc]
    policy = client.policy()
    assert isinstance(policy, Policy)
    assert policy.user_token == LifetimeRule(90, 365, allow_no_expiry=False)
    assert (policy.admin_key, policy.reminder_days) == (LifetimeRule(7, 365), (30, 7, 1))
    assert policy.max_staleness_ms == runtime.settings.max_staleness.total_seconds() * 1000
    assert {"tokens:read", "tokens:write"} <= set(policy.scopes)


def test_a_created_token_carries_its_secret_once_and_works(
    connect: Connect, alice_token: ServerCreatedToken
) -> None:
    client = connect(alice_token.secret)
    created = client.create_token("ci deploy", expires_in_days=30, scopes=["tokens:read"])
    assert isinstance(created, CreatedToken)
    assert created.token.startswith("twu_") and created.token.startswith(created.hint[:-1])
    assert (created.label, created.scopes) == ("ci deploy", ("tokens:read",))
    assert (created.created_at, created.expires_at) == (NOW, NOW + timedelta(days=30))
    assert created.token not in repr(created)
    assert connect(created.token).self().id == created.id
    info = client.get_token(created.id)
    assert isinstance(info, TokenInfo)
    assert (info.id, info.status, info.kind, info.hint, info.user_id) == (
        created.id,
        "active",
        "user_token",
        created.hint,
        None,
    )
    at = NOW + timedelta(days=3, hours=2)
    assert client.create_token("exact", expires_at=at).expires_at == at
    default = client.create_token("default")
    assert (default.expires_at, default.scopes) == (NOW + timedelta(days=90), ())


BAD_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("", {}, "label"),
    ("x" * 101, {}, "label"),
    ("too long", {"expires_in_days": 366}, "expires_in_days"),
    ("forever", {"never_expires": True}, "never_expires"),  # the default policy forbids it
    ("two expiries", {"expires_in_days": 1, "never_expires": True}, "never_expires"),
    ("unknown scope", {"scopes": ["admin"]}, "scopes"),
]


def test_a_bad_field_is_a_validation_error_naming_it(
    connect: Connect, alice_token: ServerCreatedToken
) -> None:
    client = connect(alice_token.secret)
    for label, options, field in BAD_FIELDS:
        with pytest.raises(ValidationError) as refused:
            client.create_token(label, **options)
        assert refused.value.status == 422
        assert [name for name, _ in refused.value.fields] == [field], (label, options)
        assert all(message for _, message in refused.value.fields)
        assert refused.value.problem["type"] == "/problems/invalid-input"
    with pytest.raises(ValidationError) as refused:
        list(client.list_tokens(limit=0))
    assert [field for field, _ in refused.value.fields] == ["limit"]


def test_list_tokens_follows_the_cursor_across_every_page_and_filters_by_status(
    connect: Connect, runtime: Runtime, alice: UserRecord, alice_token: ServerCreatedToken
) -> None:
    more = [make_token(runtime, alice, f"t{i}").record.id for i in range(7)]
    client = connect(alice_token.secret)
    listed = list(client.list_tokens(limit=3))  # 8 tokens: 3 pages
    assert all(isinstance(item, TokenInfo) for item in listed)
    assert sorted(item.id for item in listed) == sorted([alice_token.record.id, *more])
    assert len(listed) == 8
    runtime.tokens.revoke(more[0], by=TEST_ACTOR, owner_id=alice.id)
    revoked = list(client.list_tokens(status="revoked", limit=1))
    assert [(t.id, t.status, t.revoked_at) for t in revoked] == [(more[0], "revoked", NOW)]
    assert len(list(client.list_tokens(status="active", limit=2))) == 7


def test_revoking_is_idempotent_and_may_wait_for_every_live_node(
    connect: Connect, runtime: Runtime, alice: UserRecord, alice_token: ServerCreatedToken
) -> None:
    client = connect(alice_token.secret)
    first, second = make_token(runtime, alice, "one"), make_token(runtime, alice, "two")
    done = client.revoke_token(first.record.id)
    assert isinstance(done, Revocation)
    assert (done.id, done.status, done.revoked_at) == (first.record.id, "revoked", NOW)
    assert done.effective_by >= NOW and done.confirmed_by is None and done.pending is None
    assert client.revoke_token(first.record.id).revoked_at == NOW  # again: the same answer
    until(lambda: len(runtime.receipts.live_nodes()) == 1)
    waited = client.revoke_token(second.record.id, wait=True)
    assert waited.confirmed_by == (runtime.receipts.node_id,) and waited.pending == ()
    with pytest.raises(InvalidTokenError):
        connect(second.secret).self()


# --- refusals -------------------------------------------------------------------------------------


def test_another_users_token_is_not_found_and_an_id_cannot_reach_another_route(
    connect: Connect, runtime: Runtime, alice_token: ServerCreatedToken
) -> None:
    bobs = make_token(runtime, make_user(runtime, "bob"), "bob's")
    client = connect(alice_token.secret)
    for attempt in (client.get_token, client.revoke_token):
        with pytest.raises(NotFoundError) as refused:
            attempt(bobs.record.id)
        assert refused.value.status == 404
        assert refused.value.problem["title"] == "Not found"
    assert connect(bobs.secret).get_token(bobs.record.id).status == "active"
    # Unquoted, "../admin/users" would resolve to /v1/admin/users (403 for alice, not 404)
    # and ".." to /v1.
    for climbing in ("../admin/users", "..", "."):
        with pytest.raises(NotFoundError):
            client.get_token(climbing)
    with pytest.raises(ValueError, match="empty"):
        client.get_token("")


def test_a_revoked_token_is_an_invalid_token_error(
    connect: Connect, runtime: Runtime, alice: UserRecord, alice_token: ServerCreatedToken
) -> None:
    client = connect(alice_token.secret)
    runtime.tokens.revoke(alice_token.record.id, by=TEST_ACTOR, owner_id=alice.id)
    with pytest.raises(InvalidTokenError) as refused:
        client.self()
    assert refused.value.status == 401
    assert refused.value.problem["error"] == "invalid_token"
    assert "revoked" in str(refused.value)
    with pytest.raises(InvalidTokenError):
        list(client.list_tokens())


def test_a_missing_scope_is_forbidden_and_names_the_scope(
    connect: Connect, runtime: Runtime, alice: UserRecord, ops_key: ServerCreatedToken
) -> None:
    reader = connect(make_token(runtime, alice, "reader", scopes=("tokens:read",)).secret)
    ops = connect(ops_key.secret)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: reader.create_token("x"), "tokens:write"),
        (lambda: reader.revoke_token("tok_whatever"), "tokens:write"),
        (lambda: list(reader.list_users()), "admin"),
        (lambda: reader.create_admin_key("x"), "admin"),
        (lambda: reader.introspect(UNKNOWN_TOKEN), "introspect"),
        (lambda: list(ops.list_tokens()), "tokens:read"),  # an admin key has admin scopes only
    ]
    for attempt, scope in cases:
        with pytest.raises(ForbiddenError) as refused:
            attempt()
        assert (refused.value.status, refused.value.scope) == (403, scope)
        assert refused.value.problem["error"] == "insufficient_scope"


# --- OAuth 2.0 ---------------------------------------------------------------------------------


def test_introspection_describes_an_active_token_and_only_active_false_otherwise(
    connect: Connect,
    alice: UserRecord,
    alice_token: ServerCreatedToken,
    introspect_key: ServerCreatedToken,
) -> None:
    client = connect(introspect_key.secret)
    found = client.introspect(alice_token.secret)
    assert found == Introspection(
        active=True,
        scopes=("tokens:read", "tokens:write"),
        client_id=alice_token.record.id,
        username="alice",
        sub=alice.id,
        token_type="Bearer",
        exp=NOW + timedelta(days=90),
        iat=NOW,
        tokenward_id=alice_token.record.id,
    )
    for other in (UNKNOWN_TOKEN, "not a token at all", "twu_" + "1" * 49):
        assert client.introspect(other) == Introspection(active=False)
    with pytest.raises(ValidationError) as refused:  # RFC 6749 §5.2 error, not a problem
        client.introspect("")
    assert (refused.value.status, refused.value.fields) == (400, [])
    assert refused.value.problem["error"] == "invalid_request"
    assert "exactly one 'token' parameter" in str(refused.value)


def test_rfc7009_revocation_needs_only_the_token_and_is_quiet_about_unknown_ones(
    connect: Connect,
    runtime: Runtime,
    alice: UserRecord,
    alice_token: ServerCreatedToken,
    introspect_key: ServerCreatedToken,
) -> None:
    leaked = make_token(runtime, alice, "leaked")
    bystander = connect(introspect_key.secret)
    bystander.revoke(leaked.secret)
    bystander.revoke(UNKNOWN_TOKEN)
    assert bystander.introspect(leaked.secret) == Introspection(active=False)
    assert connect(alice_token.secret).get_token(leaked.record.id).status == "revoked"


# --- admin -------------------------------------------------------------------------------------


def test_an_admin_creates_lists_deactivates_and_reactivates_users_and_names_conflicts(
    connect: Connect, runtime: Runtime, root: UserRecord, ops_key: ServerCreatedToken
) -> None:
    client = connect(ops_key.secret)
    carol = client.create_user("carol", "a-long-password-for-carol")
    assert isinstance(carol, User)
    assert (carol.username, carol.is_admin, carol.status, carol.created_at) == (
        "carol",
        False,
        "active",
        NOW,
    )
    carols = [make_token(runtime, runtime.accounts.by_id(carol.id), f"c{i}") for i in range(2)]
    listed = {user.username: user for user in client.list_users()}
    assert listed.keys() == {"root", "carol"}
    assert (listed["carol"].active_tokens, listed["root"].active_tokens) == (2, 1)
    assert listed["carol"].email is None
    dave = client.create_user("dave", "a-long-password-for-dave", email="dave@example.org")
    assert dave.email == runtime.accounts.by_id(dave.id).email == "dave@example.org"
    until(lambda: len(runtime.receipts.live_nodes()) == 1)
    done = client.deactivate_user(carol.id, wait=True)
    assert isinstance(done, Deactivation)
    assert (done.id, done.status, done.tokens_revoked) == (carol.id, "deactivated", 2)
    assert done.confirmed_by == (runtime.receipts.node_id,) and done.pending == ()
    with pytest.raises(InvalidTokenError):
        connect(carols[0].secret).self()
    assert client.reactivate_user(carol.id).status == "active"
    with pytest.raises(InvalidTokenError):  # revoked tokens stay revoked
        connect(carols[1].secret).self()
    with pytest.raises(NotFoundError):
        client.deactivate_user("usr_nobody")
    with pytest.raises(ConflictError) as taken:
        client.create_user("ROOT", "a-long-password-for-root2")
    assert taken.value.status == 409
    with pytest.raises(ValidationError) as bad:
        client.create_user("no spaces allowed", "a-long-password-for-x")
    assert [field for field, _ in bad.value.fields] == ["username"]


def test_an_admin_lists_every_token_with_filters_and_revokes_anyones(
    connect: Connect,
    runtime: Runtime,
    alice: UserRecord,
    alice_token: ServerCreatedToken,
    ops_key: ServerCreatedToken,
) -> None:
    client = connect(ops_key.secret)
    everything = list(client.list_all_tokens(limit=1))  # one a page: follows the cursor
    assert {(t.id, t.kind, t.user_id) for t in everything} == {
        (alice_token.record.id, "user_token", alice.id),
        (ops_key.record.id, "admin_key", ops_key.record.user_id),
    }
    assert [t.id for t in client.list_all_tokens(user="alice")] == [alice_token.record.id]
    assert [t.id for t in client.list_all_tokens(user=alice.id)] == [alice_token.record.id]
    assert [t.id for t in client.list_all_tokens(kind="admin_key")] == [ops_key.record.id]
    done = client.revoke_any_token(alice_token.record.id)
    assert (done.id, done.status) == (alice_token.record.id, "revoked")
    assert [t.id for t in client.list_all_tokens(status="revoked")] == [alice_token.record.id]
    with pytest.raises(ValidationError) as bad:
        list(client.list_all_tokens(kind="session"))
    assert [field for field, _ in bad.value.fields] == ["kind"]
    with pytest.raises(NotFoundError):
        list(client.list_all_tokens(user="nobody"))


def test_an_admin_makes_lists_and_revokes_admin_keys(
    connect: Connect, alice_token: ServerCreatedToken, ops_key: ServerCreatedToken
) -> None:
    client = connect(ops_key.secret)
    key = client.create_admin_key("ci")
    assert key.token.startswith("twa_") and key.scopes == ("admin",)
    assert key.expires_at == NOW + timedelta(days=7)
    assert connect(key.token).self().kind == "admin_key"
    assert {k.id for k in client.list_admin_keys()} == {key.id, ops_key.record.id}
    assert client.revoke_admin_key(key.id).status == "revoked"
    assert [k.id for k in client.list_admin_keys(status="revoked")] == [key.id]
    with pytest.raises(InvalidTokenError):
        connect(key.token).self()
    with pytest.raises(NotFoundError):  # a user token is not an admin key
        client.revoke_admin_key(alice_token.record.id)
    with pytest.raises(ValidationError) as bad:
        client.create_admin_key("long", expires_in_days=366)
    assert [field for field, _ in bad.value.fields] == ["expires_in_days"]


def test_an_admin_reads_and_replaces_the_policy(
    connect: Connect, alice_token: ServerCreatedToken, ops_key: ServerCreatedToken
) -> None:
    client = connect(ops_key.secret)
    policy = client.get_policy()
    assert policy == LifetimePolicy(LifetimeRule(90, 365), LifetimeRule(7, 365), (30, 7, 1))
    relaxed = dataclasses.replace(policy, user_token=LifetimeRule(30, 60, allow_no_expiry=True))
    assert client.put_policy(relaxed) == relaxed
    alice = connect(alice_token.secret)
    assert alice.policy().user_token == relaxed.user_token
    assert alice.create_token("forever", never_expires=True).expires_at is None
    assert client.put_policy(policy.to_document()) == policy  # a plain document works too
    bad = {**policy.to_document(), "user_token": {"default_days": 0, "max_days": 10}}
    with pytest.raises(ValidationError) as refused:
        client.put_policy(bad)
    assert [field for field, _ in refused.value.fields] == ["user_token.default_days"]
    assert client.get_policy() == policy


def test_the_audit_log_is_read_oldest_first_across_pages_with_filters(
    connect: Connect,
    runtime: Runtime,
    alice: UserRecord,
    alice_token: ServerCreatedToken,
    ops_key: ServerCreatedToken,
) -> None:
    client = connect(ops_key.secret)
    client.revoke_any_token(alice_token.record.id)
    expected = [e.seq for e in runtime.audit.query(EventQuery(0, 1000))]
    events = list(client.audit(limit=2))
    assert all(isinstance(e, AuditEvent) for e in events)
    assert [e.seq for e in events] == expected and len(expected) > 4
    revoked = list(client.audit(type="token.revoked"))
    assert [(e.type, e.subject, e.actor) for e in revoked] == [
        ("token.revoked", alice_token.record.id, ops_key.record.id)
    ]
    assert revoked[0].at == NOW and revoked[0].details["token_id"] == alice_token.record.id
    with pytest.raises(TypeError):
        revoked[0].details["token_id"] = "changed"  # type: ignore[index]
    second_last = expected[-2]
    assert second_last is not None
    assert [e.seq for e in client.audit(after=second_last)] == expected[-1:]
    assert {e.subject for e in client.audit(subject=alice.id)} == {alice.id}
    assert {e.actor for e in client.audit(actor=ops_key.record.id)} == {ops_key.record.id}


# --- faults, limits and secrecy ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_repeated_bad_tokens_are_rate_limited_with_retry_after(
    kind: str, database_url: str, clock: FakeClock
) -> None:
    settings = Settings(database_url=database_url, failed_auth_per_minute=1)
    store = SqlStore(database_url)
    limited = Runtime.build(
        settings, store=store, clock=clock, passwords=PasswordHasher.fast_for_tests()
    )
    try:
        with serve(create_app(limited)) as url, ExitStack() as stack:
            guesser = connector(kind, url, stack)(UNKNOWN_TOKEN)
            with pytest.raises(InvalidTokenError):
                guesser.self()
            with pytest.raises(RateLimitedError) as limited_error:
                guesser.self()
    finally:
        store.dispose()
    assert (limited_error.value.status, limited_error.value.retry_after) == (429, 60.0)


def test_an_unreachable_store_is_unavailable_with_retry_after(
    connect: Connect,
    runtime: Runtime,
    alice_token: ServerCreatedToken,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down(digest: str) -> None:
        raise StoreUnavailable("connection refused")

    # The fault is the server's own: a token not yet cached is looked up in a store that fails.
    monkeypatch.setattr(runtime.store, "principal_by_digest", down)
    with pytest.raises(UnavailableError) as refused:
        connect(alice_token.secret).self()
    assert (refused.value.status, refused.value.retry_after) == (503, 1.0)


@pytest.mark.parametrize("kind", KINDS)
def test_no_server_at_all_is_unavailable_without_a_status(kind: str) -> None:
    with socket_closed() as url, ExitStack() as stack:
        client = connector(kind, url, stack)(UNKNOWN_TOKEN)
        with pytest.raises(UnavailableError) as refused:
            client.self()
    assert refused.value.status is None
    # Neither cause nor context: the transport's exception holds the request and its headers.
    assert refused.value.__cause__ is None and refused.value.__context__ is None
    assert "cannot reach the tokenward server" in str(refused.value)
    assert UNKNOWN_TOKEN not in str(refused.value) + repr(refused.value)


def _refusals(client: Client, bystander: str) -> list[Callable[[], object]]:
    """Calls that fail while carrying another secret in a path, a body or a form."""
    return [
        lambda: client.get_token(bystander),
        lambda: client.revoke_token(bystander),
        lambda: client.create_token("x", scopes=[bystander]),
        lambda: client.introspect(bystander),
        lambda: list(client.list_users()),
    ]


def test_no_secret_appears_in_any_error_or_in_the_clients(
    runtime: Runtime,
    base_url: str,
    alice: UserRecord,
    alice_token: ServerCreatedToken,
) -> None:
    secret = alice_token.secret
    bystander = make_token(runtime, alice, "bystander").secret
    errors: list[TokenwardError] = []
    with ExitStack() as stack:
        clients = [connector(kind, base_url, stack)(secret) for kind in KINDS]
        for client in clients:
            for attempt in _refusals(client, bystander):
                with pytest.raises(TokenwardError) as refused:
                    attempt()
                errors.append(refused.value)
        runtime.tokens.revoke(alice_token.record.id, by=TEST_ACTOR, owner_id=alice.id)
        for client in clients:
            with pytest.raises(InvalidTokenError) as invalid:
                client.self()
            errors.append(invalid.value)
    shown = [text for e in errors for text in (str(e), repr(e), repr(e.args), repr(e.problem))]
    assert len(errors) == 12
    assert not [text for text in shown if SECRET_SHAPE.search(text)]
    with Client(base_url, secret) as sync:
        assert repr(sync) == f"Client(base_url={base_url!r})"
        assert secret not in str(sync)
    asynchronous = AsyncClient(base_url, secret)
    assert repr(asynchronous) == f"AsyncClient(base_url={base_url!r})"
    assert secret not in str(asynchronous)


# --- the async client natively, and the transport seam -----------------------------------------


@pytest.mark.anyio
async def test_the_async_client_is_an_async_context_manager_with_async_iteration(
    base_url: str, runtime: Runtime, alice: UserRecord, alice_token: ServerCreatedToken
) -> None:
    for i in range(4):
        make_token(runtime, alice, f"t{i}")
    async with AsyncClient(base_url, alice_token.secret) as client:
        created = await client.create_token("async", expires_in_days=1)
        listed = [token.id async for token in client.list_tokens(limit=2)]
    assert created.id in listed and len(listed) == len(set(listed)) == 6


@pytest.mark.anyio
async def test_the_async_client_takes_an_httpx_transport(
    runtime: Runtime, alice_token: ServerCreatedToken
) -> None:
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with AsyncClient("http://tokenward", alice_token.secret, transport=transport) as client:
        assert (await client.self()).id == alice_token.record.id


def test_the_client_takes_an_httpx_transport(
    base_url: str, alice_token: ServerCreatedToken
) -> None:
    with Client(base_url, alice_token.secret, transport=httpx.HTTPTransport(retries=1)) as client:
        assert client.self().id == alice_token.record.id


def test_client_errors_redact_tokens_glued_together_whole() -> None:
    """Two tokens glued together in an error's text: the second's body does not survive."""
    from tokenward.sdk._client_errors import redact

    first, second = token_format.generate(TokenKind.USER), token_format.generate(TokenKind.USER)
    assert redact(f"bad value {first}{second}.") == "bad value [redacted]."
