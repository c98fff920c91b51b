"""The admin pages: only for admins (everyone else gets a 403 page, audited), users, every
token, admin keys, the audit log and the policy."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient
from web_support import AGENT, csrf_of, event_types, field_errors, log_in, sent_back, snapshot

from tokenward.domain.model import TokenStatus, UserRecord, UserStatus
from tokenward.domain.tokens import TokenKind
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken, NewToken
from tokenward.store.base import EventQuery
from tokenward.testing import TEST_ACTOR, make_token


def admin_key(runtime: Runtime, owner: UserRecord, label: str) -> CreatedToken:
    request = NewToken(label=label, scopes=("admin",))
    return runtime.tokens.create(owner, request, by=TEST_ACTOR, kind=TokenKind.ADMIN)


ADMIN_PAGES = [
    "/ui/admin/users",
    "/ui/admin/tokens",
    "/ui/admin/keys",
    "/ui/admin/audit",
    "/ui/admin/policy",
    "/ui/admin/users/{user}/deactivate",
    "/ui/admin/tokens/{token}/revoke",
    "/ui/admin/keys/{token}/revoke",
]
ADMIN_POSTS = [
    "/ui/admin/users/create",
    "/ui/admin/users/{user}/deactivate",
    "/ui/admin/users/{user}/reactivate",
    "/ui/admin/tokens/{token}/revoke",
    "/ui/admin/keys/create",
    "/ui/admin/keys/{token}/revoke",
    "/ui/admin/policy",
]


def test_a_non_admin_gets_a_403_page_on_every_admin_page_and_post(
    ui: TestClient, runtime: Runtime, alice: UserRecord, root: UserRecord
) -> None:
    key = admin_key(runtime, root, "root key")
    csrf = log_in(ui, "alice")
    assert "/ui/admin/" not in ui.get("/ui/tokens").text  # no admin links in the navigation
    before = snapshot(runtime)["tokens"]
    for path in ADMIN_PAGES + ADMIN_POSTS:
        url = path.format(user=root.id, token=key.record.id)
        data = {"csrf_token": csrf, "username": "mallory", "password": "x" * 20, "label": "k"}
        answer = ui.get(url) if path in ADMIN_PAGES else ui.post(url, data=data)
        assert answer.status_code == 403, url
        assert "Admins only" in answer.text
        assert "root key" not in answer.text
        assert "mallory" not in answer.text
    assert snapshot(runtime)["tokens"] == before
    assert runtime.accounts.by_id(root.id).status is UserStatus.ACTIVE
    denied = [e for e in runtime.audit.query(EventQuery(limit=1000)) if e.type == "admin.denied"]
    assert len(denied) == len(ADMIN_PAGES) + len(ADMIN_POSTS)
    assert all(e.actor.startswith("ses_") and e.user_agent == AGENT for e in denied)
    assert "/ui/admin/users/{user_id}/deactivate" in {e.subject for e in denied}


def test_the_admin_navigation_shows_every_admin_page(ui: TestClient, root: UserRecord) -> None:
    log_in(ui, "root")
    page = ui.get("/ui/tokens").text
    for path in ADMIN_PAGES[:5]:
        assert f'href="{path}"' in page
        assert ui.get(path).status_code == 200


def test_users_are_created_deactivated_after_a_count_and_reactivated(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    csrf = log_in(ui, "root")
    created = ui.post(
        "/ui/admin/users/create",
        data={
            "csrf_token": csrf,
            "username": "Bob",
            "password": "bob-has-a-long-password",
            "email": " bob@example.org ",
        },
    )
    assert "Created bob." in sent_back(created, "/ui/admin/users")
    bob = runtime.accounts.by_name("bob")
    assert bob.email == "bob@example.org"
    for n in range(3):
        make_token(runtime, bob, f"bob {n}")
    confirm = ui.get(f"/ui/admin/users/{bob.id}/deactivate")
    assert "3 active tokens" in confirm.text
    assert runtime.accounts.by_id(bob.id).status is UserStatus.ACTIVE
    done = ui.post(f"/ui/admin/users/{bob.id}/deactivate", data={"csrf_token": csrf})
    assert done.status_code == 200
    assert "3 tokens revoked" in done.text
    assert runtime.accounts.by_id(bob.id).status is UserStatus.DEACTIVATED
    back = ui.post(f"/ui/admin/users/{bob.id}/reactivate", data={"csrf_token": csrf})
    assert "Reactivated bob" in sent_back(back, "/ui/admin/users")
    assert runtime.accounts.by_id(bob.id).status is UserStatus.ACTIVE
    assert runtime.tokens.list(bob.id, status=TokenStatus.ACTIVE).items == []
    types = event_types(runtime)
    assert {"user.created", "user.deactivated", "user.reactivated"} <= set(types)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"username": "bad name!", "password": "long-enough-password"}, "username"),
        ({"username": "carol", "password": "short"}, "password"),
        ({"username": "ROOT", "password": "long-enough-password"}, "username"),
        ({"username": "carol", "password": "long-enough-password", "email": "no-at"}, "email"),
    ],
)
def test_a_refused_user_is_named_by_its_field_and_audited(
    ui: TestClient,
    runtime: Runtime,
    root: UserRecord,
    fields: dict[str, str],
    field: str,
) -> None:
    csrf = log_in(ui, "root")
    before = snapshot(runtime)["users"]
    answer = ui.post("/ui/admin/users/create", data={"csrf_token": csrf, **fields})
    page = sent_back(answer, "/ui/admin/users")
    assert list(field_errors(page)) == [field]
    assert f'value="{fields["username"]}"' in page  # kept as typed
    assert fields["password"] not in page  # never sent back
    assert snapshot(runtime)["users"] == before
    assert "admin.failed" in event_types(runtime)


def test_the_password_rule_is_stated_where_a_password_is_set(
    ui: TestClient, root: UserRecord
) -> None:
    log_in(ui, "root")
    page = ui.get("/ui/admin/users").text
    assert "At least 12 characters" in page
    assert 'type="email"' in page


def test_the_last_admin_cannot_be_deactivated(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    csrf = log_in(ui, "root")
    answer = ui.post(f"/ui/admin/users/{root.id}/deactivate", data={"csrf_token": csrf})
    assert "last active admin" in sent_back(answer, "/ui/admin/users")
    assert runtime.accounts.by_id(root.id).status is UserStatus.ACTIVE


def test_every_token_is_listed_with_filters_and_revoked_by_an_admin(
    ui: TestClient, runtime: Runtime, root: UserRecord, alice: UserRecord
) -> None:
    alices = make_token(runtime, alice, "alice laptop")
    make_token(runtime, root, "root laptop")
    key = admin_key(runtime, root, "ops")
    csrf = log_in(ui, "root")
    every = ui.get("/ui/admin/tokens").text
    assert all(label in every for label in ("alice laptop", "root laptop", "ops"))
    by_alice = ui.get("/ui/admin/tokens?user=alice").text
    assert "alice laptop" in by_alice
    assert "root laptop" not in by_alice
    assert "root laptop" not in ui.get(f"/ui/admin/tokens?user={alice.id}").text
    keys_only = ui.get("/ui/admin/tokens?kind=admin_key").text
    assert ">ops<" in keys_only
    assert "root laptop" not in keys_only
    assert "No user named" in ui.get("/ui/admin/tokens?user=nobody").text
    done = ui.post(f"/ui/admin/tokens/{alices.record.id}/revoke", data={"csrf_token": csrf})
    assert done.status_code == 200
    assert runtime.tokens.get(None, alices.record.id).revoke_reason == "admin"
    assert ">alice laptop<" in ui.get("/ui/admin/tokens?status=revoked").text
    # A user token is not an admin key: the keys page does not revoke it.
    other = make_token(runtime, alice, "not a key")
    answer = ui.post(f"/ui/admin/keys/{other.record.id}/revoke", data={"csrf_token": csrf})
    assert answer.status_code == 404
    assert runtime.tokens.get(None, other.record.id).revoked_at is None
    assert runtime.tokens.get(None, key.record.id).revoked_at is None


def test_admin_keys_default_to_seven_days_and_show_the_one_year_maximum(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    csrf = log_in(ui, "root")
    page = ui.get("/ui/admin/keys").text
    assert 'name="days" type="number" inputmode="numeric" min="1" max="365" value="7"' in page
    assert "at most 365 days (one year)" in page
    answer = ui.post(
        "/ui/admin/keys/create",
        data={"csrf_token": csrf, "label": "ops script", "days": "7", "scopes": ["introspect"]},
    )
    assert answer.status_code == 201
    assert answer.headers["cache-control"] == "no-store"
    (secret,) = re.findall(r'value="(twa_[0-9A-Za-z]+)"', answer.text)
    key = runtime.verification.verify(secret).token
    assert key is not None
    assert key.scopes == ("introspect",)
    assert key.expires_at is not None
    assert (key.expires_at - runtime.clock.now()).days == 7
    assert secret not in ui.get("/ui/admin/keys").text
    too_long = ui.post(
        "/ui/admin/keys/create",
        data={"csrf_token": csrf, "label": "x", "days": "366", "scopes": ["admin"]},
    )
    assert "365" in field_errors(sent_back(too_long, "/ui/admin/keys"))["days"]
    revoke = ui.post(f"/ui/admin/keys/{key.id}/revoke", data={"csrf_token": csrf})
    assert revoke.status_code == 200
    assert runtime.tokens.get(None, key.id).revoked_at is not None


def test_the_policy_is_edited_and_a_bad_value_is_named_by_its_field(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    csrf = log_in(ui, "root")
    page = ui.get("/ui/admin/policy").text
    assert (
        'id="user_max_days" name="user_max_days" type="text" inputmode="numeric" value="365"'
        in (page)
    )
    good = {
        "csrf_token": csrf,
        "user_default_days": "30",
        "user_max_days": "90",
        "admin_default_days": "7",
        "admin_max_days": "365",
        "reminder_days": "7, 1",
    }
    saved = ui.post("/ui/admin/policy", data=good)
    assert "Policy saved." in sent_back(saved, "/ui/admin/policy")
    assert "Policy saved." not in ui.get("/ui/admin/policy").text  # said once
    assert runtime.policies.current().user_token.max_days == 90
    assert "policy.updated" in event_types(runtime)
    for field, value, message in [
        ("user_default_days", "120", "between 1 and max_days (90)"),
        ("admin_max_days", "400", "between 1 and 365"),
        ("reminder_days", "7, soon", "whole number"),
        ("user_max_days", "", "whole number"),
    ]:
        before = snapshot(runtime)["policy"]
        answer = sent_back(
            ui.post("/ui/admin/policy", data={**good, field: value}), "/ui/admin/policy"
        )
        errors = field_errors(answer)
        assert list(errors) == [field]
        assert message in errors[field]
        assert f'value="{value}"' in answer
        assert snapshot(runtime)["policy"] == before
    assert runtime.policies.current().user_token.max_days == 90


def test_every_policy_field_is_on_the_form_and_revoke_on_reuse_is_kept_and_changed(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    csrf = log_in(ui, "root")
    page = ui.get("/ui/admin/policy").text
    assert 'name="revoke_family_on_reuse"' in page
    form = {
        "csrf_token": csrf,
        "user_default_days": "90",
        "user_max_days": "365",
        "admin_default_days": "7",
        "admin_max_days": "365",
        "reminder_days": "30, 7, 1",
    }
    ui.post("/ui/admin/policy", data=form | {"revoke_family_on_reuse": "yes"})
    assert runtime.policies.current().revoke_family_on_reuse is True
    page = ui.get("/ui/admin/policy").text
    assert re.search(
        r'id="revoke_family_on_reuse" name="revoke_family_on_reuse" value="yes" checked', page
    )
    ui.post("/ui/admin/policy", data=form)
    assert runtime.policies.current().revoke_family_on_reuse is False


def test_a_form_token_from_the_login_page_is_not_a_session_token(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    login_binding = csrf_of(ui.get("/ui/login").text)
    log_in(ui, "root")
    answer = ui.post("/ui/admin/users/create", data={"csrf_token": login_binding})
    assert answer.status_code == 403
