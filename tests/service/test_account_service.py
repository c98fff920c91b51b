"""Accounts: users, argon2id passwords, the first admin."""

import pytest

from tokenward.domain.errors import Conflict, InvalidInput
from tokenward.domain.model import Actor
from tokenward.runtime import Runtime
from tokenward.service.accounts import BOOTSTRAP_ADMIN

T = Actor("test")


def test_users_get_argon2id_hashes_never_the_password(runtime: Runtime) -> None:
    user = runtime.accounts.create_user("Alice", "a-long-enough-pass", is_admin=False, by=T)
    assert user.username == "alice"
    assert user.password_hash.startswith("$argon2id$")
    assert "a-long-enough-pass" not in user.password_hash
    assert runtime.accounts.passwords.verify(user.password_hash, "a-long-enough-pass")
    assert not runtime.accounts.passwords.verify(user.password_hash, "a-long-enough-pasS")


def test_a_name_that_folds_to_an_existing_one_is_a_conflict(runtime: Runtime) -> None:
    runtime.accounts.create_user("alice", "a-long-enough-pass", is_admin=False, by=T)
    with pytest.raises(Conflict):
        runtime.accounts.create_user("ＡＬＩＣＥ", "a-long-enough-pass", is_admin=False, by=T)


def test_short_passwords_are_refused_and_nothing_is_created(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput) as caught:
        runtime.accounts.create_user("alice", "short", is_admin=False, by=T)
    assert caught.value.field == "password"
    with runtime.store.transaction() as tx:
        assert tx.users.count() == 0


def test_the_first_admin_is_created_once_with_a_generated_password(runtime: Runtime) -> None:
    generated = runtime.accounts.ensure_admin(None)
    assert generated is not None and len(generated) >= 20
    admin = runtime.accounts.by_name(BOOTSTRAP_ADMIN)
    assert admin.is_admin
    assert runtime.accounts.passwords.verify(admin.password_hash, generated)
    assert runtime.accounts.ensure_admin(None) is None
    assert runtime.accounts.ensure_admin("another-password") is None
    assert runtime.accounts.passwords.verify(
        runtime.accounts.by_name(BOOTSTRAP_ADMIN).password_hash, generated
    )


def test_the_first_admin_takes_the_configured_password(runtime: Runtime) -> None:
    assert runtime.accounts.ensure_admin("configured-password") is None
    admin = runtime.accounts.by_name("admin")
    assert runtime.accounts.passwords.verify(admin.password_hash, "configured-password")


def test_a_configured_admin_password_that_is_too_short_is_refused(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput):
        runtime.accounts.ensure_admin("short")
