"""tokenward.sdk.client's lifecycle methods against a real tokenward server in a thread: rotation
with a grace, leak reports (with or without a token) and webhooks, each test body run with both
``Client`` and ``AsyncClient``; and token metadata that names rotations."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sdk_client_support import (
    KINDS,
    SECRET_SHAPE,
    Connect,
    admin_key,
    connector,
    socket_closed,
)

import tokenward.sdk as sdk
from tokenward.domain import tokens as token_format
from tokenward.domain.addresses import parse_networks
from tokenward.domain.model import UserRecord
from tokenward.domain.tokens import TokenKind
from tokenward.runtime import Runtime
from tokenward.sdk import _models_json as read
from tokenward.sdk.client import (
    AsyncClient,
    Client,
    ConflictError,
    CreatedToken,
    ForbiddenError,
    InvalidTokenError,
    NotFoundError,
    TokenInfo,
    ValidationError,
)
from tokenward.service import CreatedToken as ServerCreatedToken
from tokenward.testing import TEST_ACTOR, FakeClock, make_token, make_user

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # FakeClock's start
UNKNOWN_TOKEN = token_format.generate(TokenKind.USER)  # well-formed, never stored
SOURCE = "https://gist.example/leak"
HOOK_URL = "https://hooks.example.org/tw?key=receivers-own-key"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """The delivery-log test's dead receiver is on loopback: open that range on purpose."""
    return {"webhook_allowed_networks": parse_networks(["127.0.0.0/8"])}


@pytest.fixture
def ops_key(runtime: Runtime) -> ServerCreatedToken:
    return admin_key(runtime, make_user(runtime, "root", is_admin=True), "admin")


# --- the public surface --------------------------------------------------------------------------

NEW_MODELS = ("CreatedWebhook", "RotatedToken", "Webhook", "WebhookDelivery")


def test_the_new_values_are_exported_from_tokenward_sdk() -> None:
    assert set(NEW_MODELS) <= set(sdk.__all__)
    assert all(dataclasses.is_dataclass(getattr(sdk, name)) for name in NEW_MODELS)
    for name in ("rotate_token", "report_leaks", "create_webhook", "list_webhooks"):
        assert hasattr(Client, name) and hasattr(AsyncClient, name), name
    for name in ("delete_webhook", "webhook_deliveries"):
        assert hasattr(Client, name) and hasattr(AsyncClient, name), name


def test_token_metadata_from_a_server_without_rotation_still_parses() -> None:
    older = {
        "id": "tok_1",
        "kind": "user_token",
        "label": "old",
        "hint": "twu_abc…",
        "scopes": [],
        "status": "active",
        "created_at": "2026-01-01T12:00:00.000Z",
    }
    info = read.token_info(older)
    assert (info.rotated_from, info.rotated_to, info.grace_until) == (None, None, None)
    assert (info.last_used_at, info.last_used_from, info.expires_at) == (None, None, None)


# --- rotation -------------------------------------------------------------------------------------


def test_rotation_answers_a_working_successor_and_the_old_secret_lasts_through_its_grace(
    connect: Connect, alice_token: ServerCreatedToken, clock: FakeClock
) -> None:
    old_id = alice_token.record.id
    rotated = connect(alice_token.secret).rotate_token(old_id, grace_seconds=60)
    assert isinstance(rotated, sdk.RotatedToken) and isinstance(rotated, CreatedToken)
    assert (rotated.rotated_from, rotated.grace_seconds) == (old_id, 60)
    assert rotated.grace_until == NOW + timedelta(days=7)  # the cap, until the first use
    assert (rotated.label, rotated.scopes) == ("alice's laptop", ("tokens:read", "tokens:write"))
    assert rotated.expires_at == NOW + timedelta(days=90)
    assert SECRET_SHAPE.fullmatch(rotated.token) and rotated.token not in repr(rotated)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rotated.grace_seconds = 0  # type: ignore[misc]
    assert connect(alice_token.secret).self().id == old_id  # before the new one is used
    new = connect(rotated.token)
    assert new.self().id == rotated.id  # the first use starts the grace
    old_info = new.get_token(old_id)
    assert isinstance(old_info, TokenInfo)
    assert (old_info.rotated_to, old_info.grace_until) == (rotated.id, NOW + timedelta(seconds=60))
    new_info = new.get_token(rotated.id)
    assert (new_info.rotated_from, new_info.rotated_to, new_info.grace_until) == (
        old_id,
        None,
        None,
    )
    clock.advance(seconds=59)
    assert connect(alice_token.secret).self().id == old_id
    clock.advance(seconds=1)
    with pytest.raises(InvalidTokenError):
        connect(alice_token.secret).self()
    listed = {t.id: t for t in new.list_tokens()}
    assert (listed[old_id].status, listed[old_id].rotated_to) == ("expired", rotated.id)


def test_without_a_grace_the_old_secret_works_until_the_new_ones_first_use(
    connect: Connect, alice_token: ServerCreatedToken
) -> None:
    rotated = connect(alice_token.secret).rotate_token(alice_token.record.id)
    assert rotated.grace_seconds == 0
    assert connect(alice_token.secret).self().id == alice_token.record.id
    assert connect(rotated.token).self().id == rotated.id
    with pytest.raises(InvalidTokenError):
        connect(alice_token.secret).self()


@pytest.mark.parametrize("grace", [-1, 7 * 24 * 3600 + 1, True])
def test_a_bad_grace_is_a_validation_error_naming_grace_seconds_and_rotates_nothing(
    connect: Connect, alice_token: ServerCreatedToken, grace: int
) -> None:
    client = connect(alice_token.secret)
    with pytest.raises(ValidationError) as refused:
        client.rotate_token(alice_token.record.id, grace_seconds=grace)
    assert refused.value.status == 422
    assert [field for field, _ in refused.value.fields] == ["grace_seconds"]
    assert client.get_token(alice_token.record.id).rotated_to is None


def test_rotating_someone_elses_token_is_not_found_and_a_dead_or_rotated_one_a_conflict(
    connect: Connect, runtime: Runtime, alice: UserRecord, alice_token: ServerCreatedToken
) -> None:
    bobs = make_token(runtime, make_user(runtime, "bob"), "bob's")
    client = connect(alice_token.secret)
    for other in (bobs.record.id, "tok_nonsense", "../admin/users"):
        with pytest.raises(NotFoundError) as refused:
            client.rotate_token(other)
        assert refused.value.status == 404
    assert connect(bobs.secret).get_token(bobs.record.id).rotated_to is None
    revoked = make_token(runtime, alice, "revoked")
    runtime.tokens.revoke(revoked.record.id, by=TEST_ACTOR, owner_id=alice.id)
    with pytest.raises(ConflictError):
        client.rotate_token(revoked.record.id)
    twice = make_token(runtime, alice, "twice")
    newer = client.rotate_token(twice.record.id).id
    with pytest.raises(ConflictError) as again:
        client.rotate_token(twice.record.id)
    assert again.value.status == 409 and newer in str(again.value)
    with pytest.raises(ValueError, match="empty"):
        client.rotate_token("")


def test_a_read_only_token_may_not_rotate(
    connect: Connect, runtime: Runtime, alice: UserRecord, alice_token: ServerCreatedToken
) -> None:
    reader = connect(make_token(runtime, alice, "reader", scopes=("tokens:read",)).secret)
    with pytest.raises(ForbiddenError) as refused:
        reader.rotate_token(alice_token.record.id)
    assert (refused.value.status, refused.value.scope) == (403, "tokens:write")


# --- leak reports ---------------------------------------------------------------------------------


def test_anyone_reports_leaks_without_a_token_and_a_reported_token_is_refused_afterwards(
    connect: Connect, runtime: Runtime, alice: UserRecord, alice_token: ServerCreatedToken
) -> None:
    witness = make_token(runtime, alice, "witness")
    assert connect(alice_token.secret).self().id == alice_token.record.id
    anonymous = connect(None)
    strings = [alice_token.secret, UNKNOWN_TOKEN, "not a token", alice_token.secret]
    assert anonymous.report_leaks(strings, SOURCE) == 4  # every string, valid or not
    with pytest.raises(InvalidTokenError):
        connect(alice_token.secret).self()
    info = connect(witness.secret).get_token(alice_token.record.id)
    assert (info.status, info.revoked_at) == ("revoked", NOW)
    assert connect(witness.secret).self().id == witness.record.id  # only the reported one
    assert anonymous.report_leaks([], SOURCE) == 0
    assert anonymous.report_leaks((UNKNOWN_TOKEN,), SOURCE) == 1
    assert anonymous.policy().max_staleness_ms > 0  # the other call anyone may make
    with pytest.raises(InvalidTokenError):  # the rest needs a token
        anonymous.self()


def test_the_count_is_the_same_whatever_was_reported(
    connect: Connect, runtime: Runtime, alice: UserRecord
) -> None:
    client = connect(None)
    valid = [make_token(runtime, alice, f"t{i}").secret for i in range(3)]
    garbage = [UNKNOWN_TOKEN, "x", ""]
    assert client.report_leaks(valid, SOURCE) == client.report_leaks(garbage, SOURCE) == 3
    for secret in valid:
        with pytest.raises(InvalidTokenError):
            connect(secret).self()


def test_an_authenticated_reporter_may_report_and_bad_reports_name_the_field(
    connect: Connect, runtime: Runtime, alice_token: ServerCreatedToken
) -> None:
    bobs = make_token(runtime, make_user(runtime, "bob"), "bob's")
    client = connect(alice_token.secret)
    assert client.report_leaks([bobs.secret], SOURCE) == 1
    with pytest.raises(InvalidTokenError):
        connect(bobs.secret).self()
    for tokens, source, field in (
        (["x"], "", "source"),
        (["x"] * 101, SOURCE, "tokens"),
        (["x" * 1001], SOURCE, "tokens.0"),
    ):
        with pytest.raises(ValidationError) as refused:
            client.report_leaks(tokens, source)
        assert [name for name, _ in refused.value.fields] == [field]
    with pytest.raises(TypeError, match="not one string"):  # it would report each character
        client.report_leaks(alice_token.secret, SOURCE)
    assert client.self().id == alice_token.record.id


def test_a_revoked_reporter_is_refused_as_on_every_endpoint(
    connect: Connect, runtime: Runtime, alice: UserRecord, alice_token: ServerCreatedToken
) -> None:
    client = connect(alice_token.secret)
    runtime.tokens.revoke(alice_token.record.id, by=TEST_ACTOR, owner_id=alice.id)
    with pytest.raises(InvalidTokenError):
        client.report_leaks([UNKNOWN_TOKEN], SOURCE)


@pytest.mark.parametrize("kind", KINDS)
def test_an_empty_token_is_refused_at_once_not_taken_for_none(kind: str) -> None:
    with socket_closed() as url, ExitStack() as stack, pytest.raises(ValueError, match="empty"):
        connector(kind, url, stack)("")


# --- webhooks -------------------------------------------------------------------------------------


def test_an_admin_adds_lists_and_deletes_a_webhook_whose_secret_is_shown_once(
    connect: Connect, ops_key: ServerCreatedToken
) -> None:
    client = connect(ops_key.secret)
    created = client.create_webhook(HOOK_URL, ["token.expiring", "token.created"])
    assert isinstance(created, sdk.CreatedWebhook) and isinstance(created, sdk.Webhook)
    assert created.secret.startswith("whsec_") and len(created.secret) > 40
    assert (created.url, created.events) == (HOOK_URL, ("token.created", "token.expiring"))
    assert (created.created_at, created.created_by) == (NOW, ops_key.record.id)
    assert created.secret not in repr(created) and "receivers-own-key" not in repr(created)
    listed = list(client.list_webhooks())
    assert [type(hook) for hook in listed] == [sdk.Webhook]
    assert not hasattr(listed[0], "secret")
    assert listed[0] == sdk.Webhook(
        created.id, HOOK_URL, created.events, created.created_at, created.created_by
    )
    assert list(client.webhook_deliveries(created.id)) == []
    client.delete_webhook(created.id)
    assert list(client.list_webhooks()) == []
    with pytest.raises(NotFoundError):
        client.delete_webhook(created.id)
    with pytest.raises(NotFoundError):
        list(client.webhook_deliveries(created.id))


def test_the_delivery_log_shows_each_attempt(
    connect: Connect, runtime: Runtime, alice: UserRecord, ops_key: ServerCreatedToken
) -> None:
    client = connect(ops_key.secret)
    assert runtime.notify is not None
    with socket_closed() as dead_receiver:
        hook = client.create_webhook(dead_receiver + "/hook", ["token.created"])
        made = make_token(runtime, alice, "after the hook")
        runtime.notify.notifier.tick()
    [entry] = client.webhook_deliveries(hook.id)
    assert isinstance(entry, sdk.WebhookDelivery)
    assert (entry.event_type, entry.status, entry.attempts) == ("token.created", "pending", 1)
    assert entry.last_status_code is None and entry.last_error
    assert entry.next_attempt_at is not None  # a retry is due (full jitter: maybe now)
    assert entry.delivered_at is None and entry.created_at == NOW
    assert made.secret not in repr(entry)
    with pytest.raises(ValidationError) as refused:
        list(client.webhook_deliveries(hook.id, limit=0))
    assert [field for field, _ in refused.value.fields] == ["limit"]


@pytest.mark.parametrize(
    ("url", "events", "field"),
    [
        ("ftp://example.org/x", ["token.expired"], "url"),
        ("example.org/hook", ["token.expired"], "url"),
        ("https://example.org/", ["token.exploded"], "events"),
        ("https://example.org/", [], "events"),
    ],
)
def test_a_bad_webhook_is_a_validation_error_naming_the_field(
    connect: Connect, ops_key: ServerCreatedToken, url: str, events: list[str], field: str
) -> None:
    client = connect(ops_key.secret)
    with pytest.raises(ValidationError) as refused:
        client.create_webhook(url, events)
    assert refused.value.status == 422
    assert field in [name for name, _ in refused.value.fields]
    assert list(client.list_webhooks()) == []


def test_webhooks_are_for_admins_only(
    connect: Connect, alice_token: ServerCreatedToken, ops_key: ServerCreatedToken
) -> None:
    hook = connect(ops_key.secret).create_webhook(HOOK_URL, ["token.expired"])
    alice = connect(alice_token.secret)
    attempts: list[Callable[[], object]] = [
        lambda: alice.create_webhook("https://example.org/", ["token.expired"]),
        lambda: list(alice.list_webhooks()),
        lambda: alice.delete_webhook(hook.id),
        lambda: list(alice.webhook_deliveries(hook.id)),
    ]
    for attempt in attempts:
        with pytest.raises(ForbiddenError) as refused:
            attempt()
        assert (refused.value.status, refused.value.scope) == (403, "admin")
    with pytest.raises(InvalidTokenError):
        list(connect(None).list_webhooks())
    assert [h.id for h in connect(ops_key.secret).list_webhooks()] == [hook.id]


# --- the async client natively --------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_async_client_rotates_and_reports_leaks_natively(
    base_url: str, alice_token: ServerCreatedToken
) -> None:
    async with AsyncClient(base_url, alice_token.secret) as client:
        rotated = await client.rotate_token(alice_token.record.id, grace_seconds=30)
    assert rotated.rotated_from == alice_token.record.id
    async with AsyncClient(base_url) as anonymous:
        assert await anonymous.report_leaks([rotated.token, UNKNOWN_TOKEN], SOURCE) == 2
    async with AsyncClient(base_url, rotated.token) as revoked:
        with pytest.raises(InvalidTokenError):
            await revoked.self()
